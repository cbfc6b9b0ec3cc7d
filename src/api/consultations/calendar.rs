//! `GET /v1/consultations/{id}/calendar.ics`: the appointment as an
//! iCalendar file.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::auth::BookingAuth;
use super::ConsultationPath;
use crate::api::error::ApiError;
use crate::api::ProblemResponses;
use crate::app::{booking, App};
use crate::domain::calendar::{self, Appointment};
use crate::domain::consultation::Status;

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
    let settings = &app.settings;
    let uid = format!("{}@clinic-api", c.id);
    let summary = format!("Consultation at {}", settings.clinic_name);
    let description = format!(
        "Your consultation at {}. To cancel or move it, use your booking link; cancellations within {} hours of the appointment forfeit the deposit.",
        settings.clinic_name, settings.booking.cancellation_notice_hours
    );
    let ics = calendar::render(&Appointment {
        uid: &uid,
        starts_at: c.starts_at,
        ends_at: c.ends_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
        sequence: u32::try_from(c.sequence).unwrap_or(0),
        summary: &summary,
        description: &description,
        location: Some(&settings.clinic_name),
        organizer_name: Some(&settings.clinic_name),
        cancelled: matches!(c.status, Status::Cancelled | Status::Expired),
        tentative: c.status == Status::PendingDeposit,
        tz: settings.clinic_timezone,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, calendar::CONTENT_TYPE))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"consultation.ics\"",
        ))
        .body(ics))
}
