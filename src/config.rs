//! Configuration read from the environment, checked once at start-up.
//!
//! Every setting has a default that runs the service on an embedded SQLite
//! file with no other service and no keys. A bad value is reported as one line
//! naming the setting (passwords in URLs masked) and start-up stops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;

use crate::db::DatabaseUrl;
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
}

/// An SMS provider with a Twilio-style API; present only when configured.
#[derive(Clone)]
pub struct SmsSettings {
    /// Base URL of the provider's API (tests point this at a local fake).
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The sender number or id.
    pub from: String,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("api_base", &self.api_base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"***")
            .field("from", &self.from)
            .finish()
    }
}

/// Client and clinic notifications. With no channel configured (the
/// default) messages are rendered and recorded, not sent.
#[derive(Clone)]
pub struct NotificationSettings {
    /// `smtp://`, `smtps://` (or `smtp://…?tls=required` for STARTTLS).
    pub smtp_url: Option<String>,
    /// The sender of e-mails (`Name <address>`); required with `smtp_url`.
    pub from: Option<String>,
    /// Where the clinic's own alerts go; none: no alerts.
    pub clinic_notify_email: Option<String>,
    /// Reminders before the appointment, longest first.
    pub reminder_offsets: Vec<chrono::Duration>,
    pub sms: Option<SmsSettings>,
    /// How often each instance sends due messages.
    pub poll_interval: Duration,
    /// Upper bound on one SMTP or SMS call.
    pub timeout: Duration,
    /// Finished log rows are deleted after this many days.
    pub log_retention_days: u32,
}

impl std::fmt::Debug for NotificationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationSettings")
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(crate::db::mask_password),
            )
            .field("from", &self.from)
            .field("clinic_notify_email", &self.clinic_notify_email)
            .field("reminder_offsets", &self.reminder_offsets)
            .field("sms", &self.sms)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("log_retention_days", &self.log_retention_days)
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
    pub notifications: NotificationSettings,
    /// Largest accepted JSON request body, in bytes.
    pub max_body_bytes: usize,
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
            },
            stripe: stripe_settings(&env)?,
            notifications: notification_settings(&env)?,
            max_body_bytes: env.positive::<usize>("MAX_BODY_BYTES", 65_536)?,
            maintenance_interval: Duration::from_secs(
                env.positive("MAINTENANCE_INTERVAL_SECONDS", 60)?,
            ),
        })
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

fn notification_settings(env: &Env) -> Result<NotificationSettings, ConfigError> {
    let smtp_url = env.get("SMTP_URL").map(str::to_owned);
    if let Some(url) = &smtp_url {
        let ok = (url.starts_with("smtp://") || url.starts_with("smtps://"))
            && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some());
        if !ok {
            return Err(ConfigError::new(
                "SMTP_URL",
                &crate::db::mask_password(url),
                "expected smtp://host:port, smtp://host:587?tls=required (STARTTLS) or smtps://user:password@host",
            ));
        }
    }
    let address = |name: &'static str| -> Result<Option<String>, ConfigError> {
        match env.get(name) {
            Some(v) if v.contains('@') && !v.contains(char::is_control) => Ok(Some(v.to_owned())),
            Some(v) => Err(ConfigError::new(
                name,
                v,
                "expected an e-mail address, e.g. Clinic <bookings@clinic.example>",
            )),
            None => Ok(None),
        }
    };
    let from = address("NOTIFY_FROM")?;
    if smtp_url.is_some() && from.is_none() {
        return Err(ConfigError::new(
            "NOTIFY_FROM",
            "",
            "must be set together with SMTP_URL",
        ));
    }
    let offsets_raw = env.get("REMINDER_OFFSETS").unwrap_or("48h,2h");
    let reminder_offsets = crate::domain::notifications::parse_offsets(offsets_raw)
        .map_err(|reason| ConfigError::new("REMINDER_OFFSETS", offsets_raw, reason))?;
    let sms = match (
        env.get("SMS_ACCOUNT_SID"),
        env.get("SMS_AUTH_TOKEN"),
        env.get("SMS_FROM"),
    ) {
        (None, None, None) => None,
        (Some(sid), Some(token), Some(from)) => {
            let api_base = env
                .get("SMS_API_BASE")
                .unwrap_or("https://api.twilio.com")
                .to_owned();
            if !(api_base.starts_with("https://") || api_base.starts_with("http://"))
                || reqwest::Url::parse(&api_base).is_err()
            {
                return Err(ConfigError::new(
                    "SMS_API_BASE",
                    &api_base,
                    "expected an http:// or https:// URL",
                ));
            }
            Some(SmsSettings {
                api_base,
                account_sid: sid.to_owned(),
                auth_token: token.to_owned(),
                from: from.to_owned(),
            })
        }
        _ => {
            return Err(ConfigError::new(
                "SMS_ACCOUNT_SID",
                "",
                "SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM must be set together",
            ))
        }
    };
    Ok(NotificationSettings {
        smtp_url,
        from,
        clinic_notify_email: address("CLINIC_NOTIFY_EMAIL")?,
        reminder_offsets,
        sms,
        poll_interval: Duration::from_millis(env.positive("NOTIFY_POLL_MS", 1000)?),
        timeout: Duration::from_millis(env.positive("NOTIFY_TIMEOUT_MS", 15_000)?),
        log_retention_days: env.positive("NOTIFICATION_RETENTION_DAYS", 365)?,
    })
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
    fn notifications_default_to_recording_with_two_reminders() {
        let s = Settings::from_vars(HashMap::new()).unwrap();
        let n = &s.notifications;
        assert!(n.smtp_url.is_none() && n.sms.is_none() && n.clinic_notify_email.is_none());
        assert_eq!(
            n.reminder_offsets,
            vec![chrono::Duration::hours(48), chrono::Duration::hours(2)]
        );
    }

    #[test]
    fn notification_settings_are_checked() {
        for (pairs, name) in [
            (vec![("SMTP_URL", "http://mail")], "SMTP_URL"),
            (vec![("SMTP_URL", "smtp://127.0.0.1:2525")], "NOTIFY_FROM"),
            (vec![("NOTIFY_FROM", "nobody")], "NOTIFY_FROM"),
            (vec![("REMINDER_OFFSETS", "48x")], "REMINDER_OFFSETS"),
            (vec![("REMINDER_OFFSETS", "2h,2h")], "REMINDER_OFFSETS"),
            (vec![("SMS_ACCOUNT_SID", "AC1")], "SMS_ACCOUNT_SID"),
            (vec![("CLINIC_NOTIFY_EMAIL", "desk")], "CLINIC_NOTIFY_EMAIL"),
        ] {
            let err = Settings::from_vars(vars(&pairs)).unwrap_err();
            assert_eq!(err.name, name, "{pairs:?}");
        }
        let err = Settings::from_vars(vars(&[("SMTP_URL", "ftp://u:hunter2@mail")])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let ok = Settings::from_vars(vars(&[
            ("SMTP_URL", "smtps://u:hunter2@mail.example"),
            ("NOTIFY_FROM", "JB Cosmetic <bookings@jb.example>"),
            ("REMINDER_OFFSETS", "90m, 3d"),
            ("SMS_ACCOUNT_SID", "AC1"),
            ("SMS_AUTH_TOKEN", "secret-token"),
            ("SMS_FROM", "+447700900000"),
        ]))
        .unwrap();
        let debug = format!("{:?}", ok.notifications);
        assert!(
            !debug.contains("hunter2") && !debug.contains("secret-token"),
            "{debug}"
        );
        assert_eq!(
            ok.notifications.reminder_offsets,
            vec![chrono::Duration::days(3), chrono::Duration::minutes(90)]
        );
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
