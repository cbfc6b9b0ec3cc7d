//! Abuse limits on public write routes, counted per client address: the
//! peer's, or the first `X-Forwarded-For` hop when `TRUST_FORWARDED_FOR=true`
//! (only behind a proxy that sets it); and per API key for delivery
//! replays. The counting is `app::abuse`'s.
//!
//! Every answer to a counted request carries where its source stands, in
//! the three fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers,
//! up to draft 06): `RateLimit-Limit` (requests allowed per window),
//! `RateLimit-Remaining` (left in this window) and `RateLimit-Reset`
//! (seconds until the window ends). A 429 adds `Retry-After` (`api::error`).

use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::api::error::ApiError;
use crate::api::responses::rate_limit_fields;
use crate::app::abuse::{self, RateLimit};
use crate::app::{App, AppError};

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

/// Counts the request against its address in `group`
/// (`RATE_LIMIT_PER_MINUTE`); 429 past the limit. `None` when the limit is
/// off.
pub async fn check(
    app: &App,
    req: &HttpRequest,
    group: &'static str,
) -> Result<Option<RateLimit>, AppError> {
    let source = client_address(req, app.settings.abuse.trust_forwarded_for);
    abuse::count_request(app, group, &source).await
}

/// Counts the request against an API key in `group`, `limit` a minute;
/// 429 past it.
pub async fn check_key(
    app: &App,
    key_id: &str,
    group: &'static str,
    limit: u32,
) -> Result<Option<RateLimit>, AppError> {
    abuse::count_limited(app, group, key_id, limit).await
}

/// The answer to a counted request, success or problem, with the
/// `RateLimit-*` fields of its count (none when the limit is off).
pub fn answer(
    state: Option<RateLimit>,
    result: Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Some(state) = state else {
        return result;
    };
    let mut resp = result.unwrap_or_else(|e| e.error_response());
    let headers = resp.headers_mut();
    for (name, value) in rate_limit_fields(&state) {
        headers.insert(name, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_when_trusted() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("x-forwarded-for", "203.0.113.7, 10.0.0.1"))
            .peer_addr("192.0.2.1:5000".parse().unwrap())
            .to_http_request();
        assert_eq!(client_address(&req, true), "203.0.113.7");
        assert_eq!(client_address(&req, false), "192.0.2.1");
    }

    #[test]
    fn answers_carry_the_standing_of_their_count() {
        let state = RateLimit {
            limit: 30,
            remaining: 12,
            reset_secs: 41,
        };
        let ok = answer(Some(state), Ok(HttpResponse::Created().finish())).unwrap();
        assert_eq!(ok.status(), 201);
        assert_eq!(ok.headers().get("RateLimit-Limit").unwrap(), "30");
        assert_eq!(ok.headers().get("RateLimit-Remaining").unwrap(), "12");
        assert_eq!(ok.headers().get("RateLimit-Reset").unwrap(), "41");
        let refused = answer(Some(state), Err(ApiError::NotFound("delivery"))).unwrap();
        assert_eq!(refused.status(), 404);
        assert_eq!(refused.headers().get("RateLimit-Remaining").unwrap(), "12");
        let off = answer(None, Ok(HttpResponse::Created().finish())).unwrap();
        assert!(off.headers().get("RateLimit-Limit").is_none());
    }
}
