//! `/v1/consultations`: booking, self-service with the manage token, and
//! the staff's view of the diary.

pub mod view;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use self::view::{Audience, BookingCreated, Consultation};
use crate::api::extract::{calendar_date, supported_date, ValidJson};
use crate::api::treatments::{check_text, reject};
use crate::api::{idempotency, pagination, ProblemResponses};
use crate::auth::{self, AnyKey, Identity, Role, StaffKey};
use crate::booking::{self, Actor, NewBooking};
use crate::db::write_transaction;
use crate::domain::calendar::{self, CalendarEvent};
use crate::domain::consultation::{Event, Status};
use crate::domain::money::Money;
use crate::domain::policy::DepositAction;
use crate::error::ApiError;
use crate::secrets::{self, SecretKind};
use crate::state::AppState;
use crate::store::clients::ClientDetails;
use crate::store::consultations::{self as store, ListFilter};
use crate::store::idempotency::StoredResponse;

/// How a request to a booking is authenticated: its manage token, or an
/// API key. Neither, or another booking's token, is answered 404.
pub enum BookingAuth {
    None,
    ManageToken(String),
    Key(Identity),
}

impl BookingAuth {
    /// The actor; 401 without credentials. (Whether the booking exists is
    /// never told apart: another booking's token gets 404 from `load`.)
    pub fn actor(&self) -> Result<Actor, ApiError> {
        match self {
            BookingAuth::None => Err(ApiError::Unauthorized(
                "This route needs the booking's manage token (Authorization: Bearer mt_…) or an API key.",
            )),
            BookingAuth::ManageToken(hash) => Ok(Actor::Client(hash.clone())),
            BookingAuth::Key(identity) => Ok(key_actor(identity)),
        }
    }

    /// Who is calling, for idempotency scopes.
    pub fn caller(&self) -> String {
        match self {
            BookingAuth::None => "anon".into(),
            BookingAuth::ManageToken(hash) => format!("mt:{}", &hash[..16]),
            BookingAuth::Key(identity) => format!("key:{}", identity.key_id),
        }
    }
}

fn key_actor(identity: &Identity) -> Actor {
    if identity.role == Role::Partner {
        Actor::Partner(identity.key_id.clone())
    } else {
        Actor::Staff(identity.key_id.clone())
    }
}

impl FromRequest for BookingAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = auth::bearer(&req)?.map(str::to_owned);
            match token.as_deref().and_then(SecretKind::of) {
                Some(SecretKind::ManageToken) => {
                    // A token that opens no booking is not a credential at all.
                    let hash = secrets::hash(&token.unwrap_or_default());
                    let state = req
                        .app_data::<web::Data<AppState>>()
                        .ok_or_else(|| ApiError::internal("application state missing"))?
                        .clone();
                    let h = hash.clone();
                    let known = state
                        .db
                        .run(move |conn| store::by_manage_token_hash(conn, &h))
                        .await?
                        .is_some();
                    if !known {
                        return Err(ApiError::Unauthorized("The manage token is unknown."));
                    }
                    Ok(BookingAuth::ManageToken(hash))
                }
                Some(SecretKind::ApiKey) => Ok(auth::identify(&req)
                    .await?
                    .map_or(BookingAuth::None, BookingAuth::Key)),
                _ if token.is_some() => Err(ApiError::Unauthorized("Unrecognised bearer token.")),
                _ => Ok(BookingAuth::None),
            }
        })
    }
}

/// The client a booking is for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    #[schema(min_length = 1, max_length = 200, example = "Alex Morgan")]
    pub full_name: String,
    #[schema(format = "email", max_length = 254, example = "alex@example.com")]
    pub email: String,
    /// A phone number: an optional `+`, then digits, spaces, `-`, `(` and
    /// `)`, starting and ending with a digit; 7 to 32 characters.
    #[schema(
        min_length = 7,
        max_length = 32,
        pattern = r"^\+?[0-9][0-9 ()-]{5,29}[0-9]$",
        example = "+44 7700 900123"
    )]
    pub phone: String,
    /// The date of birth given at screening.
    #[serde(deserialize_with = "calendar_date")]
    #[schema(value_type = String, format = Date, example = "1990-04-12")]
    pub date_of_birth: NaiveDate,
}

/// A booking request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client": {"full_name": "Alex Morgan", "email": "alex@example.com", "phone": "+44 7700 900123", "date_of_birth": "1990-04-12"},
    "screening_token": "st_Q2x4mVb9TgR7kLp3Hs8WnY1cZ6dF0aJe5uXoPiKq",
    "practitioner_id": "5a0c6f1e-2d3b-4c4d-8e9f-0a1b2c3d4e5f",
    "starts_at": "2026-12-03T10:00:00Z",
    "notes": "Left side of the jaw.",
    "accept_cancellation_policy": true
}))]
pub struct BookingRequest {
    pub client: ClientInput,
    /// From `POST /v1/screenings`; single use, not ineligible, not expired.
    #[schema(min_length = 1, max_length = 100)]
    pub screening_token: String,
    pub practitioner_id: uuid::Uuid,
    /// A slot start from `GET /v1/availability`.
    pub starts_at: DateTime<Utc>,
    /// The treatment of interest, if any.
    #[serde(default)]
    pub treatment_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
    /// Must be true: the client accepts the cancellation policy.
    pub accept_cancellation_policy: bool,
}

/// `^\+?[0-9][0-9 ()-]{5,29}[0-9]$`, as the schema says.
fn is_phone(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s).as_bytes();
    (7..=31).contains(&body.len())
        && body[0].is_ascii_digit()
        && body[body.len() - 1].is_ascii_digit()
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || b" ()-".contains(c))
}

fn is_email(s: &str) -> bool {
    use validator::ValidateEmail;
    s.len() <= 254 && s.validate_email()
}

impl Validate for BookingRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "client.full_name", &self.client.full_name, 200);
        if !is_email(self.client.email.trim()) {
            reject(
                &mut errors,
                "client.email",
                "email",
                "must be an email address".into(),
            );
        }
        if !is_phone(&self.client.phone) {
            reject(
                &mut errors,
                "client.phone",
                "phone",
                "must be a phone number of 7 to 32 characters".into(),
            );
        }
        if self.screening_token.is_empty() || self.screening_token.len() > 100 {
            reject(
                &mut errors,
                "screening_token",
                "length",
                "must be 1 to 100 characters".into(),
            );
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 1000)
        {
            reject(
                &mut errors,
                "notes",
                "length",
                "must be at most 1000 characters".into(),
            );
        }
        if !self.accept_cancellation_policy {
            reject(
                &mut errors,
                "accept_cancellation_policy",
                "required",
                "the cancellation policy must be accepted".into(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Book a consultation
///
/// Creates a consultation `pending_deposit` that holds the slot until
/// `hold_expires_at`, with its pending deposit, and answers with a manage
/// token (shown once). The age is checked again on the appointment date.
/// Partners (API key) book on a client's behalf; the booking records which
/// partner made it. Send an `Idempotency-Key` to retry safely.
#[utoipa::path(
    operation_id = "createConsultation",
    tag = "Consultations",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body replay the first answer for 24 hours.")),
    request_body = BookingRequest,
    responses(
        (status = 201, description = "Booked; pay the deposit before the hold lapses", body = BookingCreated,
            headers(("Location" = String, description = "URL of the consultation"))),
        ProblemResponses<400, 401, 409, 410, 413, 415, 422, 429>,
        ProblemResponses<502>,
    ),
    security((), ("api_key" = []))
)]
#[post("/consultations")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: BookingAuth,
    body: ValidJson<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    if matches!(auth, BookingAuth::None | BookingAuth::ManageToken(_)) {
        crate::api::rate_limit::check(&state, &req, "bookings").await?;
    }
    let ValidJson(input, digest) = body;
    let booker = match &auth {
        BookingAuth::Key(identity) => key_actor(identity),
        _ => Actor::Client(String::new()),
    };
    let booking = NewBooking {
        client: ClientDetails {
            full_name: input.client.full_name.trim().to_owned(),
            email: input.client.email.trim().to_owned(),
            phone: input.client.phone.trim().to_owned(),
            date_of_birth: input.client.date_of_birth,
        },
        screening_token: input.screening_token,
        practitioner_id: input.practitioner_id.to_string(),
        starts_at: input.starts_at,
        treatment_id: input.treatment_id.map(|t| t.to_string()),
        notes: input
            .notes
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
    };
    // Anonymous callers are told apart by their single-use screening token,
    // so two clients' keys can never meet.
    let caller = match &auth {
        BookingAuth::Key(identity) => format!("key:{}", identity.key_id),
        _ => format!("anon:{}", &secrets::hash(&booking.screening_token)[..16]),
    };
    let answer = idempotency::run(&state, &req, &caller, &digest, |ticket| {
        booking::create(&state, booker, booking, ticket)
    })
    .await;
    state.cache.invalidate_availability();
    answer
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConsultationPath {
    /// The consultation's id.
    pub id: uuid::Uuid,
}

/// Get a consultation
///
/// For the booking's holder (manage token), the partner that booked it, or
/// staff. Another booking's token, or none, is 404.
#[utoipa::path(
    operation_id = "getConsultation",
    tag = "Consultations",
    params(ConsultationPath),
    responses(
        (status = 200, description = "The consultation", body = Consultation),
        ProblemResponses<401, 404>,
    ),
    security(("manage_token" = []), ("api_key" = []))
)]
#[get("/consultations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let id = path.id.to_string();
    crate::payments::reconcile::consultation(&state, &id).await;
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            let (c, d) = booking::load(conn, &id, &actor)?;
            view::render(conn, &st, c, d, actor.audience())
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A cancellation request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Only report what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why, for the clinic's records.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

impl Validate for CancelRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self
            .reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > 500)
        {
            reject(
                &mut errors,
                "reason",
                "length",
                "must be at most 500 characters".into(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// What a cancellation did, or would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancellationResult {
    /// True when nothing was changed.
    pub dry_run: bool,
    /// What happens to the deposit under the policy.
    pub deposit_action: DepositAction,
    /// The amount refunded (or to be), when the action is `refund`.
    pub refund: Option<Money>,
    /// True when the refund is reserved but the payment provider has not
    /// made it yet; it is retried automatically.
    pub refund_pending: bool,
    /// The amount kept by the clinic, when the action is `forfeit`.
    pub forfeit: Option<Money>,
    /// Whether the cancellation falls inside the notice period.
    pub late: bool,
    pub cancellation_deadline: DateTime<Utc>,
    /// The consultation after the cancellation (as it is now, for a dry run).
    pub consultation: Consultation,
}

/// Cancel a consultation
///
/// The holder, the partner that booked it, or staff (a cancellation by the
/// clinic). With `dry_run: true`, reports what would happen to the deposit
/// and changes nothing. A paid deposit is refunded when the client cancels
/// before the deadline or the clinic cancels, and forfeited when the client
/// cancels late; an unpaid one is released.
#[utoipa::path(
    operation_id = "cancelConsultation",
    tag = "Consultations",
    params(ConsultationPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled (or the preview of it)", body = CancellationResult),
        ProblemResponses<400, 401, 404, 409, 410, 413, 415, 422>,
        ProblemResponses<502>,
    ),
    security(("manage_token" = []), ("api_key" = []))
)]
#[post("/consultations/{id}/cancel")]
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
    body: ValidJson<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let ValidJson(input, digest) = body;
    let id = path.id.to_string();
    let answer = idempotency::run(&state, &req, &auth.caller(), &digest, |_| async {
        let now = state.now();
        let (st, i, a, dry_run, reason) = (
            state.clone(),
            id.clone(),
            actor.clone(),
            input.dry_run,
            input.reason.clone(),
        );
        let outcome = state
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    booking::cancel(
                        conn,
                        &st.settings,
                        &i,
                        &a,
                        dry_run,
                        reason.as_deref().map(str::trim),
                        now,
                    )
                })
            })
            .await?;
        let mut refund_pending = false;
        if !dry_run && outcome.deposit_action == DepositAction::Refund {
            // The cancellation and the refund's reservation are committed;
            // if the provider fails now, the periodic task retries.
            if let Err(e) = crate::deposits::complete_refund(&state, &outcome.deposit.id).await {
                tracing::warn!(error = ?e, "refund reserved on cancellation; will be retried");
                refund_pending = true;
            }
        }
        // An unpaid Stripe payment request is withdrawn, so it cannot be
        // paid later (if it is anyway, the money is kept as credit).
        if !dry_run && outcome.deposit_action == DepositAction::Release {
            if let Some(payment) = &outcome.deposit.provider_payment_id {
                if let Err(e) = state.payments.cancel_payment(payment).await {
                    tracing::warn!(error = %e, "could not withdraw a payment request");
                }
            }
        }
        let (st, i, a) = (state.clone(), id.clone(), actor.clone());
        let consultation = state
            .db
            .run(move |conn| view::by_id(conn, &st, &i, a.audience()))
            .await?;
        let amount = outcome.deposit.amount;
        let body = CancellationResult {
            dry_run,
            deposit_action: outcome.deposit_action,
            refund: (outcome.deposit_action == DepositAction::Refund).then_some(amount),
            refund_pending,
            forfeit: (outcome.deposit_action == DepositAction::Forfeit).then_some(amount),
            late: outcome.late,
            cancellation_deadline: outcome.deadline,
            consultation,
        };
        Ok(StoredResponse {
            status: 200,
            body: serde_json::to_string(&body).map_err(ApiError::internal)?,
            location: None,
        })
    })
    .await;
    state.cache.invalidate_availability();
    answer
}

/// Where to move a booking.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// A free slot start from `GET /v1/availability`.
    pub starts_at: DateTime<Utc>,
    /// Another practitioner; default: the same one.
    #[serde(default)]
    pub practitioner_id: Option<uuid::Uuid>,
}

impl Validate for RescheduleRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// Reschedule a consultation
///
/// Moves the booking to another free slot, keeping its deposit (and, while
/// unpaid, its hold's expiry). Clients and partners may move a booking up to
/// the cancellation deadline; staff at any time.
#[utoipa::path(
    operation_id = "rescheduleConsultation",
    tag = "Consultations",
    params(ConsultationPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    request_body = RescheduleRequest,
    responses(
        (status = 200, description = "Moved", body = Consultation),
        ProblemResponses<400, 401, 404, 409, 410, 413, 415, 422>,
    ),
    security(("manage_token" = []), ("api_key" = []))
)]
#[post("/consultations/{id}/reschedule")]
pub async fn reschedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
    body: ValidJson<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let ValidJson(input, digest) = body;
    let id = path.id.to_string();
    let answer = idempotency::run(&state, &req, &auth.caller(), &digest, |ticket| async {
        let now = state.now();
        let st = state.clone();
        state
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    booking::reschedule(
                        conn,
                        &st.settings,
                        &id,
                        &actor,
                        input.practitioner_id.map(|p| p.to_string()).as_deref(),
                        input.starts_at,
                        now,
                    )?;
                    let body = view::by_id(conn, &st, &id, actor.audience())?;
                    let stored = StoredResponse {
                        status: 200,
                        body: serde_json::to_string(&body).map_err(ApiError::internal)?,
                        location: None,
                    };
                    if let Some(t) = &ticket {
                        crate::store::idempotency::complete(conn, t, &stored)?;
                    }
                    Ok(stored)
                })
            })
            .await
    })
    .await;
    state.cache.invalidate_availability();
    answer
}

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
    state: web::Data<AppState>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let id = path.id.to_string();
    let c = state
        .db
        .run(move |conn| booking::load(conn, &id, &actor).map(|(c, _)| c))
        .await?;
    let settings = &state.settings;
    let uid = format!("{}@clinic-api", c.id);
    let summary = format!("Consultation at {}", settings.clinic_name);
    let description = format!(
        "Your consultation at {}. To cancel or move it, use your booking link; cancellations within {} hours of the appointment forfeit the deposit.",
        settings.clinic_name, settings.booking.cancellation_notice_hours
    );
    let ics = calendar::render(&CalendarEvent {
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// First clinic-local date (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last clinic-local date (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// Only these statuses (comma-separated), e.g. `confirmed,pending_deposit`.
    #[param(
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
    pub items: Vec<Consultation>,
    /// URL of the next page, or null on the last.
    pub next: Option<String>,
}

fn parse_statuses(raw: Option<&str>) -> Result<Vec<Status>, ApiError> {
    raw.map(|s| {
        s.split(',')
            .map(|p| {
                Status::parse(p).ok_or_else(|| {
                    ApiError::field(
                        "status",
                        "invalid",
                        format!("{p:?} is not a consultation status"),
                    )
                })
            })
            .collect()
    })
    .unwrap_or(Ok(Vec::new()))
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
    state: web::Data<AppState>,
    key: AnyKey,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    supported_date("from", q.from)?;
    supported_date("to", q.to)?;
    let tz = state.settings.clinic_timezone;
    let local_midnight = |d: NaiveDate| crate::domain::slots::local_midnight(tz, d);
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let actor = key_actor(&key.identity);
    let filter = ListFilter {
        from: q.from.map(local_midnight),
        to: q.to.map(|d| local_midnight(d + Duration::days(1))),
        statuses: parse_statuses(q.status.as_deref())?,
        practitioner_id: q.practitioner_id.map(|p| p.to_string()),
        booked_by_key_id: match &actor {
            Actor::Partner(k) => Some(k.clone()),
            _ => None,
        },
        client_id: None,
        after,
        limit: limit + 1,
    };
    let audience = actor.audience();
    let st = state.clone();
    let (items, next_cursor) = state
        .db
        .run(move |conn| {
            let mut rows = store::list(conn, &filter)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let cursor = more
                .then(|| {
                    rows.last()
                        .map(|c| pagination::encode_time(c.starts_at, &c.id))
                })
                .flatten();
            let mut items = Vec::with_capacity(rows.len());
            for c in rows {
                let d = crate::store::deposits::by_consultation(conn, &c.id)?
                    .ok_or(crate::db::DbError::NotFound)?;
                items.push(view::render(conn, &st, c, d, audience)?);
            }
            Ok::<_, ApiError>((items, cursor))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationList {
        items,
        next: next_cursor.map(|c| pagination::next_link(&req, &c)),
    }))
}

async fn record(
    state: web::Data<AppState>,
    staff: StaffKey,
    id: String,
    event: Event,
) -> Result<HttpResponse, ApiError> {
    let actor = key_actor(&staff.identity);
    let now = state.now();
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                booking::record_outcome(conn, &id, &actor, event, now)?;
                view::by_id(conn, &st, &id, Audience::Staff)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    record(state, staff, path.id.to_string(), Event::Attend).await
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    record(state, staff, path.id.to_string(), Event::MarkNoShow).await
}

/// The screening behind a booking, for the practitioner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreeningRecord {
    #[schema(format = "uuid")]
    pub id: String,
    pub outcome: crate::domain::eligibility::Outcome,
    pub reason_codes: Vec<crate::domain::eligibility::ReasonCode>,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<NaiveDate>,
    /// Age on the date the screening judged.
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
    state: web::Data<AppState>,
    _staff: StaffKey,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let s = state
        .db
        .run(move |conn| crate::store::screenings::by_consultation(conn, &id))
        .await?
        .ok_or(ApiError::NotFound("screening"))?;
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

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(cancel)
        .service(reschedule)
        .service(calendar_ics)
        .service(attended)
        .service(no_show)
        .service(screening);
}
