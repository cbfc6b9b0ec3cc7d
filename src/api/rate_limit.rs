//! Abuse limits on public write routes: a fixed number of requests per
//! client address per minute (`RATE_LIMIT_PER_MINUTE`, 0 turns it off),
//! answered 429 with `Retry-After` beyond it. The address is the peer's,
//! or the first `X-Forwarded-For` hop when `TRUST_FORWARDED_FOR=true`
//! (only behind a proxy that sets it).

use actix_web::HttpRequest;
use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::db::write_transaction;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::rate_limits;

const WINDOW_SECONDS: i64 = 60;

/// The address a request is counted against.
pub fn client_address(req: &HttpRequest, trust_forwarded: bool) -> String {
    if trust_forwarded {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 64)
        {
            return first.to_owned();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::seconds(WINDOW_SECONDS))
        .unwrap_or(now)
}

/// Counts the request against its address in `group`; 429 past the limit.
pub async fn check(
    state: &AppState,
    req: &HttpRequest,
    group: &'static str,
) -> Result<(), ApiError> {
    let limit = state.settings.abuse.rate_limit_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let now = state.now();
    let start = window_start(now);
    let bucket = format!(
        "{group}:{}",
        client_address(req, state.settings.abuse.trust_forwarded_for)
    );
    let hits = state
        .db
        .run(move |conn| write_transaction(conn, |conn| rate_limits::hit(conn, &bucket, start)))
        .await?;
    if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
        let reset = start + Duration::seconds(WINDOW_SECONDS);
        let retry_after_secs = u64::try_from((reset - now).num_seconds().max(1)).unwrap_or(1);
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes() {
        let t: DateTime<Utc> = "2026-11-25T10:00:42.5Z".parse().unwrap();
        assert_eq!(
            window_start(t),
            "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn forwarded_addresses_count_only_when_trusted() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("x-forwarded-for", "203.0.113.7, 10.0.0.1"))
            .peer_addr("192.0.2.1:5000".parse().unwrap())
            .to_http_request();
        assert_eq!(client_address(&req, true), "203.0.113.7");
        assert_eq!(client_address(&req, false), "192.0.2.1");
    }
}
