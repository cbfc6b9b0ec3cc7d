//! Connections: one type over SQLite and PostgreSQL (chosen by the URL's
//! scheme), their per-connection settings, database errors classified for
//! the caller, and the one way a query runs (`native!`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::r2d2::ManageConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

/// A connection to either supported database.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

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
    /// The database cannot be reached, or the connection to it was lost.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bound on waiting ran out: no connection came free in time, a
    /// statement or lock timeout on the server, or the unit of work's own
    /// deadline. Nothing was committed unless the message says otherwise.
    #[error("database timeout: {0}")]
    Timeout(String),
    /// The database (or the disk under it) is full: writes fail until
    /// space is freed.
    #[error("database storage full: {0}")]
    StorageFull(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Other(String),
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        let classified = classify(err);
        observe(&classified);
        classified
    }
}

/// Sorts a diesel error into what the caller can do about it. The driver
/// gives a kind for constraint and (PostgreSQL, best effort) closed-
/// connection errors; the rest is told apart by the message, which both
/// backends keep stable (PostgreSQL's primary messages, SQLite's
/// `sqlite3_errstr` texts).
fn classify(err: DieselError) -> DbError {
    match err {
        DieselError::NotFound => DbError::NotFound,
        DieselError::DatabaseError(kind, info) => {
            let message = info.message().to_owned();
            let detail = info
                .constraint_name()
                .map(str::to_owned)
                .unwrap_or(message.clone());
            match kind {
                DatabaseErrorKind::UniqueViolation => DbError::UniqueViolation(detail),
                DatabaseErrorKind::ForeignKeyViolation => DbError::ForeignKeyViolation(detail),
                DatabaseErrorKind::CheckViolation => DbError::CheckViolation(detail),
                DatabaseErrorKind::SerializationFailure => DbError::Busy,
                // libpq could not send the query (no connection), or the
                // connection's status went bad while it ran.
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    DbError::Unavailable(message)
                }
                _ => classify_message(message),
            }
        }
        // Rolling back failed, so the connection's state is unknown: it
        // was lost mid-transaction.
        DieselError::BrokenTransactionManager => {
            DbError::Unavailable("the connection was lost inside a transaction".into())
        }
        other => DbError::Other(other.to_string()),
    }
}

fn classify_message(message: String) -> DbError {
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(LOST_CONNECTION) {
        DbError::Unavailable(message)
    } else if has(TIMED_OUT) {
        DbError::Timeout(message)
    } else if has(FULL) {
        DbError::StorageFull(message)
    } else if has(BUSY) {
        DbError::Busy
    } else {
        DbError::Other(message)
    }
}

/// The connection is gone or the server is not accepting work (libpq's
/// messages, and PostgreSQL's for SQLSTATE 57P01–57P03 and class 08).
const LOST_CONNECTION: &[&str] = &[
    "no connection to the server",
    "server closed the connection unexpectedly",
    "terminating connection",
    "could not receive data from server",
    "could not send data to server",
    "connection to server",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "ssl connection has been closed unexpectedly",
    "connection refused",
    "broken pipe",
    "connection reset by peer",
    "server conn crashed",
    "the database ended the shared transaction",
];

/// A bound ran out: PostgreSQL's `statement_timeout` and `lock_timeout`
/// (SQLSTATE 57014, 55P03), a cancel request, or this process's deadline.
const TIMED_OUT: &[&str] = &[
    "canceling statement due to statement timeout",
    "canceling statement due to lock timeout",
    "canceling statement due to user request",
    DEADLINE_PASSED,
];

/// SQLite's SQLITE_FULL; PostgreSQL's disk_full (53100) and failed extends.
const FULL: &[&str] = &[
    "database or disk is full",
    "no space left on device",
    "could not extend file",
];

const BUSY: &[&str] = &[
    "database is locked",
    "database table is locked",
    "deadlock detected",
];

/// The message of the error a unit of work gets when its deadline passed
/// before it committed (see `db::deadline`): it is classified as a timeout.
pub(super) const DEADLINE_PASSED: &str = "the unit of work's deadline passed before it committed";

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

thread_local! {
    /// What this thread's database errors have said since the last
    /// [`take_observed`]: `Db::run` reads it after the work, whatever the
    /// work made of its errors, to discard a lost connection and to note a
    /// full disk.
    static OBSERVED: std::cell::Cell<Observed> = const { std::cell::Cell::new(Observed::NOTHING) };
    /// Set when the connection about to be checked in must be discarded.
    static DISCARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The connection-level failures seen on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observed {
    pub lost_connection: bool,
    pub storage_full: bool,
}

impl Observed {
    const NOTHING: Self = Self {
        lost_connection: false,
        storage_full: false,
    };
}

fn observe(e: &DbError) {
    OBSERVED.with(|o| {
        let mut seen = o.get();
        match e {
            DbError::Unavailable(_) => seen.lost_connection = true,
            DbError::StorageFull(_) => seen.storage_full = true,
            _ => return,
        }
        o.set(seen);
    });
}

/// What this thread's database errors said since the last call (and forget it).
pub(super) fn take_observed() -> Observed {
    OBSERVED.with(|o| o.replace(Observed::NOTHING))
}

/// What this thread's database errors said since the last
/// [`take_observed`], without forgetting it.
pub(super) fn peek_observed() -> Observed {
    OBSERVED.with(|o| o.get())
}

/// Makes the pool drop the next connection this thread checks in (instead
/// of keeping it for the next request).
pub(super) fn discard_on_checkin() {
    DISCARD.with(|d| d.set(true));
}

/// Per-connection settings: how long a statement may run and how long it
/// may wait for a lock, and (SQLite) a cap on the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// PostgreSQL `statement_timeout`. Zero: none.
    pub statement_timeout: std::time::Duration,
    /// PostgreSQL `lock_timeout`; SQLite `busy_timeout`. Zero: none
    /// (PostgreSQL) or fail at once (SQLite).
    pub lock_timeout: std::time::Duration,
    /// SQLite only: the most bytes the database file may grow to (by
    /// `max_page_count`); a write past it fails as if the disk were full.
    pub sqlite_max_bytes: Option<u64>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            statement_timeout: std::time::Duration::from_secs(5),
            lock_timeout: std::time::Duration::from_secs(2),
            sqlite_max_bytes: None,
        }
    }
}

impl ConnectionLimits {
    /// No bounds: for migrations, which may rewrite large tables and wait
    /// for another instance's migration lock.
    pub const UNBOUNDED: Self = Self {
        statement_timeout: std::time::Duration::ZERO,
        lock_timeout: std::time::Duration::ZERO,
        sqlite_max_bytes: None,
    };
}

/// Opens connections of the variant chosen by the URL, with per-connection settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    limits: ConnectionLimits,
    /// Statements sent on every connection this manager opened.
    statements: Arc<AtomicU64>,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self::with_limits(url, ConnectionLimits::default())
    }

    pub fn with_limits(url: DatabaseUrl, limits: ConnectionLimits) -> Self {
        Self {
            url,
            limits,
            statements: Arc::default(),
        }
    }

    /// The same database with other limits (its statements counted with
    /// this manager's).
    pub fn limited(&self, limits: ConnectionLimits) -> Self {
        Self {
            url: self.url.clone(),
            limits,
            statements: self.statements.clone(),
        }
    }

    /// Statements sent so far on this manager's connections: every query,
    /// and each `BEGIN`, `COMMIT` and savepoint (each is one round trip
    /// to PostgreSQL).
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// Counts the statements a connection sends; with
/// `RUST_LOG=clinic_api::db::sql=trace` it also logs each one.
struct CountStatements(Arc<AtomicU64>);

impl Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(target: "clinic_api::db::sql", "{query}");
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let limits = self.limits;
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(CountStatements(self.statements.clone()));
                // The busy timeout first (so the rest wait for locks rather
                // than fail), makes writers of other processes queue
                // instead of failing at once, for a bounded time; WAL lets
                // readers run beside the single writer; FULL makes a
                // committed booking survive power loss.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                    limits.lock_timeout.as_millis()
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                if let Some(bytes) = limits.sqlite_max_bytes {
                    cap_sqlite_size(&mut conn, bytes).map_err(diesel::r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(CountStatements(self.statements.clone()));
                // Set on the session, so every statement of every request
                // is bounded on the server itself: past the bound it
                // fails (57014 / 55P03), the transaction rolls back and the
                // request gets a 503.
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}; SET lock_timeout = {};",
                    limits.statement_timeout.as_millis(),
                    limits.lock_timeout.as_millis()
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// A connection returned while unwinding from a panic, with a
    /// transaction still open, or after its server went away (see
    /// [`discard_on_checkin`]) is discarded rather than reused.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        let discard = DISCARD.with(|d| d.replace(false));
        discard || std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Caps an SQLite database at `bytes` (SQLite's `max_page_count`, which is
/// per connection): past it a write fails with SQLITE_FULL, "database or
/// disk is full", exactly as on a full disk.
fn cap_sqlite_size(conn: &mut SqliteConnection, bytes: u64) -> diesel::QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct PageSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        page_size: i64,
    }
    let page = diesel::sql_query("PRAGMA page_size")
        .get_result::<PageSize>(conn)?
        .page_size
        .max(512) as u64;
    conn.batch_execute(&format!(
        "PRAGMA max_page_count = {}",
        (bytes / page).max(1)
    ))
}

/// The one way a query runs: on the backend's own connection, not through
/// the `DbConnection` enum. Through the enum, diesel turns the query into
/// SQL text on every call, cached statement or not (a fifth of a booking's
/// instructions, BENCHMARKS.md); on the backend's connection a cached
/// statement is found by the query's type. The expression is written once
/// and compiled for each backend (a boxed query is built inside it):
///
/// ```ignore
/// native!(conn, |db| diesel::insert_into(t::table).values(&row).execute(db))?;
/// ```
///
/// Where the SQL must differ, match on the connection's variant inside the
/// store function that needs it, and say why there.
#[macro_export]
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
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

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned())).into()
    }

    #[test]
    fn losing_the_server_is_unavailable_and_bounds_are_timeouts() {
        use DatabaseErrorKind::{ClosedConnection, UnableToSendCommand, Unknown};
        for (kind, message) in [
            (UnableToSendCommand, "no connection to the server\n"),
            (
                ClosedConnection,
                "server closed the connection unexpectedly",
            ),
            (
                Unknown,
                "terminating connection due to administrator command",
            ),
            (Unknown, "FATAL:  the database system is shutting down"),
            (
                Unknown,
                "could not receive data from server: Connection refused",
            ),
        ] {
            assert!(
                matches!(db_error(kind, message), DbError::Unavailable(_)),
                "{message}"
            );
        }
        assert!(matches!(
            DbError::from(DieselError::BrokenTransactionManager),
            DbError::Unavailable(_)
        ));
        for message in [
            "canceling statement due to statement timeout",
            "canceling statement due to lock timeout",
            DEADLINE_PASSED,
        ] {
            assert!(
                matches!(db_error(Unknown, message), DbError::Timeout(_)),
                "{message}"
            );
        }
        assert!(matches!(
            db_error(Unknown, "database or disk is full"),
            DbError::StorageFull(_)
        ));
        assert!(matches!(
            db_error(
                Unknown,
                "could not extend file \"base/1/2\": No space left on device"
            ),
            DbError::StorageFull(_)
        ));
        assert!(matches!(
            db_error(Unknown, "database is locked"),
            DbError::Busy
        ));
        assert!(matches!(
            db_error(Unknown, "syntax error at or near \"SELEC\""),
            DbError::Other(_)
        ));
    }

    #[test]
    fn errors_are_observed_for_the_pool() {
        let _ = take_observed();
        let _ = db_error(DatabaseErrorKind::ClosedConnection, "gone");
        let _ = db_error(DatabaseErrorKind::Unknown, "database or disk is full");
        assert_eq!(
            take_observed(),
            Observed {
                lost_connection: true,
                storage_full: true
            }
        );
        assert_eq!(take_observed(), Observed::default());
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
