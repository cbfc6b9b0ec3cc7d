//! Staff and partner API keys: created and revoked from the command line,
//! checked on every request that presents one.

use super::{App, AppError};
use crate::domain::actor::{label, Identity, Role};
use crate::store::api_keys::{self, CreatedKey};
use crate::store::deliveries;

/// The holder of a presented key, if it is live; records its use (at most
/// every few minutes).
pub async fn authenticate(app: &App, presented: &str) -> Result<Option<Identity>, AppError> {
    let presented = presented.to_owned();
    let now = app.now();
    let row = app
        .db
        .run(move |conn| api_keys::find_live(conn, &presented))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let role = Role::parse(&row.role)
        .ok_or_else(|| AppError::internal("stored key has an unknown role"))?;
    if api_keys::use_is_stale(&row, now) {
        let id = row.id.clone();
        app.write(move |tx| Ok(api_keys::record_use(tx.conn, &id, tx.now)?))
            .await?;
    }
    Ok(Some(Identity {
        key_id: row.id,
        name: row.name,
        role,
    }))
}

/// Creates a key; the secret is only ever in the answer.
pub async fn create(app: &App, name: &str, role: Role) -> Result<CreatedKey, AppError> {
    let name = name.to_owned();
    app.write(move |tx| {
        let created = api_keys::create(tx.conn, &name, role, tx.now)?;
        let after = serde_json::json!({"role": role.as_str(), "prefix": created.prefix});
        tx.audit(
            label::SYSTEM,
            "api_key.created",
            "api_key",
            &created.id,
            None,
            Some(after),
        )?;
        Ok(created)
    })
    .await
}

/// Revokes a key by id or prefix at once, and stops deliveries to the
/// webhook endpoints it owns; false when no live key matched.
pub async fn revoke(app: &App, id_or_prefix: &str) -> Result<bool, AppError> {
    let id_or_prefix = id_or_prefix.to_owned();
    app.write(move |tx| {
        let Some(id) = api_keys::revoke(tx.conn, &id_or_prefix, tx.now)? else {
            return Ok(false);
        };
        let disabled = deliveries::disable_endpoints_of(
            tx.conn,
            &id,
            "the owner's API key was revoked",
            tx.now,
        )?;
        let after = serde_json::json!({ "webhook_endpoints_disabled": disabled });
        tx.audit(
            label::SYSTEM,
            "api_key.revoked",
            "api_key",
            &id,
            None,
            Some(after),
        )?;
        Ok(true)
    })
    .await
}
