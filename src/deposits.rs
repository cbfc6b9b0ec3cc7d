//! Settling deposits: recording a payment taken by hand, redeeming against
//! a treatment, refunding. Money moves only from `paid`, by conditional
//! updates under the deposit's row lock, with the unique redemption/refund
//! rows as the database's guarantee that nothing is settled twice.
//!
//! A refund is reserved first (a `pending` refund row, in the transaction
//! that decides it), then asked of the provider with an idempotency key
//! derived from the deposit, then recorded as made. A reserved refund that
//! the provider could not make yet is retried by the periodic task.

use chrono::{DateTime, Utc};

use crate::booking::{self, Confirmation};
use crate::db::{write_transaction, DbConnection, DbError};
use crate::domain::deposit::{DepositEvent, DepositStatus};
use crate::error::ApiError;
use crate::events::{self, Kind};
use crate::payments::{self, PaymentError};
use crate::state::AppState;
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, NewRefund, Redemption, Refund, REFUND_PENDING};
use crate::store::treatments;

/// Loads a deposit under its row lock.
fn load_locked(conn: &mut DbConnection, id: &str) -> Result<Deposit, ApiError> {
    deposits::lock(conn, id)?;
    deposits::get(conn, id)?.ok_or(ApiError::NotFound("deposit"))
}

/// Why a deposit cannot make `event`, as a 409.
fn not_allowed(d: &Deposit, event: DepositEvent) -> ApiError {
    let (code, detail) = match (d.status, event) {
        (DepositStatus::Redeemed, DepositEvent::Redeem) => {
            ("already_redeemed", "This deposit was already redeemed.")
        }
        (DepositStatus::Refunded, DepositEvent::Refund) => {
            ("already_refunded", "This deposit was already refunded.")
        }
        (DepositStatus::Paid, DepositEvent::Pay) => {
            ("already_paid", "This deposit is already paid.")
        }
        (DepositStatus::Pending, _) => ("deposit_unpaid", "This deposit has not been paid."),
        _ => ("deposit_settled", "This deposit is already settled."),
    };
    ApiError::conflict(code, format!("{detail} (status: {})", d.status.as_str()))
}

/// Whether a refund is already reserved or made for the deposit.
pub fn refund_under_way(conn: &mut DbConnection, deposit_id: &str) -> Result<bool, DbError> {
    Ok(settlements::refund_of(conn, deposit_id)?.is_some())
}

/// Staff record a deposit taken by phone or at the desk (manual provider).
pub fn record_manual_payment(
    conn: &mut DbConnection,
    id: &str,
    reference: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Deposit, Confirmation), ApiError> {
    write_transaction(conn, |conn| {
        let d = deposits::get(conn, id)?.ok_or(ApiError::NotFound("deposit"))?;
        if d.provider != "manual" {
            return Err(ApiError::conflict(
                "provider_mismatch",
                "This deposit is collected through Stripe; its payment is recorded from Stripe.",
            ));
        }
        if d.status.after(DepositEvent::Pay).is_none() && d.status != DepositStatus::Cancelled {
            return Err(not_allowed(&d, DepositEvent::Pay));
        }
        let confirmation = booking::confirm_payment(conn, &d, Some(reference), actor, now)?;
        Ok((
            deposits::get(conn, id)?.ok_or(DbError::NotFound)?,
            confirmation,
        ))
    })
}

/// Redeems a paid deposit against a treatment.
pub fn redeem(
    conn: &mut DbConnection,
    id: &str,
    treatment_id: &str,
    note: Option<&str>,
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<(Deposit, Redemption), ApiError> {
    write_transaction(conn, |conn| {
        let d = load_locked(conn, id)?;
        let Some(to) = d.status.after(DepositEvent::Redeem) else {
            return Err(not_allowed(&d, DepositEvent::Redeem));
        };
        if refund_under_way(conn, &d.id)? {
            return Err(ApiError::conflict(
                "refund_in_progress",
                "This deposit is being refunded.",
            ));
        }
        treatments::by_id(conn, treatment_id)?
            .ok_or_else(|| ApiError::field("treatment_id", "unknown", "names no treatment"))?;
        if !deposits::set_status(conn, &d.id, d.status, to, None, now)? {
            return Err(ApiError::conflict(
                "concurrent_update",
                "The deposit changed meanwhile; reload it.",
            ));
        }
        let redemption = settlements::insert_redemption(
            conn,
            &d.id,
            treatment_id,
            d.amount,
            note,
            recorded_by,
            now,
        )
        .map_err(|e| match e {
            DbError::UniqueViolation(_) => {
                ApiError::conflict("already_redeemed", "This deposit was already redeemed.")
            }
            other => other.into(),
        })?;
        events::deposit_changed(
            conn,
            recorded_by,
            Kind::DepositRedeemed,
            &d.id,
            Some(&d),
            now,
        )?;
        Ok((
            deposits::get(conn, id)?.ok_or(DbError::NotFound)?,
            redemption,
        ))
    })
}

/// Reserves a full refund of a paid deposit. Call inside a write
/// transaction; then [`complete_refund`] after it commits.
pub fn reserve_refund(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    let d = load_locked(conn, id)?;
    if let Some(existing) = settlements::refund_of(conn, &d.id)? {
        // A reserved refund is completed by whoever reserved it (or the
        // periodic retry), never by a second request.
        if existing.status == REFUND_PENDING {
            return Err(ApiError::conflict(
                "refund_in_progress",
                "This deposit is being refunded.",
            ));
        }
        return Err(not_allowed(&d, DepositEvent::Refund));
    }
    if d.status.after(DepositEvent::Refund).is_none() {
        return Err(not_allowed(&d, DepositEvent::Refund));
    }
    events::audit(
        conn,
        recorded_by,
        Kind::DepositRefundReserved.as_str(),
        "deposit",
        &d.id,
        Some(events::deposit_state(&d)),
        None,
        now,
    )?;
    settlements::insert_refund(
        conn,
        &NewRefund {
            deposit_id: &d.id,
            amount: d.amount,
            provider: &d.provider,
            provider_refund_id: None,
            reason,
            recorded_by,
            status: REFUND_PENDING,
        },
        now,
    )
    .map_err(|e| match e {
        DbError::UniqueViolation(_) => {
            ApiError::conflict("already_refunded", "This deposit was already refunded.")
        }
        other => other.into(),
    })
}

/// Makes a reserved refund: asks the provider (idempotent by deposit, so a
/// retry never refunds twice), then records the deposit as refunded.
pub async fn complete_refund(
    state: &AppState,
    id: &str,
) -> Result<(Deposit, Refund), PaymentOrApi> {
    let deposit_id = id.to_owned();
    let d = state
        .db
        .run(move |conn| deposits::get(conn, &deposit_id)?.ok_or(ApiError::NotFound("deposit")))
        .await?;
    let provider_refund_id = match (&d.provider[..], &d.provider_payment_id) {
        ("stripe", Some(payment_id)) => Some(
            state
                .payments
                .refund(payment_id, d.amount, &format!("refund-{}", d.id))
                .await
                .map_err(PaymentOrApi::Payment)?
                .id,
        ),
        ("stripe", None) => {
            return Err(
                ApiError::internal(format!("stripe deposit {} has no payment id", d.id)).into(),
            );
        }
        _ => None,
    };
    let now = state.now();
    let result = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = load_locked(conn, &d.id)?;
                if current.status == DepositStatus::Paid {
                    deposits::set_status(conn, &d.id, DepositStatus::Paid, DepositStatus::Refunded, None, now)?;
                    let by = settlements::refund_of(conn, &d.id)?
                        .map(|r| r.recorded_by)
                        .unwrap_or_else(|| events::actor::SYSTEM.to_owned());
                    events::deposit_changed(conn, &by, Kind::DepositRefunded, &d.id, Some(&current), now)?;
                } else if current.status != DepositStatus::Refunded {
                    // Settled another way while the provider refunded it.
                    tracing::error!(deposit = %d.id, status = current.status.as_str(), "refund made for a deposit settled otherwise; staff must review");
                }
                settlements::complete_refund(conn, &d.id, provider_refund_id.as_deref(), now)?;
                let refund = settlements::refund_of(conn, &d.id)?.ok_or(DbError::NotFound)?;
                Ok::<_, ApiError>((deposits::get(conn, &d.id)?.ok_or(DbError::NotFound)?, refund))
            })
        })
        .await?;
    Ok(result)
}

/// A refund step's failure: the provider's, or ours.
#[derive(Debug)]
pub enum PaymentOrApi {
    Payment(PaymentError),
    Api(ApiError),
}

impl From<ApiError> for PaymentOrApi {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<PaymentOrApi> for ApiError {
    fn from(e: PaymentOrApi) -> Self {
        match e {
            PaymentOrApi::Payment(p) => payments::api_error(p),
            PaymentOrApi::Api(a) => a,
        }
    }
}

/// Staff refund a paid deposit in full. If the provider fails, the
/// reservation is dropped and nothing has changed (a retry is safe: the
/// provider call is idempotent by deposit).
pub async fn refund(
    state: &AppState,
    id: &str,
    reason: &str,
    recorded_by: &str,
) -> Result<(Deposit, Refund), ApiError> {
    let (deposit_id, reason, by, now) = (
        id.to_owned(),
        reason.to_owned(),
        recorded_by.to_owned(),
        state.now(),
    );
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                reserve_refund(conn, &deposit_id, &reason, &by, now)
            })
        })
        .await?;
    match complete_refund(state, id).await {
        Ok(done) => Ok(done),
        Err(PaymentOrApi::Payment(e)) => {
            let deposit_id = id.to_owned();
            state
                .db
                .run(move |conn| settlements::drop_pending_refund(conn, &deposit_id))
                .await?;
            Err(payments::api_error(e))
        }
        Err(PaymentOrApi::Api(e)) => Err(e),
    }
}

/// Retries reserved refunds the provider could not make yet (the periodic
/// task). Returns how many were made.
pub async fn retry_pending_refunds(state: &AppState) -> usize {
    let Ok(pending) = state
        .db
        .run(|conn| settlements::pending_refunds(conn, 100))
        .await
    else {
        return 0;
    };
    let mut made = 0;
    for deposit_id in pending {
        match complete_refund(state, &deposit_id).await {
            Ok(_) => made += 1,
            Err(e) => {
                tracing::warn!(deposit = %deposit_id, error = ?e, "a reserved refund is still pending")
            }
        }
    }
    made
}
