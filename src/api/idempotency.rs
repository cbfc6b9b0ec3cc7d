//! `Idempotency-Key` over HTTP: the header checked and turned into the use
//! case's idempotent request, and stored or fresh answers sent back (a
//! replay with `Idempotent-Replayed: true`). The semantics are
//! `app::idempotency`'s.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::api::error::{stored_problem, ApiError, PROBLEM_JSON};
use crate::api::extract::BodyDigest;
use crate::app::idempotency::{IdempotentRequest, Render, Reply, StoredResponse};
use crate::app::AppError;

pub const HEADER: &str = "Idempotency-Key";

/// The caller's key, checked: 1–255 visible ASCII characters.
pub fn key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is ideal).",
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    let ok = (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(bad());
    }
    Ok(Some(value.to_owned()))
}

/// The idempotent request of an HTTP request, if it carries a key.
/// `caller` names who is calling (so keys of different callers never
/// meet); the scope also includes the method and path.
pub fn request(
    req: &HttpRequest,
    caller: &str,
    digest: &BodyDigest,
) -> Result<Option<IdempotentRequest>, ApiError> {
    Ok(key(req)?.map(|key| IdempotentRequest {
        scope: format!("{caller}|{} {}", req.method(), req.path()),
        key,
        fingerprint: digest.hex(),
    }))
}

/// Renders a use case's outcome as a JSON answer with `status` (and a
/// `Location` from `location`), failures as problems.
pub fn render<T, B, F>(status: u16, view: F) -> Render<T>
where
    B: Serialize,
    F: Fn(&T) -> (B, Option<String>) + Send + Sync + 'static,
{
    Render {
        ok: Box::new(move |value| {
            let (body, location) = view(value);
            Ok(StoredResponse {
                status,
                body: serde_json::to_string(&body).map_err(AppError::internal)?,
                location,
            })
        }),
        err: stored_problem,
    }
}

/// Sends an answer: fresh, or the stored one of an earlier request.
pub fn respond(reply: &Reply) -> HttpResponse {
    let stored = &reply.response;
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    };
    builder.insert_header((header::CONTENT_TYPE, content_type));
    if let Some(location) = &stored.location {
        builder.insert_header((header::LOCATION, location.clone()));
    }
    if reply.replayed {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.body(stored.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let req = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((HEADER, v))
                .to_http_request()
        };
        assert_eq!(key(&req("abc-123")).unwrap().as_deref(), Some("abc-123"));
        assert!(key(&req("has space")).is_err());
        assert!(key(&req(&"x".repeat(256))).is_err());
        assert!(
            key(&actix_web::test::TestRequest::default().to_http_request())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn replays_keep_status_type_and_location() {
        let reply = Reply {
            response: StoredResponse {
                status: 201,
                body: "{}".into(),
                location: Some("/v1/x".into()),
            },
            replayed: true,
        };
        let resp = respond(&reply);
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers().get("location").unwrap(), "/v1/x");
        assert_eq!(resp.headers().get("idempotent-replayed").unwrap(), "true");
    }
}
