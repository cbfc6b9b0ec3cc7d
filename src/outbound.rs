//! Outbound HTTP to subscribers' webhook endpoints: bounded in time, no
//! redirects followed.

use std::time::Duration;

/// The HTTP client for deliveries.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("clinic-api-webhooks/1")
        .build()
        .expect("the webhook client builds")
}
