//! `GET /v1/consultations/{id}/calendar.ics`: the appointment as an
//! iCalendar file.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::auth::BookingAuth;
use super::ConsultationPath;
use crate::api::error::ApiError;
use crate::api::ProblemResponses;
use crate::app::{booking, notifications, App};
use crate::domain::calendar::{self, Method};

/// Add to calendar
///
/// The appointment as an iCalendar event, in the clinic's time zone.
#[utoipa::path(
    operation_id = "getConsultationCalendar",
    tag = "Consultations",
    params(ConsultationPath),
    responses(
        (status = 200, description = "An iCalendar document", content_type = "text/calendar", body = String),
        ProblemResponses<401, 404>,
    ),
    security(("manage_token" = []), ("api_key" = []))
)]
#[get("/consultations/{id}/calendar.ics")]
pub async fn calendar_ics(
    app: web::Data<App>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let c = booking::find(&app, &path.id.to_string(), &actor)
        .await?
        .consultation;
    let ics = notifications::render::calendar_file(&app.settings, &c, Method::Publish);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, calendar::CONTENT_TYPE))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"consultation.ics\"",
        ))
        .body(ics))
}
