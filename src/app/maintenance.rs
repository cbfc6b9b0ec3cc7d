//! Periodic work shared by every instance: sweeps and retention purges.
//! Each job is idempotent, so several instances running it is harmless.

use std::sync::Arc;

use chrono::Duration;

use super::{holds, notifications, privacy, refunds, stripe, App, AppError};
use crate::store;

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub holds_expired: usize,
    pub payments_reconciled: usize,
    pub refunds_made: usize,
    pub screenings_purged: usize,
    pub idempotency_records_purged: usize,
    pub ended_bookings_anonymised: usize,
    pub clients_anonymised: usize,
    pub rate_limit_windows_purged: usize,
    pub notifications_purged: usize,
}

/// One pass of every job; returns what each did, for the CLI and tests.
pub async fn run_once(app: &App) -> Result<Report, AppError> {
    let now = app.now();
    let retention = app.settings.retention.clone();
    // Ask the provider first, so a paid hold is confirmed rather than expired.
    let payments_reconciled = stripe::reconcile_pending(app).await;
    let refunds_made = refunds::retry_pending_refunds(app).await;
    let expired = holds::expire_lapsed(app).await?;
    let screening_cutoff = now - Duration::days(i64::from(retention.screening_days));
    let purged = app
        .write(move |tx| {
            Ok((
                store::screenings::purge_unattached(tx.conn, screening_cutoff)?,
                store::idempotency::purge_expired(tx.conn, tx.now)?,
                store::rate_limits::purge(tx.conn, tx.now - Duration::minutes(10))?,
            ))
        })
        .await?;
    let retained = privacy::purge_ended_bookings(
        app,
        now - Duration::days(i64::from(retention.ended_booking_days)),
    )
    .await?;
    let notifications_purged = notifications::purge(app).await?;
    // Withdraw the payment requests of expired holds, so they cannot be paid
    // later (one paid anyway is still applied, as credit or a confirmation).
    for payment in expired.iter().filter_map(|(_, p)| p.as_deref()) {
        if let Err(e) = app.payments.cancel_payment(payment).await {
            tracing::warn!(error = %e, "could not withdraw an expired hold's payment request");
        }
    }
    Ok(Report {
        holds_expired: expired.len(),
        payments_reconciled,
        refunds_made,
        screenings_purged: purged.0,
        idempotency_records_purged: purged.1,
        rate_limit_windows_purged: purged.2,
        ended_bookings_anonymised: retained.bookings,
        clients_anonymised: retained.clients,
        notifications_purged,
    })
}

/// Runs [`run_once`] every `maintenance_interval` until cancelled.
pub async fn run_periodically(app: Arc<App>) {
    let period = app.settings.maintenance_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_once(&app).await {
            Ok(report) if report != Report::default() => tracing::info!(?report, "maintenance"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "maintenance pass failed"),
        }
    }
}
