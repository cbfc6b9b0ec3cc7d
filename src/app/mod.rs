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
pub mod deliveries;
pub mod deposits;
pub mod error;
pub mod idempotency;
pub mod maintenance;
pub mod privacy;
pub mod schedule;
pub mod screening;
pub mod stripe;
pub mod unit_of_work;
pub mod webhook_endpoints;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

pub use self::error::{AppError, FieldError};
pub use self::unit_of_work::Tx;
use crate::cache::ResponseCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::payments::PaymentProvider;

/// What every use case works with: the database, the settings, the clock,
/// the caches and the adapters.
pub struct App {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub cache: ResponseCache,
    pub payments: Arc<dyn PaymentProvider>,
    /// Outbound HTTP for webhook deliveries.
    pub http: reqwest::Client,
}

impl App {
    pub fn new(
        db: Db,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
        payments: Arc<dyn PaymentProvider>,
    ) -> Self {
        Self {
            db,
            cache: ResponseCache::new(std::time::Duration::from_secs(5)),
            http: deliveries::client(settings.webhooks.timeout),
            settings,
            clock,
            payments,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date in the clinic's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now()
            .with_timezone(&self.settings.clinic_timezone)
            .date_naive()
    }
}
