//! Booking: create, read, cancel, reschedule, attend, no-show, expire and
//! confirm. Each change runs in one unit of work; the database (slot claims,
//! conditional status updates, row locks) decides every race.
//!
//! Every path that sets or moves an appointment goes through [`place`],
//! which judges the slot and the client's age on its clinic-local date.

mod cancel;
mod create;
mod holds;
mod outcome;
mod payment;
mod reschedule;

pub use self::cancel::{cancel, CancelCommand, Cancellation};
pub use self::create::{create, Booked, NewBooking};
pub use self::holds::{expire_lapsed, expire_one};
pub use self::outcome::record_outcome;
pub use self::payment::{confirm_payment, Confirmation};
pub use self::reschedule::{reschedule, RescheduleCommand};

use chrono::{DateTime, NaiveDate, Utc};

use super::availability;
use super::{App, AppError, Tx};
use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::domain::actor::Actor;
use crate::domain::age::age_on;
use crate::domain::consultation::{Status, Transition};
use crate::domain::slots::Interval;
use crate::secrets;
use crate::store::consultations::{self, channel, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::{practitioners, treatments};

/// A booking as its readers see it: the consultation, its deposit, and the
/// slug of the treatment of interest.
#[derive(Debug, Clone)]
pub struct Booking {
    pub consultation: Consultation,
    pub deposit: Deposit,
    pub treatment_slug: Option<String>,
}

impl Booking {
    /// Loads a consultation's booking by id, whoever asks (callers authorise).
    pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Booking>, DbError> {
        let Some(c) = consultations::get(conn, id)? else {
            return Ok(None);
        };
        Self::of(conn, c).map(Some)
    }

    /// The booking of a consultation in hand.
    pub fn of(conn: &mut DbConnection, consultation: Consultation) -> Result<Booking, DbError> {
        let deposit =
            deposits::by_consultation(conn, &consultation.id)?.ok_or(DbError::NotFound)?;
        let treatment_slug = match &consultation.treatment_id {
            Some(id) => treatments::by_id(conn, id)?.map(|t| t.slug),
            None => None,
        };
        Ok(Booking {
            consultation,
            deposit,
            treatment_slug,
        })
    }
}

/// Whether `actor` may see and act on the consultation.
pub fn may_act_on(c: &Consultation, actor: &Actor) -> bool {
    match actor {
        Actor::Staff(_) => true,
        Actor::Partner(key) => {
            c.channel == channel::PARTNER && c.booked_by_key_id.as_deref() == Some(key)
        }
        Actor::Client(hash) => secrets::hashes_match(&c.manage_token_hash, hash),
    }
}

/// Loads a booking the actor may act on, or 404.
pub fn load(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), AppError> {
    let c = consultations::get(conn, id)?
        .filter(|c| may_act_on(c, actor))
        .ok_or(AppError::NotFound("consultation"))?;
    let d = deposits::by_consultation(conn, id)?.ok_or(DbError::NotFound)?;
    Ok((c, d))
}

/// Like [`load`], under the consultation's and then the deposit's row locks
/// (always in that order), for a change.
pub fn load_for_update(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), AppError> {
    consultations::lock(conn, id)?;
    if let Some(d) = deposits::by_consultation(conn, id)? {
        deposits::lock(conn, &d.id)?;
    }
    load(conn, id, actor)
}

/// Reads a booking for an actor allowed to see it. A pending Stripe
/// deposit is reconciled with Stripe first (authorised first, so another
/// booking's token never causes an outside call).
pub async fn get(app: &App, id: &str, actor: &Actor) -> Result<Booking, AppError> {
    let (i, a) = (id.to_owned(), actor.clone());
    let deposit = app
        .db
        .run(move |conn| load(conn, &i, &a).map(|(_, d)| d))
        .await?;
    super::stripe::reconcile_on_read(app, &deposit).await;
    let i = id.to_owned();
    app.db
        .run(move |conn| Booking::load(conn, &i)?.ok_or(AppError::NotFound("consultation")))
        .await
}

/// Reads a booking for an actor allowed to see it, as stored.
pub async fn find(app: &App, id: &str, actor: &Actor) -> Result<Booking, AppError> {
    let (i, a) = (id.to_owned(), actor.clone());
    app.db
        .run(move |conn| {
            let (c, _) = load(conn, &i, &a)?;
            Ok::<_, AppError>(Booking::of(conn, c)?)
        })
        .await
}

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
    practitioners::get(tx.conn, practitioner_id)?
        .filter(|p| p.active)
        .ok_or_else(|| {
            AppError::field(
                "practitioner_id",
                "unknown",
                "names no practitioner taking bookings",
            )
        })?;
    let slot = availability::check_offered(tx.conn, settings, practitioner_id, starts_at, tx.now)?;
    let appointment_date = slot
        .starts_at
        .with_timezone(&settings.clinic_timezone)
        .date_naive();
    let old_enough = date_of_birth
        .and_then(|dob| age_on(dob, appointment_date))
        .is_some_and(|age| age >= settings.minimum_age);
    if !old_enough {
        return Err(AppError::refused(
            "ineligible",
            format!(
                "Treatment is only given to people aged {} or over on the day of the appointment.",
                settings.minimum_age
            ),
        ));
    }
    Ok(slot)
}

/// The 409/410 for a move the consultation's status does not allow.
fn illegal(c: &Consultation, transition: Transition) -> AppError {
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
    }
}

fn concurrent_update() -> AppError {
    AppError::conflict(
        "concurrent_update",
        "The consultation changed meanwhile; try again.",
    )
}

fn slot_conflict(e: DbError) -> AppError {
    AppError::conflict_on_unique(
        e,
        "slot_unavailable",
        "That slot has just been taken; choose another from GET /v1/availability.",
    )
}
