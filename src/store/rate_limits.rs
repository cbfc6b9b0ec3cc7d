//! Fixed-window request counters in the database, so that every instance
//! behind a load balancer counts the same client against the same limit.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::rate_limits;
use crate::db::{DbConnection, DbError};

use super::to_db;

/// Counts one request in `bucket`'s window starting at `window_start` and
/// returns the count so far (one upsert on either backend).
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: DateTime<Utc>,
) -> Result<i32, DbError> {
    let at = to_db(window_start);
    Ok(crate::native!(conn, |db| diesel::insert_into(
        rate_limits::table
    )
    .values((
        rate_limits::bucket.eq(bucket),
        rate_limits::window_start.eq(at),
        rate_limits::hits.eq(1),
    ))
    .on_conflict((rate_limits::bucket, rate_limits::window_start))
    .do_update()
    .set(rate_limits::hits.eq(rate_limits::hits + 1))
    .returning(rate_limits::hits)
    .get_result(db))?)
}

/// Deletes windows that ended before `cutoff`.
pub fn purge(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(
        rate_limits::table.filter(rate_limits::window_start.lt(to_db(cutoff)))
    )
    .execute(db))?)
}
