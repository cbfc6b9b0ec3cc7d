//! `/metrics` for operators, on its own listener (`METRICS_BIND_ADDR`), and
//! the middleware that counts and times every API request.
//!
//! Access: the listener is separate from the API's, so it can be bound to
//! loopback or a private interface the scraper reaches and nobody else;
//! with `METRICS_TOKEN` set, a scrape must also send
//! `Authorization: Bearer <token>`. It needs no database to authorise (an
//! API key would, and a scrape must work while the database is down), and it
//! is not part of the API: it is not in the OpenAPI document, whose readers
//! are the API's clients.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::error::ProblemCode;
use crate::app::{observability, App};
use crate::metrics::CONTENT_TYPE;
use crate::secrets::{hash, hashes_match};

/// `GET /metrics`: the Prometheus text format.
pub async fn scrape(req: HttpRequest, app: web::Data<App>) -> HttpResponse {
    if let Some(token) = &app.settings.metrics.token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !hashes_match(&hash(presented), &hash(token)) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(observability::scrape(&app).await)
}

/// Middleware: each API request counted by route (the matched pattern, so
/// ids do not multiply the series) and status, and timed; 503s by cause.
pub async fn observe(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let app = req.app_data::<web::Data<App>>().cloned();
    let method = req.method().clone();
    let resp = next.call(req).await?;
    if let Some(app) = app {
        let route = resp
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let problem = resp
            .response()
            .extensions()
            .get::<ProblemCode>()
            .map(|p| p.0);
        app.metrics.request(
            method.as_str(),
            &route,
            resp.status().as_u16(),
            started.elapsed().as_secs_f64(),
            problem,
        );
    }
    Ok(resp)
}
