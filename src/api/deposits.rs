//! `/v1/deposits`: the staff's view of deposits and how they are settled.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::extract::ValidJson;
use crate::api::treatments::{check_text, reject};
use crate::api::{idempotency, pagination, ProblemResponses};
use crate::auth::StaffKey;
use crate::db::{DbConnection, DbError};
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::money::Money;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deposits::{self as store, Deposit, ListFilter};
use crate::store::idempotency::StoredResponse;
use crate::store::{consultations, settlements};

/// How a deposit was redeemed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedemptionView {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub treatment_id: String,
    pub amount: Money,
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
    pub provider: String,
    /// The provider's refund id (Stripe `re_…`).
    pub provider_refund_id: Option<String>,
    pub reason: String,
    /// `pending` while the payment provider is asked (retried until made),
    /// then `succeeded`.
    #[schema(example = "succeeded")]
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
    pub consultation_end_reason: Option<String>,
    pub status: DepositStatus,
    pub amount: Money,
    pub provider: String,
    /// Stripe PaymentIntent id (`pi_…`).
    pub provider_payment_id: Option<String>,
    /// The charge id or the receipt reference staff recorded.
    pub payment_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub redemption: Option<RedemptionView>,
    pub refund: Option<RefundView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn record(conn: &mut DbConnection, d: Deposit) -> Result<DepositRecord, ApiError> {
    let c = consultations::get(conn, &d.consultation_id)?.ok_or(DbError::NotFound)?;
    let redemption = settlements::redemption_of(conn, &d.id)?.map(|r| RedemptionView {
        id: r.id,
        treatment_id: r.treatment_id,
        amount: r.amount,
        note: r.note,
        created_at: r.created_at,
    });
    let refunded = settlements::refund_of(conn, &d.id)?.map(|r| RefundView {
        id: r.id,
        amount: r.amount,
        provider: r.provider,
        provider_refund_id: r.provider_refund_id,
        reason: r.reason,
        status: r.status,
        created_at: r.created_at,
        completed_at: r.completed_at,
    });
    Ok(DepositRecord {
        id: d.id,
        consultation_id: d.consultation_id,
        consultation_status: c.status,
        consultation_end_reason: c.end_reason.filter(|r| !r.is_empty()),
        status: d.status,
        amount: d.amount,
        provider: d.provider,
        provider_payment_id: d.provider_payment_id,
        payment_reference: d.payment_reference,
        paid_at: d.paid_at,
        settled_at: d.settled_at,
        redemption,
        refund: refunded,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

fn by_id(conn: &mut DbConnection, id: &str) -> Result<DepositRecord, ApiError> {
    let d = store::get(conn, id)?.ok_or(ApiError::NotFound("deposit"))?;
    record(conn, d)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepositQuery {
    /// Only these statuses (comma-separated), e.g. `paid`.
    #[param(
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
    pub items: Vec<DepositRecord>,
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
    state: web::Data<AppState>,
    _staff: StaffKey,
    query: web::Query<DepositQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let statuses = q
        .status
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(|p| {
                    DepositStatus::parse(p).ok_or_else(|| {
                        ApiError::field(
                            "status",
                            "invalid",
                            format!("{p:?} is not a deposit status"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
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
    let (items, cursor) = state
        .db
        .run(move |conn| {
            let mut rows = store::list(conn, &filter)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let cursor = more
                .then(|| {
                    rows.last()
                        .map(|d| pagination::encode_time(d.created_at, &d.id))
                })
                .flatten();
            let items = rows
                .into_iter()
                .map(|d| record(conn, d))
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok::<_, ApiError>((items, cursor))
        })
        .await?;
    Ok(HttpResponse::Ok().json(DepositList {
        items,
        next: cursor.map(|c| pagination::next_link(&req, &c)),
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
    state: web::Data<AppState>,
    _staff: StaffKey,
    path: web::Path<DepositPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let record = state.db.run(move |conn| by_id(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(record))
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn stored<T: Serialize>(
    status: u16,
    body: &T,
    location: Option<String>,
) -> Result<StoredResponse, ApiError> {
    Ok(StoredResponse {
        status,
        body: serde_json::to_string(body).map_err(ApiError::internal)?,
        location,
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<ManualPayment>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let id = path.id.to_string();
    let caller = crate::events::actor::key(&staff.identity.key_id);
    let by = caller.clone();
    let answer = idempotency::run(&state, &req, &caller, &digest, |_| async {
        let now = state.now();
        let record = state
            .db
            .run(move |conn| {
                crate::deposits::record_manual_payment(
                    conn,
                    &id,
                    input.reference.trim(),
                    &by,
                    now,
                )?;
                by_id(conn, &id)
            })
            .await?;
        stored(200, &record, None)
    })
    .await;
    state.cache.invalidate_availability();
    answer
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
        if self.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            reject(
                &mut errors,
                "note",
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<RedemptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let id = path.id.to_string();
    let caller = crate::events::actor::key(&staff.identity.key_id);
    let by = crate::events::actor::key(&staff.identity.key_id);
    idempotency::run(&state, &req, &caller, &digest, |_| async {
        let now = state.now();
        let i = id.clone();
        let record = state
            .db
            .run(move |conn| {
                crate::deposits::redeem(
                    conn,
                    &i,
                    &input.treatment_id.to_string(),
                    input
                        .note
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty()),
                    &by,
                    now,
                )?;
                by_id(conn, &i)
            })
            .await?;
        stored(201, &record, Some(format!("/v1/deposits/{id}")))
    })
    .await
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
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
    state: web::Data<AppState>,
    staff: StaffKey,
    path: web::Path<DepositPath>,
    body: ValidJson<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(input, digest) = body;
    let id = path.id.to_string();
    let caller = crate::events::actor::key(&staff.identity.key_id);
    let by = crate::events::actor::key(&staff.identity.key_id);
    idempotency::run(&state, &req, &caller, &digest, |_| async {
        crate::deposits::refund(&state, &id, input.reason.trim(), &by).await?;
        let record = state.db.run(move |conn| by_id(conn, &id)).await?;
        stored(200, &record, None)
    })
    .await
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get)
        .service(record_payment)
        .service(redeem)
        .service(refund);
}
