//! The clinic's diary: the staff's (and a partner's) list of consultations,
//! recording how appointments went, and the screening behind a booking.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::view::{self, Audience, Consultation};
use super::ConsultationPath;
use crate::api::auth::{AnyKey, StaffKey};
use crate::api::error::ApiError;
use crate::api::extract::{comma_list, local_days, optional_calendar_date, supported_date};
use crate::api::{pagination, ProblemResponses};
use crate::app::booking::{self, Booking};
use crate::app::App;
use crate::db::DbError;
use crate::domain::actor::Actor;
use crate::domain::consultation::{Status, Transition};
use crate::store::consultations::{self as store, ListFilter};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// First clinic-local date (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, deserialize_with = "optional_calendar_date")]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, deserialize_with = "optional_calendar_date")]
    pub to: Option<NaiveDate>,
    /// Only these statuses (comma-separated), e.g. `confirmed,pending_deposit`.
    #[param(
        max_length = 200,
        example = "confirmed",
        pattern = "^(pending_deposit|confirmed|attended|no_show|cancelled|expired)(,(pending_deposit|confirmed|attended|no_show|cancelled|expired))*$"
    )]
    pub status: Option<String>,
    pub practitioner_id: Option<uuid::Uuid>,
    /// Page size (1–100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From the `next` link of the previous page.
    pub cursor: Option<String>,
}

/// A page of consultations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationList {
    #[schema(max_items = 100)]
    pub items: Vec<Consultation>,
    /// URL of the next page, or null on the last.
    #[schema(max_length = 4096)]
    pub next: Option<String>,
}

/// List consultations
///
/// Staff see every consultation; a partner sees the ones it booked. Ordered
/// by start time; filter by clinic-local dates, status and practitioner.
#[utoipa::path(
    operation_id = "listConsultations",
    tag = "Consultations",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of consultations", body = ConsultationList),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/consultations")]
pub async fn list(
    req: HttpRequest,
    app: web::Data<App>,
    key: AnyKey,
    query: crate::api::extract::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    supported_date("from", q.from)?;
    supported_date("to", q.to)?;
    let (from, to) = local_days(app.settings.clinic_timezone, q.from, q.to);
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let actor = key.identity.actor();
    let filter = ListFilter {
        from,
        to,
        statuses: comma_list(
            "status",
            q.status.as_deref(),
            "a consultation status",
            Status::parse,
        )?,
        practitioner_id: q.practitioner_id.map(|p| p.to_string()),
        booked_by_key_id: match &actor {
            Actor::Partner(k) => Some(k.clone()),
            _ => None,
        },
        client_id: None,
        after,
        limit: limit + 1,
    };
    let rows = app
        .db
        .run(move |conn| {
            store::list(conn, &filter)?
                .into_iter()
                .map(|c| Booking::of(conn, c))
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await?;
    let (rows, next) = pagination::page(&req, rows, limit, |b| {
        pagination::encode_time(b.consultation.starts_at, &b.consultation.id)
    });
    let audience = Audience::of(&actor);
    Ok(HttpResponse::Ok().json(ConsultationList {
        items: rows
            .into_iter()
            .map(|b| view::render(&app, b, audience))
            .collect(),
        next,
    }))
}

async fn record(
    app: web::Data<App>,
    staff: StaffKey,
    id: String,
    transition: Transition,
) -> Result<HttpResponse, ApiError> {
    let b = booking::record_outcome(&app, &staff.identity.actor(), &id, transition).await?;
    Ok(HttpResponse::Ok().json(view::render(&app, b, Audience::Staff)))
}

/// Mark attended
///
/// Staff record that a confirmed client came (from the start time on). The
/// deposit stays as credit to redeem against a treatment.
#[utoipa::path(
    operation_id = "markConsultationAttended",
    tag = "Consultations",
    params(ConsultationPath),
    responses(
        (status = 200, description = "Attended", body = Consultation),
        ProblemResponses<401, 403, 404, 409, 410>,
    ),
    security(("api_key" = []))
)]
#[post("/consultations/{id}/attended")]
pub async fn attended(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    record(app, staff, path.id.to_string(), Transition::Attend).await
}

/// Mark no-show
///
/// Staff record that a confirmed client did not come; the deposit is
/// forfeited under the policy.
#[utoipa::path(
    operation_id = "markConsultationNoShow",
    tag = "Consultations",
    params(ConsultationPath),
    responses(
        (status = 200, description = "No-show", body = Consultation),
        ProblemResponses<401, 403, 404, 409, 410>,
    ),
    security(("api_key" = []))
)]
#[post("/consultations/{id}/no-show")]
pub async fn no_show(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    record(app, staff, path.id.to_string(), Transition::MarkNoShow).await
}

/// The screening behind a booking, for the practitioner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreeningRecord {
    #[schema(format = "uuid")]
    pub id: String,
    pub outcome: crate::domain::eligibility::Outcome,
    #[schema(max_items = 6)]
    pub reason_codes: Vec<crate::domain::eligibility::ReasonCode>,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<NaiveDate>,
    /// Age on the date the screening judged.
    #[schema(minimum = 0, maximum = 130)]
    pub age: Option<u32>,
    #[schema(value_type = String, format = Date)]
    pub judged_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// Get a booking's screening
///
/// Staff only: the screening the booking was made with (special category
/// data; no one else can read a screening).
#[utoipa::path(
    operation_id = "getConsultationScreening",
    tag = "Consultations",
    params(ConsultationPath),
    responses(
        (status = 200, description = "The screening", body = ScreeningRecord),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[get("/consultations/{id}/screening")]
pub async fn screening(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let s = crate::app::privacy::screening_of(&app, &path.id.to_string(), &staff.identity.label())
        .await?;
    Ok(HttpResponse::Ok().json(ScreeningRecord::from(s)))
}

impl From<crate::store::screenings::Screening> for ScreeningRecord {
    fn from(s: crate::store::screenings::Screening) -> Self {
        Self {
            id: s.id,
            outcome: s.outcome,
            reason_codes: s.reason_codes,
            date_of_birth: s.date_of_birth,
            age: s.age,
            judged_on: s.judged_on,
            created_at: s.created_at,
        }
    }
}
