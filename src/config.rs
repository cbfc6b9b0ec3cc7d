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
    /// Live unpaid holds anonymous bookings from one client address may
    /// have at once.
    pub max_holds_per_address: u32,
    /// Live unpaid holds one partner key may have at once.
    pub max_holds_per_partner: u32,
    /// The country calling code of national phone numbers (`07700…`).
    pub phone_country_code: String,
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
    /// Accept loopback and private endpoint addresses (development and
    /// tests only).
    pub allow_private_targets: bool,
    /// Endpoints one API key may subscribe.
    pub max_endpoints_per_key: u32,
    /// Delivery replays one API key may ask for per minute.
    pub max_replays_per_minute: u32,
    /// Deliveries in flight at once from this instance (each endpoint has
    /// at most one, which keeps its order).
    pub max_in_flight: usize,
}

impl Webhooks {
    /// What endpoint URLs may be.
    pub fn target_policy(&self) -> crate::outbound::TargetPolicy {
        crate::outbound::TargetPolicy {
            allow_http: self.allow_http,
            allow_private: self.allow_private_targets,
        }
    }
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

/// The booking page: branding, the manual deposit's instructions and who
/// may frame `/embed`.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// `#rgb` or `#rrggbb`; unset keeps the page's own colours.
    pub primary_colour: Option<String>,
    pub accent_colour: Option<String>,
    /// An `https://` (or `http://`) URL, or a path on this server.
    pub logo_url: Option<String>,
    /// How the clinic takes a deposit with the manual provider.
    pub manual_deposit_instructions: String,
    /// The `frame-ancestors` sources of `/embed` (space-separated).
    pub frame_ancestors: String,
}

/// The manual deposit's instructions unless `MANUAL_DEPOSIT_INSTRUCTIONS` says otherwise.
pub const DEFAULT_MANUAL_INSTRUCTIONS: &str = "The clinic will contact you to take the deposit by card over the phone, or you can pay it at the desk.";

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            primary_colour: None,
            accent_colour: None,
            logo_url: None,
            manual_deposit_instructions: DEFAULT_MANUAL_INSTRUCTIONS.to_owned(),
            frame_ancestors: "'self'".to_owned(),
        }
    }
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
    pub notifications: NotificationSettings,
    /// Largest accepted JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// The longest a client may take to send a request body.
    pub client_body_timeout: Duration,
    pub metrics: MetricsSettings,
    /// How often background maintenance runs.
    pub maintenance_interval: Duration,
    /// The booking page's branding and framing.
    pub page: PageSettings,
    /// The rehearsal clock (`app::demo_clock`): admins may move "now"
    /// forward. Never on a database with real bookings.
    pub demo_clock: bool,
    /// Settings given that have no effect (or look mistyped), to warn about
    /// at start.
    pub warnings: Vec<String>,
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
        if deposit_amount <= 0 || deposit_amount > Money::MAX_AMOUNT {
            return Err(ConfigError::new(
                "DEPOSIT_AMOUNT",
                &deposit_amount.to_string(),
                format!(
                    "must be a positive amount in minor units (2500 = £25.00), at most {}",
                    Money::MAX_AMOUNT
                ),
            ));
        }
        let currency_raw = env.get("DEPOSIT_CURRENCY").unwrap_or("GBP");
        let currency = Currency::parse(currency_raw)
            .map_err(|reason| reason.to_owned())
            .and_then(|c| c.check_two_decimal().map(|()| c))
            .map_err(|reason| ConfigError::new("DEPOSIT_CURRENCY", currency_raw, reason))?;

        let booking = BookingRules {
            consultation_minutes: env.minutes("CONSULTATION_MINUTES", 30)?,
            slot_step_minutes: env.minutes(
                "SLOT_STEP_MINUTES",
                env.minutes("CONSULTATION_MINUTES", 30)?,
            )?,
            min_notice_hours: env.parse("MIN_NOTICE_HOURS", 24)?,
            horizon_days: env.at_most(
                "BOOKING_HORIZON_DAYS",
                env.positive("BOOKING_HORIZON_DAYS", 60)?,
                3650,
            )?,
            hold_minutes: env.at_most("HOLD_MINUTES", env.positive("HOLD_MINUTES", 15)?, 1440)?,
            cancellation_notice_hours: env.at_most(
                "CANCELLATION_NOTICE_HOURS",
                env.parse("CANCELLATION_NOTICE_HOURS", 48)?,
                8760,
            )?,
            max_availability_days: env.positive("AVAILABILITY_MAX_DAYS", 31)?,
        };

        let bind_addr = env.parse_with("BIND_ADDR", "127.0.0.1:8080", bind_address)?;
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
            clinic_name: env
                .text("CLINIC_NAME", 120)?
                .unwrap_or("JB Cosmetic")
                .to_owned(),
            clinic_contact: ClinicContact {
                address: env.text("CLINIC_ADDRESS", 300)?.map(str::to_owned),
                phone: env.text("CLINIC_PHONE", 32)?.map(str::to_owned),
                email: env.text("CLINIC_EMAIL", 254)?.map(str::to_owned),
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
            minimum_age: env.at_most("MINIMUM_AGE", env.positive("MINIMUM_AGE", 18)?, 120)?,
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
                max_holds_per_address: env.positive("MAX_HOLDS_PER_ADDRESS", 6)?,
                max_holds_per_partner: env.positive("MAX_HOLDS_PER_PARTNER", 200)?,
                phone_country_code: env.parse_with("PHONE_COUNTRY_CODE", "44", |v| {
                    let digits = v.trim_start_matches('+');
                    if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        Ok(digits.to_owned())
                    } else {
                        Err("expected a country calling code such as 44".to_owned())
                    }
                })?,
                cors_allowed_origins: cors_origins(&env)?,
            },
            webhooks: Webhooks {
                poll_interval: Duration::from_millis(env.positive("WEBHOOK_POLL_MS", 1000)?),
                timeout: Duration::from_millis(env.positive("WEBHOOK_TIMEOUT_MS", 10_000)?),
                allow_http: env.boolean("WEBHOOK_ALLOW_HTTP", false)?,
                allow_private_targets: env.boolean("WEBHOOK_ALLOW_PRIVATE_TARGETS", false)?,
                max_endpoints_per_key: env.positive("MAX_WEBHOOK_ENDPOINTS_PER_KEY", 10)?,
                max_replays_per_minute: env.positive("WEBHOOK_REPLAYS_PER_MINUTE", 30)?,
                max_in_flight: env.positive("WEBHOOK_MAX_IN_FLIGHT", 16)?,
            },
            stripe: stripe_settings(&env)?,
            notifications: notification_settings(&env)?,
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
            page: page_settings(&env)?,
            demo_clock: demo_clock(&env)?,
            warnings: warnings(&env),
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

/// `host:port`: an IP address, or a name such as `localhost` that resolves
/// (its first IPv4 address is preferred).
fn bind_address(v: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let usage = "expected host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or localhost:8080";
    let (host, port) = v.rsplit_once(':').ok_or(usage)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(usage.to_owned());
    }
    let found: Vec<SocketAddr> = v
        .to_socket_addrs()
        .map_err(|e| format!("{usage} ({host} does not resolve: {e})"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{usage} ({host} resolves to no address)"))
}

/// A `#rgb` or `#rrggbb` colour.
fn colour(env: &Env, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = env.get(name) else {
        return Ok(None);
    };
    let hex = raw.strip_prefix('#').unwrap_or("");
    if (hex.len() == 3 || hex.len() == 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Some(raw.to_ascii_lowercase()))
    } else {
        Err(ConfigError::new(
            name,
            raw,
            "expected a colour as #rgb or #rrggbb",
        ))
    }
}

fn page_settings(env: &Env) -> Result<PageSettings, ConfigError> {
    let defaults = PageSettings::default();
    let logo_url = match env.text("BRAND_LOGO_URL", 2000)? {
        None => None,
        Some(raw) => {
            let absolute = (raw.starts_with("https://") || raw.starts_with("http://"))
                && reqwest::Url::parse(raw).is_ok_and(|u| u.host_str().is_some());
            let path = raw.starts_with('/') && !raw.starts_with("//");
            if !(absolute || path) || raw.contains(|c: char| c.is_whitespace() || c == '"') {
                return Err(ConfigError::new(
                    "BRAND_LOGO_URL",
                    raw,
                    "expected an https:// URL of the image, or a path on this server",
                ));
            }
            Some(raw.to_owned())
        }
    };
    Ok(PageSettings {
        primary_colour: colour(env, "BRAND_PRIMARY_COLOUR")?,
        accent_colour: colour(env, "BRAND_ACCENT_COLOUR")?,
        logo_url,
        manual_deposit_instructions: env
            .text("MANUAL_DEPOSIT_INSTRUCTIONS", 1000)?
            .map(str::to_owned)
            .unwrap_or(defaults.manual_deposit_instructions),
        frame_ancestors: match env.get("PAGE_FRAME_ANCESTORS") {
            None => defaults.frame_ancestors,
            Some(raw) => frame_ancestors(raw)
                .map_err(|reason| ConfigError::new("PAGE_FRAME_ANCESTORS", raw, reason))?,
        },
    })
}

/// The CSP `frame-ancestors` sources: `'self'`, `'none'` (alone), `*` or
/// origins such as `https://clinic.example` (`https://*.clinic.example`),
/// separated by spaces or commas.
fn frame_ancestors(raw: &str) -> Result<String, String> {
    let sources: Vec<&str> = raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    let usage = "expected origins such as https://clinic.example, 'self' or 'none', separated by spaces or commas";
    for source in &sources {
        let origin = source
            .strip_prefix("https://")
            .or_else(|| source.strip_prefix("http://"));
        let ok = match origin {
            Some(rest) => {
                let host = rest.strip_prefix("*.").unwrap_or(rest);
                let (name, port) = host.rsplit_once(':').unwrap_or((host, "80"));
                !name.is_empty()
                    && port.parse::<u16>().is_ok()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            }
            None => matches!(*source, "'self'" | "'none'" | "*"),
        };
        if !ok {
            return Err(format!("{source}: {usage}"));
        }
    }
    if sources.is_empty() || (sources.contains(&"'none'") && sources.len() > 1) {
        return Err(usage.to_owned());
    }
    Ok(sources.join(" "))
}

fn demo_clock(env: &Env) -> Result<bool, ConfigError> {
    let on = env.boolean("DEMO_CLOCK", false)?;
    if on && (env.get("STRIPE_SECRET_KEY").is_some() || env.get("STRIPE_WEBHOOK_SECRET").is_some())
    {
        return Err(ConfigError::new(
            "DEMO_CLOCK",
            "true",
            "cannot be used with Stripe settings: a rehearsal server takes manual deposits only",
        ));
    }
    Ok(on)
}

/// Every variable clinic-api reads.
const KNOWN_SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_CHECKOUT_TIMEOUT_MS",
    "DATABASE_STATEMENT_TIMEOUT_MS",
    "DATABASE_LOCK_TIMEOUT_MS",
    "SQLITE_MAX_SIZE_MB",
    "BIND_ADDR",
    "CLINIC_NAME",
    "CLINIC_ADDRESS",
    "CLINIC_PHONE",
    "CLINIC_EMAIL",
    "PUBLIC_BASE_URL",
    "CLINIC_TIMEZONE",
    "SEED_CONTENT",
    "MINIMUM_AGE",
    "DEPOSIT_AMOUNT",
    "DEPOSIT_CURRENCY",
    "CONSULTATION_MINUTES",
    "SLOT_STEP_MINUTES",
    "MIN_NOTICE_HOURS",
    "BOOKING_HORIZON_DAYS",
    "HOLD_MINUTES",
    "CANCELLATION_NOTICE_HOURS",
    "AVAILABILITY_MAX_DAYS",
    "SCREENING_TOKEN_HOURS",
    "SCREENING_RETENTION_DAYS",
    "IDEMPOTENCY_RETENTION_HOURS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "STRIPE_TIMEOUT_MS",
    "ENDED_BOOKING_RETENTION_DAYS",
    "RATE_LIMIT_PER_MINUTE",
    "TRUST_FORWARDED_FOR",
    "MAX_HOLDS_PER_CLIENT",
    "MAX_HOLDS_PER_ADDRESS",
    "MAX_HOLDS_PER_PARTNER",
    "PHONE_COUNTRY_CODE",
    "CORS_ALLOWED_ORIGINS",
    "WEBHOOK_POLL_MS",
    "WEBHOOK_TIMEOUT_MS",
    "WEBHOOK_ALLOW_HTTP",
    "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    "MAX_WEBHOOK_ENDPOINTS_PER_KEY",
    "WEBHOOK_REPLAYS_PER_MINUTE",
    "WEBHOOK_MAX_IN_FLIGHT",
    "MAX_BODY_BYTES",
    "CLIENT_BODY_TIMEOUT_MS",
    "METRICS_BIND_ADDR",
    "METRICS_TOKEN",
    "LOG_FORMAT",
    "RUST_LOG",
    "MAINTENANCE_INTERVAL_SECONDS",
    "BRAND_PRIMARY_COLOUR",
    "BRAND_ACCENT_COLOUR",
    "BRAND_LOGO_URL",
    "MANUAL_DEPOSIT_INSTRUCTIONS",
    "PAGE_FRAME_ANCESTORS",
    "DEMO_CLOCK",
    // Notifications (DESIGN.md)
    "SMTP_URL",
    "NOTIFY_FROM",
    "CLINIC_NOTIFY_EMAIL",
    "REMINDER_OFFSETS",
    "SMS_ACCOUNT_SID",
    "SMS_AUTH_TOKEN",
    "SMS_FROM",
    "SMS_API_BASE",
    "NOTIFY_POLL_MS",
    "NOTIFY_TIMEOUT_MS",
    "NOTIFICATION_RETENTION_DAYS",
];

/// Prefixes of this service's own variables: an unknown name with one of
/// them is probably a typo.
const OWN_PREFIXES: &[&str] = &[
    "CLINIC_", "STRIPE_", "DEPOSIT_", "WEBHOOK_", "BRAND_", "PAGE_", "SMS_", "NOTIFY_", "SMTP_",
];

/// Settings that were given but change nothing, and names that look like a
/// mistyped setting.
fn warnings(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    let stripe = env.get("STRIPE_SECRET_KEY").is_some();
    if !stripe {
        for name in [
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_API_BASE",
            "STRIPE_TIMEOUT_MS",
        ] {
            if env.get(name).is_some() {
                out.push(format!(
                    "{name} is ignored: deposits are manual unless STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set"
                ));
            }
        }
    } else {
        if env.get("STRIPE_PUBLISHABLE_KEY").is_none() {
            out.push(
                "STRIPE_PUBLISHABLE_KEY is not set: the booking page cannot take card payments"
                    .to_owned(),
            );
        }
        if env.get("MANUAL_DEPOSIT_INSTRUCTIONS").is_some() {
            out.push(
                "MANUAL_DEPOSIT_INSTRUCTIONS is ignored: deposits are taken by Stripe".to_owned(),
            );
        }
    }
    if env.boolean("DEMO_CLOCK", false).unwrap_or(false) {
        out.push("DEMO_CLOCK is on: an admin can move this server's clock forward (POST /demo/clock); never take real bookings here".to_owned());
    }
    if env.get("TRUST_FORWARDED_FOR").is_some() && env.get("RATE_LIMIT_PER_MINUTE") == Some("0") {
        out.push(
            "TRUST_FORWARDED_FOR is ignored: RATE_LIMIT_PER_MINUTE=0 turns the rate limit off"
                .to_owned(),
        );
    }
    let mut unknown: Vec<&String> = env
        .0
        .keys()
        .filter(|k| OWN_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| !KNOWN_SETTINGS.contains(&k.as_str()))
        .collect();
    unknown.sort();
    for name in unknown {
        out.push(format!(
            "{name} is not a clinic-api setting (mistyped?); it is ignored"
        ));
    }
    out
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
        publishable_key: env.text("STRIPE_PUBLISHABLE_KEY", 255)?.map(str::to_owned),
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

    /// A set value of at most `max` characters (the API shows it, and its
    /// document states the bound).
    fn text(&self, name: &'static str, max: usize) -> Result<Option<&str>, ConfigError> {
        match self.get(name) {
            Some(v) if v.chars().count() > max => Err(ConfigError::new(
                name,
                v,
                format!("must be at most {max} characters"),
            )),
            other => Ok(other),
        }
    }

    /// `value` (read from `name`), refused above `max`.
    fn at_most<T: PartialOrd + ToString>(
        &self,
        name: &'static str,
        value: T,
        max: T,
    ) -> Result<T, ConfigError> {
        if value > max {
            return Err(ConfigError::new(
                name,
                &value.to_string(),
                format!("must be at most {}", max.to_string()),
            ));
        }
        Ok(value)
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
            // Beyond what the OpenAPI document says `GET /v1/clinic` shows.
            ("DEPOSIT_AMOUNT", "100000001"),
            ("MINIMUM_AGE", "121"),
            ("HOLD_MINUTES", "1441"),
            ("CANCELLATION_NOTICE_HOURS", "8761"),
            ("BOOKING_HORIZON_DAYS", "3651"),
        ];
        let long = "x".repeat(2001);
        let texts = [
            "CLINIC_NAME",
            "CLINIC_ADDRESS",
            "CLINIC_PHONE",
            "CLINIC_EMAIL",
            "MANUAL_DEPOSIT_INSTRUCTIONS",
            "BRAND_LOGO_URL",
        ];
        for name in texts {
            let err = Settings::from_vars(vars(&[(name, &long)])).unwrap_err();
            assert_eq!(err.name, name);
        }
        for (name, value) in cases {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn bind_addr_takes_names_that_resolve() {
        let s = Settings::from_vars(vars(&[("BIND_ADDR", "localhost:8080")])).unwrap();
        assert!(s.bind_addr.ip().is_loopback(), "{}", s.bind_addr);
        assert_eq!(s.bind_addr.port(), 8080);
        for bad in ["localhost", "localhost:http", ":8080", "127.0.0.1:99999"] {
            let err = Settings::from_vars(vars(&[("BIND_ADDR", bad)])).unwrap_err();
            assert_eq!(err.name, "BIND_ADDR", "{bad}");
            assert!(err.reason.contains("localhost:8080"), "{err}");
        }
    }

    #[test]
    fn deposit_currency_is_an_iso_4217_code_in_hundredths() {
        let s = Settings::from_vars(vars(&[("DEPOSIT_CURRENCY", "eur")])).unwrap();
        assert_eq!(s.deposit.currency.code(), "EUR");
        for bad in ["XYZ", "JPY", "GB"] {
            let err = Settings::from_vars(vars(&[("DEPOSIT_CURRENCY", bad)])).unwrap_err();
            assert_eq!(err.name, "DEPOSIT_CURRENCY", "{bad}");
        }
        let err = Settings::from_vars(vars(&[("DEPOSIT_CURRENCY", "XYZ")])).unwrap_err();
        assert!(err.reason.contains("ISO 4217"), "{err}");
    }

    #[test]
    fn page_settings_are_checked() {
        let s = Settings::from_vars(vars(&[
            ("BRAND_PRIMARY_COLOUR", "#1A5276"),
            ("BRAND_LOGO_URL", "https://cdn.clinic.example/logo.svg"),
            (
                "PAGE_FRAME_ANCESTORS",
                "https://clinic.example, https://*.clinic.example:8443 'self'",
            ),
        ]))
        .unwrap();
        assert_eq!(s.page.primary_colour.as_deref(), Some("#1a5276"));
        assert_eq!(
            s.page.frame_ancestors,
            "https://clinic.example https://*.clinic.example:8443 'self'"
        );
        assert_eq!(
            Settings::from_vars(HashMap::new())
                .unwrap()
                .page
                .frame_ancestors,
            "'self'"
        );
        for (name, bad) in [
            ("BRAND_PRIMARY_COLOUR", "purple"),
            ("BRAND_ACCENT_COLOUR", "#12345"),
            ("BRAND_LOGO_URL", "javascript:alert(1)"),
            ("BRAND_LOGO_URL", "//evil.example/x.png"),
            ("PAGE_FRAME_ANCESTORS", "https://a.example; script-src *"),
            ("PAGE_FRAME_ANCESTORS", "'none' https://a.example"),
            ("PAGE_FRAME_ANCESTORS", "https://a.example/path"),
        ] {
            let err = Settings::from_vars(vars(&[(name, bad)])).unwrap_err();
            assert_eq!(err.name, name, "{bad}");
        }
    }

    #[test]
    fn ignored_and_mistyped_settings_are_warned_about() {
        let s = Settings::from_vars(vars(&[
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
            ("CLINIC_TIMEZON", "Europe/Paris"),
            ("TEST_DATABASE_URL", "postgres://x"),
        ]))
        .unwrap();
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("STRIPE_PUBLISHABLE_KEY is ignored"));
        assert!(s.warnings[1].starts_with("CLINIC_TIMEZON is not a clinic-api setting"));
        let stripe = Settings::from_vars(vars(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ]))
        .unwrap();
        assert!(stripe.warnings[0].contains("cannot take card payments"));
        assert!(Settings::from_vars(HashMap::new())
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("| Variable | Default | Meaning |")
            .expect("the table");
        let mut listed: Vec<String> = Vec::new();
        for row in readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
        {
            let first = row.split('|').nth(1).unwrap_or_default();
            listed.extend(first.split('`').skip(1).step_by(2).map(str::to_owned));
        }
        for name in &listed {
            assert!(
                KNOWN_SETTINGS.contains(&name.as_str()),
                "README lists {name}, unknown to config.rs"
            );
        }
        for name in KNOWN_SETTINGS {
            // The notification settings belong to the notifications work.
            let later = [
                "SMTP_URL",
                "NOTIFY_FROM",
                "CLINIC_NOTIFY_EMAIL",
                "REMINDER_OFFSETS",
            ];
            assert!(
                listed.iter().any(|l| l == name) || later.contains(name),
                "{name} is missing from README's configuration table"
            );
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
