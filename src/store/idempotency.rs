//! Idempotency-Key records, shared by every instance through the database.
//! The key arrives here hashed and the answer encrypted (`app::idempotency`).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::idempotency_keys as ik;
use crate::db::{DbConnection, DbError};

use super::{from_db, to_db};

/// A request that may proceed under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub scope: String,
    pub key: String,
    /// The resource a previous, interrupted attempt created (to resume).
    pub resource_id: Option<String>,
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First sight of the key (or a stale attempt to take over): go ahead.
    Proceed(Ticket),
    /// The key was used for the same request: answer as before.
    Replay(StoredResponse),
    /// The same key is being processed right now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

#[derive(Queryable)]
struct Row {
    request_hash: String,
    state: String,
    resource_id: Option<String>,
    response_status: Option<i32>,
    response_body: Option<String>,
    response_location: Option<String>,
    locked_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

fn find(conn: &mut DbConnection, scope: &str, key: &str) -> Result<Option<Row>, DbError> {
    Ok(crate::native!(conn, |db| ik::table
        .find((scope, key))
        .select((
            ik::request_hash,
            ik::state,
            ik::resource_id,
            ik::response_status,
            ik::response_body,
            ik::response_location,
            ik::locked_at,
            ik::expires_at,
        ))
        .get_result::<Row>(db)
        .optional())?)
}

/// Claims `key` for a request with fingerprint `hash`. Call inside a write
/// transaction. An in-flight record older than `lock_timeout` is taken over
/// (its process died); records live for `ttl`.
pub fn begin(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    hash: &str,
    now: DateTime<Utc>,
    lock_timeout: Duration,
    ttl: Duration,
) -> Result<Begin, DbError> {
    let ticket = |resource_id| Ticket {
        scope: scope.to_owned(),
        key: key.to_owned(),
        resource_id,
    };
    // The common case in one statement: a new key is claimed at once.
    // When the key is taken (or waited for, on PostgreSQL, while another
    // transaction held it), the record decides.
    let claim = |conn: &mut DbConnection| -> Result<bool, DbError> {
        let n = crate::native!(conn, |db| diesel::insert_into(ik::table)
            .values((
                ik::scope.eq(scope),
                ik::idempotency_key.eq(key),
                ik::request_hash.eq(hash),
                ik::state.eq("in_flight"),
                ik::locked_at.eq(to_db(now)),
                ik::created_at.eq(to_db(now)),
                ik::expires_at.eq(to_db(now + ttl)),
            ))
            .on_conflict_do_nothing()
            .execute(db))?;
        Ok(n == 1)
    };
    if claim(conn)? {
        return Ok(Begin::Proceed(ticket(None)));
    }
    let row = match find(conn, scope, key)? {
        Some(r) if from_db(r.expires_at) <= now => {
            crate::native!(conn, |db| diesel::delete(ik::table.find((scope, key)))
                .execute(db))?;
            return Ok(match claim(conn)? {
                true => Begin::Proceed(ticket(None)),
                false => Begin::InFlight,
            });
        }
        Some(r) => r,
        // Gone between the two statements (released by a failed attempt).
        None => {
            return Ok(match claim(conn)? {
                true => Begin::Proceed(ticket(None)),
                false => Begin::InFlight,
            })
        }
    };
    if row.request_hash != hash {
        return Ok(Begin::Mismatch);
    }
    if row.state == "completed" {
        return Ok(Begin::Replay(StoredResponse {
            status: row
                .response_status
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
            body: row.response_body.unwrap_or_default(),
            location: row.response_location,
        }));
    }
    if from_db(row.locked_at) > now - lock_timeout {
        return Ok(Begin::InFlight);
    }
    // Take over the stale attempt, unless another request just did.
    let taken = crate::native!(conn, |db| diesel::update(
        ik::table
            .find((scope, key))
            .filter(ik::locked_at.eq(row.locked_at)),
    )
    .set(ik::locked_at.eq(to_db(now)))
    .execute(db))?;
    if taken != 1 {
        return Ok(Begin::InFlight);
    }
    Ok(Begin::Proceed(ticket(row.resource_id)))
}

/// Notes the resource an attempt created, so a retry can resume it.
pub fn set_resource(
    conn: &mut DbConnection,
    ticket: &Ticket,
    resource_id: &str,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(
        ik::table.find((&ticket.scope, &ticket.key))
    )
    .set(ik::resource_id.eq(Some(resource_id)))
    .execute(db))?;
    Ok(())
}

/// Stores the response (and the consultation it is about); a no-op when
/// already completed.
pub fn complete(
    conn: &mut DbConnection,
    ticket: &Ticket,
    response: &StoredResponse,
    subject_id: Option<&str>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(
        ik::table
            .find((&ticket.scope, &ticket.key))
            .filter(ik::state.eq("in_flight")),
    )
    .set((
        ik::state.eq("completed"),
        ik::response_status.eq(Some(i32::from(response.status))),
        ik::response_body.eq(Some(&response.body)),
        ik::response_location.eq(&response.location),
        ik::subject_id.eq(subject_id),
    ))
    .execute(db))?;
    Ok(())
}

/// Deletes the records about these consultations (erasure, retention).
pub fn delete_about(
    conn: &mut DbConnection,
    consultation_ids: &[String],
) -> Result<usize, DbError> {
    if consultation_ids.is_empty() {
        return Ok(0);
    }
    Ok(crate::native!(conn, |db| diesel::delete(
        ik::table.filter(
            ik::subject_id
                .eq_any(consultation_ids)
                .or(ik::resource_id.eq_any(consultation_ids)),
        ),
    )
    .execute(db))?)
}

/// Replaces the stored response of a completed record.
pub fn amend(
    conn: &mut DbConnection,
    ticket: &Ticket,
    response: &StoredResponse,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(
        ik::table
            .find((&ticket.scope, &ticket.key))
            .filter(ik::state.eq("completed")),
    )
    .set((
        ik::response_status.eq(Some(i32::from(response.status))),
        ik::response_body.eq(Some(&response.body)),
        ik::response_location.eq(&response.location),
    ))
    .execute(db))?;
    Ok(())
}

/// Lets a retry run after an attempt failed on the server side: an
/// attempt that created nothing is forgotten; one that created a resource
/// is unlocked and kept, so the retry resumes that resource.
pub fn release(conn: &mut DbConnection, ticket: &Ticket) -> Result<(), DbError> {
    let unlocked = chrono::DateTime::<Utc>::UNIX_EPOCH;
    crate::native!(conn, |db| diesel::update(
        ik::table
            .find((&ticket.scope, &ticket.key))
            .filter(ik::state.eq("in_flight"))
            .filter(ik::resource_id.is_not_null()),
    )
    .set(ik::locked_at.eq(to_db(unlocked)))
    .execute(db))?;
    crate::native!(conn, |db| diesel::delete(
        ik::table
            .find((&ticket.scope, &ticket.key))
            .filter(ik::state.eq("in_flight"))
            .filter(ik::resource_id.is_null()),
    )
    .execute(db))?;
    Ok(())
}

/// Deletes expired records.
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(
        ik::table.filter(ik::expires_at.le(to_db(now)))
    )
    .execute(db))?)
}
