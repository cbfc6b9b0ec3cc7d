//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! embedded migrations, and the one place backend-specific SQL is chosen.

mod group_commit;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// A connection to either supported database.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the data lives, decided from the URL scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq as is.
    Postgres(String),
}

impl DatabaseUrl {
    pub const DEFAULT: &'static str = "sqlite://data/clinic.db";

    pub fn default_sqlite() -> Self {
        Self::parse(Self::DEFAULT).expect("the default database URL is valid")
    }

    /// Parses a database URL; the error says what is accepted.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") {
                return Err("expected sqlite://path/to/file.db (a file; in-memory databases are not shared between connections)".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err("unsupported scheme; expected sqlite://path/to/file.db or postgres://user:password@host/db".into())
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The URL for messages, with any password masked.
    pub fn masked(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => mask_password(url),
        }
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Database failures, classified for the caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// A unique constraint rejected the write; carries the constraint or message.
    #[error("unique violation: {0}")]
    UniqueViolation(String),
    #[error("foreign key violation: {0}")]
    ForeignKeyViolation(String),
    #[error("check violation: {0}")]
    CheckViolation(String),
    /// A lock or serialisation conflict that a retry may resolve.
    #[error("database busy")]
    Busy,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Other(String),
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_owned();
                let detail = info
                    .constraint_name()
                    .map(str::to_owned)
                    .unwrap_or(message.clone());
                match kind {
                    DatabaseErrorKind::UniqueViolation => Self::UniqueViolation(detail),
                    DatabaseErrorKind::ForeignKeyViolation => Self::ForeignKeyViolation(detail),
                    DatabaseErrorKind::CheckViolation => Self::CheckViolation(detail),
                    DatabaseErrorKind::SerializationFailure => Self::Busy,
                    DatabaseErrorKind::ClosedConnection => Self::Unavailable(message),
                    _ if is_busy_message(&message) => Self::Busy,
                    // PostgreSQL exclusion constraints report SQLSTATE 23P01,
                    // which diesel classifies as "unknown".
                    _ if message
                        .contains("conflicting key value violates exclusion constraint") =>
                    {
                        Self::UniqueViolation(detail)
                    }
                    _ => Self::Other(message),
                }
            }
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

fn is_busy_message(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database table is locked")
        || message.contains("deadlock detected")
}

/// Opens connections of the variant chosen by the URL, with per-connection settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // The busy timeout first (so the rest wait for locks rather
                // than fail), makes writers queue instead of failing at once;
                // WAL lets readers run beside the single writer; FULL makes a
                // committed booking survive power loss.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// A connection returned while unwinding from a panic, or with a
    /// transaction still open, is discarded rather than reused.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// A handle on the database: a pool, and a way to run blocking work off the
/// async executor.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    url: DatabaseUrl,
    /// One permit per pooled connection: database work beyond that waits
    /// here, asynchronously, instead of piling up blocked threads.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// SQLite only: the writer that write transactions run on, so that
    /// concurrent ones share a commit.
    group: Option<std::sync::Arc<group_commit::GroupCommit>>,
}

/// Why the database could not be opened, naming the URL with the password masked.
#[derive(Debug, thiserror::Error)]
#[error("cannot open database {url}: {reason}")]
pub struct OpenError {
    pub url: String,
    pub reason: String,
}

impl Db {
    /// Opens a pool, creating the SQLite file and its folder when missing,
    /// and checks that one connection works.
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> Result<Self, OpenError> {
        let fail = |reason: String| OpenError {
            url: url.masked(),
            reason,
        };
        if let DatabaseUrl::Sqlite(path) = url {
            ensure_parent_dir(path).map_err(|e| fail(e.to_string()))?;
        }
        let manager = ConnectionManager { url: url.clone() };
        let group = url
            .is_sqlite()
            .then(|| std::sync::Arc::new(group_commit::GroupCommit::new(manager.clone())));
        // Check one connection first, so a bad URL is one clear line.
        manager
            .connect()
            .map_err(|e| fail(first_line(&e.to_string())))?;
        // No check on checkout: a broken connection shows as an error on
        // first use (and is discarded), and the check costs a round trip on
        // every request.
        let pool = Pool::builder()
            .max_size(pool_size)
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| fail(first_line(&e.to_string())))?;
        Ok(Self {
            pool,
            url: url.clone(),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(pool_size as usize)),
            group,
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// A connection for blocking code (CLI commands, tests, background work
    /// already off the executor).
    pub fn conn(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking database work on the blocking thread pool. On SQLite,
    /// its write transactions join the group commit.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let group = self.group.clone();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DbError::Unavailable("the database handle is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _group = group.as_ref().map(group_commit::enter);
            let mut conn = pool.get().map_err(DbError::from)?;
            work(&mut conn)
        })
        .await
        .unwrap_or_else(|join| Err(DbError::Other(format!("database task failed: {join}")).into()))
    }

    /// Applies pending migrations (idempotent; safe with several instances).
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.conn()?;
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
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len())
            .map_err(migrate_err),
        DbConnection::Postgres(c) => {
            diesel::sql_query("SELECT pg_advisory_lock(7235081)").execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(migrate_err);
            diesel::sql_query("SELECT pg_advisory_unlock(7235081)").execute(c)?;
            result
        }
    }
}

/// The queue of SQLite writers outside `Db::run` (start-up and CLI
/// commands; tests share it harmlessly).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` in a transaction that takes the write lock up front on SQLite
/// (`BEGIN IMMEDIATE`, so a read-then-write cannot interleave with another
/// writer) and a normal transaction on PostgreSQL, where constraints and row
/// locks decide races. Inside `work`, `conn.transaction` (or another
/// `write_transaction`) nests as a savepoint.
///
/// Under `Db::run` on SQLite, `work` runs on the database's writer
/// connection as part of a group commit (see `group_commit`): concurrent
/// write transactions share one `COMMIT` and its fsync, and this returns
/// once that commit is done.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let DbConnection::Sqlite(inner) = conn else {
        return conn.transaction(work);
    };
    if group_commit::in_job() {
        return conn.transaction(work);
    }
    if let Some(group) = group_commit::current() {
        return group.run(work);
    }
    // SQLite has one writer at a time. Writers of this process queue on a
    // mutex rather than in SQLite's busy handler, which sleeps in growing
    // steps and leaves the lock idle while waiters doze. (Other processes
    // on the same file still wait in the busy handler.)
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner());
    // The enum's transaction manager delegates to the inner connection's,
    // so beginning there and committing through the enum keeps diesel's
    // bookkeeping consistent.
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(err),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Runs a diesel query on the backend's own connection instead of through
/// the `DbConnection` enum. Through the enum, diesel turns the query into
/// SQL text on every call, cached statement or not (a fifth of a booking's
/// instructions, BENCHMARKS.md); on the backend's connection a cached
/// statement is found by the query's type. The expression is written once
/// and compiled for each backend:
///
/// ```ignore
/// native!(conn, |db| diesel::insert_into(t::table).values(&row).execute(db))?;
/// ```
#[macro_export]
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}

/// Which backend a connection talks to, for the few places SQL differs.
pub fn is_postgres(conn: &DbConnection) -> bool {
    matches!(conn, DbConnection::Postgres(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/clinic.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/clinic.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/clinic.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/clinic.db"))
        );
        assert!(DatabaseUrl::parse("postgresql://u@h/db").is_ok());
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("clinic.db").is_err());
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://app:s3cret@db:5432/clinic"),
            "postgres://app:***@db:5432/clinic"
        );
        assert_eq!(
            mask_password("postgres://app@db/clinic"),
            "postgres://app@db/clinic"
        );
        assert_eq!(
            mask_password("postgres://a:p@ss@db/x"),
            "postgres://a:***@db/x"
        );
    }
}
