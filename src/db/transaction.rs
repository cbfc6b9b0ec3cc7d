//! Write transactions: `BEGIN IMMEDIATE` on SQLite (joining the group
//! commit under `Db::run`), a plain transaction on PostgreSQL. The unit of
//! work (`app::unit_of_work`) is the one caller outside this layer.

use diesel::result::Error as DieselError;
use diesel::Connection;

use super::connection::DbConnection;
use super::{deadline, group_commit};

/// The queue of SQLite writers outside `Db::run` (start-up and CLI
/// commands; tests share it harmlessly).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// How many PostgreSQL write transactions this thread is inside.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One level of write transaction on this thread, until dropped.
struct Nesting(u32);

impl Nesting {
    fn enter() -> Self {
        Self(DEPTH.with(|d| d.replace(d.get() + 1)))
    }

    fn outermost(&self) -> bool {
        self.0 == 0
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(self.0));
    }
}

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
///
/// Under `Db::run` the outermost write transaction passes its deadline's
/// commit point (`db::deadline`) right before committing: if the waiting
/// request has given up by then, it rolls back instead.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let DbConnection::Sqlite(inner) = conn else {
        let nesting = Nesting::enter();
        if !nesting.outermost() {
            return conn.transaction(work);
        }
        return conn.transaction(|conn| {
            let value = work(conn)?;
            deadline::commit_point()?;
            Ok(value)
        });
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
    let done = work(conn).and_then(|value| {
        deadline::commit_point()?;
        Ok(value)
    });
    match done {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        // The work's error is the one to report: SQLite may already have
        // rolled the transaction back itself (a full disk), and then the
        // ROLLBACK fails too.
        Err(err) => {
            let _ = Manager::rollback_transaction(conn);
            Err(err)
        }
    }
}
