//! `/v1/deposits`: the staff's view of deposits and how they are settled.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::StaffKey;
use crate::api::error::ApiError;
use crate::api::extract::{comma_list, ValidJson};
use crate::api::validation::{check_optional_text, check_text, finish};
use crate::api::{idempotency, pagination, ProblemResponses};
use crate::app::deposits::{self, DepositRecord as Stored};
use crate::app::App;
use crate::db::DbError;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::money::Money;
use crate::store::deposits::{self as store, ListFilter};

/// How a deposit was redeemed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedemptionView {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub treatment_id: String,
    pub amount: Money,
    #[schema(max_length = 500)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How a deposit was refunded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    #[schema(format = "uuid")]
    pub id: String,
    pub amount: Money,
    /// `manual` (paid back by the clinic) or `stripe`.
    #[schema(max_length = 16)]
    pub provider: String,
    /// The provider's refund id (Stripe `re_…`).
    #[schema(max_length = 255)]
    pub provider_refund_id: Option<String>,
    #[schema(max_length = 500)]
    pub reason: String,
    /// `pending` while the payment provider is asked (retried until made),
    /// then `succeeded`.
    #[schema(example = "succeeded", max_length = 16)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A deposit as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepositRecord {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub consultation_id: String,
    pub consultation_status: Status,
    /// Why the consultation ended, e.g. `paid_after_hold_lapsed_slot_taken`
    /// (the deposit is then refundable credit).
    #[schema(max_length = 64)]
    pub consultation_end_reason: Option<String>,
    pub status: DepositStatus,
    pub amount: Money,
    #[schema(max_length = 16)]
    pub provider: String,
    /// Stripe PaymentIntent id (`pi_…`).
    #[schema(max_length = 255)]
    pub provider_payment_id: Option<String>,
    /// The charge id or the receipt reference staff recorded.
    #[schema(max_length = 255)]
    pub payment_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub redemption: Option<RedemptionView>,
    pub refund: Option<RefundView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Stored> for DepositRecord {
    fn from(r: Stored) -> Self {
        let d = r.deposit;
        Self {
            id: d.id,
            consultation_id: d.consultation_id,
            consultation_status: r.consultation_status,
            consultation_end_reason: r.consultation_end_reason,
            status: d.status,
            amount: d.amount,
            provider: d.provider,
            provider_payment_id: d.provider_payment_id,
            payment_reference: d.payment_reference,
            paid_at: d.paid_at,
            settled_at: d.settled_at,
            redemption: r.redemption.map(|r| RedemptionView {
                id: r.id,
                treatment_id: r.treatment_id,
                amount: r.amount,
                note: r.note,
                created_at: r.created_at,
            }),
            refund: r.refund.map(|r| RefundView {
                id: r.id,
                amount: r.amount,
                provider: r.provider,
                provider_refund_id: r.provider_refund_id,
                reason: r.reason,
                status: r.status,
                created_at: r.created_at,
                completed_at: r.completed_at,
            }),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepositQuery {
    /// Only these statuses (comma-separated), e.g. `paid`.
    #[param(
        max_length = 200,
        example = "paid",
        pattern = "^(pending|paid|redeemed|refunded|forfeited|cancelled)(,(pending|paid|redeemed|refunded|forfeited|cancelled))*$"
    )]
    pub status: Option<String>,
    /// Page size (1–100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepositList {
    #[schema(max_items = 100)]
    pub items: Vec<DepositRecord>,
    #[schema(max_length = 4096)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DepositPath {
    pub id: uuid::Uuid,
}

/// List deposits
///
/// In creation order; filter by status (e.g. `paid` for credit still held).
#[utoipa::path(
    operation_id = "listDeposits",
    tag = "Deposits",
    params(DepositQuery),
    responses(
        (status = 200, description = "A page of deposits", body = DepositList),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/deposits")]
pub async fn list(
    req: HttpRequest,
    app: web::Data<App>,
    _staff: StaffKey,
    query: crate::api::extract::Query<DepositQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let statuses = comma_list(
        "status",
        q.status.as_deref(),
        "a deposit status",
        DepositStatus::parse,
    )?;
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let filter = ListFilter {
        statuses,
        after,
        limit: limit + 1,
    };
    let rows = app
        .db
        .run(move |conn| {
            store::list(conn, &filter)?
                .into_iter()
                .map(|d| Stored::of(conn, d))
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await?;
    let (rows, next) = pagination::page(&req, rows, limit, |r| {
        pagination::encode_time(r.deposit.created_at, &r.deposit.id)
    });
    Ok(HttpResponse::Ok().json(DepositList {
        items: rows.into_iter().map(DepositRecord::from).collect(),
        next,
    }))
}

/// Get a deposit
#[utoipa::path(
    operation_id = "getDeposit",
    tag = "Deposits",
    params(DepositPath),
    responses(
        (status = 200, description = "The deposit", body = DepositRecord),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[get("/deposits/{id}")]
pub async fn get(
    app: web::Data<App>,
    _staff: StaffKey,
    path: web::Path<DepositPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let record = app
        .db
        .run(move |conn| Stored::load(conn, &id))
        .await?
        .ok_or(ApiError::NotFound("deposit"))?;
    Ok(HttpResponse::Ok().json(DepositRecord::from(record)))
}

/// A deposit taken outside the system.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reference": "Card terminal receipt 004211"}))]
pub struct ManualPayment {
    /// Receipt number or how it was taken.
    #[schema(min_length = 1, max_length = 200)]
    pub reference: String,
}

impl Validate for ManualPayment {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "reference", &self.reference, 200);
        finish(errors)
    }
}

/// Renders a settled deposit as the answer (and for replay).
fn render(
    status: u16,
    location: impl Fn(&Stored) -> Option<String> + Send + Sync + 'static,
) -> crate::app::idempotency::Render<Stored> {
    idempotency::render(status, move |r: &Stored| {
        (DepositRecord::from(r.clone()), location(r))
    })
}

/// Record a manual payment
///
/// For the manual provider: staff record a deposit taken by phone or at the
/// desk. The consultation is confirmed (or, if its hold lapsed and the slot
/// was taken meanwhile, expired with the deposit kept as refundable credit).
#[utoipa::path(
    operation_id = "recordDepositPayment",
    tag = "Deposits",
    params(DepositPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    request_body = ManualPayment,
    responses(
        (status = 200, description = "Paid", body = DepositRecord),
        ProblemResponses<400, 401, 403, 404, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/deposits/{id}/payments")]
pub async fn record_payment(
    req: HttpRequest,
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<ManualPayment>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let by = staff.identity.label();
    let request = idempotency::request(&req, &by, &digest)?;
    let reply = deposits::record_manual_payment(
        &app,
        &path.id.to_string(),
        input.reference.trim(),
        &by,
        request,
        render(200, |_| None),
    )
    .await?;
    Ok(idempotency::respond(&reply))
}

/// Redeem against a treatment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionRequest {
    /// The treatment carried out.
    pub treatment_id: uuid::Uuid,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

impl Validate for RedemptionRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_optional_text(&mut errors, "note", self.note.as_deref(), 500);
        finish(errors)
    }
}

/// Redeem a deposit
///
/// Uses a paid deposit as credit against a treatment carried out. A deposit
/// is redeemed once: a second redemption, or one after a refund, is 409.
#[utoipa::path(
    operation_id = "redeemDeposit",
    tag = "Deposits",
    params(DepositPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    request_body = RedemptionRequest,
    responses(
        (status = 201, description = "Redeemed", body = DepositRecord,
            headers(("Location" = String, description = "URL of the deposit"))),
        ProblemResponses<400, 401, 403, 404, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/deposits/{id}/redemptions")]
pub async fn redeem(
    req: HttpRequest,
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<RedemptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let by = staff.identity.label();
    let request = idempotency::request(&req, &by, &digest)?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let reply = deposits::redeem(
        &app,
        &path.id.to_string(),
        &input.treatment_id.to_string(),
        note,
        &by,
        request,
        render(201, |r| Some(format!("/v1/deposits/{}", r.deposit.id))),
    )
    .await?;
    Ok(idempotency::respond(&reply))
}

/// Refund a deposit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Client moved abroad"}))]
pub struct RefundRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

impl Validate for RefundRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "reason", &self.reason, 500);
        finish(errors)
    }
}

/// Refund a deposit
///
/// Refunds a paid deposit in full: through Stripe (with an idempotency key,
/// so it is never refunded twice), or recorded as paid back by the clinic
/// for manual deposits. A second refund, or one after redemption, is 409.
#[utoipa::path(
    operation_id = "refundDeposit",
    tag = "Deposits",
    params(DepositPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = DepositRecord),
        ProblemResponses<400, 401, 403, 404, 409, 413, 415, 422>,
        ProblemResponses<502>,
    ),
    security(("api_key" = []))
)]
#[post("/deposits/{id}/refund")]
pub async fn refund(
    req: HttpRequest,
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let by = staff.identity.label();
    let request = idempotency::request(&req, &by, &digest)?;
    let reply = deposits::refund(
        &app,
        &path.id.to_string(),
        input.reason.trim(),
        &by,
        request,
        render(200, |_| None),
    )
    .await?;
    Ok(idempotency::respond(&reply))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get)
        .service(record_payment)
        .service(redeem)
        .service(refund);
}
