//! Clients: the people consultations are booked for, one per email.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::clients;
use crate::db::{DbConnection, DbError};

use super::{new_id, to_db};

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
    Ok(clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// Finds the client with this email and brings their details up to date,
/// or creates them. Runs inside the booking transaction.
pub fn upsert(
    conn: &mut DbConnection,
    d: &ClientDetails,
    now: DateTime<Utc>,
) -> Result<ClientRow, DbError> {
    let normalized = normalize_email(&d.email);
    let existing: Option<String> = clients::table
        .filter(clients::email_normalized.eq(&normalized))
        .select(clients::id)
        .first(conn)
        .optional()?;
    let id = match existing {
        Some(id) => {
            diesel::update(clients::table.find(&id))
                .set((
                    clients::full_name.eq(&d.full_name),
                    clients::email.eq(d.email.trim()),
                    clients::phone.eq(&d.phone),
                    clients::date_of_birth.eq(Some(d.date_of_birth)),
                    clients::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            id
        }
        None => {
            let id = new_id();
            // A savepoint: a concurrent booking with the same email may win
            // the insert, and the enclosing transaction must survive that.
            let inserted = conn.transaction(|c| {
                diesel::insert_into(clients::table)
                    .values((
                        clients::id.eq(&id),
                        clients::full_name.eq(&d.full_name),
                        clients::email.eq(d.email.trim()),
                        clients::email_normalized.eq(&normalized),
                        clients::phone.eq(&d.phone),
                        clients::date_of_birth.eq(Some(d.date_of_birth)),
                        clients::created_at.eq(to_db(now)),
                        clients::updated_at.eq(to_db(now)),
                    ))
                    .execute(c)
            });
            match inserted.map_err(DbError::from) {
                Ok(_) => id,
                Err(DbError::UniqueViolation(_)) => clients::table
                    .filter(clients::email_normalized.eq(&normalized))
                    .select(clients::id)
                    .first(conn)?,
                Err(e) => return Err(e),
            }
        }
    };
    get(conn, &id)?.ok_or(DbError::NotFound)
}
