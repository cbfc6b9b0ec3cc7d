//! Holds that lapse: an unpaid booking keeps its slot for `HOLD_MINUTES`,
//! then expires — in the sweep, or at once when someone needs its slot.

use super::{App, AppError, Tx};
use crate::db::DbError;
use crate::domain::actor::label;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::event_types::{BookingChange, EventType};
use crate::domain::slots::Interval;
use crate::store::consultations::{self, Consultation, StatusChange};
use crate::store::deposits;

/// Ends lapsed holds that stand on any cell of `slot`, so that a lapsed
/// hold never blocks a slot even before the sweeper runs.
pub fn clear_lapsed(
    tx: &mut Tx<'_>,
    practitioner_id: &str,
    slot: Interval,
) -> Result<(), AppError> {
    for id in consultations::claim_holders(tx.conn, practitioner_id, slot)? {
        if let Some(c) = consultations::get(tx.conn, &id)? {
            if c.hold_lapsed(tx.now) {
                expire_one(tx, &c, "hold_lapsed", label::SYSTEM)?;
            }
        }
    }
    Ok(())
}

/// Expires a lapsed hold: consultation `expired`, claims released, unpaid
/// deposit cancelled. No-op when another request got there first.
pub fn expire_one(
    tx: &mut Tx<'_>,
    c: &Consultation,
    reason: &str,
    actor: &str,
) -> Result<bool, DbError> {
    let moved = consultations::set_status(
        tx.conn,
        &c.id,
        Status::PendingDeposit,
        Status::Expired,
        StatusChange {
            end_reason: Some(Some(reason.to_owned())),
            ..Default::default()
        },
        tx.now,
    )?;
    if moved {
        consultations::release_claims(tx.conn, &c.id)?;
        tx.consultation_changed(actor, EventType::ConsultationExpired, &c.id, Some(c))?;
        if let Some(d) = deposits::by_consultation(tx.conn, &c.id)? {
            if deposits::set_status(
                tx.conn,
                &d.id,
                DepositStatus::Pending,
                DepositStatus::Cancelled,
                None,
                tx.now,
            )? {
                tx.deposit_changed(actor, BookingChange::DepositCancelled, &d.id, Some(&d))?;
            }
        }
    }
    Ok(moved)
}

/// Treats a pending booking whose hold lapsed as expired, now.
pub fn settle_lapsed(tx: &mut Tx<'_>, c: &mut Consultation) -> Result<(), DbError> {
    if c.hold_lapsed(tx.now) && expire_one(tx, c, "hold_lapsed", label::SYSTEM)? {
        c.status = Status::Expired;
    }
    Ok(())
}

/// Expires every lapsed hold (the sweeper), one unit of work each. Returns
/// the consultations expired, with their provider payment ids (to withdraw).
pub async fn expire_lapsed(app: &App) -> Result<Vec<(String, Option<String>)>, AppError> {
    let now = app.now();
    let lapsed = app
        .db
        .run(move |conn| consultations::lapsed_holds(conn, now, 500))
        .await?;
    let mut done = Vec::new();
    for id in lapsed {
        let i = id.clone();
        let expired = app
            .write(move |tx| match consultations::get(tx.conn, &i)? {
                Some(c) if c.hold_lapsed(tx.now) => {
                    if expire_one(tx, &c, "hold_lapsed", label::SYSTEM)? {
                        let payment = deposits::by_consultation(tx.conn, &i)?
                            .and_then(|d| d.provider_payment_id);
                        Ok(Some(payment))
                    } else {
                        Ok(None)
                    }
                }
                _ => Ok(None),
            })
            .await?;
        if let Some(payment) = expired {
            done.push((id, payment));
        }
    }
    Ok(done)
}
