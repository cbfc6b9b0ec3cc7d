//! `/v1/practitioners`: who consultations are booked with, and their weekly
//! opening hours.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::{MaybeKey, StaffKey};
use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::validation::{check_text, finish, reject};
use crate::api::{created, ProblemResponses};
use crate::app::schedule::{self, PractitionerDraft};
use crate::app::App;
use crate::db::DbError;
use crate::domain::slots::{parse_weekday, weekday_name, OpeningWindow};
use crate::domain::GRID_MINUTES;
use crate::store::practitioners as store;

use crate::api::stranded::{listed, OnStrandedBookings, StrandedBooking};

/// Someone consultations are booked with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Practitioner {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = "Nurse Julie", max_length = 120)]
    pub name: String,
    #[schema(example = "Nurse prescriber", max_length = 120)]
    pub title: String,
    /// Inactive practitioners take no bookings.
    pub active: bool,
    #[schema(max_items = 70)]
    pub opening_hours: Vec<Window>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerList {
    pub items: Vec<Practitioner>,
}

/// One weekly opening window, in clinic-local wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `monday` … `sunday`.
    #[schema(
        max_length = 9,
        example = "monday",
        pattern = "^(monday|tuesday|wednesday|thursday|friday|saturday|sunday)$"
    )]
    pub weekday: String,
    /// `HH:MM`, on a five-minute grid.
    #[schema(
        example = "09:00",
        pattern = "^([01][0-9]|2[0-3]):[0-5][05]$",
        max_length = 5
    )]
    pub opens: String,
    /// `HH:MM`, after `opens`, on a five-minute grid.
    #[schema(
        example = "17:00",
        pattern = "^([01][0-9]|2[0-3]):[0-5][05]$",
        max_length = 5
    )]
    pub closes: String,
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    if s.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M")
        .ok()
        .filter(|t| t.minute() % GRID_MINUTES == 0)
}

impl Window {
    fn from_domain(w: &OpeningWindow) -> Self {
        Self {
            weekday: weekday_name(w.weekday).to_owned(),
            opens: w.opens.format("%H:%M").to_string(),
            closes: w.closes.format("%H:%M").to_string(),
        }
    }

    fn to_domain(&self) -> Option<OpeningWindow> {
        let weekday = parse_weekday(&self.weekday)?;
        let (opens, closes) = (parse_time(&self.opens)?, parse_time(&self.closes)?);
        (opens < closes).then(|| OpeningWindow::new(weekday, opens, closes))
    }
}

/// A practitioner as staff write it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Nurse Julie", "title": "Nurse prescriber", "active": true}))]
pub struct PractitionerInput {
    #[schema(min_length = 1, max_length = 120)]
    pub name: String,
    #[schema(min_length = 1, max_length = 120)]
    pub title: String,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Validate for PractitionerInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "name", &self.name, 120);
        check_text(&mut errors, "title", &self.title, 120);
        finish(errors)
    }
}

/// The full weekly schedule of a practitioner.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"windows": [
    {"weekday": "monday", "opens": "09:00", "closes": "17:00"},
    {"weekday": "saturday", "opens": "10:00", "closes": "14:00"}
]}))]
pub struct OpeningHours {
    /// Every window; windows on the same day must not overlap.
    #[schema(max_items = 70)]
    pub windows: Vec<Window>,
}

/// New opening hours as staff write them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"windows": [
    {"weekday": "tuesday", "opens": "09:00", "closes": "17:00"}
], "on_stranded_bookings": "refuse"}))]
pub struct OpeningHoursInput {
    /// Every window; windows on the same day must not overlap.
    #[schema(max_items = 70)]
    pub windows: Vec<Window>,
    /// Only report which live bookings the new hours would leave outside
    /// opening hours; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// What to do with those bookings (default: refuse the change).
    #[serde(default)]
    pub on_stranded_bookings: OnStrandedBookings,
}

/// The schedule after a change (or, for a dry run, as proposed).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpeningHoursChange {
    #[schema(max_items = 70)]
    pub windows: Vec<Window>,
    /// True when nothing was changed.
    pub dry_run: bool,
    /// Live bookings the hours leave outside opening hours: kept or
    /// cancelled as asked (for a dry run, what would be).
    pub stranded_bookings: Vec<StrandedBooking>,
    pub on_stranded_bookings: OnStrandedBookings,
}

impl Validate for OpeningHoursInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.windows.len() > 70 {
            reject(
                &mut errors,
                "windows",
                "length",
                "at most 70 windows".into(),
            );
        }
        let parsed: Vec<Option<OpeningWindow>> =
            self.windows.iter().map(Window::to_domain).collect();
        if parsed.iter().any(Option::is_none) {
            reject(
                &mut errors,
                "windows",
                "invalid",
                "each window needs a weekday name and HH:MM times on a five-minute grid, opening before closing".into(),
            );
        }
        let valid: Vec<OpeningWindow> = parsed.into_iter().flatten().collect();
        let overlapping = valid.iter().enumerate().any(|(i, a)| {
            valid[i + 1..]
                .iter()
                .any(|b| a.weekday == b.weekday && a.opens < b.closes && b.opens < a.closes)
        });
        if overlapping {
            reject(
                &mut errors,
                "windows",
                "overlap",
                "windows on the same day must not overlap".into(),
            );
        }
        finish(errors)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PractitionerPath {
    pub id: uuid::Uuid,
}

impl From<schedule::Practitioner> for Practitioner {
    fn from(p: schedule::Practitioner) -> Self {
        Self {
            id: p.row.id,
            name: p.row.name,
            title: p.row.title,
            active: p.row.active,
            opening_hours: p.hours.iter().map(Window::from_domain).collect(),
        }
    }
}

impl PractitionerInput {
    fn into_draft(self) -> PractitionerDraft {
        PractitionerDraft {
            name: self.name.trim().to_owned(),
            title: self.title.trim().to_owned(),
            active: self.active,
        }
    }
}

/// List practitioners
///
/// Practitioners taking bookings, with their weekly opening hours. Staff
/// also see inactive ones.
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) to see inactive practitioners.
#[utoipa::path(
    operation_id = "listPractitioners",
    tag = "Schedule",
    responses(
        (status = 200, description = "Practitioners", body = PractitionerList),
        ProblemResponses<401>,
    ),
    security(())
)]
#[get("/practitioners")]
pub async fn list_practitioners(
    app: web::Data<App>,
    caller: MaybeKey,
) -> Result<HttpResponse, ApiError> {
    let staff = caller.is_staff();
    let items = app
        .db
        .run(move |conn| {
            store::list(conn, staff)?
                .into_iter()
                .map(|p| schedule::Practitioner::of(conn, p).map(Practitioner::from))
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(PractitionerList { items }))
}

/// Get a practitioner
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) to read an inactive practitioner.
#[utoipa::path(
    operation_id = "getPractitioner",
    tag = "Schedule",
    params(PractitionerPath),
    responses(
        (status = 200, description = "The practitioner", body = Practitioner),
        ProblemResponses<401, 404>,
    ),
    security(())
)]
#[get("/practitioners/{id}")]
pub async fn get_practitioner(
    app: web::Data<App>,
    caller: MaybeKey,
    path: web::Path<PractitionerPath>,
) -> Result<HttpResponse, ApiError> {
    let (id, staff) = (path.id.to_string(), caller.is_staff());
    let p = app
        .db
        .run(move |conn| match store::get(conn, &id)? {
            Some(p) if p.active || staff => schedule::Practitioner::of(conn, p).map(Some),
            _ => Ok::<_, DbError>(None),
        })
        .await?
        .ok_or(ApiError::NotFound("practitioner"))?;
    Ok(HttpResponse::Ok().json(Practitioner::from(p)))
}

/// Add a practitioner
#[utoipa::path(
    operation_id = "createPractitioner",
    tag = "Schedule",
    request_body = PractitionerInput,
    responses(
        (status = 201, description = "Created", body = Practitioner,
            headers(("Location" = String, description = "URL of the practitioner"))),
        ProblemResponses<400, 401, 403, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/practitioners")]
pub async fn create_practitioner(
    app: web::Data<App>,
    staff: StaffKey,
    body: ValidJson<PractitionerInput>,
) -> Result<HttpResponse, ApiError> {
    let p = Practitioner::from(
        schedule::create_practitioner(&app, &staff.identity.label(), body.0.into_draft()).await?,
    );
    Ok(created(&format!("/v1/practitioners/{}", p.id), &p))
}

/// Update a practitioner
#[utoipa::path(
    operation_id = "updatePractitioner",
    tag = "Schedule",
    params(PractitionerPath),
    request_body = PractitionerInput,
    responses(
        (status = 200, description = "Updated", body = Practitioner),
        ProblemResponses<400, 401, 403, 404, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/practitioners/{id}")]
pub async fn update_practitioner(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<PractitionerPath>,
    body: ValidJson<PractitionerInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let p = schedule::update_practitioner(&app, &staff.identity.label(), &id, body.0.into_draft())
        .await?;
    Ok(HttpResponse::Ok().json(Practitioner::from(p)))
}

/// Set opening hours
///
/// Replaces the practitioner's whole weekly schedule. A change that would
/// leave live bookings (confirmed, or held while the deposit is paid)
/// outside the new hours is refused with 409 `bookings_stranded`, listing
/// them, unless `on_stranded_bookings` says to `keep` them (as exceptions)
/// or `cancel` them (on the clinic's side: a paid deposit is refunded).
/// `dry_run: true` shows the impact and changes nothing.
#[utoipa::path(
    operation_id = "setOpeningHours",
    tag = "Schedule",
    params(PractitionerPath),
    request_body = OpeningHoursInput,
    responses(
        (status = 200, description = "The new schedule (or the preview of it)", body = OpeningHoursChange),
        ProblemResponses<400, 401, 403, 404, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/practitioners/{id}/opening-hours")]
pub async fn set_opening_hours(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<PractitionerPath>,
    body: ValidJson<OpeningHoursInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let windows: Vec<OpeningWindow> = input.windows.iter().filter_map(Window::to_domain).collect();
    let change = schedule::set_opening_hours(
        &app,
        &staff.identity,
        &path.id.to_string(),
        windows,
        input.on_stranded_bookings.into(),
        input.dry_run,
    )
    .await?;
    Ok(HttpResponse::Ok().json(OpeningHoursChange {
        windows: change.value.iter().map(Window::from_domain).collect(),
        dry_run: change.dry_run,
        stranded_bookings: listed(change.stranded),
        on_stranded_bookings: change.handled.into(),
    }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_practitioners)
        .service(create_practitioner)
        .service(get_practitioner)
        .service(update_practitioner)
        .service(set_opening_hours);
}
