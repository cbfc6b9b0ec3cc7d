//! Eligibility screenings: the decision and the minimum behind it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::screenings;
use crate::db::{DbConnection, DbError};
use crate::domain::eligibility::{Outcome, ReasonCode};

use super::{from_db, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = screenings)]
struct Row {
    id: String,
    outcome: String,
    reason_codes: String,
    date_of_birth: Option<NaiveDate>,
    judged_on: NaiveDate,
    age: Option<i32>,
    token_hash: Option<String>,
    expires_at: Option<NaiveDateTime>,
    consultation_id: Option<String>,
    created_at: NaiveDateTime,
}

/// A stored screening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    pub id: String,
    pub outcome: Outcome,
    pub reason_codes: Vec<ReasonCode>,
    /// Kept for eligible and needs-review screenings only.
    pub date_of_birth: Option<NaiveDate>,
    pub judged_on: NaiveDate,
    pub age: Option<u32>,
    pub token_hash: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub consultation_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<Row> for Screening {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Screening {
            outcome: Outcome::parse(&r.outcome).ok_or_else(|| {
                DbError::Other(format!("unknown screening outcome {}", r.outcome))
            })?,
            reason_codes: serde_json::from_str(&r.reason_codes)
                .map_err(|e| DbError::Other(format!("screenings.reason_codes: {e}")))?,
            id: r.id,
            date_of_birth: r.date_of_birth,
            judged_on: r.judged_on,
            age: r.age.and_then(|a| u32::try_from(a).ok()),
            token_hash: r.token_hash,
            expires_at: r.expires_at.map(from_db),
            consultation_id: r.consultation_id,
            created_at: from_db(r.created_at),
        })
    }
}

pub fn insert(conn: &mut DbConnection, s: &Screening) -> Result<(), DbError> {
    let codes = serde_json::to_string(&s.reason_codes).expect("reason codes serialise");
    crate::native!(conn, |db| diesel::insert_into(screenings::table)
        .values((
            screenings::id.eq(&s.id),
            screenings::outcome.eq(s.outcome.as_str()),
            screenings::reason_codes.eq(codes),
            screenings::date_of_birth.eq(s.date_of_birth),
            screenings::judged_on.eq(s.judged_on),
            screenings::age.eq(s.age.map(|a| a as i32)),
            screenings::token_hash.eq(&s.token_hash),
            screenings::expires_at.eq(s.expires_at.map(to_db)),
            screenings::consultation_id.eq(&s.consultation_id),
            screenings::created_at.eq(to_db(s.created_at)),
        ))
        .execute(db))?;
    Ok(())
}

pub fn by_token_hash(conn: &mut DbConnection, hash: &str) -> Result<Option<Screening>, DbError> {
    crate::native!(conn, |db| screenings::table
        .filter(screenings::token_hash.eq(hash))
        .select(Row::as_select())
        .get_result(db)
        .optional())?
    .map(Screening::try_from)
    .transpose()
}

pub fn by_consultation(
    conn: &mut DbConnection,
    consultation_id: &str,
) -> Result<Option<Screening>, DbError> {
    crate::native!(conn, |db| screenings::table
        .filter(screenings::consultation_id.eq(consultation_id))
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Screening::try_from)
    .transpose()
}

/// Attaches an unattached screening to a consultation; false when it was
/// already used (the token is single-use).
pub fn attach(conn: &mut DbConnection, id: &str, consultation_id: &str) -> Result<bool, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        screenings::table
            .find(id)
            .filter(screenings::consultation_id.is_null()),
    )
    .set(screenings::consultation_id.eq(consultation_id))
    .execute(db))?;
    Ok(n == 1)
}

/// Frees the screening of a booking that was undone, so it can be used again.
pub fn detach(conn: &mut DbConnection, consultation_id: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(
        screenings::table.filter(screenings::consultation_id.eq(consultation_id))
    )
    .set(screenings::consultation_id.eq(None::<String>))
    .execute(db))?;
    Ok(())
}

/// Deletes the screenings behind these consultations (erasure, retention).
pub fn delete_for(conn: &mut DbConnection, consultation_ids: &[String]) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(
        screenings::table.filter(screenings::consultation_id.eq_any(consultation_ids))
    )
    .execute(db))?)
}

/// Deletes screenings never attached to a booking and created before `cutoff`.
pub fn purge_unattached(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(
        screenings::table
            .filter(screenings::consultation_id.is_null())
            .filter(screenings::created_at.lt(to_db(cutoff))),
    )
    .execute(db))?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| screenings::table
        .count()
        .get_result(db))?)
}
