//! Practitioners, their weekly opening hours and closures, and the free
//! slots they make: `/v1/practitioners`, `/v1/closures`, `/v1/availability`.

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::cache::{cached_json, CacheKey};
use crate::api::consultations::view::local;
use crate::api::extract::{supported_date, ValidJson};
use crate::api::treatments::{check_text, reject};
use crate::api::{created, ProblemResponses};
use crate::auth::{MaybeKey, StaffKey};
use crate::booking;
use crate::db::write_transaction;
use crate::domain::slots::{local_midnight, Interval, OpeningWindow};
use crate::domain::GRID_MINUTES;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::practitioners::{self as store, ClosureRow, PractitionerRow};

/// Someone consultations are booked with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Practitioner {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = "Nurse Julie")]
    pub name: String,
    #[schema(example = "Nurse prescriber")]
    pub title: String,
    /// Inactive practitioners take no bookings.
    pub active: bool,
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
        example = "monday",
        pattern = "^(monday|tuesday|wednesday|thursday|friday|saturday|sunday)$"
    )]
    pub weekday: String,
    /// `HH:MM`, on a five-minute grid.
    #[schema(example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][05]$")]
    pub opens: String,
    /// `HH:MM`, after `opens`, on a five-minute grid.
    #[schema(example = "17:00", pattern = "^([01][0-9]|2[0-3]):[0-5][05]$")]
    pub closes: String,
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

fn weekday_name(d: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, w)| *w == d)
        .map(|(n, _)| *n)
        .unwrap_or("monday")
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
        let weekday = WEEKDAYS.iter().find(|(n, _)| *n == self.weekday)?.1;
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
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

impl Validate for OpeningHours {
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PractitionerPath {
    pub id: uuid::Uuid,
}

fn practitioner_view(
    conn: &mut crate::db::DbConnection,
    p: PractitionerRow,
) -> Result<Practitioner, ApiError> {
    let hours = store::hours(conn, &p.id)?;
    Ok(Practitioner {
        id: p.id,
        name: p.name,
        title: p.title,
        active: p.active,
        opening_hours: hours.iter().map(Window::from_domain).collect(),
    })
}

/// List practitioners
///
/// Practitioners taking bookings, with their weekly opening hours. Staff
/// also see inactive ones.
#[utoipa::path(
    operation_id = "listPractitioners",
    tag = "Schedule",
    responses(
        (status = 200, description = "Practitioners", body = PractitionerList),
        ProblemResponses<401>,
    ),
    security((), ("api_key" = []))
)]
#[get("/practitioners")]
pub async fn list_practitioners(
    state: web::Data<AppState>,
    caller: MaybeKey,
) -> Result<HttpResponse, ApiError> {
    let staff = caller.is_staff();
    let items = state
        .db
        .run(move |conn| {
            store::list(conn, staff)?
                .into_iter()
                .map(|p| practitioner_view(conn, p))
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(PractitionerList { items }))
}

/// Get a practitioner
#[utoipa::path(
    operation_id = "getPractitioner",
    tag = "Schedule",
    params(PractitionerPath),
    responses(
        (status = 200, description = "The practitioner", body = Practitioner),
        ProblemResponses<401, 404>,
    ),
    security((), ("api_key" = []))
)]
#[get("/practitioners/{id}")]
pub async fn get_practitioner(
    state: web::Data<AppState>,
    caller: MaybeKey,
    path: web::Path<PractitionerPath>,
) -> Result<HttpResponse, ApiError> {
    let (id, staff) = (path.id.to_string(), caller.is_staff());
    let p = state
        .db
        .run(move |conn| match store::get(conn, &id)? {
            Some(p) if p.active || staff => practitioner_view(conn, p).map(Some),
            _ => Ok(None),
        })
        .await?
        .ok_or(ApiError::NotFound("practitioner"))?;
    Ok(HttpResponse::Ok().json(p))
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
    state: web::Data<AppState>,
    staff: StaffKey,
    body: ValidJson<PractitionerInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let now = state.now();
    let p = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let row = store::insert(
                    conn,
                    input.name.trim(),
                    input.title.trim(),
                    input.active,
                    now,
                )?;
                staff_audit(
                    conn,
                    &staff,
                    "practitioner.created",
                    "practitioner",
                    &row.id,
                    practitioner_state(&row),
                    now,
                )?;
                practitioner_view(conn, row)
            })
        })
        .await?;
    state.cache.invalidate_availability();
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<PractitionerPath>,
    body: ValidJson<PractitionerInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, input, now) = (path.id.to_string(), body.0, state.now());
    let p = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                match store::update(
                    conn,
                    &id,
                    input.name.trim(),
                    input.title.trim(),
                    input.active,
                    now,
                )? {
                    Some(row) => {
                        staff_audit(
                            conn,
                            &staff,
                            "practitioner.updated",
                            "practitioner",
                            &row.id,
                            practitioner_state(&row),
                            now,
                        )?;
                        practitioner_view(conn, row).map(Some)
                    }
                    None => Ok(None),
                }
            })
        })
        .await?
        .ok_or(ApiError::NotFound("practitioner"))?;
    state.cache.invalidate_availability();
    Ok(HttpResponse::Ok().json(p))
}

/// Set opening hours
///
/// Replaces the practitioner's whole weekly schedule. Existing bookings are
/// kept; only new availability changes.
#[utoipa::path(
    operation_id = "setOpeningHours",
    tag = "Schedule",
    params(PractitionerPath),
    request_body = OpeningHours,
    responses(
        (status = 200, description = "The new schedule", body = OpeningHours),
        ProblemResponses<400, 401, 403, 404, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/practitioners/{id}/opening-hours")]
pub async fn set_opening_hours(
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<PractitionerPath>,
    body: ValidJson<OpeningHours>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let now = state.now();
    let windows: Vec<OpeningWindow> = body
        .0
        .windows
        .iter()
        .filter_map(Window::to_domain)
        .collect();
    let saved = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                store::get(conn, &id)?.ok_or(ApiError::NotFound("practitioner"))?;
                store::replace_hours(conn, &id, &windows)?;
                let hours = store::hours(conn, &id)?;
                let after = serde_json::json!({"windows": hours.iter().map(Window::from_domain).collect::<Vec<_>>()});
                staff_audit(conn, &staff, "practitioner.hours_set", "practitioner", &id, after, now)?;
                Ok::<_, ApiError>(hours)
            })
        })
        .await?;
    state.cache.invalidate_availability();
    Ok(HttpResponse::Ok().json(OpeningHours {
        windows: saved.iter().map(Window::from_domain).collect(),
    }))
}

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
    #[schema(example = "Christmas")]
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
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
    state: web::Data<AppState>,
    _staff: StaffKey,
    query: web::Query<ClosureQuery>,
) -> Result<HttpResponse, ApiError> {
    let tz = state.settings.clinic_timezone;
    supported_date("from", query.from)?;
    supported_date("to", query.to)?;
    let from = query.from.unwrap_or_else(|| state.today());
    let to = query.to.unwrap_or(from + Duration::days(366));
    if to < from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    let range = Interval::new(
        local_midnight(tz, from),
        local_midnight(tz, to + Duration::days(1)),
    );
    let pid = query.practitioner_id.map(|p| p.to_string());
    let items = state
        .db
        .run(move |conn| store::closures_overlapping(conn, pid.as_deref(), range))
        .await?;
    Ok(HttpResponse::Ok().json(ClosureList {
        items: items.into_iter().map(Closure::from).collect(),
    }))
}

/// Add a closure
///
/// Blocks new bookings in a period (a holiday, training, a broken
/// machine). Bookings already made in it are kept: cancel them on the
/// clinic's side if needed.
#[utoipa::path(
    operation_id = "createClosure",
    tag = "Schedule",
    request_body = ClosureInput,
    responses(
        (status = 201, description = "Created", body = Closure,
            headers(("Location" = String, description = "URL of the closure"))),
        ProblemResponses<400, 401, 403, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/closures")]
pub async fn create_closure(
    state: web::Data<AppState>,
    staff: StaffKey,
    body: ValidJson<ClosureInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let tz = state.settings.clinic_timezone;
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
    let now = state.now();
    let pid = input.practitioner_id.map(|p| p.to_string());
    let closure = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(p) = &pid {
                    store::get(conn, p)?.ok_or_else(|| {
                        ApiError::field("practitioner_id", "unknown", "names no practitioner")
                    })?;
                }
                let row = store::insert_closure(conn, pid.as_deref(), period, input.reason.trim(), now)?;
                let after = serde_json::json!({"practitioner_id": row.practitioner_id, "starts_at": period.starts_at, "ends_at": period.ends_at});
                staff_audit(conn, &staff, "closure.created", "closure", &row.id, after, now)?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    state.cache.invalidate_availability();
    let closure = Closure::from(closure);
    Ok(created(&format!("/v1/closures/{}", closure.id), &closure))
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<ClosurePath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let now = state.now();
    let deleted = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let deleted = store::delete_closure(conn, &id)?;
                if deleted {
                    staff_audit(
                        conn,
                        &staff,
                        "closure.deleted",
                        "closure",
                        &id,
                        serde_json::Value::Null,
                        now,
                    )?;
                }
                Ok::<_, crate::db::DbError>(deleted)
            })
        })
        .await?;
    if !deleted {
        return Err(ApiError::NotFound("closure"));
    }
    state.cache.invalidate_availability();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// First clinic-local date (inclusive).
    #[param(value_type = String, format = Date, example = "2026-12-01")]
    pub from: NaiveDate,
    /// Last clinic-local date (inclusive); at most 31 days after `from`.
    #[param(value_type = String, format = Date, example = "2026-12-14")]
    pub to: NaiveDate,
    /// Only this practitioner.
    pub practitioner_id: Option<uuid::Uuid>,
}

/// A free slot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AvailableSlot {
    #[schema(format = "uuid")]
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The start in clinic-local time, with its UTC offset.
    #[schema(example = "2026-12-03T10:00:00+00:00")]
    pub local_starts_at: String,
    #[schema(example = "2026-12-03T10:30:00+00:00")]
    pub local_ends_at: String,
}

/// Free slots over a range of dates.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    #[schema(example = "Europe/London")]
    pub time_zone: String,
    /// In start order, then by practitioner.
    pub slots: Vec<AvailableSlot>,
}

/// Free slots
///
/// The slots that can be booked between two clinic-local dates (inclusive),
/// after opening hours, closures, existing bookings and live holds, minimum
/// notice and the booking horizon. Each slot gives its start and end in UTC
/// and in clinic-local time with the offset in force (correct across the
/// days the clocks change).
#[utoipa::path(
    operation_id = "getAvailability",
    tag = "Schedule",
    params(AvailabilityQuery),
    responses(
        (status = 200, description = "Free slots", body = Availability,
            headers(("ETag" = String, description = "Version of this representation"))),
        (status = 304, description = "Not modified since the ETag given"),
        ProblemResponses<401, 422>,
    ),
    security((), ("api_key" = []))
)]
#[get("/availability")]
pub async fn availability(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeKey,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    supported_date("from", Some(q.from))?;
    supported_date("to", Some(q.to))?;
    let max_days = i64::from(state.settings.booking.max_availability_days);
    if q.to < q.from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    if (q.to - q.from).num_days() >= max_days {
        return Err(ApiError::field(
            "to",
            "range",
            format!("the range may span at most {max_days} days"),
        ));
    }
    cached_slots(
        &req,
        &state,
        q.from,
        q.to,
        q.practitioner_id.map(|p| p.to_string()),
    )
    .await
}

/// Free slots as a cached JSON answer with an ETag. Entries are per second
/// (slots move with the minimum notice) and dropped on every booking or
/// schedule change made through this instance; other instances' changes
/// show within the second. Availability is advisory: slot claims decide.
async fn cached_slots(
    req: &actix_web::HttpRequest,
    state: &web::Data<AppState>,
    from: NaiveDate,
    to: NaiveDate,
    practitioner_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let key = CacheKey::Availability(format!(
        "{from}|{to}|{}|{}",
        practitioner_id.as_deref().unwrap_or("*"),
        state.now().timestamp()
    ));
    cached_json(req, state, key, move |state| {
        Box::pin(async move {
            let slots = slots_between(&state, from, to, practitioner_id).await?;
            serde_json::to_vec(&slots).map_err(ApiError::internal)
        })
    })
    .await
}

/// Free slots of one or every active practitioner between two dates, in
/// start order then by practitioner.
async fn slots_between(
    state: &web::Data<AppState>,
    from: NaiveDate,
    to: NaiveDate,
    practitioner_id: Option<String>,
) -> Result<Availability, ApiError> {
    let now = state.now();
    let st = state.clone();
    let mut slots = state
        .db
        .run(move |conn| {
            let practitioners: Vec<String> = match &practitioner_id {
                Some(id) => store::get(conn, id)?
                    .filter(|p| p.active)
                    .map(|p| vec![p.id])
                    .ok_or_else(|| {
                        ApiError::field(
                            "practitioner_id",
                            "unknown",
                            "names no practitioner taking bookings",
                        )
                    })?,
                None => store::list(conn, false)?
                    .into_iter()
                    .map(|p| p.id)
                    .collect(),
            };
            let tz = st.settings.clinic_timezone;
            let mut out = Vec::new();
            for id in practitioners {
                for s in booking::free_slots(conn, &st.settings, &id, from, to, now)? {
                    out.push(AvailableSlot {
                        practitioner_id: id.clone(),
                        starts_at: s.starts_at,
                        ends_at: s.ends_at,
                        local_starts_at: local(s.starts_at, tz),
                        local_ends_at: local(s.ends_at, tz),
                    });
                }
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    slots.sort_by(|a, b| (a.starts_at, &a.practitioner_id).cmp(&(b.starts_at, &b.practitioner_id)));
    Ok(Availability {
        from,
        to,
        time_zone: state.settings.clinic_timezone.name().to_owned(),
        slots,
    })
}

fn practitioner_state(p: &PractitionerRow) -> serde_json::Value {
    serde_json::json!({"name": p.name, "title": p.title, "active": p.active})
}

fn staff_audit(
    conn: &mut crate::db::DbConnection,
    staff: &StaffKey,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    after: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), crate::db::DbError> {
    let who = crate::events::actor::key(&staff.identity.key_id);
    let after = (!after.is_null()).then_some(after);
    crate::events::audit(
        conn,
        &who,
        action,
        subject_type,
        subject_id,
        None,
        after,
        now,
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// First clinic-local date (inclusive); default today.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (inclusive); default the end of the booking
    /// horizon, which is also the furthest it may be.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// Availability feed for partners
///
/// Every practitioner's free slots over a range up to the whole booking
/// horizon, for aggregators that mirror the diary. Answers carry an `ETag`:
/// poll with `If-None-Match` and get `304 Not Modified` until something
/// changes.
#[utoipa::path(
    operation_id = "getAvailabilityFeed",
    tag = "Schedule",
    params(FeedQuery),
    responses(
        (status = 200, description = "Free slots", body = Availability,
            headers(("ETag" = String, description = "Version of this representation"))),
        (status = 304, description = "Not modified since the ETag given"),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/availability/feed")]
pub async fn availability_feed(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    _key: crate::auth::AnyKey,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    supported_date("from", query.from)?;
    supported_date("to", query.to)?;
    let today = state.today();
    let horizon = today + Duration::days(i64::from(state.settings.booking.horizon_days) + 1);
    let from = query.from.unwrap_or(today);
    let to = query.to.unwrap_or(horizon);
    if to < from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    if (to - from).num_days() > i64::from(state.settings.booking.horizon_days) + 1 {
        return Err(ApiError::field(
            "to",
            "range",
            "the range may span at most the booking horizon",
        ));
    }
    cached_slots(&req, &state, from, to, None).await
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(availability_feed)
        .service(availability)
        .service(list_practitioners)
        .service(create_practitioner)
        .service(get_practitioner)
        .service(update_practitioner)
        .service(set_opening_hours)
        .service(list_closures)
        .service(create_closure)
        .service(delete_closure);
}
