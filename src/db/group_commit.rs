//! Group commit for SQLite: write transactions that arrive together share
//! one `COMMIT`, and so one fsync.
//!
//! With `synchronous=FULL` every commit waits for the disk, and SQLite has
//! one writer at a time, so committing each request's transaction on its own
//! caps writes at one per fsync. Here the process's writers take turns on
//! one writer connection. The first opens a transaction (`BEGIN IMMEDIATE`);
//! each runs its work in a savepoint of it (a failing one rolls back alone);
//! whoever finishes while nobody else is waiting for the writer, or fills
//! the batch, commits for all. Nobody returns before the commit that made
//! its work durable, or failed to: an answer is never given for work that
//! could still be lost, and a failed commit fails every job of the batch.
//!
//! Jobs run on their callers' threads (the closures need not be `Send`),
//! one at a time, in arrival order: the serial order SQLite would give
//! anyway. Work that reads inside a job sees the batch's earlier jobs, as it
//! would had they committed first.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::ManageConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;

use super::connection::{ConnectionManager, DbConnection};
use super::deadline;

/// Jobs per transaction at most, so one commit's wait stays bounded.
const MAX_BATCH: usize = 64;

type Manager = <DbConnection as Connection>::TransactionManager;

/// The writer of one SQLite database in this process.
pub struct GroupCommit {
    manager: ConnectionManager,
    writer: Mutex<Writer>,
    /// Threads waiting for `writer`: while there are any, a finished job
    /// leaves the transaction open for them.
    waiting: AtomicUsize,
}

#[derive(Default)]
struct Writer {
    conn: Option<DbConnection>,
    /// The open transaction's outcome, shared by its jobs.
    batch: Option<Arc<Outcome>>,
    jobs: usize,
}

/// Why a batch failed, kept so that every job of it gets the same error,
/// classified as the database gave it (a full disk stays a full disk).
#[derive(Debug, Clone)]
struct Failure {
    kind: DatabaseErrorKind,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            kind: DatabaseErrorKind::Unknown,
            message: message.into(),
        }
    }

    fn of(context: &str, e: &DieselError) -> Self {
        let kind = match e {
            DieselError::DatabaseError(kind, _) => *kind,
            _ => DatabaseErrorKind::Unknown,
        };
        let cause = match e {
            DieselError::DatabaseError(_, info) => info.message().to_owned(),
            other => other.to_string(),
        };
        Self {
            kind,
            message: format!("{context}: {cause}"),
        }
    }
}

/// How a batch ended: `None` until its commit returns.
#[derive(Default)]
struct Outcome {
    result: Mutex<Option<Result<(), Failure>>>,
    done: Condvar,
}

impl Outcome {
    fn settle(&self, result: Result<(), Failure>) {
        *lock(&self.result) = Some(result);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), Failure> {
        let mut result = lock(&self.result);
        loop {
            if let Some(r) = result.as_ref() {
                return r.clone();
            }
            result = self
                .done
                .wait(result)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

thread_local! {
    /// The group this thread's write transactions join (set by `Db::run`).
    static CURRENT: RefCell<Option<Arc<GroupCommit>>> = const { RefCell::new(None) };
    /// Set while this thread runs a job: a nested write transaction is
    /// then a savepoint of it.
    static IN_JOB: RefCell<bool> = const { RefCell::new(false) };
}

/// Makes this thread's write transactions join `group` until dropped.
pub struct Scope {
    previous: Option<Arc<GroupCommit>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

pub fn enter(group: &Arc<GroupCommit>) -> Scope {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(group.clone()));
    Scope { previous }
}

/// The group this thread is in, if any.
pub(super) fn current() -> Option<Arc<GroupCommit>> {
    CURRENT.with(|c| c.borrow().clone())
}

pub(super) fn in_job() -> bool {
    IN_JOB.with(|j| *j.borrow())
}

struct JobFlag;

impl JobFlag {
    fn set() -> Self {
        IN_JOB.with(|j| *j.borrow_mut() = true);
        JobFlag
    }
}

impl Drop for JobFlag {
    fn drop(&mut self) {
        IN_JOB.with(|j| *j.borrow_mut() = false);
    }
}

fn failed(failure: Failure) -> DieselError {
    DieselError::DatabaseError(failure.kind, Box::new(failure.message))
}

impl GroupCommit {
    pub(super) fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            writer: Mutex::new(Writer::default()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Runs `work` in the current batch (opening one if none is open) and
    /// returns once the batch's commit has succeeded or failed.
    pub(super) fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<DieselError>,
    {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut writer = lock(&self.writer);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // Its request gave up while it queued: do not start it.
        if deadline::abandoned() {
            return Err(deadline::passed().into());
        }

        let outcome = self.join_or_begin(&mut writer)?;
        let conn = writer.conn.as_mut().expect("the batch has a connection");
        let result = {
            let _flag = JobFlag::set();
            // Nested in the open transaction, this is a savepoint: an
            // error rolls back this job's writes only. Once released, the
            // batch commits it: that is its point of no return.
            panic::catch_unwind(AssertUnwindSafe(|| {
                conn.transaction(|conn| {
                    let value = work(conn)?;
                    deadline::commit_point()?;
                    Ok(value)
                })
            }))
        };
        writer.jobs += 1;
        let result = match result {
            Ok(result) => result,
            Err(payload) => {
                // The savepoint is left open mid-unwind: drop the connection,
                // which rolls the whole batch back, and fail its other jobs.
                writer.conn = None;
                writer.batch = None;
                outcome.settle(Err(Failure::new("a job of this transaction panicked")));
                drop(writer);
                panic::resume_unwind(payload);
            }
        };
        // On some failures (a full disk, an I/O error) SQLite rolls back
        // the whole transaction by itself: the batch's earlier jobs are
        // gone, and a later job would run (and commit) on its own. So after
        // a failed job, check the transaction is still there; if not, the
        // batch fails as a whole, with the cause.
        if result.is_err() && !transaction_open(conn_of(&mut writer)) {
            let failure = Failure::new(if super::connection::peek_observed().storage_full {
                "database or disk is full: the database rolled back the shared transaction"
            } else {
                "the database ended the shared transaction after a failure"
            });
            writer.conn = None;
            writer.batch = None;
            writer.jobs = 0;
            outcome.settle(Err(failure.clone()));
            return Err(failed(failure).into());
        }

        if writer.jobs >= MAX_BATCH || self.waiting.load(Ordering::SeqCst) == 0 {
            let committed = commit(&mut writer);
            outcome.settle(committed.clone());
            drop(writer);
            committed.map_err(failed)?;
            return result;
        }
        drop(writer);
        outcome.wait().map_err(failed)?;
        result
    }

    /// The open batch's outcome, or a new batch's after `BEGIN IMMEDIATE`.
    fn join_or_begin(&self, writer: &mut Writer) -> Result<Arc<Outcome>, DieselError> {
        if let Some(outcome) = &writer.batch {
            return Ok(outcome.clone());
        }
        if writer.conn.is_none() {
            let conn = self.manager.connect().map_err(|e| {
                failed(Failure::new(format!(
                    "cannot open the writer connection: {e}"
                )))
            })?;
            writer.conn = Some(conn);
        }
        let Some(DbConnection::Sqlite(inner)) = writer.conn.as_mut() else {
            unreachable!("group commit is for SQLite only");
        };
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
        let outcome = Arc::new(Outcome::default());
        writer.batch = Some(outcome.clone());
        writer.jobs = 0;
        Ok(outcome)
    }
}

fn conn_of(writer: &mut Writer) -> &mut DbConnection {
    writer.conn.as_mut().expect("the batch has a connection")
}

/// Whether the connection is inside a transaction: `BEGIN` fails inside
/// one and changes nothing; outside one it opens a transaction, rolled
/// back at once. (Diesel does not expose SQLite's autocommit flag.)
fn transaction_open(conn: &mut DbConnection) -> bool {
    use diesel::connection::SimpleConnection;
    match conn.batch_execute("BEGIN") {
        Err(_) => true,
        Ok(()) => {
            let _ = conn.batch_execute("ROLLBACK");
            false
        }
    }
}

/// Commits the open batch. On failure the connection is dropped (which
/// rolls back whatever is left) and the next batch opens a fresh one.
fn commit(writer: &mut Writer) -> Result<(), Failure> {
    writer.batch = None;
    writer.jobs = 0;
    let Some(conn) = writer.conn.as_mut() else {
        return Err(Failure::new("the writer connection is gone"));
    };
    match Manager::commit_transaction(conn) {
        Ok(()) => Ok(()),
        Err(e) => {
            writer.conn = None;
            Err(Failure::of("commit failed", &e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{write_transaction, DatabaseUrl, Db, DbError};
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn open() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("group.db"));
        let db = Db::open(&url, 8).unwrap();
        db.conn()
            .unwrap()
            .batch_execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        (dir, db)
    }

    fn count(db: &Db) -> i64 {
        diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result::<Count>(&mut *db.conn().unwrap())
            .unwrap()
            .n
    }

    fn insert(conn: &mut DbConnection, k: i64) -> Result<usize, DbError> {
        Ok(diesel::sql_query(format!("INSERT INTO t (k, v) VALUES ({k}, 'x')")).execute(conn)?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_all_commit_and_a_failing_one_rolls_back_alone() {
        let (_dir, db) = open();
        let mut tasks = Vec::new();
        for k in 0..200_i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.run(move |conn| {
                    write_transaction(conn, |conn| {
                        insert(conn, k)?;
                        // Every tenth job writes, then fails: its write must
                        // not survive, and the others' must.
                        if k % 10 == 0 {
                            return Err(DbError::Other("refused".into()));
                        }
                        Ok(())
                    })
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 180);
        assert_eq!(count(&db), 180);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_job_sees_the_batch_before_it_and_a_conflict_fails_only_itself() {
        let (_dir, db) = open();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.run(|conn| write_transaction(conn, |conn| insert(conn, 7)))
                    .await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, DbError::UniqueViolation(_))));
        assert_eq!(count(&db), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nested_write_transaction_is_a_savepoint() {
        let (_dir, db) = open();
        db.run(|conn| {
            write_transaction(conn, |conn| {
                insert(conn, 1)?;
                let inner: Result<(), DbError> = write_transaction(conn, |conn| {
                    insert(conn, 2)?;
                    Err(DbError::Other("undo the inner one".into()))
                });
                assert!(inner.is_err());
                Ok::<_, DbError>(())
            })
        })
        .await
        .unwrap();
        assert_eq!(count(&db), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_fails_its_batch_and_the_writer_recovers() {
        let (_dir, db) = open();
        let panicked = db
            .run(|conn| {
                write_transaction(conn, |conn| -> Result<(), DbError> {
                    insert(conn, 1)?;
                    panic!("a bug in a handler");
                })
            })
            .await;
        assert!(panicked.is_err());
        db.run(|conn| write_transaction(conn, |conn| insert(conn, 2)))
            .await
            .unwrap();
        assert_eq!(count(&db), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn when_the_database_fills_up_every_answer_matches_what_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("full.db"));
        let options = crate::db::DbOptions {
            pool_size: 8,
            limits: crate::db::ConnectionLimits {
                sqlite_max_bytes: Some(256 * 1024),
                ..Default::default()
            },
            ..Default::default()
        };
        let db = Db::open_with(&url, options).unwrap();
        db.conn()
            .unwrap()
            .batch_execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            .unwrap();
        let mut tasks = Vec::new();
        for k in 0..300_i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.run(move |conn| {
                    write_transaction(conn, |conn| {
                        diesel::sql_query(format!(
                            "INSERT INTO t (k, v) VALUES ({k}, zeroblob(2048))"
                        ))
                        .execute(conn)
                        .map_err(DbError::from)
                    })
                })
                .await
            }));
        }
        let mut ok = 0;
        let mut full = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(DbError::StorageFull(_)) => full += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert!(full > 0, "the cap was reached");
        assert_eq!(
            count(&db),
            ok,
            "every acknowledged write, and no other, is stored"
        );
        assert!(db.storage_full());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_past_its_deadline_is_rolled_back_not_committed() {
        let (_dir, db) = open();
        let late: Result<usize, DbError> = db
            .run_within(std::time::Duration::from_millis(100), |conn| {
                write_transaction(conn, |conn| {
                    let n = insert(conn, 1)?;
                    std::thread::sleep(std::time::Duration::from_millis(400));
                    Ok(n)
                })
            })
            .await;
        assert!(
            matches!(&late, Err(DbError::Timeout(m)) if m.contains("rolled back")),
            "{late:?}"
        );
        // The worker wakes, finds its request gone, and rolls back.
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert_eq!(count(&db), 0);
        db.run(|conn| write_transaction(conn, |conn| insert(conn, 2)))
            .await
            .unwrap();
        assert_eq!(count(&db), 1);
    }
}
