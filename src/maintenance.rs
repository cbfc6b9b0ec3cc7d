//! Periodic work shared by every instance: retention purges and sweeps.
//! Each job is idempotent, so several instances running it is harmless.

use actix_web::web;
use chrono::Duration;

use crate::db::write_transaction;
use crate::state::AppState;
use crate::{booking, store};

/// One pass of every job; returns what each did, for the CLI and tests.
pub async fn run_once(state: &AppState) -> Result<Report, crate::db::DbError> {
    let now = state.now();
    let retention = state.settings.retention.clone();
    // Ask the provider first, so a paid hold is confirmed rather than expired.
    let payments_reconciled = crate::payments::reconcile::pending(state).await;
    let refunds_made = crate::deposits::retry_pending_refunds(state).await;
    let (report, withdrawn) = state
        .db
        .run(move |conn| {
            let screening_cutoff = now - Duration::days(i64::from(retention.screening_days));
            let expired = booking::expire_lapsed(conn, now)?;
            let mut withdrawn = Vec::new();
            for id in &expired {
                if let Some(payment) =
                    store::deposits::by_consultation(conn, id)?.and_then(|d| d.provider_payment_id)
                {
                    withdrawn.push(payment);
                }
            }
            let report = Report {
                holds_expired: expired.len(),
                payments_reconciled,
                refunds_made,
                screenings_purged: write_transaction(conn, |conn| {
                    store::screenings::purge_unattached(conn, screening_cutoff)
                })?,
                idempotency_records_purged: write_transaction(conn, |conn| {
                    store::idempotency::purge_expired(conn, now)
                })?,
                rate_limit_windows_purged: write_transaction(conn, |conn| {
                    store::rate_limits::purge(conn, now - Duration::minutes(10))
                })?,
                ended_bookings_anonymised: crate::privacy::purge_ended_bookings(
                    conn,
                    now - Duration::days(i64::from(retention.ended_booking_days)),
                    now,
                )?,
            };
            Ok::<_, crate::db::DbError>((report, withdrawn))
        })
        .await?;
    // Withdraw the payment requests of expired holds, so they cannot be paid
    // later (one paid anyway is still applied, as credit or a confirmation).
    for payment in withdrawn {
        if let Err(e) = state.payments.cancel_payment(&payment).await {
            tracing::warn!(error = %e, "could not withdraw an expired hold's payment request");
        }
    }
    Ok(report)
}

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub holds_expired: usize,
    pub payments_reconciled: usize,
    pub refunds_made: usize,
    pub screenings_purged: usize,
    pub idempotency_records_purged: usize,
    pub ended_bookings_anonymised: usize,
    pub rate_limit_windows_purged: usize,
}

/// Runs [`run_once`] every `maintenance_interval` until cancelled.
pub async fn run_periodically(state: web::Data<AppState>) {
    let period = state.settings.maintenance_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_once(&state).await {
            Ok(report) if report != Report::default() => tracing::info!(?report, "maintenance"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "maintenance pass failed"),
        }
    }
}
