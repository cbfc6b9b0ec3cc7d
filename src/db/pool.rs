//! The pool: a handle on the database that runs blocking work off the
//! async executor, and the embedded migrations.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::migration::{Migration, MigrationSource};
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{ConnectionLimits, ConnectionManager, DatabaseUrl, DbConnection, DbError};
use super::deadline::{self, Abandoned, RunState};
use super::group_commit;

/// One migration tree for both backends (`migrations/`): the SQL is
/// portable (TEXT ids, TIMESTAMP in UTC, DATE, BIGINT money, BOOLEAN).
/// Where a change cannot be written once — SQLite cannot drop a UNIQUE
/// constraint without rebuilding the table — each backend has its own
/// migration of the same name in `migrations-sqlite/` and
/// `migrations-postgres/`; a test keeps those two trees naming the same
/// migrations, and apart from the common one.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations-sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations-postgres");

/// The common tree and one backend's own, applied as one, in version order.
struct Layered(&'static EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Layered
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        let mut all = MigrationSource::<DB>::migrations(&MIGRATIONS)?;
        all.extend(MigrationSource::<DB>::migrations(self.0)?);
        all.sort_unstable_by(|a, b| a.name().version().cmp(&b.name().version()));
        Ok(all)
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// How the pool is sized and how long anything may wait on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbOptions {
    pub pool_size: u32,
    /// The longest a request waits for a connection (a free one, or a
    /// new one while the database is coming back).
    pub checkout_timeout: Duration,
    /// Per-connection bounds (statement and lock timeouts, SQLite's cap).
    pub limits: ConnectionLimits,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            pool_size: 10,
            checkout_timeout: Duration::from_secs(2),
            limits: ConnectionLimits::default(),
        }
    }
}

impl DbOptions {
    /// The longest one `Db::run` waits before answering: the checkout, the
    /// work (each statement is bounded by the server's statement timeout;
    /// the work as a whole by the same figure here), and a second's grace
    /// so the server's own time-out, which rolls back cleanly, normally
    /// fires first.
    pub fn run_bound(&self) -> Duration {
        self.checkout_timeout + self.limits.statement_timeout + RUN_GRACE
    }
}

const RUN_GRACE: Duration = Duration::from_secs(1);

/// A PostgreSQL connection idle for longer than this is checked (one
/// round trip) before work is given it; under load connections come back
/// to the pool and go out again within microseconds and are not. A
/// connection used successfully less than this long ago can only be dead
/// if the server went down since, and then the request fails during the
/// outage whatever we do — unless the server was also back within this
/// time, which a PostgreSQL restart never is (stop + start of an empty
/// cluster takes a quarter of a second or more).
const VALIDATE_IF_IDLE_FOR: Duration = Duration::from_millis(10);

/// Counters and gauges of the pool, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub max_size: u32,
    /// Open connections (idle or in use).
    pub connections: u32,
    pub in_use: u32,
    /// Runs that found every connection busy and had to wait.
    pub waits: u64,
    /// Runs that gave up waiting for a connection.
    pub wait_timeouts: u64,
    /// Connections found dead (on checkout or on first error) and dropped.
    pub broken_discarded: u64,
    /// Runs abandoned at their deadline.
    pub deadlines_passed: u64,
    /// Whether the last write failed for lack of space (until one succeeds).
    pub storage_full: bool,
    /// Statements sent to the database (queries, `BEGIN`, `COMMIT`,
    /// savepoints), since start.
    pub statements: u64,
}

#[derive(Debug, Default)]
struct Shared {
    waits: AtomicU64,
    wait_timeouts: AtomicU64,
    broken_discarded: AtomicU64,
    deadlines_passed: AtomicU64,
    /// Bumped whenever a dead connection is found: every connection that
    /// last proved itself alive before that is checked before its next use.
    epoch: AtomicU64,
    storage_full: AtomicBool,
}

/// When a pooled connection last proved itself alive (kept with it).
#[derive(Debug, Clone, Copy)]
struct Proven {
    at: Instant,
    epoch: u64,
}

/// A handle on the database: a pool, and a way to run blocking work off the
/// async executor, every wait bounded.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    url: DatabaseUrl,
    options: DbOptions,
    manager: ConnectionManager,
    /// One permit per pooled connection: database work beyond that waits
    /// here, asynchronously, instead of piling up blocked threads.
    permits: Arc<tokio::sync::Semaphore>,
    /// SQLite only: the writer that write transactions run on, so that
    /// concurrent ones share a commit.
    group: Option<Arc<group_commit::GroupCommit>>,
    shared: Arc<Shared>,
}

/// Why the database could not be opened, naming the URL with the password masked.
#[derive(Debug, thiserror::Error)]
#[error("cannot open database {url}: {reason}")]
pub struct OpenError {
    pub url: String,
    pub reason: String,
}

impl Db {
    /// Opens a pool of `pool_size` connections with the default bounds.
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> Result<Self, OpenError> {
        Self::open_with(
            url,
            DbOptions {
                pool_size,
                ..DbOptions::default()
            },
        )
    }

    /// Opens a pool, creating the SQLite file and its folder when missing,
    /// and checks that one connection works.
    pub fn open_with(url: &DatabaseUrl, options: DbOptions) -> Result<Self, OpenError> {
        let fail = |reason: String| OpenError {
            url: url.masked(),
            reason,
        };
        if let DatabaseUrl::Sqlite(path) = url {
            ensure_parent_dir(path).map_err(|e| fail(e.to_string()))?;
        }
        let manager = ConnectionManager::with_limits(url.clone(), options.limits);
        let group = url
            .is_sqlite()
            .then(|| Arc::new(group_commit::GroupCommit::new(manager.clone())));
        // Check one connection first, so a bad URL is one clear line.
        manager
            .connect()
            .map_err(|e| fail(first_line(&e.to_string())))?;
        // No check by the pool on every checkout: `checkout` checks a
        // PostgreSQL connection only when it may be stale.
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .test_on_check_out(false)
            .connection_timeout(options.checkout_timeout)
            .build(manager.clone())
            .map_err(|e| fail(first_line(&e.to_string())))?;
        Ok(Self {
            pool,
            url: url.clone(),
            options,
            manager,
            permits: Arc::new(tokio::sync::Semaphore::new(options.pool_size as usize)),
            group,
            shared: Arc::default(),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// A connection for blocking code (CLI commands, tests, background work
    /// already off the executor), checked as `run` checks it.
    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.checkout(Instant::now() + self.options.checkout_timeout)
    }

    /// A live connection from the pool, waiting until `deadline` at most.
    ///
    /// A PostgreSQL connection that may be stale (idle for a while, or
    /// older than a connection loss seen since) is checked with one round
    /// trip first; a dead one is dropped and the next one tried, down to a
    /// freshly opened one. Nothing of the caller's work has run yet, so
    /// this retry is safe for reads and writes alike.
    fn checkout(&self, deadline: Instant) -> Result<PooledConn, DbError> {
        let attempts = self.options.pool_size + 1;
        let mut last = None;
        for _ in 0..attempts {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut conn = self.pool.get_timeout(remaining)?;
            if !self.may_be_stale(&conn) {
                return Ok(conn);
            }
            match diesel::sql_query("SELECT 1").execute(&mut *conn) {
                Ok(_) => {
                    self.proven(&mut conn);
                    return Ok(conn);
                }
                Err(e) => {
                    let _ = super::connection::take_observed();
                    last = Some(e.to_string());
                    self.discard(conn);
                }
            }
        }
        Err(DbError::Unavailable(format!(
            "no live connection after {attempts} attempts: {}",
            last.unwrap_or_default()
        )))
    }

    fn may_be_stale(&self, conn: &PooledConn) -> bool {
        if self.url.is_sqlite() {
            return false;
        }
        match PooledConnection::extensions(conn).get::<Proven>() {
            // Never used: the pool may have opened it long ago.
            None => true,
            Some(p) => {
                p.epoch != self.shared.epoch.load(Ordering::SeqCst)
                    || p.at.elapsed() >= VALIDATE_IF_IDLE_FOR
            }
        }
    }

    fn proven(&self, conn: &mut PooledConn) {
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        PooledConnection::extensions_mut(conn).insert(Proven {
            at: Instant::now(),
            epoch,
        });
    }

    /// Drops a dead connection rather than returning it to the pool, and
    /// makes every other one prove itself before its next use.
    fn discard(&self, conn: PooledConn) {
        super::connection::discard_on_checkin();
        drop(conn);
        self.shared.broken_discarded.fetch_add(1, Ordering::Relaxed);
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs blocking database work on the blocking thread pool. On SQLite,
    /// its write transactions join the group commit.
    ///
    /// Every wait is bounded ([`DbOptions::run_bound`]): for a free
    /// connection (`checkout_timeout`), for the work (the server's
    /// statement and lock timeouts, and this side's deadline for a server
    /// that stopped answering altogether). Past the deadline the caller
    /// gets [`DbError::Timeout`] and the work, wherever it is stuck, rolls
    /// back rather than commits (`db::deadline`).
    ///
    /// The work runs at most once. The rule for retrying: only what is
    /// known not to have committed may run again, and here that is only
    /// the checkout — a dead pooled connection is found before the work is
    /// given it and another one taken (see `checkout`). Once the work has
    /// started, a lost connection fails the run (503) instead: the work is
    /// an `FnOnce` that may have done things besides queries, and a loss
    /// at `COMMIT` leaves the outcome unknown, so running it again could
    /// do a write twice. A connection that failed that way is discarded.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run_within(self.options.run_bound(), work).await
    }

    /// [`Db::run`] with a tighter bound (readiness answers within a second).
    pub async fn run_within<T, E, F>(&self, bound: Duration, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let started = Instant::now();
        let checkout_deadline = started + self.options.checkout_timeout.min(bound);
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(DbError::Unavailable("the database handle is closed".into()).into())
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.shared.waits.fetch_add(1, Ordering::Relaxed);
                let wait = tokio::time::timeout_at(
                    checkout_deadline.into(),
                    self.permits.clone().acquire_owned(),
                );
                match wait.await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => {
                        return Err(
                            DbError::Unavailable("the database handle is closed".into()).into()
                        )
                    }
                    Err(_) => {
                        self.shared.wait_timeouts.fetch_add(1, Ordering::Relaxed);
                        return Err(DbError::Timeout(format!(
                            "no database connection came free within {} ms",
                            checkout_deadline.duration_since(started).as_millis()
                        ))
                        .into());
                    }
                }
            }
        };
        let db = self.clone();
        let state = Arc::new(RunState::default());
        let worker_state = state.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _deadline = deadline::enter(worker_state.clone());
            let _group = db.group.as_ref().map(group_commit::enter);
            let mut conn = db.checkout(checkout_deadline)?;
            if worker_state.is_abandoned() {
                return Err(
                    DbError::Timeout("the request gave up before its work started".into()).into(),
                );
            }
            let _ = super::connection::take_observed();
            let result = work(&mut conn);
            let seen = super::connection::take_observed();
            if seen.lost_connection {
                db.discard(conn);
            } else if result.is_ok() {
                db.proven(&mut conn);
            }
            if seen.storage_full {
                db.shared.storage_full.store(true, Ordering::SeqCst);
            } else if result.is_ok() && worker_state.reached_commit() {
                db.shared.storage_full.store(false, Ordering::SeqCst);
            }
            result
        });
        let remaining = bound.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, task).await {
            Ok(joined) => joined.unwrap_or_else(|join| {
                Err(DbError::Other(format!("database task failed: {join}")).into())
            }),
            Err(_) => {
                self.shared.deadlines_passed.fetch_add(1, Ordering::Relaxed);
                let ms = bound.as_millis();
                Err(match state.abandon() {
                    Abandoned::RolledBack => DbError::Timeout(format!(
                        "the database did not answer within {ms} ms; the work was rolled back"
                    )),
                    Abandoned::MayHaveCommitted => DbError::Timeout(format!(
                        "the database did not confirm the commit within {ms} ms; it may have been saved"
                    )),
                }
                .into())
            }
        }
    }

    /// The pool's figures now.
    pub fn stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            max_size: self.options.pool_size,
            connections: state.connections,
            in_use: state.connections.saturating_sub(state.idle_connections),
            waits: self.shared.waits.load(Ordering::Relaxed),
            wait_timeouts: self.shared.wait_timeouts.load(Ordering::Relaxed),
            broken_discarded: self.shared.broken_discarded.load(Ordering::Relaxed),
            deadlines_passed: self.shared.deadlines_passed.load(Ordering::Relaxed),
            storage_full: self.storage_full(),
            statements: self.manager.statements_sent(),
        }
    }

    /// Whether the last write that ended failed for lack of space, and no
    /// write has committed since.
    pub fn storage_full(&self) -> bool {
        self.shared.storage_full.load(Ordering::SeqCst)
    }

    /// Applies pending migrations (idempotent; safe with several
    /// instances), on a connection of its own without the statement and
    /// lock timeouts: a migration may rewrite a large table, and waits for
    /// another instance's migration to finish.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self
            .manager
            .limited(ConnectionLimits {
                sqlite_max_bytes: self.options.limits.sqlite_max_bytes,
                ..ConnectionLimits::UNBOUNDED
            })
            .connect()
            .map_err(|e| DbError::Unavailable(first_line(&e.to_string())))?;
        run_migrations(&mut conn)
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}

fn ensure_parent_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// Runs the embedded migrations of the connection's backend. On PostgreSQL an
/// advisory lock serialises instances starting at the same time.
pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let migrate_err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Other(e.to_string());
    match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(Layered(&SQLITE_MIGRATIONS))
            .map(|v| v.len())
            .map_err(migrate_err),
        DbConnection::Postgres(c) => {
            diesel::sql_query("SELECT pg_advisory_lock(7235081)").execute(c)?;
            let result = c
                .run_pending_migrations(Layered(&POSTGRES_MIGRATIONS))
                .map(|v| v.len())
                .map_err(migrate_err);
            diesel::sql_query("SELECT pg_advisory_unlock(7235081)").execute(c)?;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &EmbeddedMigrations) -> Vec<String> {
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(m)
            .unwrap()
            .iter()
            .map(|m| m.name().to_string())
            .collect()
    }

    #[test]
    fn the_backend_trees_name_the_same_migrations_and_none_of_the_common_ones() {
        let (sqlite, postgres) = (names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS));
        assert_eq!(
            sqlite, postgres,
            "each backend-specific change is written for both"
        );
        let common = names(&MIGRATIONS);
        let version = |n: &String| n.split('_').next().unwrap_or("").to_owned();
        for n in &sqlite {
            assert!(
                !common.iter().any(|c| version(c) == version(n)),
                "{n} is both common and backend-specific"
            );
        }
    }
}
