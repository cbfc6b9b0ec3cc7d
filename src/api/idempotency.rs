//! `Idempotency-Key` for POSTs that create or move money or a slot
//! (IETF httpapi draft semantics), recorded in the database so it holds
//! across instances:
//!
//! - first use: the request runs and its response is stored (for 24 hours,
//!   `IDEMPOTENCY_RETENTION_HOURS`);
//! - the same key and the same body again: the stored response is replayed
//!   (with `Idempotent-Replayed: true`);
//! - the same key with a different body: 422 `idempotency_key_reused`;
//! - the same key while the first request is still running: 409
//!   `idempotency_key_in_flight`.
//!
//! Server-side failures (5xx) are not stored, so a retry runs anew.

use std::future::Future;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use chrono::Duration;

use crate::api::extract::BodyDigest;
use crate::db::write_transaction;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::state::AppState;
use crate::store::idempotency::{self, Begin, StoredResponse, Ticket};

pub const HEADER: &str = "Idempotency-Key";

/// A stale in-flight record (its process died) may be taken over after this.
const LOCK_TIMEOUT_SECS: i64 = 60;

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

/// Turns a stored or fresh response into HTTP.
pub fn respond(stored: &StoredResponse, replayed: bool) -> HttpResponse {
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
    if replayed {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.body(stored.body.clone())
}

/// A problem response in storable form.
fn stored_problem(e: &ApiError) -> StoredResponse {
    StoredResponse {
        status: e.status_code().as_u16(),
        body: serde_json::to_string(&e.problem()).unwrap_or_default(),
        location: None,
    }
}

/// Runs `work` under the request's Idempotency-Key, if it has one.
/// `caller` names who is calling (so keys of different callers never
/// meet); the scope also includes the method and path. `work` may store its
/// response itself, atomically with its changes (see
/// [`crate::store::idempotency::complete`]); otherwise it is stored here.
pub async fn run<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    caller: &str,
    digest: &BodyDigest,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<Ticket>) -> Fut,
    Fut: Future<Output = Result<StoredResponse, ApiError>>,
{
    let Some(key) = key(req)? else {
        return work(None).await.map(|r| respond(&r, false));
    };
    let scope = format!("{caller}|{} {}", req.method(), req.path());
    let hash = digest.hex();
    let now = state.now();
    let ttl = Duration::hours(i64::from(state.settings.retention.idempotency_hours));
    let (s, k) = (scope.clone(), key.clone());
    let begun = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                idempotency::begin(
                    conn,
                    &s,
                    &k,
                    &hash,
                    now,
                    Duration::seconds(LOCK_TIMEOUT_SECS),
                    ttl,
                )
            })
        })
        .await?;
    let ticket = match begun {
        Begin::Proceed(ticket) => ticket,
        Begin::Replay(stored) => return Ok(respond(&stored, true)),
        Begin::InFlight => {
            return Err(ApiError::conflict(
                "idempotency_key_in_flight",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            ))
        }
        Begin::Mismatch => {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            ))
        }
    };
    let result = work(Some(ticket.clone())).await;
    let (to_store, outcome) = match result {
        Ok(stored) => (Some(stored.clone()), Ok(respond(&stored, false))),
        Err(e) if e.status_code().is_server_error() => (None, Err(e)),
        Err(e) => (Some(stored_problem(&e)), Err(e)),
    };
    let t = ticket;
    let finish = state
        .db
        .run(move |conn| match &to_store {
            // Most work stores its answer itself, in its own transaction:
            // only write (and sync) when it did not.
            Some(stored) if idempotency::is_in_flight(conn, &t)? => {
                write_transaction(conn, |conn| idempotency::complete(conn, &t, stored))
            }
            Some(_) => Ok(()),
            None => write_transaction(conn, |conn| idempotency::release(conn, &t)),
        })
        .await;
    if let Err(e) = finish {
        // The work itself succeeded or failed as reported; a retry after the
        // lock timeout will see the key as in flight until then.
        tracing::warn!(error = %e, "could not record the idempotency outcome");
    }
    outcome
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
        let stored = StoredResponse {
            status: 201,
            body: "{}".into(),
            location: Some("/v1/x".into()),
        };
        let resp = respond(&stored, true);
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers().get("location").unwrap(), "/v1/x");
        assert_eq!(resp.headers().get("idempotent-replayed").unwrap(), "true");
    }
}
