//! Outbound webhooks to subscribers: endpoints, the outbox of events and
//! its fan-out, and deliveries.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{api_keys, outbox_events, webhook_deliveries, webhook_endpoints};
use crate::db::{DbConnection, DbError};

use super::{from_db, new_id, ordered_id, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    owner_key_id: String,
    owner_role: String,
    url: String,
    event_types: String,
    secret: String,
    active: bool,
    disabled_reason: Option<String>,
    failing_since: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub owner_key_id: String,
    pub owner_role: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// Whether this endpoint receives `event`: subscribed to its type, and
    /// (for a partner) about a booking that partner made.
    pub fn wants(&self, event_type: &str, partner_key_id: Option<&str>) -> bool {
        self.event_types.iter().any(|t| t == event_type)
            && (self.owner_role != "partner" || partner_key_id == Some(self.owner_key_id.as_str()))
    }
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            event_types: serde_json::from_str(&r.event_types).unwrap_or_default(),
            id: r.id,
            owner_key_id: r.owner_key_id,
            owner_role: r.owner_role,
            url: r.url,
            secret: r.secret,
            active: r.active,
            disabled_reason: r.disabled_reason,
            failing_since: r.failing_since.map(from_db),
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        }
    }
}

/// What a subscriber writes.
#[derive(Debug, Clone)]
pub struct EndpointFields {
    pub url: String,
    pub event_types: Vec<String>,
    pub active: bool,
}

pub fn insert_endpoint(
    conn: &mut DbConnection,
    owner_key_id: &str,
    owner_role: &str,
    f: &EndpointFields,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Endpoint, DbError> {
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(&id),
            webhook_endpoints::owner_key_id.eq(owner_key_id),
            webhook_endpoints::owner_role.eq(owner_role),
            webhook_endpoints::url.eq(&f.url),
            webhook_endpoints::event_types
                .eq(serde_json::to_string(&f.event_types).expect("strings serialise")),
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::active.eq(f.active),
            webhook_endpoints::created_at.eq(to_db(now)),
            webhook_endpoints::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    endpoint(conn, &id)?.ok_or(DbError::NotFound)
}

pub fn endpoint(conn: &mut DbConnection, id: &str) -> Result<Option<Endpoint>, DbError> {
    Ok(crate::native!(conn, |db| webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .get_result(db))
    .optional()?
    .map(Endpoint::from))
}

/// How many endpoints a key owns.
pub fn endpoint_count(conn: &mut DbConnection, owner_key_id: &str) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| webhook_endpoints::table
        .filter(webhook_endpoints::owner_key_id.eq(owner_key_id))
        .count()
        .get_result(db))?)
}

/// Stops deliveries to every endpoint a key owns (its key was revoked).
pub fn disable_endpoints_of(
    conn: &mut DbConnection,
    owner_key_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::owner_key_id.eq(owner_key_id))
            .filter(webhook_endpoints::active.eq(true)),
    )
    .set((
        webhook_endpoints::active.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(reason)),
        webhook_endpoints::updated_at.eq(to_db(now)),
    ))
    .execute(db))?)
}

/// Endpoints, all or those of one key, oldest first.
pub fn endpoints(
    conn: &mut DbConnection,
    owner_key_id: Option<&str>,
) -> Result<Vec<Endpoint>, DbError> {
    let rows: Vec<EndpointRow> = crate::native!(conn, |db| {
        let mut q = webhook_endpoints::table
            .select(EndpointRow::as_select())
            .order((
                webhook_endpoints::created_at.asc(),
                webhook_endpoints::id.asc(),
            ))
            .into_boxed();
        if let Some(owner) = owner_key_id {
            q = q.filter(webhook_endpoints::owner_key_id.eq(owner.to_owned()));
        }
        q.load(db)
    })?;
    Ok(rows.into_iter().map(Endpoint::from).collect())
}

/// Replaces what a subscriber controls; re-enabling clears the failure state.
pub fn update_endpoint(
    conn: &mut DbConnection,
    id: &str,
    f: &EndpointFields,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(&f.url),
            webhook_endpoints::event_types
                .eq(serde_json::to_string(&f.event_types).expect("strings serialise")),
            webhook_endpoints::active.eq(f.active),
            webhook_endpoints::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    if f.active {
        crate::native!(conn, |db| diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::disabled_reason.eq(None::<String>),
                webhook_endpoints::failing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(db))?;
    }
    Ok(())
}

pub fn delete_endpoint(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    crate::native!(conn, |db| diesel::delete(
        webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))
    )
    .execute(db))?;
    Ok(
        crate::native!(conn, |db| diesel::delete(webhook_endpoints::table.find(id))
            .execute(db))?
            > 0,
    )
}

/// Records a delivery outcome on the endpoint: a success clears the failure
/// state; a failure starts it, and disables the endpoint once it has lasted
/// `disable_after`.
pub fn record_endpoint_outcome(
    conn: &mut DbConnection,
    id: &str,
    ok: bool,
    disable_after: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if ok {
        crate::native!(conn, |db| diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
            .execute(db))?;
        return Ok(false);
    }
    crate::native!(conn, |db| diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::failing_since.is_null()),
    )
    .set(webhook_endpoints::failing_since.eq(Some(to_db(now))))
    .execute(db))?;
    let disabled = crate::native!(conn, |db| diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::active.eq(true))
            .filter(webhook_endpoints::failing_since.le(to_db(now - disable_after))),
    )
    .set((
        webhook_endpoints::active.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(format!(
            "every delivery failed for {} hours",
            disable_after.num_hours()
        ))),
        webhook_endpoints::updated_at.eq(to_db(now)),
    ))
    .execute(db))?;
    Ok(disabled == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_events)]
pub struct OutboxEvent {
    pub id: String,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub consultation_id: String,
    pub partner_key_id: Option<String>,
    pub payload: String,
    pub dispatched: bool,
}

/// An event to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutboxEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub consultation_id: &'a str,
    /// The partner that booked, whose endpoints receive it.
    pub partner_key_id: Option<&'a str>,
    pub payload: String,
}

pub fn insert_outbox_event(
    conn: &mut DbConnection,
    e: &NewOutboxEvent<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(e.id),
            outbox_events::event_type.eq(e.event_type),
            outbox_events::occurred_at.eq(to_db(now)),
            outbox_events::consultation_id.eq(e.consultation_id),
            outbox_events::partner_key_id.eq(e.partner_key_id),
            outbox_events::payload.eq(&e.payload),
            outbox_events::dispatched.eq(false),
        ))
        .execute(db))?;
    Ok(())
}

/// Turns undispatched outbox events into one pending delivery per
/// interested endpoint. Call in a write transaction. Returns how many
/// events were dispatched.
pub fn fan_out(conn: &mut DbConnection, now: DateTime<Utc>, limit: i64) -> Result<usize, DbError> {
    let events: Vec<OutboxEvent> = crate::native!(conn, |db| outbox_events::table
        .filter(outbox_events::dispatched.eq(false))
        .select(OutboxEvent::as_select())
        .order((outbox_events::occurred_at.asc(), outbox_events::id.asc()))
        .limit(limit)
        .load(db))?;
    if events.is_empty() {
        return Ok(0);
    }
    let targets: Vec<Endpoint> = endpoints(conn, None)?;
    for event in &events {
        for endpoint in targets
            .iter()
            .filter(|e| e.wants(&event.event_type, event.partner_key_id.as_deref()))
        {
            let inserted = conn.transaction(|c| {
                crate::native!(c, |db| diesel::insert_into(webhook_deliveries::table)
                    .values((
                        webhook_deliveries::id.eq(ordered_id()),
                        webhook_deliveries::endpoint_id.eq(&endpoint.id),
                        webhook_deliveries::event_id.eq(&event.id),
                        webhook_deliveries::event_occurred_at.eq(event.occurred_at),
                        webhook_deliveries::status.eq("pending"),
                        webhook_deliveries::attempts.eq(0),
                        webhook_deliveries::next_attempt_at.eq(to_db(now)),
                        webhook_deliveries::created_at.eq(to_db(now)),
                    ))
                    .execute(db))
            });
            match inserted.map_err(DbError::from) {
                Ok(_) | Err(DbError::UniqueViolation(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    // One statement for the whole pass (at most `limit` ids).
    crate::native!(conn, |db| diesel::update(
        outbox_events::table.filter(outbox_events::id.eq_any(events.iter().map(|e| &e.id))),
    )
    .set(outbox_events::dispatched.eq(true))
    .execute(db))?;
    Ok(events.len())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    event_id: String,
    event_occurred_at: NaiveDateTime,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    delivered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub event_occurred_at: DateTime<Utc>,
    /// `pending`, `succeeded` or `abandoned`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// The database value, for the optimistic claim.
    pub next_attempt_raw: NaiveDateTime,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub payload: String,
}

fn to_delivery(r: DeliveryRow, event: OutboxEvent) -> Delivery {
    Delivery {
        id: r.id,
        endpoint_id: r.endpoint_id,
        event_id: r.event_id,
        event_type: event.event_type,
        event_occurred_at: from_db(r.event_occurred_at),
        status: r.status,
        attempts: r.attempts,
        next_attempt_at: from_db(r.next_attempt_at),
        next_attempt_raw: r.next_attempt_at,
        last_attempt_at: r.last_attempt_at.map(from_db),
        last_status_code: r.last_status_code,
        last_error: r.last_error,
        created_at: from_db(r.created_at),
        delivered_at: r.delivered_at.map(from_db),
        payload: event.payload,
    }
}

/// Endpoints that receive deliveries: active, and never one whose owner's
/// key was revoked.
#[diesel::dsl::auto_type(no_type_alias)]
fn receiving() -> _ {
    let active: bool = true;
    webhook_endpoints::active.eq(active).and(
        webhook_endpoints::owner_key_id.eq_any(
            api_keys::table
                .filter(api_keys::revoked_at.is_null())
                .select(api_keys::id),
        ),
    )
}

/// For each active endpoint, its oldest pending delivery (by event time):
/// deliveries to one endpoint go out in order, one at a time.
pub fn heads_of_queues(conn: &mut DbConnection) -> Result<Vec<Delivery>, DbError> {
    let rows: Vec<(DeliveryRow, OutboxEvent)> =
        crate::native!(conn, |db| webhook_deliveries::table
            .inner_join(outbox_events::table)
            .inner_join(webhook_endpoints::table)
            .filter(webhook_deliveries::status.eq("pending"))
            .filter(receiving())
            .select((DeliveryRow::as_select(), OutboxEvent::as_select()))
            .order((
                webhook_deliveries::endpoint_id.asc(),
                webhook_deliveries::event_occurred_at.asc(),
                webhook_deliveries::id.asc(),
            ))
            .limit(5000)
            .load(db))?;
    let mut heads: Vec<Delivery> = Vec::new();
    for (row, event) in rows {
        if heads
            .last()
            .is_none_or(|h| h.endpoint_id != row.endpoint_id)
        {
            heads.push(to_delivery(row, event));
        }
    }
    Ok(heads)
}

/// The oldest pending delivery of one active endpoint (by event time), if
/// it is due at `now`, taken for this instance until `lease_until`; with
/// the endpoint as it is now. `None` when the endpoint's queue is empty,
/// its head is not due (waiting for a retry, or held by a sender), the
/// endpoint is inactive, or another instance took the head first. Only the
/// head is ever taken, so an endpoint has one delivery in flight at a time
/// and its events go out in order.
pub fn claim_next(
    conn: &mut DbConnection,
    endpoint_id: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<(Delivery, Endpoint)>, DbError> {
    let head: Option<(DeliveryRow, OutboxEvent)> =
        crate::native!(conn, |db| webhook_deliveries::table
            .inner_join(outbox_events::table)
            .inner_join(webhook_endpoints::table)
            .filter(webhook_deliveries::status.eq("pending"))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(receiving())
            .select((DeliveryRow::as_select(), OutboxEvent::as_select()))
            .order((
                webhook_deliveries::event_occurred_at.asc(),
                webhook_deliveries::id.asc(),
            ))
            .first(db))
        .optional()?;
    let Some((row, event)) = head else {
        return Ok(None);
    };
    let delivery = to_delivery(row, event);
    if delivery.next_attempt_at > now || !claim(conn, &delivery, lease_until)? {
        return Ok(None);
    }
    let Some(endpoint) = endpoint(conn, endpoint_id)? else {
        return Ok(None);
    };
    Ok(Some((delivery, endpoint)))
}

/// Takes a due delivery for this instance until `lease_until` (false when
/// another instance took it first).
pub fn claim(
    conn: &mut DbConnection,
    d: &Delivery,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        webhook_deliveries::table
            .find(&d.id)
            .filter(webhook_deliveries::status.eq("pending"))
            .filter(webhook_deliveries::next_attempt_at.eq(d.next_attempt_raw)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(to_db(lease_until)))
    .execute(db))?;
    Ok(n == 1)
}

/// Events not yet fanned out, deliveries not yet made, and when the
/// oldest of those was queued (for the metrics).
pub fn backlog(conn: &mut DbConnection) -> Result<(i64, i64, Option<DateTime<Utc>>), DbError> {
    let outbox: i64 = crate::native!(conn, |db| outbox_events::table
        .filter(outbox_events::dispatched.eq(false))
        .count()
        .get_result(db))?;
    let (pending, oldest): (i64, Option<NaiveDateTime>) =
        crate::native!(conn, |db| webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("pending"))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(webhook_deliveries::created_at),
            ))
            .get_result(db))?;
    Ok((outbox, pending, oldest.map(from_db)))
}

/// The result of one attempt.
pub struct Attempt<'a> {
    pub ok: bool,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    /// When to try again (ignored on success); `None` gives up.
    pub retry_at: Option<DateTime<Utc>>,
}

pub fn record_attempt(
    conn: &mut DbConnection,
    id: &str,
    a: &Attempt,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let status = match (a.ok, a.retry_at) {
        (true, _) => "succeeded",
        (false, Some(_)) => "pending",
        (false, None) => "abandoned",
    };
    crate::native!(conn, |db| diesel::update(
        webhook_deliveries::table.find(id)
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::last_attempt_at.eq(Some(to_db(now))),
        webhook_deliveries::last_status_code.eq(a.status_code.map(i32::from)),
        webhook_deliveries::last_error.eq(a.error),
        webhook_deliveries::next_attempt_at.eq(to_db(a.retry_at.unwrap_or(now))),
        webhook_deliveries::delivered_at.eq(a.ok.then(|| to_db(now))),
    ))
    .execute(db))?;
    Ok(())
}

/// Deliveries of one endpoint, newest event first.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    status: Option<&str>,
    before: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<Delivery>, DbError> {
    let rows: Vec<(DeliveryRow, OutboxEvent)> = crate::native!(conn, |db| {
        let mut q = webhook_deliveries::table
            .inner_join(outbox_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .select((DeliveryRow::as_select(), OutboxEvent::as_select()))
            .order((
                webhook_deliveries::event_occurred_at.desc(),
                webhook_deliveries::id.desc(),
            ))
            .limit(limit)
            .into_boxed();
        if let Some(s) = status {
            q = q.filter(webhook_deliveries::status.eq(s.to_owned()));
        }
        if let Some((at, id)) = before {
            let at = to_db(at);
            q = q.filter(
                webhook_deliveries::event_occurred_at.lt(at).or(
                    webhook_deliveries::event_occurred_at
                        .eq(at)
                        .and(webhook_deliveries::id.lt(id)),
                ),
            );
        }
        q.load::<(DeliveryRow, OutboxEvent)>(db)
    })?;
    Ok(rows.into_iter().map(|(r, e)| to_delivery(r, e)).collect())
}

pub fn delivery(conn: &mut DbConnection, id: &str) -> Result<Option<Delivery>, DbError> {
    Ok(crate::native!(conn, |db| webhook_deliveries::table
        .inner_join(outbox_events::table)
        .filter(webhook_deliveries::id.eq(id))
        .select((DeliveryRow::as_select(), OutboxEvent::as_select()))
        .get_result::<(DeliveryRow, OutboxEvent)>(db))
    .optional()?
    .map(|(r, e)| to_delivery(r, e)))
}

/// Queues a delivery to be sent again now.
pub fn replay(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(
        webhook_deliveries::table.find(id)
    )
    .set((
        webhook_deliveries::status.eq("pending"),
        webhook_deliveries::next_attempt_at.eq(to_db(now)),
    ))
    .execute(db))?;
    Ok(())
}
