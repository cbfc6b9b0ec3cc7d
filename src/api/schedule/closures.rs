//! `/v1/closures`: periods when bookings cannot be made (the whole clinic,
//! or one practitioner).

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::StaffKey;
use crate::api::error::ApiError;
use crate::api::extract::{supported_date, ValidJson};
use crate::api::validation::{check_text, finish, reject};
use crate::api::{created, ProblemResponses};
use crate::app::{schedule, App};
use crate::domain::slots::{local_midnight, Interval};
use crate::store::practitioners::{self as store, ClosureRow};

use crate::api::stranded::{listed, OnStrandedBookings, StrandedBooking};

/// A period when bookings cannot be made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Closure {
    #[schema(format = "uuid")]
    pub id: String,
    /// The practitioner it applies to; null for the whole clinic.
    #[schema(format = "uuid")]
    pub practitioner_id: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[schema(example = "Christmas", max_length = 200)]
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl From<ClosureRow> for Closure {
    fn from(c: ClosureRow) -> Self {
        let i = c.interval();
        Self {
            id: c.id,
            practitioner_id: c.practitioner_id,
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            reason: c.reason,
            created_at: crate::store::from_db(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureList {
    pub items: Vec<Closure>,
}

/// A closure as staff write it: either instants, or whole clinic-local days.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from_date": "2026-12-25", "to_date": "2026-12-26", "reason": "Christmas"}))]
pub struct ClosureInput {
    /// Null or omitted: the whole clinic.
    #[serde(default)]
    pub practitioner_id: Option<uuid::Uuid>,
    /// Start instant (with `ends_at`), or use `from_date`/`to_date`.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// First closed clinic-local day (with `to_date`, inclusive).
    #[serde(
        default,
        deserialize_with = "crate::api::extract::optional_calendar_date"
    )]
    #[schema(value_type = Option<String>, format = Date)]
    pub from_date: Option<NaiveDate>,
    #[serde(
        default,
        deserialize_with = "crate::api::extract::optional_calendar_date"
    )]
    #[schema(value_type = Option<String>, format = Date)]
    pub to_date: Option<NaiveDate>,
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// Only report which live bookings fall inside the closure; change
    /// nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// What to do with those bookings (default: refuse the closure).
    #[serde(default)]
    pub on_stranded_bookings: OnStrandedBookings,
}

/// What a closure would strand (a dry run).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureImpact {
    /// Always true: nothing was changed.
    pub dry_run: bool,
    /// Live bookings inside the closure.
    pub stranded_bookings: Vec<StrandedBooking>,
}

/// A new closure, with the live bookings inside it (kept or cancelled).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClosure {
    #[serde(flatten)]
    pub closure: Closure,
    pub stranded_bookings: Vec<StrandedBooking>,
    pub on_stranded_bookings: OnStrandedBookings,
}

impl Validate for ClosureInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "reason", &self.reason, 200);
        let dates = [
            self.starts_at.map(|t| t.date_naive()),
            self.ends_at.map(|t| t.date_naive()),
            self.from_date,
            self.to_date,
        ];
        if dates
            .into_iter()
            .flatten()
            .any(|d| !crate::domain::dates::date_supported(d))
        {
            reject(
                &mut errors,
                "starts_at",
                "range",
                crate::domain::dates::unsupported_message(),
            );
            return Err(errors);
        }
        match (self.starts_at, self.ends_at, self.from_date, self.to_date) {
            (Some(s), Some(e), None, None) if s < e => {}
            (Some(_), Some(_), None, None) => reject(
                &mut errors,
                "ends_at",
                "order",
                "must be after starts_at".into(),
            ),
            (None, None, Some(f), Some(t)) if f <= t && (t - f).num_days() < 366 => {}
            (None, None, Some(_), Some(_)) => reject(
                &mut errors,
                "to_date",
                "order",
                "must be on or after from_date, within a year".into(),
            ),
            _ => reject(
                &mut errors,
                "starts_at",
                "required",
                "give either starts_at and ends_at, or from_date and to_date".into(),
            ),
        }
        finish(errors)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClosureQuery {
    /// First clinic-local date (default: today).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (default: a year after `from`).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    pub practitioner_id: Option<uuid::Uuid>,
}

/// List closures
#[utoipa::path(
    operation_id = "listClosures",
    tag = "Schedule",
    params(ClosureQuery),
    responses(
        (status = 200, description = "Closures overlapping the dates", body = ClosureList),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/closures")]
pub async fn list_closures(
    app: web::Data<App>,
    _staff: StaffKey,
    query: crate::api::extract::Query<ClosureQuery>,
) -> Result<HttpResponse, ApiError> {
    let tz = app.settings.clinic_timezone;
    supported_date("from", query.from)?;
    supported_date("to", query.to)?;
    let from = query.from.unwrap_or_else(|| app.today());
    let to = query.to.unwrap_or(from + Duration::days(366));
    if to < from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    let range = Interval::new(
        local_midnight(tz, from),
        local_midnight(tz, to + Duration::days(1)),
    );
    let pid = query.practitioner_id.map(|p| p.to_string());
    let items = app
        .db
        .run(move |conn| store::closures_overlapping(conn, pid.as_deref(), range))
        .await?;
    Ok(HttpResponse::Ok().json(ClosureList {
        items: items.into_iter().map(Closure::from).collect(),
    }))
}

/// Add a closure
///
/// Blocks bookings in a period (a holiday, training, a broken machine). A
/// closure over live bookings (confirmed, or held while the deposit is
/// paid) is refused with 409 `bookings_stranded`, listing them, unless
/// `on_stranded_bookings` says to `keep` them (as exceptions) or `cancel`
/// them (on the clinic's side: a paid deposit is refunded). `dry_run: true`
/// shows the impact (200) and changes nothing.
#[utoipa::path(
    operation_id = "createClosure",
    tag = "Schedule",
    request_body = ClosureInput,
    responses(
        (status = 201, description = "Created", body = CreatedClosure,
            headers(("Location" = String, description = "URL of the closure"))),
        (status = 200, description = "A dry run: what the closure would strand", body = ClosureImpact),
        ProblemResponses<400, 401, 403, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/closures")]
pub async fn create_closure(
    app: web::Data<App>,
    staff: StaffKey,
    body: ValidJson<ClosureInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let tz = app.settings.clinic_timezone;
    let period = match (
        input.starts_at,
        input.ends_at,
        input.from_date,
        input.to_date,
    ) {
        (Some(s), Some(e), _, _) => Interval::new(s, e),
        (_, _, Some(f), Some(t)) => Interval::new(
            local_midnight(tz, f),
            local_midnight(tz, t + Duration::days(1)),
        ),
        _ => {
            return Err(ApiError::internal(
                "closure input passed validation without a period",
            ))
        }
    };
    let pid = input.practitioner_id.map(|p| p.to_string());
    let change = schedule::create_closure(
        &app,
        &staff.identity,
        pid,
        period,
        input.reason.trim(),
        input.on_stranded_bookings.into(),
        input.dry_run,
    )
    .await?;
    let stranded_bookings = listed(change.stranded);
    let Some(row) = change.value else {
        return Ok(HttpResponse::Ok().json(ClosureImpact {
            dry_run: true,
            stranded_bookings,
        }));
    };
    let closure = Closure::from(row);
    let location = format!("/v1/closures/{}", closure.id);
    Ok(created(
        &location,
        &CreatedClosure {
            closure,
            stranded_bookings,
            on_stranded_bookings: change.handled.into(),
        },
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClosurePath {
    pub id: uuid::Uuid,
}

/// Remove a closure
#[utoipa::path(
    operation_id = "deleteClosure",
    tag = "Schedule",
    params(ClosurePath),
    responses(
        (status = 204, description = "Removed"),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[delete("/closures/{id}")]
pub async fn delete_closure(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<ClosurePath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    schedule::delete_closure(&app, &staff.identity.label(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_closures)
        .service(create_closure)
        .service(delete_closure);
}
