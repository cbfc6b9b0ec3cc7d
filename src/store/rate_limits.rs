//! Fixed-window request counters in the database, so that every instance
//! behind a load balancer counts the same client against the same limit.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::schema::rate_limits;
use crate::db::{DbConnection, DbError};

use super::to_db;

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = Integer)]
    hits: i32,
}

/// Counts one request in `bucket`'s window starting at `window_start` and
/// returns the count so far. The upsert is the one place the SQL differs:
/// the statement is the same, the placeholders are not.
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: DateTime<Utc>,
) -> Result<i32, DbError> {
    const PG: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits";
    const SQLITE: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits";
    let at: NaiveDateTime = to_db(window_start);
    let row: Hits = match conn {
        DbConnection::Postgres(c) => diesel::sql_query(PG)
            .bind::<Text, _>(bucket)
            .bind::<Timestamp, _>(at)
            .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(SQLITE)
            .bind::<Text, _>(bucket)
            .bind::<Timestamp, _>(at)
            .get_result(c)?,
    };
    Ok(row.hits)
}

/// Deletes windows that ended before `cutoff`.
pub fn purge(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(
        diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(to_db(cutoff))))
            .execute(conn)?,
    )
}
