//! Notification channels behind one trait: e-mail over SMTP ([`smtp`]) and
//! SMS through a Twilio-style HTTP API ([`sms`]). Adapters only: what to
//! send and when is decided in `app::notifications`. Errors carry a short
//! reason (an SMTP code, an HTTP status), never the address or the body.

pub mod sms;
pub mod smtp;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::Settings;
use crate::domain::notifications::{Channel, Failure};

/// One message to send: to an e-mail address or a phone number.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The address or number.
    pub to: String,
    /// The recipient's name, for the `To:` header.
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// E-mail: a calendar document to attach.
    pub calendar: Option<CalendarPart>,
    /// The same on every try of one message (its `Message-ID`, and an
    /// idempotency key for SMS providers that honour one).
    pub message_key: String,
}

/// A `text/calendar` attachment.
#[derive(Debug, Clone)]
pub struct CalendarPart {
    /// `text/calendar; charset=utf-8; method=REQUEST`.
    pub content_type: String,
    pub body: String,
}

/// The channel took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The provider's id for it, when it gives one.
    pub provider_message_id: Option<String>,
}

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SendError {
    pub failure: Failure,
    /// Short and free of personal data, e.g. `SMTP 451`, `HTTP 503`, `timed out`.
    pub detail: String,
}

impl SendError {
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            detail: detail.into(),
        }
    }
}

/// A way to reach people.
pub trait Sender: Send + Sync + 'static {
    fn channel(&self) -> Channel;

    /// Sends one message; bounded in time.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>>;
}

/// The configured channels; a missing one means its messages are recorded,
/// not sent.
#[derive(Clone, Default)]
pub struct Channels {
    pub email: Option<Arc<dyn Sender>>,
    pub sms: Option<Arc<dyn Sender>>,
}

impl Channels {
    /// The sender for a channel, if configured.
    pub fn get(&self, channel: Channel) -> Option<&Arc<dyn Sender>> {
        match channel {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
        }
    }
}

/// The channels the settings configure (none by default).
pub fn from_settings(settings: &Settings) -> Result<Channels, String> {
    let n = &settings.notifications;
    let email: Option<Arc<dyn Sender>> = match (&n.smtp_url, &n.from) {
        (Some(url), Some(from)) => Some(Arc::new(smtp::Smtp::new(url, from, n.timeout)?)),
        _ => None,
    };
    let sms: Option<Arc<dyn Sender>> = match &n.sms {
        Some(s) => Some(Arc::new(sms::Sms::new(s, n.timeout)?)),
        None => None,
    };
    Ok(Channels { email, sms })
}
