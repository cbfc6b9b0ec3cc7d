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
    /// Changes of consultations and deposits, (subject, change), for the
    /// metrics once committed.
    changes: Vec<(&'static str, String)>,
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
            changes: Vec::new(),
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
        let mut changes = Vec::new();
        let result = self.conn.transaction(|conn| {
            let mut inner = Tx::new(conn, now, settings);
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
