//! Subscriptions to booking events (outbound webhooks): endpoints owned by
//! the API key that made them, and replays from their delivery log.
//! Partners receive events about their own bookings; staff endpoints
//! receive every booking's events.

use serde_json::json;

use super::{App, AppError};
use crate::db::DbConnection;
use crate::domain::actor::{Identity, Role};
use crate::secrets;
use crate::store::deliveries::{self, Delivery, Endpoint, EndpointFields};

/// An endpoint the key holder may see: its own, or any for an admin.
pub fn owned(conn: &mut DbConnection, id: &str, who: &Identity) -> Result<Endpoint, AppError> {
    deliveries::endpoint(conn, id)?
        .filter(|e| e.owner_key_id == who.key_id || who.role == Role::Admin)
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// Checks an endpoint URL against the outbound rules (`crate::outbound`).
async fn check_url(app: &App, url: &str) -> Result<(), AppError> {
    crate::outbound::check_target(url, app.settings.webhooks.target_policy())
        .await
        .map(|_| ())
        .map_err(|e| AppError::field("url", "url", e.to_string()))
}

/// Subscribes a URL; returns the endpoint and its signing secret (shown
/// once). One key holds at most `MAX_WEBHOOK_ENDPOINTS_PER_KEY` endpoints.
pub async fn create(
    app: &App,
    who: &Identity,
    fields: EndpointFields,
) -> Result<(Endpoint, String), AppError> {
    check_url(app, &fields.url).await?;
    let cap = i64::from(app.settings.webhooks.max_endpoints_per_key);
    let who = who.clone();
    let secret = format!(
        "whsec_{}",
        &secrets::generate(secrets::SecretKind::ManageToken).0[3..]
    );
    app.write(move |tx| {
        if deliveries::endpoint_count(tx.conn, &who.key_id)? >= cap {
            return Err(AppError::conflict(
                "too_many_endpoints",
                format!("An API key may subscribe at most {cap} endpoints; delete one first."),
            ));
        }
        let e = deliveries::insert_endpoint(
            tx.conn,
            &who.key_id,
            who.role.as_str(),
            &fields,
            &secret,
            tx.now,
        )?;
        let after = json!({"url": e.url, "event_types": e.event_types});
        tx.audit(
            &who.label(),
            "webhook_endpoint.created",
            "webhook_endpoint",
            &e.id,
            None,
            Some(after),
        )?;
        Ok((e, secret))
    })
    .await
}

pub async fn update(
    app: &App,
    who: &Identity,
    id: &str,
    fields: EndpointFields,
) -> Result<Endpoint, AppError> {
    check_url(app, &fields.url).await?;
    let (who, id) = (who.clone(), id.to_owned());
    app.write(move |tx| {
        owned(tx.conn, &id, &who)?;
        deliveries::update_endpoint(tx.conn, &id, &fields, tx.now)?;
        let after =
            json!({"url": fields.url, "event_types": fields.event_types, "active": fields.active});
        tx.audit(
            &who.label(),
            "webhook_endpoint.updated",
            "webhook_endpoint",
            &id,
            None,
            Some(after),
        )?;
        owned(tx.conn, &id, &who)
    })
    .await
}

/// Deletes an endpoint with its delivery log.
pub async fn delete(app: &App, who: &Identity, id: &str) -> Result<(), AppError> {
    let (who, id) = (who.clone(), id.to_owned());
    app.write(move |tx| {
        owned(tx.conn, &id, &who)?;
        deliveries::delete_endpoint(tx.conn, &id)?;
        tx.audit(
            &who.label(),
            "webhook_endpoint.deleted",
            "webhook_endpoint",
            &id,
            None,
            None,
        )?;
        Ok(())
    })
    .await
}

/// Queues a delivery to be sent again now, with the same event id. Callers
/// count it first against `WEBHOOK_REPLAYS_PER_MINUTE` for the key
/// (`abuse::count_limited`, whose standing the answer reports).
pub async fn replay(
    app: &App,
    who: &Identity,
    endpoint_id: &str,
    delivery_id: &str,
) -> Result<Delivery, AppError> {
    let (who, endpoint_id, delivery_id) =
        (who.clone(), endpoint_id.to_owned(), delivery_id.to_owned());
    app.write(move |tx| {
        owned(tx.conn, &endpoint_id, &who)?;
        let d = deliveries::delivery(tx.conn, &delivery_id)?
            .filter(|d| d.endpoint_id == endpoint_id)
            .ok_or(AppError::NotFound("delivery"))?;
        deliveries::replay(tx.conn, &d.id, tx.now)?;
        tx.audit(
            &who.label(),
            "webhook_delivery.replayed",
            "webhook_delivery",
            &d.id,
            None,
            None,
        )?;
        deliveries::delivery(tx.conn, &d.id)?.ok_or(AppError::NotFound("delivery"))
    })
    .await
}
