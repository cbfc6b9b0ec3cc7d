//! A unit of work in progress, as the use cases see it (see
//! `app::unit_of_work` for how one is run).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::Connection;

use super::AppError;
use crate::cache::Stale;
use crate::config::Settings;
use crate::db::DbConnection;

/// A unit of work in progress: the connection inside its transaction, the
/// instant the work happens at, the settings the recorded changes consult
/// (the notifications they plan), and what it has made stale so far.
pub struct Tx<'c> {
    pub conn: &'c mut DbConnection,
    pub now: DateTime<Utc>,
    settings: Arc<Settings>,
    stale: Stale,
}

impl<'c> Tx<'c> {
    pub(super) fn new(
        conn: &'c mut DbConnection,
        now: DateTime<Utc>,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
            conn,
            now,
            settings,
            stale: Stale::default(),
        }
    }

    /// The settings of the unit of work's application.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// Runs `work` in a savepoint: its error rolls back its writes only.
    pub fn savepoint<T>(
        &mut self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let now = self.now;
        let settings = self.settings.clone();
        let mut stale = Stale::default();
        let result = self.conn.transaction(|conn| {
            let mut inner = Tx::new(conn, now, settings);
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
