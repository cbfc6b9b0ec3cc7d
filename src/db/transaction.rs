//! Write transactions: `BEGIN IMMEDIATE` on SQLite (joining the group
//! commit under `Db::run`), a plain transaction on PostgreSQL. The unit of
//! work (`app::unit_of_work`) is the one caller outside this layer.

use diesel::result::Error as DieselError;
use diesel::Connection;

use super::connection::DbConnection;
use super::group_commit;

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
