//! The rehearsal clock (`DEMO_CLOCK=true`): a server for trying the day-of
//! flows (attended, no-show, redemption) without waiting for the day. An
//! admin moves its clock forward with `POST /demo/clock`; it never moves
//! back.
//!
//! Guards, so that it can never touch real bookings: it is off unless
//! configured; the configuration refuses it together with Stripe; it takes
//! a database of its own — one with no booking yet, which it then marks
//! (`app_meta`), and a marked database refuses to start without it; each
//! move is audited; and the offset is stored in the mark, so a restart
//! never sends the clock back.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{App, AppError};
use crate::store::{consultations, meta};

/// The `app_meta` key that marks a rehearsal database; its value is the
/// clock's offset from the system clock, in whole seconds.
const MARK: &str = "demo_clock_offset_seconds";

/// The furthest one move may go.
const MAX_MOVE_DAYS: i64 = 400;

/// At start: keeps rehearsal and real databases apart, and puts a
/// rehearsal server's clock back where it was.
pub async fn prepare(app: &App) -> Result<(), String> {
    let (mark, booked) = app
        .db
        .run(|conn| {
            Ok::<_, crate::db::DbError>((meta::get(conn, MARK)?, consultations::any(conn)?))
        })
        .await
        .map_err(|e| e.to_string())?;
    match (app.settings.demo_clock, mark) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(
            "it was run with DEMO_CLOCK=true, so its times are not real: \
             start it with DEMO_CLOCK=true, or use another database"
                .to_owned(),
        ),
        (true, None) if booked => Err("DEMO_CLOCK=true needs a database of its own, and this one \
             already holds bookings made on the real clock"
            .to_owned()),
        (true, None) => app
            .write(|tx| Ok(meta::set(tx.conn, MARK, "0", tx.now)?))
            .await
            .map_err(|e| e.to_string()),
        (true, Some(seconds)) => {
            let seconds: i64 = seconds
                .parse()
                .map_err(|_| format!("the stored {MARK} is not a number"))?;
            if !app.clock.shift(Duration::seconds(seconds)) {
                return Err("DEMO_CLOCK=true needs a clock that can move".into());
            }
            Ok(())
        }
    }
}

/// Moves the clock forward to `to`; answers the new "now".
pub async fn advance(app: &App, who: &str, to: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    if !app.settings.demo_clock {
        return Err(AppError::refused(
            "demo_clock_off",
            "This server runs on the real clock (DEMO_CLOCK is not set).",
        ));
    }
    let now = app.now();
    if to <= now {
        return Err(AppError::field(
            "to",
            "range",
            format!("must be later than the server's now, {now}: the clock only moves forward"),
        ));
    }
    let by = to - now;
    if by > Duration::days(MAX_MOVE_DAYS) {
        return Err(AppError::field(
            "to",
            "range",
            format!("may be at most {MAX_MOVE_DAYS} days ahead of the server's now"),
        ));
    }
    // Whole seconds, as stored, rounded up so the clock reaches `to`.
    let by = Duration::seconds(by.num_seconds() + i64::from(by.subsec_nanos() > 0));
    let who = who.to_owned();
    app.write(move |tx| {
        let stored: i64 = meta::get(tx.conn, MARK)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        meta::set(
            tx.conn,
            MARK,
            &(stored + by.num_seconds()).to_string(),
            tx.now,
        )?;
        tx.audit(
            &who,
            "demo_clock.advanced",
            "clock",
            "demo",
            Some(json!({"now": tx.now})),
            Some(json!({"now": tx.now + by})),
        )?;
        Ok(())
    })
    .await?;
    app.clock.shift(by);
    Ok(app.now())
}
