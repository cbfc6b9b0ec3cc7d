//! Free slots: opening hours, closures, bookings and live holds, minimum
//! notice and the booking horizon, in the clinic's time zone.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{App, AppError};
use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::domain::slots::{self, Interval, OpeningWindow, Slot, SlotRules};
use crate::store::{consultations, practitioners};

/// The slot rules of the settings.
pub fn rules(settings: &Settings) -> SlotRules {
    let b = &settings.booking;
    SlotRules {
        length: Duration::minutes(i64::from(b.consultation_minutes)),
        step: Duration::minutes(i64::from(b.slot_step_minutes)),
        min_notice: Duration::hours(i64::from(b.min_notice_hours)),
        horizon: Duration::days(i64::from(b.horizon_days)),
    }
}

/// The UTC span of clinic-local dates `from..=to`, padded a day each side
/// (cheap, and safe around offsets and DST).
fn local_dates_range(from: NaiveDate, to: NaiveDate) -> Interval {
    let start = from.checked_sub_days(chrono::Days::new(1)).unwrap_or(from);
    let end = to.checked_add_days(chrono::Days::new(2)).unwrap_or(to);
    Interval::new(
        start.and_time(chrono::NaiveTime::MIN).and_utc(),
        end.and_time(chrono::NaiveTime::MIN).and_utc(),
    )
}

fn closures(
    conn: &mut DbConnection,
    practitioner_id: &str,
    range: Interval,
) -> Result<Vec<Interval>, DbError> {
    Ok(
        practitioners::closures_overlapping(conn, Some(practitioner_id), range)?
            .iter()
            .map(|c| c.interval())
            .collect(),
    )
}

/// Free slots of one practitioner over clinic-local dates.
pub fn free_slots(
    conn: &mut DbConnection,
    settings: &Settings,
    practitioner_id: &str,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Slot>, DbError> {
    let range = local_dates_range(from, to);
    let windows = practitioners::hours(conn, practitioner_id)?;
    let closures = closures(conn, practitioner_id, range)?;
    let busy = consultations::busy(conn, practitioner_id, range, now)?;
    Ok(slots::free_slots(
        settings.clinic_timezone,
        from,
        to,
        &windows,
        &closures,
        &busy,
        &rules(settings),
        now,
    ))
}

/// Checks that `starts_at` is a slot the practitioner offers (its hours,
/// `windows`, closures, notice, horizon, grid) — ignoring whether it is
/// taken, which the slot claims decide.
pub fn check_offered(
    conn: &mut DbConnection,
    settings: &Settings,
    practitioner_id: &str,
    windows: &[OpeningWindow],
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Interval, AppError> {
    let not_offered = || {
        AppError::refused(
            "slot_not_offered",
            "That time cannot be booked: it is outside the opening hours, on a closure, too soon \
             or too far ahead. Please choose one of the free times.",
        )
    };
    if !crate::domain::dates::instant_supported(starts_at) {
        return Err(not_offered());
    }
    let tz = settings.clinic_timezone;
    let date = starts_at.with_timezone(&tz).date_naive();
    let range = local_dates_range(date, date);
    let closures = closures(conn, practitioner_id, range)?;
    slots::free_slots(
        tz,
        date,
        date,
        windows,
        &closures,
        &[],
        &rules(settings),
        now,
    )
    .iter()
    .find(|s| s.starts_at == starts_at)
    .map(|s| s.interval())
    .ok_or_else(not_offered)
}

/// A free slot with its practitioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerSlot {
    pub practitioner_id: String,
    pub slot: Slot,
}

/// Free slots of one or every active practitioner between two clinic-local
/// dates, in start order then by practitioner.
pub async fn between(
    app: &App,
    from: NaiveDate,
    to: NaiveDate,
    practitioner_id: Option<String>,
) -> Result<Vec<PractitionerSlot>, AppError> {
    let now = app.now();
    let settings = app.settings.clone();
    let mut slots = app
        .db
        .run(move |conn| {
            let practitioners: Vec<String> = match &practitioner_id {
                Some(id) => practitioners::get(conn, id)?
                    .filter(|p| p.active)
                    .map(|p| vec![p.id])
                    .ok_or_else(|| {
                        AppError::field(
                            "practitioner_id",
                            "unknown",
                            "names no practitioner taking bookings",
                        )
                    })?,
                None => practitioners::list(conn, false)?
                    .into_iter()
                    .map(|p| p.id)
                    .collect(),
            };
            let mut out = Vec::new();
            for id in practitioners {
                for slot in free_slots(conn, &settings, &id, from, to, now)? {
                    out.push(PractitionerSlot {
                        practitioner_id: id.clone(),
                        slot,
                    });
                }
            }
            Ok::<_, AppError>(out)
        })
        .await?;
    slots.sort_by(|a, b| {
        (a.slot.starts_at, &a.practitioner_id).cmp(&(b.slot.starts_at, &b.practitioner_id))
    });
    Ok(slots)
}
