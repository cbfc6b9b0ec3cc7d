//! Abuse limits on public write routes, counted per client address: the
//! peer's, or the first `X-Forwarded-For` hop when `TRUST_FORWARDED_FOR=true`
//! (only behind a proxy that sets it). The counting is `app::abuse`'s.

use actix_web::HttpRequest;

use crate::api::error::ApiError;
use crate::app::App;

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

/// Counts the request against its address in `group`; 429 past the limit.
pub async fn check(app: &App, req: &HttpRequest, group: &'static str) -> Result<(), ApiError> {
    let source = client_address(req, app.settings.abuse.trust_forwarded_for);
    Ok(crate::app::abuse::count_request(app, group, &source).await?)
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
}
