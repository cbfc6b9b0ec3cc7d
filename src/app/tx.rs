//! A unit of work in progress, as the use cases see it (see
//! `app::unit_of_work` for how one is run).

use chrono::{DateTime, Utc};
use diesel::Connection;

use super::AppError;
use crate::cache::Stale;
use crate::db::DbConnection;

/// A unit of work in progress: the connection inside its transaction, the
/// instant the work happens at, and what it has made stale so far.
pub struct Tx<'c> {
    pub conn: &'c mut DbConnection,
    pub now: DateTime<Utc>,
    stale: Stale,
    /// Changes of consultations and deposits, (subject, change), for the
    /// metrics once committed.
    changes: Vec<(&'static str, String)>,
}

impl<'c> Tx<'c> {
    pub(super) fn new(conn: &'c mut DbConnection, now: DateTime<Utc>) -> Self {
        Self {
            conn,
            now,
            stale: Stale::default(),
            changes: Vec::new(),
        }
    }

    /// Runs `work` in a savepoint: its error rolls back its writes only.
    pub fn savepoint<T>(
        &mut self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let now = self.now;
        let mut stale = Stale::default();
        let mut changes = Vec::new();
        let result = self.conn.transaction(|conn| {
            let mut inner = Tx::new(conn, now);
            let result = work(&mut inner);
            stale = inner.stale;
            changes = inner.changes;
            result
        });
        if result.is_ok() {
            self.changes.extend(changes);
        }
        // A rolled-back savepoint may have marked answers stale: dropping
        // them anyway is harmless.
        self.stale.merge(stale);
        result
    }

    /// What the work has made stale so far.
    pub(super) fn stale(&self) -> Stale {
        self.stale
    }

    /// What the work has changed so far (see [`Tx::changed`]).
    pub(super) fn take_changes(&mut self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.changes)
    }

    /// Notes a change of a consultation or deposit, counted once committed.
    pub(super) fn changed(&mut self, subject: &'static str, change: &str) {
        self.changes.push((subject, change.to_owned()));
    }

    /// Notes that the cached answers of `stale` must go after the commit.
    pub fn invalidates(&mut self, stale: Stale) {
        self.stale.merge(stale);
    }
}
