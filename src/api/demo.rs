//! `/demo/clock`: the rehearsal clock of a `DEMO_CLOCK=true` server (see
//! `app::demo_clock`). Routed only on such a server, and not part of the
//! API's contract (the OpenAPI document): on any other server the path does
//! not exist.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::api::auth::{AdminKey, StaffKey};
use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::app::{demo_clock, App};

/// Where to move the clock.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockMove {
    /// The new "now": later than the current one.
    pub to: DateTime<Utc>,
}

/// The server's "now".
#[derive(Debug, Serialize)]
pub struct ClockNow {
    pub now: DateTime<Utc>,
    pub demo_clock: bool,
}

/// The paths, for the route table (405 with `Allow` for other methods).
pub const PATH: &str = "/demo/clock";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Post()))
            .route(web::get().to(show))
            .route(web::post().to(advance)),
    );
}

async fn show(app: web::Data<App>, _staff: StaffKey) -> HttpResponse {
    HttpResponse::Ok().json(ClockNow {
        now: app.now(),
        demo_clock: app.settings.demo_clock,
    })
}

async fn advance(
    app: web::Data<App>,
    admin: AdminKey,
    body: ValidJson<ClockMove>,
) -> Result<HttpResponse, ApiError> {
    let now = demo_clock::advance(&app, &admin.identity.label(), body.0.to).await?;
    Ok(HttpResponse::Ok().json(ClockNow {
        now,
        demo_clock: true,
    }))
}
