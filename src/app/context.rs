//! What every use case works with.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::cache::{ResponseCache, Throttle};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::notify::Channels;
use crate::payments::PaymentProvider;

/// What every use case works with: the database, the settings, the clock,
/// the caches and the adapters.
pub struct App {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub cache: ResponseCache,
    /// Reading a pending Stripe booking asks Stripe at most this often per
    /// deposit (in each instance).
    pub reconcile_throttle: Throttle,
    pub payments: Arc<dyn PaymentProvider>,
    /// Outbound HTTP for webhook deliveries.
    pub http: reqwest::Client,
    /// What operators watch (`/metrics`).
    pub metrics: Arc<Metrics>,
    /// E-mail and SMS; none configured: messages are recorded, not sent.
    pub notify: Channels,
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
            reconcile_throttle: Throttle::new(chrono::Duration::seconds(30)),
            http: crate::outbound::client(
                settings.webhooks.timeout,
                settings.webhooks.target_policy(),
            ),
            metrics: Arc::new(Metrics::new()),
            settings,
            clock,
            payments,
            notify: Channels::default(),
        }
    }

    /// The application with these notification channels.
    pub fn with_channels(mut self, notify: Channels) -> Self {
        self.notify = notify;
        self
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
