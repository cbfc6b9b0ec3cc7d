//! Moving a booking to another free slot, keeping its deposit.

use chrono::{DateTime, Utc};

use super::record::{load_for_update, Booking};
use super::rules::{claim_slot, concurrent_update, illegal, place};
use crate::app::holds;
use crate::app::idempotency::{IdempotentRequest, Render, Reply};
use crate::app::{App, AppError};
use crate::db::DbError;
use crate::domain::actor::Actor;
use crate::domain::consultation::{Status, Transition};
use crate::domain::deposit::DepositStatus;
use crate::domain::event_types::EventType;
use crate::domain::policy;
use crate::store::consultations::{self, StatusChange};
use crate::store::screenings;

/// Where to move a booking.
#[derive(Debug, Clone)]
pub struct RescheduleCommand {
    pub starts_at: DateTime<Utc>,
    /// Another practitioner; default: the same one.
    pub practitioner_id: Option<String>,
}

/// Moves a booking to another free slot. Clients and partners may move it
/// up to the cancellation deadline, staff at any time; the new date is
/// judged like a new booking's (slot offered, client old enough on it). An
/// expired booking whose deposit was paid after its slot was lost is
/// rebooked (confirmed in the new slot, the deposit carrying over).
pub async fn reschedule(
    app: &App,
    actor: &Actor,
    id: &str,
    command: RescheduleCommand,
    request: Option<IdempotentRequest>,
    render: Render<Booking>,
) -> Result<Reply, AppError> {
    let settings = app.settings.clone();
    let (id, actor) = (id.to_owned(), actor.clone());
    app.write_once(request, render, move |tx| {
        let (mut c, d) = load_for_update(tx.conn, &id, &actor)?;
        holds::settle_lapsed(tx, &mut c)?;
        // An expired booking whose deposit was paid after all (the hold
        // lapsed and the slot went to someone else) holds credit: it may be
        // rebooked into any free slot, the deposit carrying over.
        let rebook = c.status == Status::Expired && d.status == DepositStatus::Paid;
        let transition = if rebook {
            Transition::Rebook
        } else {
            Transition::Reschedule
        };
        if c.status.after(transition).is_none() || (c.status == Status::Expired && !rebook) {
            return Err(illegal(&c, Transition::Reschedule));
        }
        let notice = settings.booking.cancellation_notice_hours;
        if !rebook && !actor.is_staff() && policy::is_late(c.starts_at, notice, tx.now) {
            return Err(AppError::conflict(
                "outside_cancellation_window",
                format!("Bookings can be moved up to {notice} hours before the appointment; contact the clinic."),
            ));
        }
        let practitioner_id = command
            .practitioner_id
            .clone()
            .unwrap_or_else(|| c.practitioner_id.clone());
        let date_of_birth = screenings::by_consultation(tx.conn, &c.id)?
            .and_then(|s| s.date_of_birth);
        let slot = place(tx, &settings, &practitioner_id, command.starts_at, date_of_birth)?;
        if slot == c.interval() && practitioner_id == c.practitioner_id {
            return Err(AppError::conflict(
                "same_slot",
                "The consultation is already at that time.",
            ));
        }
        consultations::release_claims(tx.conn, &c.id)?;
        claim_slot(tx, &practitioner_id, slot, &c.id)?;
        if !consultations::move_to(tx.conn, &c, &practitioner_id, slot, tx.now)? {
            return Err(concurrent_update());
        }
        if rebook {
            let change = StatusChange {
                end_reason: Some(None),
                ..Default::default()
            };
            consultations::set_status(
                tx.conn,
                &c.id,
                Status::Expired,
                Status::Confirmed,
                change,
                tx.now,
            )?;
            tx.consultation_changed(
                &actor.label(),
                EventType::ConsultationConfirmed,
                &c.id,
                Some(&c),
            )?;
        }
        tx.consultation_changed(
            &actor.label(),
            EventType::ConsultationRescheduled,
            &c.id,
            Some(&c),
        )?;
        Ok(Booking::load(tx.conn, &c.id)?.ok_or(DbError::NotFound)?)
    })
    .await
}
