//! What Stripe tells us about payments, applied to deposits: its signed
//! events (each applied once, in the unit of work that records its id) and
//! reconciliation by asking (so a lost event never leaves a paid booking
//! pending). Events may come in any order.

use chrono::Duration;

use super::confirm::{confirm_payment, record_paid, Confirmation};
use super::holds::expire_one;
use super::{App, AppError, Tx};
use crate::db::DbError;
use crate::domain::actor::label::STRIPE;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::event_types::{BookingChange, EventType};
use crate::payments::stripe_events::{StripeEvent, StripeEventKind};
use crate::payments::{PaymentState, PaymentStatus};
use crate::store::consultations;
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, NewRefund, REFUND_SUCCEEDED};

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

/// Why a provider's payment does not match our deposit.
fn mismatch(d: &Deposit, p: &PaymentState) -> Option<String> {
    if p.amount != d.amount {
        return Some(format!(
            "amount {} {} differs from the deposit's {} {}",
            p.amount.amount,
            p.amount.currency.code(),
            d.amount.amount,
            d.amount.currency.code()
        ));
    }
    if p.deposit_id.as_deref() != Some(d.id.as_str())
        || p.consultation_id.as_deref() != Some(d.consultation_id.as_str())
    {
        return Some("metadata names another deposit or consultation".into());
    }
    None
}

/// Applies a succeeded payment to its deposit (checking amount, currency
/// and metadata first).
fn apply_success(
    tx: &mut Tx<'_>,
    payment: &PaymentState,
) -> Result<Option<Confirmation>, AppError> {
    let Some(d) = deposits::by_provider_payment_id(tx.conn, &payment.id)? else {
        tracing::warn!(payment = %payment.id, "payment for no known deposit");
        return Ok(None);
    };
    if let Some(why) = mismatch(&d, payment) {
        tracing::error!(payment = %payment.id, deposit = %d.id, %why, "payment does not match its deposit; not applied");
        return Ok(None);
    }
    let reference = payment.charge_id.as_deref().unwrap_or(&payment.id);
    confirm_payment(tx, &d, Some(reference), STRIPE).map(Some)
}

/// Applies one verified event, once.
pub async fn apply_event(app: &App, event: StripeEvent) -> Result<Applied, AppError> {
    if matches!(event.what, StripeEventKind::Other) {
        return Ok(Applied::Ignored);
    }
    app.write(move |tx| {
        if !settlements::mark_event_processed(tx.conn, &event.id, &event.type_name, tx.now)? {
            return Ok(Applied::Duplicate);
        }
        match &event.what {
            StripeEventKind::PaymentSucceeded(payment) => {
                if apply_success(tx, payment)? == Some(Confirmation::PaidAfterSlotLost) {
                    tracing::warn!(payment = %payment.id, "deposit paid after its slot was lost; kept as refundable credit");
                }
            }
            StripeEventKind::PaymentFailed { payment_id } => {
                // The client may try again with the same PaymentIntent while
                // the hold lasts; nothing changes here.
                tracing::info!(payment = %payment_id, "a deposit payment attempt failed");
            }
            StripeEventKind::PaymentCanceled { payment_id } => payment_canceled(tx, payment_id)?,
            StripeEventKind::ChargeRefunded {
                payment_id: Some(payment_id),
                charge_id,
                refunded: true,
            } => charge_refunded(tx, payment_id, charge_id)?,
            StripeEventKind::ChargeRefunded { .. } | StripeEventKind::Other => {}
        }
        Ok(Applied::Processed)
    })
    .await
}

/// The payment request was withdrawn (by us or in Stripe's dashboard): the
/// unpaid deposit is cancelled and a pending booking released.
fn payment_canceled(tx: &mut Tx<'_>, payment_id: &str) -> Result<(), DbError> {
    let Some(d) = deposits::by_provider_payment_id(tx.conn, payment_id)? else {
        return Ok(());
    };
    if d.status != DepositStatus::Pending {
        return Ok(());
    }
    match consultations::get(tx.conn, &d.consultation_id)? {
        Some(c) if c.status == Status::PendingDeposit => {
            expire_one(tx, &c, "payment_canceled", STRIPE)?;
        }
        _ => {
            if deposits::set_status(
                tx.conn,
                &d.id,
                DepositStatus::Pending,
                DepositStatus::Cancelled,
                None,
                tx.now,
            )? {
                tx.deposit_changed(STRIPE, BookingChange::DepositCancelled, &d.id, Some(&d))?;
            }
        }
    }
    Ok(())
}

/// The charge was refunded in full (by us, or in Stripe's dashboard).
fn charge_refunded(tx: &mut Tx<'_>, payment_id: &str, charge_id: &str) -> Result<(), AppError> {
    let Some(mut d) = deposits::by_provider_payment_id(tx.conn, payment_id)? else {
        return Ok(());
    };
    let unpaid = matches!(d.status, DepositStatus::Pending | DepositStatus::Cancelled);
    if unpaid {
        // The refund overtook the payment's own event: the money came in
        // first — and went back. The deposit is paid then refunded; the
        // booking is not confirmed by it (a refund confirms nothing), and a
        // hold still pending ends, since its deposit is gone.
        record_paid(tx, &d, Some(charge_id), STRIPE)?;
        d = deposits::get(tx.conn, &d.id)?.ok_or(DbError::NotFound)?;
    }
    if d.status != DepositStatus::Paid {
        if d.status != DepositStatus::Refunded {
            // Refunded in Stripe after the clinic redeemed or forfeited it.
            tracing::error!(deposit = %d.id, status = d.status.as_str(), "Stripe refunded a deposit already settled otherwise; staff must review");
        }
        return Ok(());
    }
    deposits::set_status(
        tx.conn,
        &d.id,
        DepositStatus::Paid,
        DepositStatus::Refunded,
        None,
        tx.now,
    )?;
    tx.deposit_changed(STRIPE, EventType::DepositRefunded, &d.id, Some(&d))?;
    if unpaid {
        if let Some(c) = consultations::get(tx.conn, &d.consultation_id)?
            .filter(|c| c.status == Status::PendingDeposit)
        {
            expire_one(tx, &c, "payment_refunded", STRIPE)?;
        }
    }
    // Completes a refund we reserved, or records one made in the dashboard.
    if settlements::complete_refund(tx.conn, &d.id, Some(charge_id), tx.now)? {
        return Ok(());
    }
    let refund = NewRefund {
        deposit_id: &d.id,
        amount: d.amount,
        provider: "stripe",
        provider_refund_id: Some(charge_id),
        reason: "refunded in Stripe",
        recorded_by: STRIPE,
        status: REFUND_SUCCEEDED,
    };
    match settlements::insert_refund(tx.conn, &refund, tx.now) {
        Ok(_) | Err(DbError::UniqueViolation(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reconciles a deposit a reader (already authorised) is about to see,
/// when it is a pending Stripe one — at most once per 30 seconds per
/// deposit, however often it is read. Errors are logged: reading must not
/// fail because the provider is slow.
pub async fn reconcile_on_read(app: &App, deposit: &Deposit) {
    if app.payments.name() == "manual"
        || deposit.status != DepositStatus::Pending
        || deposit.provider_payment_id.is_none()
        || !app.reconcile_throttle.try_now(&deposit.id, app.now())
    {
        return;
    }
    reconcile(app, deposit).await;
}

/// Reconciles every unpaid deposit that has a provider payment — pending,
/// or cancelled in the last day (a payment can land as a hold lapses) —
/// (the periodic task). Returns how many were paid.
pub async fn reconcile_pending(app: &App) -> usize {
    if app.payments.name() == "manual" {
        return 0;
    }
    let since = app.now() - Duration::days(1);
    let Ok(pending) = app
        .db
        .run(move |conn| deposits::unpaid_with_provider_payment(conn, since, 200))
        .await
    else {
        return 0;
    };
    let mut confirmed = 0;
    for d in pending {
        confirmed += usize::from(reconcile(app, &d).await);
    }
    confirmed
}

async fn reconcile(app: &App, d: &Deposit) -> bool {
    let Some(payment_id) = d.provider_payment_id.as_deref() else {
        return false;
    };
    let payment = match app.payments.payment(payment_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(deposit = %d.id, error = %e, "could not reconcile a deposit");
            return false;
        }
    };
    if payment.status != PaymentStatus::Succeeded {
        return false;
    }
    match app.write(move |tx| apply_success(tx, &payment)).await {
        Ok(Some(_)) => true,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(deposit = %d.id, error = %e, "could not apply a reconciled payment");
            false
        }
    }
}
