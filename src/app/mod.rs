//! The use cases. Every change of state is one function here, run as one
//! unit of work ([`unit_of_work`]): its writes, their audit events, outbox
//! rows and idempotent answer commit together or not at all, and the caches
//! they make stale are invalidated after the commit. Handlers in `api`
//! parse, authorise, call one function here and render its result.
//!
//! Nothing here knows HTTP: errors are [`AppError`], answers are domain
//! values (and, for idempotent requests, the caller's rendering of them).

pub mod abuse;
pub mod api_keys;
pub mod audit;
pub mod availability;
pub mod booking;
pub mod catalogue;
pub mod confirm;
mod context;
pub mod deliveries;
pub mod demo_clock;
pub mod deposits;
pub mod error;
pub mod holds;
pub mod idempotency;
pub mod maintenance;
pub mod notifications;
pub mod observability;
pub mod privacy;
pub mod readiness;
pub mod refunds;
pub mod schedule;
pub mod screening;
pub mod stripe;
mod tx;
pub mod unit_of_work;
pub mod webhook_endpoints;

pub use self::context::App;
pub use self::error::{AppError, FieldError};
pub use self::tx::Tx;
