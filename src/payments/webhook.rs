//! Applying verified Stripe events. Each event id is recorded in the same
//! transaction as its effect, so a redelivery is a no-op; events may come
//! in any order.

use chrono::{DateTime, Utc};
use stripe_webhook::{Event, EventObject};

use super::reconcile;
use super::stripe::payment_state;
use crate::booking::{self, Confirmation};
use crate::db::{DbConnection, DbError};
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::error::ApiError;
use crate::events::actor::STRIPE;
use crate::events::Kind;
use crate::store::consultations;
use crate::store::settlements::{NewRefund, REFUND_SUCCEEDED};
use crate::store::{deposits, settlements};

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event changed something (or was recorded as seen).
    Processed,
    /// The event id was processed before.
    Duplicate,
    /// A type this service does not act on.
    Ignored,
}

/// Applies one event. Call inside a write transaction.
pub fn apply(
    conn: &mut DbConnection,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Applied, ApiError> {
    let kind = event.type_.as_str().to_owned();
    let handled = matches!(
        &event.data.object,
        EventObject::PaymentIntentSucceeded(_)
            | EventObject::PaymentIntentPaymentFailed(_)
            | EventObject::PaymentIntentCanceled(_)
            | EventObject::ChargeRefunded(_)
    );
    if !handled {
        return Ok(Applied::Ignored);
    }
    if !settlements::mark_event_processed(conn, event.id.as_str(), &kind, now)? {
        return Ok(Applied::Duplicate);
    }
    match &event.data.object {
        EventObject::PaymentIntentSucceeded(pi) => {
            let outcome = reconcile::apply_success(conn, &payment_state(pi), now)?;
            if outcome == Some(Confirmation::PaidAfterSlotLost) {
                tracing::warn!(payment = %pi.id.as_str(), "deposit paid after its slot was lost; kept as refundable credit");
            }
        }
        EventObject::PaymentIntentPaymentFailed(pi) => {
            // The client may try again with the same PaymentIntent while the
            // hold lasts; nothing changes here.
            tracing::info!(payment = %pi.id.as_str(), "a deposit payment attempt failed");
        }
        EventObject::PaymentIntentCanceled(pi) => payment_canceled(conn, pi.id.as_str(), now)?,
        EventObject::ChargeRefunded(charge) => {
            if let Some(pi) = charge
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned())
            {
                if charge.refunded {
                    charge_refunded(conn, &pi, charge.id.as_str(), now)?;
                }
            }
        }
        _ => {}
    }
    Ok(Applied::Processed)
}

/// The payment request was withdrawn (by us or in Stripe's dashboard): the
/// unpaid deposit is cancelled and a pending booking released.
fn payment_canceled(
    conn: &mut DbConnection,
    payment_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let Some(d) = deposits::by_provider_payment_id(conn, payment_id)? else {
        return Ok(());
    };
    if d.status != DepositStatus::Pending {
        return Ok(());
    }
    match consultations::get(conn, &d.consultation_id)? {
        Some(c) if c.status == Status::PendingDeposit => {
            booking::expire_one(conn, &c, "payment_canceled", STRIPE, now)?;
        }
        _ => {
            if deposits::set_status(
                conn,
                &d.id,
                DepositStatus::Pending,
                DepositStatus::Cancelled,
                None,
                now,
            )? {
                crate::events::deposit_changed(
                    conn,
                    STRIPE,
                    Kind::DepositCancelled,
                    &d.id,
                    Some(&d),
                    now,
                )?;
            }
        }
    }
    Ok(())
}

/// The charge was refunded in full (by us, or in Stripe's dashboard).
fn charge_refunded(
    conn: &mut DbConnection,
    payment_id: &str,
    charge_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(mut d) = deposits::by_provider_payment_id(conn, payment_id)? else {
        return Ok(());
    };
    if matches!(d.status, DepositStatus::Pending | DepositStatus::Cancelled) {
        // The refund overtook the payment's own event: the money came in first.
        booking::confirm_payment(conn, &d, Some(charge_id), STRIPE, now)?;
        d = deposits::get(conn, &d.id)?.ok_or(DbError::NotFound)?;
    }
    if d.status != DepositStatus::Paid {
        if d.status != DepositStatus::Refunded {
            // Refunded in Stripe after the clinic redeemed or forfeited it.
            tracing::error!(deposit = %d.id, status = d.status.as_str(), "Stripe refunded a deposit already settled otherwise; staff must review");
        }
        return Ok(());
    }
    deposits::set_status(
        conn,
        &d.id,
        DepositStatus::Paid,
        DepositStatus::Refunded,
        None,
        now,
    )?;
    crate::events::deposit_changed(conn, STRIPE, Kind::DepositRefunded, &d.id, Some(&d), now)?;
    // Completes a refund we reserved, or records one made in the dashboard.
    if settlements::complete_refund(conn, &d.id, Some(charge_id), now)? {
        return Ok(());
    }
    let refund = NewRefund {
        deposit_id: &d.id,
        amount: d.amount,
        provider: "stripe",
        provider_refund_id: Some(charge_id),
        reason: "refunded in Stripe",
        recorded_by: "stripe",
        status: REFUND_SUCCEEDED,
    };
    match settlements::insert_refund(conn, &refund, now) {
        Ok(_) | Err(DbError::UniqueViolation(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
