//! Clients: the people consultations are booked for, one per identity
//! (email, date of birth and name).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::clients;
use crate::db::{DbConnection, DbError};

use super::{lower, new_id, to_db};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub full_name: String,
    pub email: String,
    pub email_normalized: String,
    pub phone: String,
    pub date_of_birth: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub erased_at: Option<NaiveDateTime>,
}

/// Contact details as given at booking.
#[derive(Debug, Clone)]
pub struct ClientDetails {
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub date_of_birth: NaiveDate,
}

/// The form emails are matched in.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<ClientRow>, DbError> {
    Ok(crate::native!(conn, |db| clients::table
        .find(id)
        .select(ClientRow::as_select())
        .get_result(db))
    .optional()?)
}

/// The client with this identity (a hash of their canonical email, date of
/// birth and name), created from `d` when there is none. An existing
/// client's details are never rewritten by a booking: each booking keeps
/// what it was given. Runs inside the booking transaction.
pub fn find_or_create(
    conn: &mut DbConnection,
    d: &ClientDetails,
    identity_key: &str,
    now: DateTime<Utc>,
) -> Result<ClientRow, DbError> {
    // One statement: the new row, or (the identity already known, perhaps
    // just now by a concurrent booking) the existing one, left as it was.
    let id = new_id();
    Ok(crate::native!(conn, |db| diesel::insert_into(
        clients::table
    )
    .values((
        clients::id.eq(&id),
        clients::full_name.eq(&d.full_name),
        clients::email.eq(d.email.trim()),
        clients::email_normalized.eq(normalize_email(&d.email)),
        clients::phone.eq(&d.phone),
        clients::date_of_birth.eq(Some(d.date_of_birth)),
        clients::created_at.eq(to_db(now)),
        clients::updated_at.eq(to_db(now)),
        clients::identity_key.eq(identity_key),
    ))
    .on_conflict(clients::identity_key)
    .do_update()
    .set(clients::identity_key.eq(diesel::upsert::excluded(clients::identity_key)))
    .returning(ClientRow::as_returning())
    .get_result(db))?)
}

/// Clients whose name, email or phone contain `text` (case-insensitive),
/// in (created_at, id) order after `after`.
pub fn search(
    conn: &mut DbConnection,
    text: Option<&str>,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<ClientRow>, DbError> {
    let rows: Vec<ClientRow> = crate::native!(conn, |db| {
        let mut q = clients::table
            .select(ClientRow::as_select())
            .order((clients::created_at.asc(), clients::id.asc()))
            .limit(limit)
            .into_boxed();
        if let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = super::like_pattern(t);
            q = q.filter(
                lower(clients::full_name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(clients::email_normalized.like(pattern.clone()).escape('\\'))
                    .or(clients::phone.like(pattern).escape('\\')),
            );
        }
        if let Some((at, id)) = after {
            let at = to_db(at);
            q = q.filter(
                clients::created_at
                    .gt(at)
                    .or(clients::created_at.eq(at).and(clients::id.gt(id))),
            );
        }
        q.load(db)
    })?;
    Ok(rows)
}

/// Clients with personal data that no booking needs any more: every one of
/// their bookings has had its personal data removed (or they have none),
/// and their record has not changed since `cutoff`.
pub fn without_live_bookings(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    use crate::db::schema::consultations;
    Ok(crate::native!(conn, |db| clients::table
        .filter(clients::erased_at.is_null())
        .filter(clients::updated_at.lt(to_db(cutoff)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            consultations::table
                .filter(consultations::client_id.eq(clients::id))
                .filter(consultations::personal_data_removed_at.is_null()),
        )))
        .select(clients::id)
        .limit(limit)
        .load(db))?)
}

/// Replaces a client's personal data irreversibly; keeps the row (and its
/// id) so that financial records still join to it.
pub fn anonymise(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(clients::table.find(id))
        .set((
            clients::full_name.eq("Erased client"),
            clients::email.eq(""),
            clients::email_normalized.eq(""),
            clients::phone.eq(""),
            clients::date_of_birth.eq(None::<NaiveDate>),
            clients::identity_key.eq(None::<String>),
            clients::erased_at.eq(Some(to_db(now))),
            clients::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    Ok(())
}
