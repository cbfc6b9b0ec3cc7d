//! The source of "now". Production reads the system clock; tests drive time
//! by hand so that holds lapse and DST days arrive on demand; a rehearsal
//! server (`DEMO_CLOCK`, see `app::demo_clock`) runs ahead of the system
//! clock by an offset that only moves forward.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Moves this clock forward by `by`; false for a clock that cannot be
    /// moved (the system clock).
    fn shift(&self, by: Duration) -> bool {
        let _ = by;
        false
    }
}

/// The system clock, truncated to microseconds (what both databases store).
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The system clock plus an offset that only grows: a rehearsal server's.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_micros: AtomicI64,
}

impl ShiftedClock {
    pub fn offset(&self) -> Duration {
        Duration::microseconds(self.offset_micros.load(Ordering::SeqCst))
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + self.offset()
    }

    fn shift(&self, by: Duration) -> bool {
        match by.num_microseconds() {
            Some(us) if us >= 0 => {
                self.offset_micros.fetch_add(us, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at.trunc_subsecs(6)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at.trunc_subsecs(6);
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn shift(&self, by: Duration) -> bool {
        self.advance(by);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_shifted_and_manual_clocks_move_and_only_forward() {
        assert!(!SystemClock.shift(Duration::hours(1)));
        let shifted = ShiftedClock::default();
        let before = shifted.now();
        assert!(shifted.shift(Duration::days(3)));
        assert!(!shifted.shift(Duration::hours(-1)));
        assert!(shifted.now() >= before + Duration::days(3));
        assert_eq!(shifted.offset(), Duration::days(3));
    }
}
