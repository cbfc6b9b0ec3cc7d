//! Configuration read from the environment, checked once at start-up.
//!
//! Every setting has a default that runs the service on an embedded SQLite
//! file with no other service and no keys. A bad value is reported as one line
//! naming the setting (passwords in URLs masked) and start-up stops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;

use crate::db::{ConnectionLimits, DatabaseUrl, DbOptions};
use crate::domain::money::{Currency, Money};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Stripe credentials; present only when the Stripe provider is configured.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub publishable_key: Option<String>,
    pub webhook_secret: String,
    /// Base URL of the Stripe API (tests point this at a local fake).
    pub api_base: Option<String>,
    /// Upper bound on one call to Stripe.
    pub timeout: Duration,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("secret_key", &"***")
            .field("publishable_key", &self.publishable_key)
            .field("webhook_secret", &"***")
            .field("api_base", &self.api_base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Booking rules that a clinic may tune.
#[derive(Debug, Clone)]
pub struct BookingRules {
    pub consultation_minutes: u32,
    pub slot_step_minutes: u32,
    pub min_notice_hours: u32,
    pub horizon_days: u32,
    pub hold_minutes: u32,
    pub cancellation_notice_hours: u32,
    pub max_availability_days: u32,
}

impl Default for BookingRules {
    fn default() -> Self {
        Self {
            consultation_minutes: 30,
            slot_step_minutes: 30,
            min_notice_hours: 24,
            horizon_days: 60,
            hold_minutes: 15,
            cancellation_notice_hours: 48,
            max_availability_days: 31,
        }
    }
}

/// Retention periods for personal and operational data.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Screenings never attached to a booking are deleted after this many days.
    pub screening_days: u32,
    /// Idempotency records are kept this many hours.
    pub idempotency_hours: u32,
    /// Cancelled or expired bookings lose their personal data after this
    /// many days.
    pub ended_booking_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            screening_days: 30,
            idempotency_hours: 24,
            ended_booking_days: 365,
        }
    }
}

/// Limits against abuse of public routes.
#[derive(Debug, Clone)]
pub struct Abuse {
    /// Public writes (screenings, bookings) per client address per minute; 0: off.
    pub rate_limit_per_minute: u32,
    /// Count the first `X-Forwarded-For` address (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
    /// Live unpaid holds one email or phone number may have at once.
    pub max_holds_per_client: u32,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_allowed_origins: Vec<String>,
}

/// Outbound webhooks.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// Accept `http://` endpoint URLs (development and tests only).
    pub allow_http: bool,
    /// Deliveries in flight at once from this instance (each endpoint has
    /// at most one, which keeps its order).
    pub max_in_flight: usize,
}

/// The operator's `/metrics` listener.
#[derive(Clone)]
pub struct MetricsSettings {
    /// Where `/metrics` is served; `None`: not served.
    pub bind_addr: Option<SocketAddr>,
    /// A bearer token the scraper must send, when set.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("bind_addr", &self.bind_addr)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How clients reach the clinic, for messages and the booking page.
#[derive(Debug, Clone, Default)]
pub struct ClinicContact {
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub database_pool_size: u32,
    /// The longest a request waits for a database connection.
    pub database_checkout_timeout: Duration,
    /// Statement and lock timeouts, and SQLite's size cap.
    pub database_limits: ConnectionLimits,
    pub bind_addr: SocketAddr,
    pub clinic_name: String,
    pub clinic_contact: ClinicContact,
    /// Where clients reach this service (the booking page, manage links),
    /// without a trailing slash.
    pub public_base_url: String,
    pub clinic_timezone: Tz,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub seed_content: bool,
    pub minimum_age: u32,
    pub screening_token_hours: u32,
    pub deposit: Money,
    pub booking: BookingRules,
    pub retention: Retention,
    pub abuse: Abuse,
    pub webhooks: Webhooks,
    pub stripe: Option<StripeSettings>,
    /// Largest accepted JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// The longest a client may take to send a request body.
    pub client_body_timeout: Duration,
    pub metrics: MetricsSettings,
    /// How often background maintenance runs.
    pub maintenance_interval: Duration,
}

/// A setting that could not be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {name}={value}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    fn new(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads settings from a map of variables (the environment in production).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env(vars);
        let database_url = match env.get("DATABASE_URL") {
            Some(raw) => DatabaseUrl::parse(raw).map_err(|reason| ConfigError {
                name: "DATABASE_URL",
                value: crate::db::mask_password(raw),
                reason,
            })?,
            None => DatabaseUrl::default_sqlite(),
        };
        let log_filter = env.get("RUST_LOG").unwrap_or("info").to_owned();
        tracing_subscriber::EnvFilter::try_new(&log_filter)
            .map_err(|e| ConfigError::new("RUST_LOG", &log_filter, e.to_string()))?;

        let deposit_amount: i64 = env.parse("DEPOSIT_AMOUNT", 2500)?;
        if deposit_amount <= 0 {
            return Err(ConfigError::new(
                "DEPOSIT_AMOUNT",
                &deposit_amount.to_string(),
                "must be a positive amount in minor units (2500 = £25.00)",
            ));
        }
        let currency_raw = env.get("DEPOSIT_CURRENCY").unwrap_or("GBP");
        let currency = Currency::parse(currency_raw).map_err(|reason| {
            ConfigError::new("DEPOSIT_CURRENCY", currency_raw, reason.to_string())
        })?;

        let booking = BookingRules {
            consultation_minutes: env.minutes("CONSULTATION_MINUTES", 30)?,
            slot_step_minutes: env.minutes(
                "SLOT_STEP_MINUTES",
                env.minutes("CONSULTATION_MINUTES", 30)?,
            )?,
            min_notice_hours: env.parse("MIN_NOTICE_HOURS", 24)?,
            horizon_days: env.positive("BOOKING_HORIZON_DAYS", 60)?,
            hold_minutes: env.positive("HOLD_MINUTES", 15)?,
            cancellation_notice_hours: env.parse("CANCELLATION_NOTICE_HOURS", 48)?,
            max_availability_days: env.positive("AVAILABILITY_MAX_DAYS", 31)?,
        };

        let bind_addr = env.parse_with("BIND_ADDR", "127.0.0.1:8080", |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| "expected host:port, e.g. 127.0.0.1:8080".to_owned())
        })?;
        let public_base_url = match env.get("PUBLIC_BASE_URL") {
            Some(raw) => {
                let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
                    && reqwest::Url::parse(raw).is_ok();
                if !ok {
                    return Err(ConfigError::new(
                        "PUBLIC_BASE_URL",
                        raw,
                        "expected the http(s):// address clients reach this service at",
                    ));
                }
                raw.trim_end_matches('/').to_owned()
            }
            None => format!("http://{bind_addr}"),
        };

        Ok(Self {
            database_url,
            database_pool_size: env.positive("DATABASE_POOL_SIZE", 10)?,
            database_checkout_timeout: Duration::from_millis(
                env.positive("DATABASE_CHECKOUT_TIMEOUT_MS", 2000)?,
            ),
            database_limits: ConnectionLimits {
                statement_timeout: Duration::from_millis(
                    env.positive("DATABASE_STATEMENT_TIMEOUT_MS", 5000)?,
                ),
                lock_timeout: Duration::from_millis(
                    env.positive("DATABASE_LOCK_TIMEOUT_MS", 2000)?,
                ),
                sqlite_max_bytes: match env.get("SQLITE_MAX_SIZE_MB") {
                    None => None,
                    Some(_) => Some(env.positive::<u64>("SQLITE_MAX_SIZE_MB", 1)? << 20),
                },
            },
            bind_addr,
            clinic_name: env.get("CLINIC_NAME").unwrap_or("JB Cosmetic").to_owned(),
            clinic_contact: ClinicContact {
                address: env.get("CLINIC_ADDRESS").map(str::to_owned),
                phone: env.get("CLINIC_PHONE").map(str::to_owned),
                email: env.get("CLINIC_EMAIL").map(str::to_owned),
            },
            public_base_url,
            clinic_timezone: env.parse_with("CLINIC_TIMEZONE", "Europe/London", |v| {
                v.parse::<Tz>()
                    .map_err(|_| "expected an IANA time zone such as Europe/London".to_owned())
            })?,
            log_format: env.parse_with("LOG_FORMAT", "text", |v| match v {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("expected text or json".to_owned()),
            })?,
            log_filter,
            seed_content: env.boolean("SEED_CONTENT", true)?,
            minimum_age: env.positive("MINIMUM_AGE", 18)?,
            screening_token_hours: env.positive("SCREENING_TOKEN_HOURS", 24)?,
            deposit: Money::new(deposit_amount, currency),
            booking,
            retention: Retention {
                screening_days: env.positive("SCREENING_RETENTION_DAYS", 30)?,
                idempotency_hours: env.positive("IDEMPOTENCY_RETENTION_HOURS", 24)?,
                ended_booking_days: env.positive("ENDED_BOOKING_RETENTION_DAYS", 365)?,
            },
            abuse: Abuse {
                rate_limit_per_minute: env.parse("RATE_LIMIT_PER_MINUTE", 30)?,
                trust_forwarded_for: env.boolean("TRUST_FORWARDED_FOR", false)?,
                max_holds_per_client: env.positive("MAX_HOLDS_PER_CLIENT", 2)?,
                cors_allowed_origins: cors_origins(&env)?,
            },
            webhooks: Webhooks {
                poll_interval: Duration::from_millis(env.positive("WEBHOOK_POLL_MS", 1000)?),
                timeout: Duration::from_millis(env.positive("WEBHOOK_TIMEOUT_MS", 10_000)?),
                allow_http: env.boolean("WEBHOOK_ALLOW_HTTP", false)?,
                max_in_flight: env.positive("WEBHOOK_MAX_IN_FLIGHT", 16)?,
            },
            stripe: stripe_settings(&env)?,
            max_body_bytes: env.positive::<usize>("MAX_BODY_BYTES", 65_536)?,
            client_body_timeout: Duration::from_millis(
                env.positive("CLIENT_BODY_TIMEOUT_MS", 10_000)?,
            ),
            metrics: MetricsSettings {
                bind_addr: match env.get("METRICS_BIND_ADDR") {
                    None => None,
                    Some(_) => Some(env.parse_with("METRICS_BIND_ADDR", "", |v| {
                        v.parse::<SocketAddr>()
                            .map_err(|_| "expected host:port, e.g. 127.0.0.1:9464".to_owned())
                    })?),
                },
                token: env.get("METRICS_TOKEN").map(str::to_owned),
            },
            maintenance_interval: Duration::from_secs(
                env.positive("MAINTENANCE_INTERVAL_SECONDS", 60)?,
            ),
        })
    }

    /// How the database pool is sized and bounded.
    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            pool_size: self.database_pool_size,
            checkout_timeout: self.database_checkout_timeout,
            limits: self.database_limits,
        }
    }

    /// Settings for a test or a tool: defaults with the given database.
    pub fn for_database(url: DatabaseUrl) -> Self {
        let mut settings =
            Self::from_vars(HashMap::new()).expect("the built-in defaults are valid settings");
        settings.database_url = url;
        settings
    }
}

fn cors_origins(env: &Env) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = env.get("CORS_ALLOWED_ORIGINS") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let ok = o == "*"
                || ((o.starts_with("https://") || o.starts_with("http://"))
                    && !o
                        .trim_end_matches('/')
                        .contains(|c: char| c.is_whitespace())
                    && o.matches('/').count() == 2);
            if ok {
                Ok(o.to_owned())
            } else {
                Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    raw,
                    "expected comma-separated origins like https://clinic.example, or *",
                ))
            }
        })
        .collect()
}

fn stripe_settings(env: &Env) -> Result<Option<StripeSettings>, ConfigError> {
    let secret = env.get("STRIPE_SECRET_KEY");
    let webhook = env.get("STRIPE_WEBHOOK_SECRET");
    let (secret_key, webhook_secret) = match (secret, webhook) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "",
                "must be set together with STRIPE_SECRET_KEY",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "STRIPE_SECRET_KEY",
                "",
                "must be set together with STRIPE_WEBHOOK_SECRET",
            ))
        }
        (Some(s), Some(w)) => (s.to_owned(), w.to_owned()),
    };
    if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
        return Err(ConfigError::new(
            "STRIPE_SECRET_KEY",
            "***",
            "expected a secret key starting sk_ or rk_",
        ));
    }
    if !webhook_secret.starts_with("whsec_") {
        return Err(ConfigError::new(
            "STRIPE_WEBHOOK_SECRET",
            "***",
            "expected a signing secret starting whsec_",
        ));
    }
    let api_base = env.get("STRIPE_API_BASE").map(str::to_owned);
    if let Some(base) = &api_base {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError::new(
                "STRIPE_API_BASE",
                base,
                "expected an http:// or https:// URL",
            ));
        }
    }
    Ok(Some(StripeSettings {
        secret_key,
        publishable_key: env.get("STRIPE_PUBLISHABLE_KEY").map(str::to_owned),
        webhook_secret,
        api_base,
        timeout: Duration::from_millis(env.positive("STRIPE_TIMEOUT_MS", 10_000)?),
    }))
}

/// The variables, with typed accessors that name the setting on error.
struct Env(HashMap<String, String>);

impl Env {
    /// A set, non-empty value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn parse_with<T>(
        &self,
        name: &'static str,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let raw = self.get(name).unwrap_or(default);
        parse(raw).map_err(|reason| ConfigError::new(name, raw, reason))
    }

    fn parse<T: std::str::FromStr + ToString>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<T>()
                .map_err(|_| ConfigError::new(name, raw, "expected a whole number")),
        }
    }

    fn positive<T: std::str::FromStr + ToString + PartialOrd + Default>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        let value = self.parse(name, default)?;
        if value <= T::default() {
            return Err(ConfigError::new(
                name,
                &value.to_string(),
                "must be greater than zero",
            ));
        }
        Ok(value)
    }

    /// A positive number of minutes on the five-minute grid bookings use.
    fn minutes(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let value: u32 = self.positive(name, default)?;
        if !value.is_multiple_of(crate::domain::GRID_MINUTES) || value > 24 * 60 {
            return Err(ConfigError::new(
                name,
                &value.to_string(),
                "must be a multiple of 5 minutes, at most 1440",
            ));
        }
        Ok(value)
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(name, other, "expected true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_run_on_embedded_sqlite() {
        let s = Settings::from_vars(HashMap::new()).unwrap();
        assert!(s.database_url.is_sqlite());
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.clinic_timezone, chrono_tz::Europe::London);
        assert_eq!(s.deposit.amount, 2500);
        assert_eq!(s.deposit.currency.code(), "GBP");
        assert!(s.stripe.is_none());
        assert_eq!(s.booking.consultation_minutes, 30);
        assert_eq!(s.booking.hold_minutes, 15);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            ("BIND_ADDR", "nonsense"),
            ("CLINIC_TIMEZONE", "Mars/Olympus"),
            ("LOG_FORMAT", "xml"),
            ("DEPOSIT_AMOUNT", "-5"),
            ("DEPOSIT_AMOUNT", "ten"),
            ("DEPOSIT_CURRENCY", "pounds"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("CONSULTATION_MINUTES", "7"),
            ("SEED_CONTENT", "maybe"),
            ("RUST_LOG", "info,[[["),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "0"),
            ("DATABASE_CHECKOUT_TIMEOUT_MS", "soon"),
            ("SQLITE_MAX_SIZE_MB", "-1"),
            ("CLIENT_BODY_TIMEOUT_MS", "0"),
            ("METRICS_BIND_ADDR", "everywhere"),
            ("WEBHOOK_MAX_IN_FLIGHT", "0"),
        ];
        for (name, value) in cases {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn database_password_is_masked_in_errors() {
        let err = Settings::from_vars(vars(&[(
            "DATABASE_URL",
            "mysql://user:hunter2@localhost/db",
        )]))
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn stripe_needs_both_secrets() {
        let err = Settings::from_vars(vars(&[("STRIPE_SECRET_KEY", "sk_test_1")])).unwrap_err();
        assert_eq!(err.name, "STRIPE_WEBHOOK_SECRET");
        let ok = Settings::from_vars(vars(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ]))
        .unwrap();
        assert!(ok.stripe.is_some());
        assert!(!format!("{:?}", ok.stripe).contains("sk_test_1"));
    }
}
