//! Integration tests: the real server over real HTTP, on SQLite by default
//! and on PostgreSQL when `TEST_DATABASE_URL=postgres://…`.

mod booking;
mod catalogue;
mod fake_stripe;
mod fixtures;
mod foundation;
mod helpers;
mod layers;
mod notifications;
mod payments;
mod privacy;
mod properties;
mod receiver;
mod robustness;
mod screenings;
mod smtp_sink;
mod webhooks;
