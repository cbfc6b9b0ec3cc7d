//! The deadline of one `Db::run`: the waiting caller and the thread doing
//! the work agree, through one atomic, on whether the work may still
//! commit.
//!
//! The caller waits a bounded time. When the bound passes it tries to
//! *abandon* the run; the worker, just before its transaction's point of
//! no return (the `COMMIT` on PostgreSQL and on SQLite outside the group
//! commit, the release of its savepoint inside a group commit), tries to
//! mark it *committing*. Exactly one of the two wins:
//!
//! - the caller: the worker, whenever it gets there (a stalled server may
//!   hold it for long), rolls back instead of committing, and the client's
//!   503 says truthfully that nothing was saved;
//! - the worker: the commit is under way, so the caller cannot know its
//!   outcome; its 503 says the change may have been saved (a retry with the
//!   same `Idempotency-Key` replays it if it was).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::connection::DEADLINE_PASSED;

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

/// Shared by a waiting caller and the thread running its work.
#[derive(Debug, Default)]
pub struct RunState(AtomicU8);

/// How an abandoned wait ended for the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// The work will not commit: it is (or will be) rolled back.
    RolledBack,
    /// The work had reached its commit: its outcome is unknown.
    MayHaveCommitted,
}

impl RunState {
    /// The caller gives up waiting.
    pub fn abandon(&self) -> Abandoned {
        match self
            .0
            .compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => Abandoned::RolledBack,
            Err(ABANDONED) => Abandoned::RolledBack,
            Err(_) => Abandoned::MayHaveCommitted,
        }
    }

    pub fn is_abandoned(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ABANDONED
    }

    /// Whether the work got as far as committing.
    pub fn reached_commit(&self) -> bool {
        self.0.load(Ordering::SeqCst) == COMMITTING
    }

    /// The worker is about to commit: false when the caller has given up.
    fn commit(&self) -> bool {
        match self
            .0
            .compare_exchange(RUNNING, COMMITTING, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(current) => current == COMMITTING,
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RunState>>> = const { RefCell::new(None) };
}

/// Makes `state` this thread's run until dropped.
pub struct Scope {
    previous: Option<Arc<RunState>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

pub fn enter(state: Arc<RunState>) -> Scope {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(state));
    Scope { previous }
}

/// The error a unit of work gets at its commit point once abandoned
/// (classified as a timeout).
pub fn passed() -> DieselError {
    DieselError::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new(DEADLINE_PASSED.to_owned()),
    )
}

/// Call right before the point of no return of this thread's outermost
/// write: an error (to roll back with) when the caller has given up.
/// Outside `Db::run` there is no deadline and this always passes.
pub fn commit_point() -> Result<(), DieselError> {
    let go = CURRENT.with(|c| c.borrow().as_ref().is_none_or(|s| s.commit()));
    if go {
        Ok(())
    } else {
        Err(passed())
    }
}

/// Whether this thread's run has been given up (work not yet started
/// should not start).
pub fn abandoned() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|s| s.is_abandoned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_and_the_worker_agree_on_one_outcome() {
        let s = RunState::default();
        assert!(s.commit());
        assert!(s.commit(), "a nested commit point passes again");
        assert_eq!(s.abandon(), Abandoned::MayHaveCommitted);

        let s = Arc::new(RunState::default());
        assert_eq!(s.abandon(), Abandoned::RolledBack);
        let _scope = enter(s.clone());
        assert!(abandoned());
        assert!(commit_point().is_err());
        assert!(!s.reached_commit());
    }

    #[test]
    fn outside_a_run_nothing_is_bounded() {
        assert!(commit_point().is_ok());
        assert!(!abandoned());
    }
}
