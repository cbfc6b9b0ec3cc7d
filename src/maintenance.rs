//! Periodic work shared by every instance: retention purges and sweeps.
//! Each job is idempotent, so several instances running it is harmless.

use actix_web::web;
use chrono::Duration;

use crate::state::AppState;
use crate::{booking, store};

/// One pass of every job; returns what each did, for the CLI and tests.
pub async fn run_once(state: &AppState) -> Result<Report, crate::db::DbError> {
    let now = state.now();
    let retention = state.settings.retention.clone();
    let mut report = state
        .db
        .run(move |conn| {
            let screening_cutoff = now - Duration::days(i64::from(retention.screening_days));
            Ok::<_, crate::db::DbError>(Report {
                holds_expired: booking::expire_lapsed(conn, now)?,
                screenings_purged: store::screenings::purge_unattached(conn, screening_cutoff)?,
                idempotency_records_purged: store::idempotency::purge_expired(conn, now)?,
                ..Report::default()
            })
        })
        .await?;
    report.payments_reconciled = crate::payments::reconcile::pending(state).await;
    Ok(report)
}

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub holds_expired: usize,
    pub payments_reconciled: usize,
    pub screenings_purged: usize,
    pub idempotency_records_purged: usize,
}

/// Runs [`run_once`] every `maintenance_interval` until cancelled.
pub async fn run_periodically(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(state.settings.maintenance_interval);
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
