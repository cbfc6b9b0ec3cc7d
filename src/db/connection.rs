//! Connections: one type over SQLite and PostgreSQL (chosen by the URL's
//! scheme), their per-connection settings, database errors classified for
//! the caller, and the one way a query runs (`native!`).

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
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

/// One migration tree for both backends: the SQL is portable (TEXT ids,
/// TIMESTAMP in UTC, DATE, BIGINT money, BOOLEAN). A backend that needed
/// its own SQL would get its own tree beside this one, and a test keeping
/// the two in step where they should agree.
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

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
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
