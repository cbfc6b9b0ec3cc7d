//! A booking's self-service (and the partner's and staff's): read, cancel
//! under the policy, reschedule.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors};

use super::auth::BookingAuth;
use super::view::{self, Audience, Consultation};
use super::ConsultationPath;
use crate::api::error::ApiError;
use crate::api::extract::{OptionalJson, ValidJson};
use crate::api::validation::{check_optional_text, finish};
use crate::api::{idempotency, ProblemResponses};
use crate::app::booking::{self, Booking, CancelCommand, Cancellation, RescheduleCommand};
use crate::app::App;
use crate::domain::money::Money;
use crate::domain::policy::DepositAction;

/// Get a consultation
///
/// For the booking's holder (manage token), the partner that booked it, or
/// staff. No token (or an unknown one) is 401; another booking's token is
/// 404, as is an id that does not exist.
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
    app: web::Data<App>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let found = booking::get(&app, &path.id.to_string(), &actor).await?;
    Ok(HttpResponse::Ok().json(view::render(&app, found, Audience::of(&actor))))
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
        check_optional_text(&mut errors, "reason", self.reason.as_deref(), 500);
        finish(errors)
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
    request_body(content = Option<CancelRequest>, description = "Optional: no body (or an empty one) means `{}`, a real cancellation with no reason."),
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
    app: web::Data<App>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
    body: OptionalJson<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let OptionalJson(input, digest) = body;
    let request = idempotency::request(&req, &auth.caller(), &digest)?;
    let command = CancelCommand {
        dry_run: input.dry_run,
        reason: input
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
    };
    let (a, audience) = (app.clone(), Audience::of(&actor));
    let render = idempotency::render(200, move |c: &Cancellation| {
        let amount = c.booking.deposit.amount;
        let body = CancellationResult {
            dry_run: c.dry_run,
            deposit_action: c.deposit_action,
            refund: (c.deposit_action == DepositAction::Refund).then_some(amount),
            refund_pending: c.refund_pending,
            forfeit: (c.deposit_action == DepositAction::Forfeit).then_some(amount),
            late: c.late,
            cancellation_deadline: c.deadline,
            consultation: view::render(&a, c.booking.clone(), audience),
        };
        (body, None)
    });
    let reply =
        booking::cancel(&app, &actor, &path.id.to_string(), command, request, render).await?;
    Ok(idempotency::respond(&reply))
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
    app: web::Data<App>,
    auth: BookingAuth,
    path: web::Path<ConsultationPath>,
    body: ValidJson<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor()?;
    let ValidJson(input, digest) = body;
    let request = idempotency::request(&req, &auth.caller(), &digest)?;
    let command = RescheduleCommand {
        starts_at: input.starts_at,
        practitioner_id: input.practitioner_id.map(|p| p.to_string()),
    };
    let (a, audience) = (app.clone(), Audience::of(&actor));
    let render = idempotency::render(200, move |b: &Booking| {
        (view::render(&a, b.clone(), audience), None)
    });
    let reply =
        booking::reschedule(&app, &actor, &path.id.to_string(), command, request, render).await?;
    Ok(idempotency::respond(&reply))
}
