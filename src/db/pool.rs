//! The pool: a handle on the database that runs blocking work off the
//! async executor, and the embedded migrations.

use std::path::Path;
use std::time::Duration;

use diesel::migration::{Migration, MigrationSource};
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{ConnectionManager, DatabaseUrl, DbConnection, DbError};
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
        let manager = ConnectionManager::new(url.clone());
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
