//! The unit of work: the one place a write transaction is opened.
//!
//! [`App::write`] runs a use case's reads and writes in one write
//! transaction (on SQLite it joins the group commit); the use case records
//! its audit events and outbox rows through the [`Tx`] it is given
//! (`app::audit`), so they commit with the change or not at all; after the
//! commit, the cached answers the change made stale are dropped.
//! [`App::write_once`] does the same for an idempotent request, claiming
//! its key and storing its answer inside the same transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::Connection;

use super::idempotency::{self, Claim, IdempotentRequest, Render, Reply};
use super::{App, AppError};
use crate::cache::Stale;
use crate::db::{write_transaction, DbConnection};

/// A unit of work in progress: the connection inside its transaction, the
/// instant the work happens at, and what it has made stale so far.
pub struct Tx<'c> {
    pub conn: &'c mut DbConnection,
    pub now: DateTime<Utc>,
    stale: Stale,
}

impl<'c> Tx<'c> {
    fn new(conn: &'c mut DbConnection, now: DateTime<Utc>) -> Self {
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

    /// Notes that the cached answers of `stale` must go after the commit.
    pub fn invalidates(&mut self, stale: Stale) {
        self.stale.merge(stale);
    }
}

/// How a unit of work for an idempotent request ended.
enum Finished {
    Answered(Reply),
    /// The request failed; its answer was stored (a replay repeats it).
    Failed(AppError),
}

impl App {
    /// Runs `work` as one unit of work.
    pub async fn write<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        let now = self.now();
        let (value, stale) = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let mut tx = Tx::new(conn, now);
                    let value = work(&mut tx)?;
                    Ok::<_, AppError>((value, tx.stale))
                })
            })
            .await?;
        self.cache.invalidate(stale);
        Ok(value)
    }

    /// Runs `work` as one unit of work for a request that may carry an
    /// `Idempotency-Key`: the key is claimed, the work runs in a savepoint,
    /// and its answer (rendered by `render`, a failure's too unless it is
    /// the server's) is stored in the same transaction.
    pub async fn write_once<T, F>(
        &self,
        request: Option<IdempotentRequest>,
        render: Render<T>,
        work: F,
    ) -> Result<Reply, AppError>
    where
        T: 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        let ttl = self.idempotency_ttl();
        let finished = self
            .write(move |tx| {
                let ticket = match &request {
                    None => None,
                    Some(r) => match idempotency::claim(tx, r, ttl)? {
                        Claim::Proceed(ticket) => Some(ticket),
                        Claim::Replay(response) => {
                            let reply = Reply {
                                response,
                                replayed: true,
                            };
                            return Ok(Finished::Answered(reply));
                        }
                    },
                };
                match tx.savepoint(work) {
                    Ok(value) => {
                        let response = (render.ok)(&value)?;
                        if let Some(t) = &ticket {
                            idempotency::complete(tx, t, &response)?;
                        }
                        let reply = Reply {
                            response,
                            replayed: false,
                        };
                        Ok(Finished::Answered(reply))
                    }
                    Err(e) => match &ticket {
                        Some(t) if idempotency::complete_failure(tx, t, &render, &e)? => {
                            Ok(Finished::Failed(e))
                        }
                        _ => Err(e),
                    },
                }
            })
            .await?;
        match finished {
            Finished::Answered(reply) => Ok(reply),
            Finished::Failed(e) => Err(e),
        }
    }

    /// How long idempotent answers are kept.
    pub fn idempotency_ttl(&self) -> Duration {
        Duration::hours(i64::from(self.settings.retention.idempotency_hours))
    }
}
