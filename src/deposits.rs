//! Settling deposits: recording a payment taken by hand, redeeming against
//! a treatment, refunding. Money moves only from `paid`, by conditional
//! updates, with the unique redemption/refund rows as the database's
//! guarantee that nothing is settled twice.

use chrono::{DateTime, Utc};

use crate::booking::{self, Confirmation};
use crate::db::{write_transaction, DbConnection, DbError};
use crate::domain::deposit::{DepositEvent, DepositStatus};
use crate::error::ApiError;
use crate::payments;
use crate::state::AppState;
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, Redemption, Refund};
use crate::store::treatments;

fn load(conn: &mut DbConnection, id: &str) -> Result<Deposit, ApiError> {
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

/// Staff record a deposit taken by phone or at the desk (manual provider).
pub fn record_manual_payment(
    conn: &mut DbConnection,
    id: &str,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<(Deposit, Confirmation), ApiError> {
    write_transaction(conn, |conn| {
        let d = load(conn, id)?;
        if d.provider != "manual" {
            return Err(ApiError::conflict(
                "provider_mismatch",
                "This deposit is collected through Stripe; its payment is recorded from Stripe.",
            ));
        }
        if d.status.after(DepositEvent::Pay).is_none() && d.status != DepositStatus::Cancelled {
            return Err(not_allowed(&d, DepositEvent::Pay));
        }
        let confirmation = booking::confirm_payment(conn, &d, Some(reference), now)?;
        Ok((load(conn, id)?, confirmation))
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
        let d = load(conn, id)?;
        let Some(to) = d.status.after(DepositEvent::Redeem) else {
            return Err(not_allowed(&d, DepositEvent::Redeem));
        };
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
        Ok((load(conn, id)?, redemption))
    })
}

/// Refunds a paid deposit in full: through the provider (idempotent by
/// deposit, so a retry never refunds twice), then recorded.
pub async fn refund(
    state: &AppState,
    id: &str,
    reason: &str,
    recorded_by: &str,
) -> Result<(Deposit, Refund), ApiError> {
    let deposit_id = id.to_owned();
    let d = state.db.run(move |conn| load(conn, &deposit_id)).await?;
    if d.status.after(DepositEvent::Refund).is_none() {
        return Err(not_allowed(&d, DepositEvent::Refund));
    }
    let provider_refund = match (&d.provider[..], &d.provider_payment_id) {
        ("stripe", Some(payment_id)) => Some(
            state
                .payments
                .refund(payment_id, d.amount, &format!("refund-{}", d.id))
                .await
                .map_err(payments::api_error)?,
        ),
        ("stripe", None) => {
            return Err(ApiError::internal(format!(
                "stripe deposit {} has no payment id",
                d.id
            )));
        }
        _ => None,
    };
    let now = state.now();
    let (reason, recorded_by) = (reason.to_owned(), recorded_by.to_owned());
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = load(conn, &d.id)?;
                if current.status == DepositStatus::Refunded {
                    // Refunded meanwhile (a webhook or a concurrent request).
                    let refund = settlements::refund_of(conn, &d.id)?.ok_or(DbError::NotFound)?;
                    return Ok((current, refund));
                }
                if !deposits::set_status(
                    conn,
                    &d.id,
                    DepositStatus::Paid,
                    DepositStatus::Refunded,
                    None,
                    now,
                )? {
                    return Err(not_allowed(&current, DepositEvent::Refund));
                }
                let refund = settlements::insert_refund(
                    conn,
                    &d.id,
                    d.amount,
                    &d.provider,
                    provider_refund.as_ref().map(|r| r.id.as_str()),
                    &reason,
                    &recorded_by,
                    now,
                )
                .map_err(|e| match e {
                    DbError::UniqueViolation(_) => {
                        ApiError::conflict("already_refunded", "This deposit was already refunded.")
                    }
                    other => other.into(),
                })?;
                Ok((load(conn, &d.id)?, refund))
            })
        })
        .await
}
