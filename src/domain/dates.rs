//! The span of dates the API accepts. Far-out dates are valid syntax but
//! meaningless for a clinic's diary, and date arithmetic near chrono's
//! limits would overflow; they are refused up front with a 422.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2200;

pub fn date_supported(d: NaiveDate) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&d.year())
}

pub fn instant_supported(t: DateTime<Utc>) -> bool {
    date_supported(t.date_naive())
}

/// The message for a date outside the supported span.
pub fn unsupported_message() -> String {
    format!("must be between the years {MIN_YEAR} and {MAX_YEAR}")
}

/// Whether text is safe to store and show: no NUL and no control characters
/// other than tab and line breaks.
pub fn is_clean_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_span() {
        assert!(date_supported(
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        ));
        assert!(!date_supported(NaiveDate::MAX));
        assert!(!date_supported(
            NaiveDate::from_ymd_opt(1899, 12, 31).unwrap()
        ));
        assert!(!instant_supported(DateTime::<Utc>::MAX_UTC));
    }

    #[test]
    fn control_characters_are_not_clean() {
        assert!(is_clean_text("Line one\nline two\ttab"));
        assert!(!is_clean_text("nul\u{0}byte"));
        assert!(!is_clean_text("bell\u{7}"));
    }
}
