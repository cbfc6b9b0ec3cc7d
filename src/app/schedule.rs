//! The diary's shape: practitioners, their weekly opening hours and
//! closures. Each change is audited; the unit of work drops the cached free
//! slots after commit.

use serde_json::json;

use chrono::Duration;

use super::booking::{cancel_within, FollowUp};
use super::error::StrandedBooking;
use super::{App, AppError, Tx};
use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::domain::actor::Identity;
use crate::domain::slots::{overlaps, weekday_name, within_hours, Interval, OpeningWindow};
use crate::store::consultations::{self, Consultation};
use crate::store::practitioners::{self, ClosureRow, PractitionerRow};

/// What to do with live bookings a schedule change would leave outside
/// opening hours or inside a closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stranded {
    /// Refuse the change (409, listing the bookings): the default, so that
    /// no booking is ever stranded silently.
    #[default]
    Refuse,
    /// Make the change and keep the bookings, as exceptions.
    Keep,
    /// Make the change and cancel the bookings on the clinic's side (a paid
    /// deposit is refunded, an unpaid one released).
    Cancel,
}

/// A schedule change, made (or, for a dry run, only weighed).
#[derive(Debug, Clone)]
pub struct Change<T> {
    pub value: T,
    /// The live bookings the change leaves outside the diary (kept or
    /// cancelled as asked; for a dry run, what would be).
    pub stranded: Vec<StrandedBooking>,
    pub handled: Stranded,
    pub dry_run: bool,
}

fn stranded_of(c: &Consultation) -> StrandedBooking {
    StrandedBooking {
        consultation_id: c.id.clone(),
        practitioner_id: c.practitioner_id.clone(),
        starts_at: c.starts_at,
        ends_at: c.ends_at,
        status: c.status,
    }
}

/// The live bookings of a practitioner the new hours would not cover.
fn stranded_by_hours(
    tx: &mut Tx<'_>,
    settings: &Settings,
    practitioner_id: &str,
    windows: &[OpeningWindow],
) -> Result<Vec<Consultation>, DbError> {
    let horizon = Interval::new(
        tx.now,
        tx.now + Duration::days(i64::from(settings.booking.horizon_days) + 2),
    );
    let tz = settings.clinic_timezone;
    Ok(
        consultations::live_overlapping(tx.conn, Some(practitioner_id), horizon, tx.now)?
            .into_iter()
            .filter(|c| !within_hours(tz, windows, &c.interval()))
            .collect(),
    )
}

/// Applies `handling` to stranded bookings; the follow-ups (refunds) run
/// after the commit.
fn handle_stranded(
    tx: &mut Tx<'_>,
    settings: &Settings,
    who: &Identity,
    bookings: &[Consultation],
    handling: Stranded,
    why: &str,
) -> Result<Vec<FollowUp>, AppError> {
    if bookings.is_empty() {
        return Ok(Vec::new());
    }
    match handling {
        Stranded::Refuse => Err(AppError::Stranded(
            bookings.iter().map(stranded_of).collect(),
        )),
        Stranded::Keep => Ok(Vec::new()),
        Stranded::Cancel => bookings
            .iter()
            .map(|c| cancel_within(tx, settings, &c.id, &who.actor(), Some(why.to_owned())))
            .collect(),
    }
}

async fn follow_up(app: &App, follow_ups: Vec<FollowUp>) {
    for f in follow_ups {
        f.run(app).await;
    }
}

/// A window for the audit trail, as the API writes it.
fn window_state(w: &OpeningWindow) -> serde_json::Value {
    json!({
        "weekday": weekday_name(w.weekday),
        "opens": w.opens.format("%H:%M").to_string(),
        "closes": w.closes.format("%H:%M").to_string(),
    })
}

/// A practitioner with their weekly opening hours.
#[derive(Debug, Clone)]
pub struct Practitioner {
    pub row: PractitionerRow,
    pub hours: Vec<OpeningWindow>,
}

impl Practitioner {
    pub fn of(conn: &mut DbConnection, row: PractitionerRow) -> Result<Practitioner, DbError> {
        let hours = practitioners::hours(conn, &row.id)?;
        Ok(Practitioner { row, hours })
    }
}

/// What staff write about a practitioner.
#[derive(Debug, Clone)]
pub struct PractitionerDraft {
    pub name: String,
    pub title: String,
    pub active: bool,
}

fn audit_practitioner(
    tx: &mut Tx<'_>,
    actor: &str,
    action: &str,
    p: &PractitionerRow,
) -> Result<(), DbError> {
    let after = json!({"name": p.name, "title": p.title, "active": p.active});
    tx.audit(actor, action, "practitioner", &p.id, None, Some(after))
}

pub async fn create_practitioner(
    app: &App,
    actor: &str,
    draft: PractitionerDraft,
) -> Result<Practitioner, AppError> {
    let actor = actor.to_owned();
    app.write(move |tx| {
        let row = practitioners::insert(tx.conn, &draft.name, &draft.title, draft.active, tx.now)?;
        audit_practitioner(tx, &actor, "practitioner.created", &row)?;
        Ok(Practitioner::of(tx.conn, row)?)
    })
    .await
}

pub async fn update_practitioner(
    app: &App,
    actor: &str,
    id: &str,
    draft: PractitionerDraft,
) -> Result<Practitioner, AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        let row = practitioners::update(
            tx.conn,
            &id,
            &draft.name,
            &draft.title,
            draft.active,
            tx.now,
        )?
        .ok_or(AppError::NotFound("practitioner"))?;
        audit_practitioner(tx, &actor, "practitioner.updated", &row)?;
        Ok(Practitioner::of(tx.conn, row)?)
    })
    .await
}

/// Replaces a practitioner's whole weekly schedule; returns it as stored,
/// with the live bookings it leaves outside opening hours (refused unless
/// `handling` says to keep or cancel them; a dry run changes nothing).
pub async fn set_opening_hours(
    app: &App,
    who: &Identity,
    id: &str,
    windows: Vec<OpeningWindow>,
    handling: Stranded,
    dry_run: bool,
) -> Result<Change<Vec<OpeningWindow>>, AppError> {
    let (who, id, settings) = (who.clone(), id.to_owned(), app.settings.clone());
    let (change, follow_ups) = app
        .write(move |tx| {
            practitioners::get(tx.conn, &id)?.ok_or(AppError::NotFound("practitioner"))?;
            let stranded = stranded_by_hours(tx, &settings, &id, &windows)?;
            let listed = stranded.iter().map(stranded_of).collect();
            if dry_run {
                let change = Change {
                    value: windows,
                    stranded: listed,
                    handled: handling,
                    dry_run,
                };
                return Ok((change, Vec::new()));
            }
            let follow_ups = handle_stranded(
                tx,
                &settings,
                &who,
                &stranded,
                handling,
                "the clinic changed its opening hours",
            )?;
            practitioners::replace_hours(tx.conn, &id, &windows)?;
            let hours = practitioners::hours(tx.conn, &id)?;
            let after = json!({
                "windows": hours.iter().map(window_state).collect::<Vec<_>>(),
                "stranded_bookings": stranded.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
                "stranded_handled": format!("{handling:?}").to_lowercase(),
            });
            tx.audit(
                &who.label(),
                "practitioner.hours_set",
                "practitioner",
                &id,
                None,
                Some(after),
            )?;
            let change = Change {
                value: hours,
                stranded: listed,
                handled: handling,
                dry_run,
            };
            Ok((change, follow_ups))
        })
        .await?;
    follow_up(app, follow_ups).await;
    Ok(change)
}

/// Closes the clinic (or one practitioner) for a period; the live bookings
/// inside it are refused unless `handling` says to keep or cancel them (a
/// dry run changes nothing, and returns no closure).
pub async fn create_closure(
    app: &App,
    who: &Identity,
    practitioner_id: Option<String>,
    period: Interval,
    reason: &str,
    handling: Stranded,
    dry_run: bool,
) -> Result<Change<Option<ClosureRow>>, AppError> {
    let (who, reason, settings) = (who.clone(), reason.to_owned(), app.settings.clone());
    let (change, follow_ups) = app
        .write(move |tx| {
            if let Some(p) = &practitioner_id {
                practitioners::get(tx.conn, p)?.ok_or_else(|| {
                    AppError::field("practitioner_id", "unknown", "names no practitioner")
                })?;
            }
            let stranded: Vec<Consultation> = consultations::live_overlapping(
                tx.conn,
                practitioner_id.as_deref(),
                period,
                tx.now,
            )?
            .into_iter()
            .filter(|c| overlaps(&c.interval(), &period))
            .collect();
            let listed = stranded.iter().map(stranded_of).collect();
            if dry_run {
                let change = Change {
                    value: None,
                    stranded: listed,
                    handled: handling,
                    dry_run,
                };
                return Ok((change, Vec::new()));
            }
            let follow_ups = handle_stranded(
                tx,
                &settings,
                &who,
                &stranded,
                handling,
                "the clinic is closed at that time",
            )?;
            let row = practitioners::insert_closure(
                tx.conn,
                practitioner_id.as_deref(),
                period,
                &reason,
                tx.now,
            )?;
            let after = json!({
                "practitioner_id": row.practitioner_id,
                "starts_at": period.starts_at,
                "ends_at": period.ends_at,
                "stranded_bookings": stranded.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
                "stranded_handled": format!("{handling:?}").to_lowercase(),
            });
            tx.audit(
                &who.label(),
                "closure.created",
                "closure",
                &row.id,
                None,
                Some(after),
            )?;
            let change = Change {
                value: Some(row),
                stranded: listed,
                handled: handling,
                dry_run,
            };
            Ok((change, follow_ups))
        })
        .await?;
    follow_up(app, follow_ups).await;
    Ok(change)
}

pub async fn delete_closure(app: &App, actor: &str, id: &str) -> Result<(), AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        if !practitioners::delete_closure(tx.conn, &id)? {
            return Err(AppError::NotFound("closure"));
        }
        tx.audit(&actor, "closure.deleted", "closure", &id, None, None)?;
        Ok(())
    })
    .await
}
