//! A deposit was paid (recorded by staff, or reported by Stripe): the
//! booking is confirmed, or — when its hold lapsed and the slot went to
//! someone else — kept as refundable credit.

use diesel::Connection;

use super::holds::expire_one;
use super::{AppError, Tx};
use crate::db::DbError;
use crate::domain::actor::label;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::event_types::{BookingChange, EventType};
use crate::store::consultations::{self, Consultation, StatusChange};
use crate::store::deposits::{self, Deposit};

/// How a payment ended up, for the caller to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Deposit paid, consultation confirmed.
    Confirmed,
    /// Deposit paid, but the hold had lapsed and the slot was taken: the
    /// consultation is expired and the deposit kept as refundable credit.
    PaidAfterSlotLost,
    /// The deposit was already paid (a repeated notice).
    AlreadyPaid,
}

/// Records that a deposit was paid (under the consultation's and the
/// deposit's row locks), without touching its consultation; false when it
/// was already paid or settled. A payment can arrive after the request was
/// withdrawn (the hold was swept): the money is real, so the deposit
/// becomes paid either way.
pub fn record_paid(
    tx: &mut Tx<'_>,
    deposit: &Deposit,
    reference: Option<&str>,
    actor: &str,
) -> Result<bool, AppError> {
    // Consultation first, then deposit: the same lock order as every path.
    consultations::lock(tx.conn, &deposit.consultation_id)?;
    deposits::lock(tx.conn, &deposit.id)?;
    let before = deposits::get(tx.conn, &deposit.id)?.ok_or(DbError::NotFound)?;
    if before.status != DepositStatus::Pending && before.status != DepositStatus::Cancelled {
        return Ok(false);
    }
    if !deposits::set_status(
        tx.conn,
        &before.id,
        before.status,
        DepositStatus::Paid,
        reference,
        tx.now,
    )? {
        return Ok(false);
    }
    tx.deposit_changed(actor, EventType::DepositPaid, &before.id, Some(&before))?;
    Ok(true)
}

/// Records that a deposit was paid, and confirms its consultation. Payment
/// after the hold lapsed still confirms when the slot is free.
pub fn confirm_payment(
    tx: &mut Tx<'_>,
    deposit: &Deposit,
    reference: Option<&str>,
    actor: &str,
) -> Result<Confirmation, AppError> {
    let now = tx.now;
    if !record_paid(tx, deposit, reference, actor)? {
        return Ok(Confirmation::AlreadyPaid);
    }
    let c = consultations::get(tx.conn, &deposit.consultation_id)?.ok_or(DbError::NotFound)?;
    let confirm = |tx: &mut Tx<'_>, from: Status| -> Result<(), DbError> {
        let change = StatusChange {
            end_reason: Some(None),
            ..Default::default()
        };
        consultations::set_status(tx.conn, &c.id, from, Status::Confirmed, change, now)?;
        tx.consultation_changed(actor, EventType::ConsultationConfirmed, &c.id, Some(&c))
    };
    match c.status {
        Status::PendingDeposit if !c.hold_lapsed(now) => {
            confirm(tx, Status::PendingDeposit)?;
            Ok(Confirmation::Confirmed)
        }
        Status::PendingDeposit | Status::Expired => {
            // The hold lapsed: keep the slot if nobody else took it.
            if c.status == Status::PendingDeposit {
                expire_one(tx, &c, "hold_lapsed", label::SYSTEM)?;
            }
            let reclaimed = tx.conn.transaction(|conn| {
                consultations::claim(conn, &c.practitioner_id, c.interval(), &c.id)
            });
            match reclaimed {
                Ok(()) if c.starts_at > now => {
                    confirm(tx, Status::Expired)?;
                    Ok(Confirmation::Confirmed)
                }
                Ok(()) => {
                    consultations::release_claims(tx.conn, &c.id)?;
                    mark_slot_lost(tx, &c, actor)?;
                    Ok(Confirmation::PaidAfterSlotLost)
                }
                Err(DbError::UniqueViolation(_)) => {
                    mark_slot_lost(tx, &c, actor)?;
                    Ok(Confirmation::PaidAfterSlotLost)
                }
                Err(e) => Err(e.into()),
            }
        }
        // Paid for a booking that already ended (e.g. cancelled): the
        // deposit stays as refundable credit for staff to settle.
        _ => Ok(Confirmation::PaidAfterSlotLost),
    }
}

fn mark_slot_lost(tx: &mut Tx<'_>, c: &Consultation, actor: &str) -> Result<(), DbError> {
    let change = StatusChange {
        end_reason: Some(Some("paid_after_hold_lapsed_slot_taken".into())),
        ..Default::default()
    };
    consultations::set_status(
        tx.conn,
        &c.id,
        Status::Expired,
        Status::Expired,
        change,
        tx.now,
    )?;
    tx.consultation_changed(actor, BookingChange::ConsultationSlotLost, &c.id, Some(c))
}
