//! clinic-api: the booking side of an aesthetic clinic as a JSON REST API.

pub mod api;
pub mod auth;
pub mod booking;
pub mod clock;
pub mod config;
pub mod db;
pub mod deposits;
pub mod domain;
pub mod error;
pub mod events;
pub mod maintenance;
pub mod payments;
pub mod privacy;
pub mod secrets;
pub mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhooks;
