//! `/v1/availability`: free slots between clinic-local dates, and the feed
//! of the whole booking horizon for partners that mirror the diary.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::{AnyKey, MaybeKey};
use crate::api::caching::cached_json;
use crate::api::consultations::view::local;
use crate::api::error::ApiError;
use crate::api::extract::{optional_calendar_date, supported_date};
use crate::api::ProblemResponses;
use crate::app::App;
use crate::cache::CacheKey;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// First clinic-local date (inclusive); by default today in the
    /// clinic's time zone.
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[param(value_type = Option<String>, format = Date, example = "2026-12-01")]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (inclusive). The range spans at most
    /// `AVAILABILITY_MAX_DAYS` days with both ends counted (31 by default:
    /// `to` at most 30 days after `from`), which is also the default.
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[param(value_type = Option<String>, format = Date, example = "2026-12-14")]
    pub to: Option<NaiveDate>,
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
    #[schema(format = DateTime, example = "2026-12-03T10:00:00+00:00", max_length = 25)]
    pub local_starts_at: String,
    #[schema(format = DateTime, example = "2026-12-03T10:30:00+00:00", max_length = 25)]
    pub local_ends_at: String,
}

/// Free slots over a range of dates.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The clinic's IANA time zone.
    #[schema(example = "Europe/London", max_length = 64)]
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
/// days the clocks change). Without `from` and `to`, the answer covers the
/// widest range one request may ask for, from today (clinic-local); the
/// answer's `from` and `to` say which dates were used.
///
/// Public: no key is needed (a key that is sent must be valid).
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
    security(())
)]
#[get("/availability")]
pub async fn availability(
    req: actix_web::HttpRequest,
    app: web::Data<App>,
    _caller: MaybeKey,
    query: crate::api::extract::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    supported_date("from", q.from)?;
    supported_date("to", q.to)?;
    let max_days = i64::from(app.settings.booking.max_availability_days);
    let from = q.from.unwrap_or_else(|| app.today());
    let to = q.to.unwrap_or(from + Duration::days(max_days - 1));
    if to < from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    if (to - from).num_days() >= max_days {
        return Err(ApiError::field(
            "to",
            "range",
            format!(
                "the range may span at most {max_days} days, from and to included (to at most {} days after from)",
                max_days - 1
            ),
        ));
    }
    cached_slots(
        &req,
        &app,
        from,
        to,
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
    app: &web::Data<App>,
    from: NaiveDate,
    to: NaiveDate,
    practitioner_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let key = CacheKey::Availability(format!(
        "{from}|{to}|{}|{}",
        practitioner_id.as_deref().unwrap_or("*"),
        app.now().timestamp()
    ));
    cached_json(req, app, key, move |app| {
        Box::pin(async move {
            let tz = app.settings.clinic_timezone;
            let slots = crate::app::availability::between(&app, from, to, practitioner_id).await?;
            let body = Availability {
                from,
                to,
                time_zone: tz.name().to_owned(),
                slots: slots
                    .into_iter()
                    .map(|s| AvailableSlot {
                        practitioner_id: s.practitioner_id,
                        starts_at: s.slot.starts_at,
                        ends_at: s.slot.ends_at,
                        local_starts_at: local(s.slot.starts_at, tz),
                        local_ends_at: local(s.slot.ends_at, tz),
                    })
                    .collect(),
            };
            serde_json::to_vec(&body).map_err(ApiError::internal)
        })
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// First clinic-local date (inclusive); default today.
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (inclusive); default the end of the booking
    /// horizon, which is also the furthest it may be.
    #[serde(default, deserialize_with = "optional_calendar_date")]
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
    app: web::Data<App>,
    _key: AnyKey,
    query: crate::api::extract::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    supported_date("from", query.from)?;
    supported_date("to", query.to)?;
    let today = app.today();
    let horizon = today + Duration::days(i64::from(app.settings.booking.horizon_days) + 1);
    let from = query.from.unwrap_or(today);
    let to = query.to.unwrap_or(horizon);
    if to < from {
        return Err(ApiError::field("to", "order", "must be on or after from"));
    }
    if (to - from).num_days() > i64::from(app.settings.booking.horizon_days) + 1 {
        return Err(ApiError::field(
            "to",
            "range",
            "the range may span at most the booking horizon",
        ));
    }
    cached_slots(&req, &app, from, to, None).await
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(availability_feed).service(availability);
}
