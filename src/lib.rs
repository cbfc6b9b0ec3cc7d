//! clinic-api: the booking side of an aesthetic clinic as a JSON REST API.
//!
//! The layers, and which way the arrows point (down only):
//! `api` (HTTP) → `app` (use cases, one unit of work each) → `domain` (pure
//! rules), `store` (queries per table) and the adapters (`payments`,
//! `cache`, `outbound`) → `db` (connections, transactions).

pub mod api;
pub mod app;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod metrics;
pub mod notify;
pub mod outbound;
pub mod payments;
pub mod secrets;
pub mod seed;
pub mod startup;
pub mod store;
pub mod telemetry;
