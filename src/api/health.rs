//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::api::ProblemResponses;
use crate::app::readiness::{self, NotReady};
use crate::app::App;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok", max_length = 16)]
    pub status: &'static str,
}

/// Liveness
///
/// The process is up and answering.
#[utoipa::path(
    operation_id = "live",
    tag = "Health",
    responses((status = 200, description = "Alive", body = HealthStatus)),
    security(())
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness
///
/// The database answers and accepts writes; otherwise 503. Answers within a
/// second whatever the database does.
#[utoipa::path(
    operation_id = "ready",
    tag = "Health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        ProblemResponses<503>,
    ),
    security(())
)]
#[get("/health/ready")]
pub async fn ready(app: web::Data<App>) -> Result<HttpResponse, ApiError> {
    let not_ready = |detail: &str| ApiError::Unavailable {
        code: "not_ready",
        detail: detail.to_owned(),
        retry_after_secs: 5,
    };
    match readiness::check(&app).await {
        Ok(()) => Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" })),
        Err(NotReady::DatabaseDown) => Err(not_ready("The database is not answering.")),
        Err(NotReady::StorageFull) => Err(not_ready(
            "The database is full: writes fail until space is freed.",
        )),
    }
}
