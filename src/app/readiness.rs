//! Whether this instance can serve: the database answers, and (once a
//! write has failed for lack of space) writes succeed again. Answered
//! within [`READY_BOUND`] whatever the database does.

use std::time::{Duration, Instant};

use super::{App, AppError};
use crate::store;

/// The longest a readiness check takes.
pub const READY_BOUND: Duration = Duration::from_millis(800);

/// Why the instance is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The database did not answer, or not in time.
    DatabaseDown,
    /// Writes fail: the database or its disk is full.
    StorageFull,
}

pub async fn check(app: &App) -> Result<(), NotReady> {
    let started = Instant::now();
    let remaining = || READY_BOUND.saturating_sub(started.elapsed());
    app.db
        .run_within(remaining(), store::meta::ping)
        .await
        .map_err(|_| NotReady::DatabaseDown)?;
    if !app.db.storage_full() {
        return Ok(());
    }
    // A write failed for lack of space and none has committed since: try
    // one (its success clears the state, and the instance is ready again
    // without a restart once space is freed).
    let probe = app.write(|tx| Ok::<_, AppError>(store::meta::probe_write(tx.conn, tx.now)?));
    match tokio::time::timeout(remaining(), probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(AppError::Database(crate::db::DbError::StorageFull(_)))) => {
            Err(NotReady::StorageFull)
        }
        Ok(Err(_)) | Err(_) => Err(NotReady::DatabaseDown),
    }
}
