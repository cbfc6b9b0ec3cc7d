//! Staff and partner API keys, stored only as hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::api_keys;
use crate::db::{DbConnection, DbError};
use crate::domain::actor::Role;
use crate::secrets::{self, SecretKind};

use super::{from_db, new_id, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: chrono::NaiveDateTime,
    pub revoked_at: Option<chrono::NaiveDateTime>,
    pub last_used_at: Option<chrono::NaiveDateTime>,
}

/// A freshly created key: the secret is only ever in this value.
#[derive(Debug)]
pub struct CreatedKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
}

pub fn create(
    conn: &mut DbConnection,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<CreatedKey, DbError> {
    let (key, prefix) = secrets::generate(SecretKind::ApiKey);
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::name.eq(name),
            api_keys::role.eq(role.as_str()),
            api_keys::prefix.eq(&prefix),
            api_keys::key_hash.eq(secrets::hash(&key)),
            api_keys::created_at.eq(to_db(now)),
        ))
        .execute(db))?;
    Ok(CreatedKey { id, key, prefix })
}

/// Revokes a key by id or public prefix; the key's id, or `None` when no
/// live key matched.
pub fn revoke(
    conn: &mut DbConnection,
    id_or_prefix: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    let id: Option<String> = crate::native!(conn, |db| api_keys::table
        .filter(
            api_keys::id
                .eq(id_or_prefix)
                .or(api_keys::prefix.eq(id_or_prefix)),
        )
        .filter(api_keys::revoked_at.is_null())
        .select(api_keys::id)
        .get_result(db)
        .optional())?;
    let Some(id) = id else {
        return Ok(None);
    };
    crate::native!(conn, |db| diesel::update(api_keys::table.find(&id))
        .set(api_keys::revoked_at.eq(Some(to_db(now))))
        .execute(db))?;
    Ok(Some(id))
}

/// The live key matching a presented secret, if any.
pub fn find_live(conn: &mut DbConnection, presented: &str) -> Result<Option<ApiKeyRow>, DbError> {
    let Some(public) = secrets::api_key_public_part(presented) else {
        return Ok(None);
    };
    let row: Option<ApiKeyRow> = crate::native!(conn, |db| api_keys::table
        .filter(api_keys::prefix.eq(public))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .get_result(db)
        .optional())?;
    Ok(row.filter(|r| secrets::hashes_match(&r.key_hash, &secrets::hash(presented))))
}

/// Whether a key's last recorded use is old enough to record again (use
/// is recorded at most every five minutes, to keep reads cheap).
pub fn use_is_stale(row: &ApiKeyRow, now: DateTime<Utc>) -> bool {
    row.last_used_at
        .is_none_or(|t| now - from_db(t) > chrono::Duration::minutes(5))
}

pub fn record_use(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(Some(to_db(now))))
        .execute(db))?;
    Ok(())
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ApiKeyRow>, DbError> {
    Ok(crate::native!(conn, |db| api_keys::table
        .order((api_keys::created_at.asc(), api_keys::id.asc()))
        .select(ApiKeyRow::as_select())
        .load(db))?)
}
