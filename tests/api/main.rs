//! Integration tests: the real server over real HTTP, on SQLite by default
//! and on PostgreSQL when `TEST_DATABASE_URL=postgres://…`.

mod booking;
mod bounds;
mod catalogue;
mod erasure;
mod fake_stripe;
mod faults;
mod fixtures;
mod foundation;
mod helpers;
mod layers;
mod metrics;
mod notifications;
mod operator;
mod page;
mod payments;
mod pg_cluster;
mod privacy;
mod properties;
mod rate_limits;
mod receiver;
mod robustness;
mod screenings;
mod security;
mod smtp_sink;
mod statements;
mod stranding;
mod webhooks;
