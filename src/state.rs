//! What every handler shares.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::api::cache::ResponseCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::payments::PaymentProvider;

pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub cache: ResponseCache,
    pub payments: Arc<dyn PaymentProvider>,
    /// Outbound HTTP for webhook deliveries.
    pub http: reqwest::Client,
}

impl AppState {
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
