//! Small key-value facts about the database itself (e.g. whether seed
//! content was loaded).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::app_meta;
use crate::db::{DbConnection, DbError};

use super::to_db;

/// Asks the database to answer (readiness).
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::sql_query("SELECT 1").execute(db))?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, key: &str) -> Result<Option<String>, DbError> {
    Ok(crate::native!(conn, |db| app_meta::table
        .find(key)
        .select(app_meta::value)
        .get_result(db))
    .optional()?)
}

/// Inserts a key; false when it already exists (first writer wins).
pub fn insert_if_absent(
    conn: &mut DbConnection,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if get(conn, key)?.is_some() {
        return Ok(false);
    }
    // A savepoint, so a lost race does not abort an enclosing transaction.
    let inserted = conn.transaction(|c| {
        crate::native!(c, |db| diesel::insert_into(app_meta::table)
            .values((
                app_meta::key.eq(key),
                app_meta::value.eq(value),
                app_meta::updated_at.eq(to_db(now)),
            ))
            .execute(db))
    });
    match inserted.map_err(DbError::from) {
        Ok(_) => Ok(true),
        Err(DbError::UniqueViolation(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets a key, inserting it when absent.
pub fn set(
    conn: &mut DbConnection,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let updated = crate::native!(conn, |db| diesel::update(app_meta::table.find(key))
        .set((
            app_meta::value.eq(value),
            app_meta::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    if updated == 0 {
        insert_if_absent(conn, key, value, now)?;
    }
    Ok(())
}

/// The key the readiness write probe uses.
const PROBE_KEY: &str = "readiness_probe";

/// Writes a page's worth of data and deletes it again (readiness, while
/// writes have been failing for lack of space): it needs a free page, and
/// its commit needs room in the journal, as a real write does.
pub fn probe_write(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<(), DbError> {
    let filler = "x".repeat(4096);
    crate::native!(conn, |db| diesel::delete(app_meta::table.find(PROBE_KEY))
        .execute(db))?;
    crate::native!(conn, |db| diesel::insert_into(app_meta::table)
        .values((
            app_meta::key.eq(PROBE_KEY),
            app_meta::value.eq(&filler),
            app_meta::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    crate::native!(conn, |db| diesel::delete(app_meta::table.find(PROBE_KEY))
        .execute(db))?;
    Ok(())
}
