//! Rules every booking path shares: where a booking may go (the slot and
//! the client's age on its date), and the refusals for illegal moves.

use chrono::{DateTime, NaiveDate, Utc};

use crate::app::{availability, AppError, Tx};
use crate::config::Settings;
use crate::domain::consultation::{Status, Transition};
use crate::domain::eligibility;
use crate::domain::slots::Interval;
use crate::store::consultations::{self, Consultation};
use crate::store::practitioners;

/// Judges where a booking goes: a slot the practitioner (active) offers,
/// on a clinic-local date on which the client is old enough. Every path
/// that sets or moves an appointment date calls this.
pub fn place(
    tx: &mut Tx<'_>,
    settings: &Settings,
    practitioner_id: &str,
    starts_at: DateTime<Utc>,
    date_of_birth: Option<NaiveDate>,
) -> Result<Interval, AppError> {
    let windows = practitioners::hours_if_active(tx.conn, practitioner_id)?.ok_or_else(|| {
        AppError::field(
            "practitioner_id",
            "unknown",
            "names no practitioner taking bookings",
        )
    })?;
    let slot = availability::check_offered(
        tx.conn,
        settings,
        practitioner_id,
        &windows,
        starts_at,
        tx.now,
    )?;
    let appointment_date = slot
        .starts_at
        .with_timezone(&settings.clinic_timezone)
        .date_naive();
    eligibility::judge_age(settings.minimum_age, date_of_birth, appointment_date)
        .map_err(|reason| AppError::Ineligible(vec![reason]))?;
    Ok(slot)
}

/// The 409/410 for a move the consultation's status does not allow.
pub(super) fn illegal(c: &Consultation, transition: Transition) -> AppError {
    match (c.status, transition) {
        (Status::Cancelled, Transition::Cancel) => AppError::conflict(
            "already_cancelled",
            "This consultation is already cancelled.",
        ),
        (Status::Expired, _) => AppError::gone(
            "hold_expired",
            "The hold on this consultation lapsed before the deposit was paid.",
        ),
        (from, t) => AppError::conflict(
            "illegal_transition",
            format!(
                "A consultation that is {} cannot be {}.",
                from.as_str(),
                past(t)
            ),
        ),
    }
}

fn past(t: Transition) -> &'static str {
    match t {
        Transition::DepositPaid => "confirmed",
        Transition::Attend => "marked as attended",
        Transition::MarkNoShow => "marked as a no-show",
        Transition::Cancel => "cancelled",
        Transition::HoldLapsed => "expired",
        Transition::Reschedule => "rescheduled",
        Transition::Rebook => "rebooked",
    }
}

pub(super) fn concurrent_update() -> AppError {
    AppError::conflict(
        "concurrent_update",
        "The consultation changed meanwhile; try again.",
    )
}

/// Claims `slot` for a consultation: in one statement when it is free;
/// when some of it is held, lapsed holds on it are expired and the rest
/// claimed, and a live booking on it is a 409 `slot_unavailable` (the
/// caller's savepoint rolls back what was claimed).
pub(super) fn claim_slot(
    tx: &mut Tx<'_>,
    practitioner_id: &str,
    slot: Interval,
    consultation_id: &str,
) -> Result<(), AppError> {
    let cells = consultations::cells_of(slot);
    let first = consultations::claim_unheld(tx.conn, practitioner_id, slot, consultation_id)?;
    if first == cells {
        return Ok(());
    }
    crate::app::holds::clear_lapsed(tx, practitioner_id, slot)?;
    let rest = consultations::claim_unheld(tx.conn, practitioner_id, slot, consultation_id)?;
    if first + rest == cells {
        return Ok(());
    }
    Err(AppError::conflict(
        "slot_unavailable",
        "Someone else has just booked that time. Please choose another.",
    ))
}
