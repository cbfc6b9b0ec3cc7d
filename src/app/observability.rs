//! The figures an operator scrapes: the pool's, and what the database
//! holds (backlogs, live holds), sampled now within a bound, then
//! everything the registry has (see `crate::metrics`).

use std::time::Duration;

use super::App;
use crate::db::DbError;
use crate::metrics::{Backlog, PoolFigures};
use crate::store;

/// The longest a scrape waits for the database's figures: a scrape of a
/// struggling database still answers, with `db_up` 0.
const SAMPLE_BOUND: Duration = Duration::from_millis(500);

/// The metrics text, with the sampled figures brought up to date.
pub async fn scrape(app: &App) -> String {
    let s = app.db.stats();
    app.metrics.set_pool(PoolFigures {
        max_size: u64::from(s.max_size),
        open: u64::from(s.connections),
        in_use: u64::from(s.in_use),
        waits: s.waits,
        wait_timeouts: s.wait_timeouts,
        broken_discarded: s.broken_discarded,
        deadlines_passed: s.deadlines_passed,
        statements: s.statements,
        storage_full: s.storage_full,
    });
    let now = app.now();
    let sample = app
        .db
        .run_within(SAMPLE_BOUND, move |conn| {
            let (outbox, pending, oldest) = store::deliveries::backlog(conn)?;
            let holds = store::consultations::live_holds(conn, now)?;
            Ok::<_, DbError>(Backlog {
                outbox_undispatched: outbox,
                deliveries_pending: pending,
                oldest_pending_age_s: oldest
                    .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0),
                holds_live: holds,
            })
        })
        .await;
    app.metrics.set_backlog(sample.ok());
    app.metrics.render()
}
