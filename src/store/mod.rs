//! Rows and queries, one module per table group. Functions take a
//! connection and run synchronously; callers run them off the executor with
//! [`crate::db::Db::run`].

pub mod api_keys;
pub mod audit;
pub mod clients;
pub mod consultations;
pub mod deliveries;
pub mod deposits;
pub mod faqs;
pub mod idempotency;
pub mod meta;
pub mod notifications;
pub mod practitioners;
pub mod rate_limits;
pub mod screenings;
pub mod settlements;
pub mod treatments;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Database timestamps are UTC without a zone.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

diesel::define_sql_function!(
    /// SQL `lower()`, on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// A case-insensitive `LIKE` pattern matching `text` anywhere, with `%`,
/// `_` and `\` escaped (use with `.escape('\\')`).
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A new id that sorts after every id this process made before (UUIDv7),
/// for records read in the order they were written.
pub fn ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A new random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
