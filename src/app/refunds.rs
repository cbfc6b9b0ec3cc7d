//! Refunds of deposits: reserved in the unit of work that decides them (a
//! `pending` refund row), asked of the provider with an idempotency key
//! derived from the deposit, then recorded as made. A reserved refund the
//! provider could not make yet is retried by the periodic task. Used by a
//! cancellation and by a staff refund alike.

use super::{App, AppError, Tx};
use crate::db::{DbConnection, DbError};
use crate::domain::actor::label;
use crate::domain::deposit::{DepositStatus, DepositTransition};
use crate::domain::event_types::{BookingChange, EventType};
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, NewRefund, Refund, REFUND_PENDING};

/// Loads a deposit under its row lock.
pub fn load_locked(conn: &mut DbConnection, id: &str) -> Result<Deposit, AppError> {
    deposits::lock(conn, id)?;
    deposits::get(conn, id)?.ok_or(AppError::NotFound("deposit"))
}

/// Why a deposit cannot make `transition`, as a 409.
pub fn not_allowed(d: &Deposit, transition: DepositTransition) -> AppError {
    let (code, detail) = match (d.status, transition) {
        (DepositStatus::Redeemed, DepositTransition::Redeem) => {
            ("already_redeemed", "This deposit was already redeemed.")
        }
        (DepositStatus::Refunded, DepositTransition::Refund) => {
            ("already_refunded", "This deposit was already refunded.")
        }
        (DepositStatus::Paid, DepositTransition::Pay) => {
            ("already_paid", "This deposit is already paid.")
        }
        (DepositStatus::Pending, _) => ("deposit_unpaid", "This deposit has not been paid."),
        _ => ("deposit_settled", "This deposit is already settled."),
    };
    AppError::conflict(code, format!("{detail} (status: {})", d.status.as_str()))
}

/// Whether a refund is already reserved or made for the deposit.
pub fn refund_under_way(conn: &mut DbConnection, deposit_id: &str) -> Result<bool, DbError> {
    Ok(settlements::refund_of(conn, deposit_id)?.is_some())
}

/// Reserves a full refund of a paid deposit, inside the unit of work that
/// decides it; then [`complete_refund`] after it commits. A manual
/// deposit's refund (paid back by the clinic) is recorded as made at once;
/// returns whether the provider must still be asked.
pub fn reserve_refund(
    tx: &mut Tx<'_>,
    id: &str,
    reason: &str,
    recorded_by: &str,
) -> Result<bool, AppError> {
    let d = load_locked(tx.conn, id)?;
    if let Some(existing) = settlements::refund_of(tx.conn, &d.id)? {
        // A reserved refund is completed by whoever reserved it (or the
        // periodic retry), never by a second request.
        if existing.status == REFUND_PENDING {
            return Err(AppError::conflict(
                "refund_in_progress",
                "This deposit is being refunded.",
            ));
        }
        return Err(not_allowed(&d, DepositTransition::Refund));
    }
    if d.status.after(DepositTransition::Refund).is_none() {
        return Err(not_allowed(&d, DepositTransition::Refund));
    }
    tx.deposit_changed(
        recorded_by,
        BookingChange::DepositRefundReserved,
        &d.id,
        Some(&d),
    )?;
    settlements::insert_refund(
        tx.conn,
        &NewRefund {
            deposit_id: &d.id,
            amount: d.amount,
            provider: &d.provider,
            provider_refund_id: None,
            reason,
            recorded_by,
            status: REFUND_PENDING,
        },
        tx.now,
    )
    .map_err(|e| {
        AppError::conflict_on_unique(e, "already_refunded", "This deposit was already refunded.")
    })?;
    if d.provider == "manual" {
        record_refunded(tx, &d.id, None)?;
        return Ok(false);
    }
    Ok(true)
}

/// Records a reserved refund as made: the deposit refunded (if still paid)
/// and the refund row completed.
fn record_refunded(
    tx: &mut Tx<'_>,
    deposit_id: &str,
    provider_refund_id: Option<&str>,
) -> Result<(Deposit, Refund), AppError> {
    let current = load_locked(tx.conn, deposit_id)?;
    if current.status == DepositStatus::Paid {
        deposits::set_status(
            tx.conn,
            deposit_id,
            DepositStatus::Paid,
            DepositStatus::Refunded,
            None,
            tx.now,
        )?;
        let by = settlements::refund_of(tx.conn, deposit_id)?
            .map(|r| r.recorded_by)
            .unwrap_or_else(|| label::SYSTEM.to_owned());
        tx.deposit_changed(&by, EventType::DepositRefunded, deposit_id, Some(&current))?;
    } else if current.status != DepositStatus::Refunded {
        // Settled another way while the provider refunded it.
        tracing::error!(deposit = %deposit_id, status = current.status.as_str(), "refund made for a deposit settled otherwise; staff must review");
    }
    settlements::complete_refund(tx.conn, deposit_id, provider_refund_id, tx.now)?;
    let refund = settlements::refund_of(tx.conn, deposit_id)?.ok_or(DbError::NotFound)?;
    Ok((
        deposits::get(tx.conn, deposit_id)?.ok_or(DbError::NotFound)?,
        refund,
    ))
}

/// Makes a reserved refund: asks the provider (idempotent by deposit, so a
/// retry never refunds twice), then records the deposit as refunded.
pub async fn complete_refund(app: &App, id: &str) -> Result<(Deposit, Refund), AppError> {
    let deposit_id = id.to_owned();
    let d = app
        .db
        .run(move |conn| deposits::get(conn, &deposit_id)?.ok_or(AppError::NotFound("deposit")))
        .await?;
    let provider_refund_id = match (&d.provider[..], &d.provider_payment_id) {
        ("stripe", Some(payment_id)) => Some(
            app.payments
                .refund(payment_id, d.amount, &format!("refund-{}", d.id))
                .await?
                .id,
        ),
        ("stripe", None) => {
            return Err(AppError::internal(format!(
                "stripe deposit {} has no payment id",
                d.id
            )));
        }
        _ => None,
    };
    app.write(move |tx| record_refunded(tx, &d.id, provider_refund_id.as_deref()))
        .await
}

/// Retries reserved refunds the provider could not make yet (the periodic
/// task). Returns how many were made.
pub async fn retry_pending_refunds(app: &App) -> usize {
    let Ok(pending) = app
        .db
        .run(|conn| settlements::pending_refunds(conn, 100))
        .await
    else {
        return 0;
    };
    let mut made = 0;
    for deposit_id in pending {
        match complete_refund(app, &deposit_id).await {
            Ok(_) => made += 1,
            Err(e) => {
                tracing::warn!(deposit = %deposit_id, error = %e, "a reserved refund is still pending")
            }
        }
    }
    made
}
