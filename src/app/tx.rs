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
}

impl<'c> Tx<'c> {
    pub(super) fn new(conn: &'c mut DbConnection, now: DateTime<Utc>) -> Self {
        Self {
            conn,
            now,
            stale: Stale::default(),
        }
    }

    /// Runs `work` in a savepoint: its error rolls back its writes only.
    pub fn savepoint<T>(
        &mut self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let now = self.now;
        let mut stale = Stale::default();
        let result = self.conn.transaction(|conn| {
            let mut inner = Tx::new(conn, now);
            let result = work(&mut inner);
            stale = inner.stale;
            result
        });
        // A rolled-back savepoint may have marked answers stale: dropping
        // them anyway is harmless.
        self.stale.merge(stale);
        result
    }

    /// What the work has made stale so far.
    pub(super) fn stale(&self) -> Stale {
        self.stale
    }

    /// Notes that the cached answers of `stale` must go after the commit.
    pub fn invalidates(&mut self, stale: Stale) {
        self.stale.merge(stale);
    }
}
