//! SMS through a Twilio-style HTTP API: `POST
//! {base}/2010-04-01/Accounts/{sid}/Messages.json` with the form fields
//! `To`, `From`, `Body`, HTTP Basic auth with the account id and token.
//! The base URL is configurable (tests point it at a fake); the call is
//! bounded in time and follows no redirects.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Delivered, Outgoing, SendError, Sender};
use crate::config::SmsSettings;
use crate::domain::notifications::{Channel, Failure};

pub struct Sms {
    http: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

/// Twilio's error codes for a number that cannot receive the message
/// (invalid, not a mobile, unsubscribed).
const INVALID_RECIPIENT: [i64; 5] = [21211, 21214, 21610, 21612, 21614];

impl Sms {
    pub fn new(s: &SmsSettings, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("clinic-api-notifications/1")
            .build()
            .map_err(|e| format!("SMS client: {e}"))?;
        Ok(Self {
            http,
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                s.api_base.trim_end_matches('/'),
                s.account_sid
            ),
            account_sid: s.account_sid.clone(),
            auth_token: s.auth_token.clone(),
            from: s.from.clone(),
        })
    }
}

/// A phone number as the provider wants it: `+` and digits only.
fn e164(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 || digits.len() > 15 {
        return None;
    }
    // Numbers given without a country code are taken as UK ones (07… → +447…).
    if phone.trim_start().starts_with('+') {
        Some(format!("+{digits}"))
    } else if let Some(national) = digits.strip_prefix('0') {
        Some(format!("+44{national}"))
    } else {
        Some(format!("+{digits}"))
    }
}

impl Sender for Sms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let to = e164(&m.to)
                .ok_or_else(|| SendError::new(Failure::Invalid, "invalid phone number"))?;
            let result = self
                .http
                .post(&self.url)
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .header("Idempotency-Key", &m.message_key)
                .form(&[("To", to.as_str()), ("From", &self.from), ("Body", &m.text)])
                .send()
                .await;
            let resp = match result {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(SendError::new(Failure::Transient, "timed out"))
                }
                Err(_) => {
                    return Err(SendError::new(
                        Failure::Transient,
                        "could not reach the SMS provider",
                    ))
                }
            };
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if status.is_success() {
                return Ok(Delivered {
                    provider_message_id: body["sid"]
                        .as_str()
                        .map(|s| s.chars().take(100).collect()),
                });
            }
            let code = body["code"].as_i64();
            let detail = match code {
                Some(c) => format!("HTTP {} (code {c})", status.as_u16()),
                None => format!("HTTP {}", status.as_u16()),
            };
            let failure = if code.is_some_and(|c| INVALID_RECIPIENT.contains(&c)) {
                Failure::Invalid
            } else if status.as_u16() == 429 || status.is_server_error() {
                Failure::Transient
            } else {
                Failure::Refused
            };
            Err(SendError::new(failure, detail))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_sent_in_international_form() {
        assert_eq!(e164("+44 7700 900123").as_deref(), Some("+447700900123"));
        assert_eq!(e164("07700 900123").as_deref(), Some("+447700900123"));
        assert_eq!(e164("(0)12").as_deref(), None);
    }
}
