//! The unit of work: the one place a write transaction is opened.
//!
//! [`App::write`] runs a use case's reads and writes in one write
//! transaction (on SQLite it joins the group commit); the use case records
//! its audit events and outbox rows through the [`Tx`] it is given
//! (`app::audit`), so they commit with the change or not at all; after the
//! commit, the cached answers the change made stale are dropped.
//! [`App::write_once`] does the same for an idempotent request, claiming
//! its key and storing its answer inside the same transaction.

use chrono::Duration;

use super::idempotency::{self, IdempotentRequest, Render, Reply, Start};
use super::tx::Tx;
use super::{App, AppError};
use crate::db::write_transaction;

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
        let settings = self.settings.clone();
        let (value, stale, changes) = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let mut tx = Tx::new(conn, now, settings);
                    let value = work(&mut tx)?;
                    let changes = tx.take_changes();
                    Ok::<_, AppError>((value, tx.stale(), changes))
                })
            })
            .await?;
        self.cache.invalidate(stale);
        for (subject, change) in &changes {
            self.metrics.state_change(subject, change);
        }
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
        T: idempotency::Subject + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        let terms = self.idempotency_terms();
        let finished = self
            .write(move |tx| {
                let ticket = match idempotency::start(tx, request.as_ref(), terms)? {
                    Start::Replay(reply) => return Ok(Finished::Answered(reply)),
                    Start::Fresh(ticket) => ticket,
                };
                match tx.savepoint(work) {
                    Ok(value) => idempotency::answer(tx, ticket.as_ref(), &render, &value)
                        .map(Finished::Answered),
                    Err(e) => idempotency::settle_failure(tx, ticket.as_ref(), &render, e)
                        .map(Finished::Failed),
                }
            })
            .await?;
        match finished {
            Finished::Answered(reply) => Ok(reply),
            Finished::Failed(e) => Err(e),
        }
    }

    /// How long idempotent answers are kept, and attempts in flight across
    /// an outside call leased: the provider's time-out and a margin (an
    /// attempt still running then has given up on the provider).
    pub fn idempotency_terms(&self) -> idempotency::Terms {
        let provider = self
            .settings
            .stripe
            .as_ref()
            .map_or(std::time::Duration::from_secs(10), |s| s.timeout);
        idempotency::Terms {
            ttl: Duration::hours(i64::from(self.settings.retention.idempotency_hours)),
            lease: Duration::from_std(provider).unwrap_or(Duration::seconds(10))
                + Duration::seconds(5),
        }
    }
}
