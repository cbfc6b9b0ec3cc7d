//! Dates of birth and age, as English law counts them.
//!
//! A person attains an age at the start of the anniversary of their birth
//! (Family Law Reform Act 1969, s. 9). Someone born on 29 February has, in a
//! year without that day, their anniversary on 1 March.

use chrono::{Datelike, Duration, NaiveDate};

/// The oldest date of birth accepted, in years before today.
pub const MAX_AGE_YEARS: i32 = 120;

/// The anniversary of `dob` in `year` (29 February becomes 1 March in a
/// common year).
pub fn anniversary(dob: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, dob.month(), dob.day()).unwrap_or_else(|| {
        // Only 29 February can be missing from a year.
        NaiveDate::from_ymd_opt(year, 3, 1).expect("1 March exists every year")
    })
}

/// Age in whole years on `on`, or `None` before the date of birth.
pub fn age_on(dob: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < dob {
        return None;
    }
    let mut years = on.year() - dob.year();
    if on < anniversary(dob, on.year()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Why a date of birth cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOfBirthError {
    InFuture,
    IsToday,
    TooLongAgo,
}

impl DateOfBirthError {
    pub fn code(self) -> &'static str {
        match self {
            Self::InFuture => "in_future",
            Self::IsToday => "is_today",
            Self::TooLongAgo => "too_long_ago",
        }
    }

    pub fn message(self) -> String {
        match self {
            Self::InFuture => "must not be in the future".into(),
            Self::IsToday => "must be before today".into(),
            Self::TooLongAgo => format!("must be within the last {MAX_AGE_YEARS} years"),
        }
    }
}

/// Checks a date of birth against today's clinic-local date.
pub fn check_date_of_birth(dob: NaiveDate, today: NaiveDate) -> Result<(), DateOfBirthError> {
    if dob > today {
        return Err(DateOfBirthError::InFuture);
    }
    if dob == today {
        return Err(DateOfBirthError::IsToday);
    }
    let earliest = today
        .with_year(today.year() - MAX_AGE_YEARS)
        .unwrap_or_else(|| today - Duration::days(i64::from(MAX_AGE_YEARS) * 366));
    if dob < earliest {
        return Err(DateOfBirthError::TooLongAgo);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn age_is_exact_around_birthdays() {
        let cases = [
            // (date of birth, judged on, age)
            ("2008-06-15", "2026-06-14", 17), // day before the 18th birthday
            ("2008-06-15", "2026-06-15", 18), // on the birthday
            ("2008-06-15", "2026-06-16", 18), // day after
            ("2000-01-01", "2026-12-31", 26),
            ("2000-12-31", "2026-01-01", 25),
            ("2026-01-01", "2026-01-01", 0),
        ];
        for (dob, on, age) in cases {
            assert_eq!(age_on(d(dob), d(on)), Some(age), "{dob} on {on}");
        }
    }

    #[test]
    fn leap_day_birthdays_fall_on_1_march_in_common_years() {
        let dob = d("2008-02-29");
        let cases = [
            ("2026-02-28", 17), // common year: not yet
            ("2026-03-01", 18), // common year: anniversary is 1 March
            ("2028-02-28", 19),
            ("2028-02-29", 20), // leap year: the day itself
            ("2027-02-28", 18),
            ("2027-03-01", 19),
        ];
        for (on, age) in cases {
            assert_eq!(age_on(dob, d(on)), Some(age), "on {on}");
        }
        assert_eq!(anniversary(dob, 2026), d("2026-03-01"));
        assert_eq!(anniversary(dob, 2028), d("2028-02-29"));
    }

    #[test]
    fn age_before_birth_is_none() {
        assert_eq!(age_on(d("2026-05-01"), d("2026-04-30")), None);
    }

    #[test]
    fn dates_of_birth_are_checked_against_today() {
        let today = d("2026-11-25");
        let cases = [
            ("2026-11-26", Err(DateOfBirthError::InFuture)),
            ("2026-11-25", Err(DateOfBirthError::IsToday)),
            ("2026-11-24", Ok(())),
            ("1906-11-25", Ok(())),
            ("1906-11-24", Err(DateOfBirthError::TooLongAgo)),
            ("1800-01-01", Err(DateOfBirthError::TooLongAgo)),
        ];
        for (dob, want) in cases {
            assert_eq!(check_date_of_birth(d(dob), today), want, "{dob}");
        }
    }
}
