//! HTTP only. Each resource module holds its handlers and its wire types
//! (request and response bodies); a handler parses, authorises, calls one
//! `app::` function (plain reads may go to the store) and renders.
//! `error` is the one place a use case's error becomes RFC 9457.

pub mod audit_events;
pub mod auth;
pub mod bounds;
pub mod caching;
pub mod clients;
pub mod clinic;
pub mod consultations;
pub mod contract;
pub mod demo;
pub mod deposits;
pub mod error;
pub mod examples;
pub mod extract;
pub mod fallback;
pub mod faqs;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod pagination;
pub mod problems;
pub mod rate_limit;
pub mod responses;
pub mod routes;
pub mod schedule;
pub mod screenings;
pub mod stranded;
pub mod stripe_webhook;
pub mod treatments;
pub mod validation;
pub mod webhook_endpoints;

pub use self::openapi::{openapi, openapi_json};
pub use self::problems::ProblemResponses;
pub use self::responses::created;
pub use self::routes::routes;
