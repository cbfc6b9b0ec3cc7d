//! Notifications planned for bookings (the outbox the notification worker
//! sends from) and the manage links sent in them.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{manage_links, notifications};
use crate::db::{DbConnection, DbError};
use crate::domain::notifications::{Audience, Channel, DeliveryStatus, Kind};

use super::{from_db, ordered_id, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct Row {
    id: String,
    consultation_id: String,
    kind: String,
    audience: String,
    channel: String,
    version: i32,
    offset_minutes: i32,
    resend_number: i32,
    recipient_masked: String,
    previous_starts_at: Option<NaiveDateTime>,
    status: String,
    status_reason: Option<String>,
    attempts: i32,
    send_after: NaiveDateTime,
    next_attempt_at: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    last_error: Option<String>,
    provider_message_id: Option<String>,
    sent_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// One planned message and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub consultation_id: String,
    pub kind: Kind,
    pub audience: Audience,
    pub channel: Channel,
    pub version: i32,
    pub offset: Duration,
    pub resend_number: i32,
    pub recipient_masked: String,
    pub previous_starts_at: Option<DateTime<Utc>>,
    pub status: DeliveryStatus,
    pub status_reason: Option<String>,
    pub attempts: i32,
    pub send_after: DateTime<Utc>,
    /// The next try, or (while `sending`) the end of the sender's lease.
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Notification {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        let bad = |what: &str, v: &str| DbError::Other(format!("unknown notification {what} {v}"));
        Ok(Notification {
            kind: Kind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            audience: match r.audience.as_str() {
                "clinic" => Audience::Clinic,
                "client" => Audience::Client,
                other => return Err(bad("audience", other)),
            },
            channel: Channel::parse(&r.channel).ok_or_else(|| bad("channel", &r.channel))?,
            status: DeliveryStatus::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            id: r.id,
            consultation_id: r.consultation_id,
            version: r.version,
            offset: Duration::minutes(i64::from(r.offset_minutes)),
            resend_number: r.resend_number,
            recipient_masked: r.recipient_masked,
            previous_starts_at: r.previous_starts_at.map(from_db),
            status_reason: r.status_reason,
            attempts: r.attempts,
            send_after: from_db(r.send_after),
            next_attempt_at: from_db(r.next_attempt_at),
            last_attempt_at: r.last_attempt_at.map(from_db),
            last_error: r.last_error,
            provider_message_id: r.provider_message_id,
            sent_at: r.sent_at.map(from_db),
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

fn to_notifications(rows: Vec<Row>) -> Result<Vec<Notification>, DbError> {
    rows.into_iter().map(Notification::try_from).collect()
}

/// A message to plan.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub consultation_id: &'a str,
    pub kind: Kind,
    pub channel: Channel,
    pub version: i32,
    pub offset: Duration,
    pub resend_number: i32,
    pub recipient_masked: String,
    pub previous_starts_at: Option<DateTime<Utc>>,
    pub send_after: DateTime<Utc>,
}

/// Plans messages (one statement). A message already planned for the same
/// booking, kind, version, channel and audience is left as it is: the
/// unique key is the database's guarantee of at most one per version.
pub fn insert(
    conn: &mut DbConnection,
    new: &[NewNotification<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbError> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = new.iter().map(|_| ordered_id()).collect();
    let rows: Vec<_> = new
        .iter()
        .zip(&ids)
        .map(|(n, id)| {
            (
                notifications::id.eq(id.clone()),
                notifications::consultation_id.eq(n.consultation_id.to_owned()),
                notifications::kind.eq(n.kind.as_str()),
                notifications::audience.eq(n.kind.audience().as_str()),
                notifications::channel.eq(n.channel.as_str()),
                notifications::version.eq(n.version),
                notifications::offset_minutes
                    .eq(i32::try_from(n.offset.num_minutes()).unwrap_or(i32::MAX)),
                notifications::resend_number.eq(n.resend_number),
                notifications::recipient_masked.eq(n.recipient_masked.clone()),
                notifications::previous_starts_at.eq(n.previous_starts_at.map(to_db)),
                notifications::status.eq(DeliveryStatus::Pending.as_str()),
                notifications::attempts.eq(0),
                notifications::send_after.eq(to_db(n.send_after)),
                notifications::next_attempt_at.eq(to_db(n.send_after)),
                (
                    notifications::created_at.eq(to_db(now)),
                    notifications::updated_at.eq(to_db(now)),
                ),
            )
        })
        .collect();
    crate::native!(conn, |db| diesel::insert_into(notifications::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(db))?;
    Ok(ids)
}

/// Withdraws the booking's pending messages of these kinds (a later change
/// made them wrong). One being sent is left to its sender.
pub fn drop_pending(
    conn: &mut DbConnection,
    consultation_id: &str,
    kinds: &[Kind],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    if kinds.is_empty() {
        return Ok(0);
    }
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    Ok(crate::native!(conn, |db| diesel::update(
        notifications::table
            .filter(notifications::consultation_id.eq(consultation_id))
            .filter(notifications::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(notifications::kind.eq_any(&kinds)),
    )
    .set((
        notifications::status.eq(DeliveryStatus::Dropped.as_str()),
        notifications::status_reason.eq(Some(reason)),
        notifications::updated_at.eq(to_db(now)),
    ))
    .execute(db))?)
}

const OPEN: [&str; 2] = ["pending", "sending"];

/// The ids of up to `limit` messages due at `now`, the oldest first.
#[diesel::dsl::auto_type(no_type_alias)]
fn due_ids(now: NaiveDateTime, limit: i64) -> _ {
    let open: [&'static str; 2] = OPEN;
    notifications::table
        .filter(notifications::status.eq_any(open))
        .filter(notifications::next_attempt_at.le(now))
        .order((
            notifications::next_attempt_at.asc(),
            notifications::id.asc(),
        ))
        .select(notifications::id)
        .limit(limit)
}

/// Claims up to `limit` due messages for this instance until
/// `lease_until`: pending ones whose time has come, and ones whose sender's
/// lease ran out (it stopped mid-send). Call in a write transaction. On
/// PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so instances
/// claiming at once take different rows; SQLite has one writer at a time.
/// The conditional update makes a row claimed once either way.
pub fn claim_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Notification>, DbError> {
    let ids: Vec<String> = match conn {
        DbConnection::Postgres(db) => due_ids(to_db(now), limit)
            .for_update()
            .skip_locked()
            .load(db)?,
        DbConnection::Sqlite(db) => due_ids(to_db(now), limit).load(db)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::native!(conn, |db| diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(&ids))
            .filter(notifications::status.eq_any(OPEN))
            .filter(notifications::next_attempt_at.le(to_db(now))),
    )
    .set((
        notifications::status.eq(DeliveryStatus::Sending.as_str()),
        notifications::next_attempt_at.eq(to_db(lease_until)),
        notifications::updated_at.eq(to_db(now)),
    ))
    .execute(db))?;
    // Read back only what this claim holds (the lease is its mark).
    let rows: Vec<Row> = crate::native!(conn, |db| notifications::table
        .filter(notifications::id.eq_any(&ids))
        .filter(notifications::status.eq(DeliveryStatus::Sending.as_str()))
        .filter(notifications::next_attempt_at.eq(to_db(lease_until)))
        .order((notifications::send_after.asc(), notifications::id.asc()))
        .select(Row::as_select())
        .load(db))?;
    to_notifications(rows)
}

/// How one claimed message ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        provider_message_id: Option<String>,
    },
    /// No channel configured: rendered, not sent.
    Recorded,
    /// Not sent; it no longer made sense.
    Skipped(String),
    /// Not sent yet (the booking is not ready); no attempt counted.
    Postponed(DateTime<Utc>),
    /// The attempt failed; try again then.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// The attempt failed; given up.
    Failed {
        error: String,
    },
}

/// Records how a claimed message ended, if this instance still holds it
/// (`lease_until` is the claim's mark). False when the lease was lost.
pub fn record(
    conn: &mut DbConnection,
    id: &str,
    lease_until: DateTime<Utc>,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let (status, next, reason, error, attempted): (_, _, Option<&str>, Option<&str>, bool) =
        match outcome {
            Outcome::Sent { .. } => (DeliveryStatus::Sent, now, None, None, true),
            Outcome::Recorded => (
                DeliveryStatus::Recorded,
                now,
                Some("no channel is configured"),
                None,
                false,
            ),
            Outcome::Skipped(why) => (DeliveryStatus::Skipped, now, Some(why), None, false),
            Outcome::Postponed(at) => (DeliveryStatus::Pending, *at, None, None, false),
            Outcome::Retry { at, error } => (DeliveryStatus::Pending, *at, None, Some(error), true),
            Outcome::Failed { error } => (
                DeliveryStatus::Failed,
                now,
                Some("given up"),
                Some(error),
                true,
            ),
        };
    let provider_id = match outcome {
        Outcome::Sent {
            provider_message_id,
        } => provider_message_id.clone(),
        _ => None,
    };
    let sent = matches!(outcome, Outcome::Sent { .. } | Outcome::Recorded).then(|| to_db(now));
    let n = crate::native!(conn, |db| diesel::update(
        notifications::table
            .find(id)
            .filter(notifications::status.eq(DeliveryStatus::Sending.as_str()))
            .filter(notifications::next_attempt_at.eq(to_db(lease_until))),
    )
    .set((
        notifications::status.eq(status.as_str()),
        notifications::next_attempt_at.eq(to_db(next)),
        notifications::status_reason.eq(reason),
        notifications::attempts.eq(notifications::attempts + i32::from(attempted)),
        attempted.then_some(notifications::last_attempt_at.eq(Some(to_db(now)))),
        error.map(|e| notifications::last_error.eq(Some(e))),
        provider_id
            .clone()
            .map(|p| notifications::provider_message_id.eq(Some(p))),
        sent.map(|s| notifications::sent_at.eq(Some(s))),
        notifications::updated_at.eq(to_db(now)),
    ))
    .execute(db))?;
    Ok(n == 1)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Notification>, DbError> {
    crate::native!(conn, |db| notifications::table
        .find(id)
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Notification::try_from)
    .transpose()
}

/// A booking's messages, newest first, before the cursor.
pub fn list(
    conn: &mut DbConnection,
    consultation_id: &str,
    before: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<Notification>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| {
        let mut q = notifications::table
            .filter(notifications::consultation_id.eq(consultation_id))
            .select(Row::as_select())
            .order((notifications::created_at.desc(), notifications::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some((at, id)) = &before {
            let at = to_db(*at);
            q = q.filter(
                notifications::created_at
                    .lt(at)
                    .or(notifications::created_at
                        .eq(at)
                        .and(notifications::id.lt(id.clone()))),
            );
        }
        q.load(db)
    })?;
    to_notifications(rows)
}

/// Every message of these bookings, oldest first (the client export).
pub fn of_consultations(
    conn: &mut DbConnection,
    consultation_ids: &[String],
) -> Result<Vec<Notification>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| notifications::table
        .filter(notifications::consultation_id.eq_any(consultation_ids))
        .select(Row::as_select())
        .order((notifications::created_at.asc(), notifications::id.asc()))
        .load(db))?;
    to_notifications(rows)
}

/// How many times staff resent the message `n` (its copies).
pub fn copies(conn: &mut DbConnection, n: &Notification) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| notifications::table
        .filter(notifications::consultation_id.eq(&n.consultation_id))
        .filter(notifications::kind.eq(n.kind.as_str()))
        .filter(notifications::audience.eq(n.audience.as_str()))
        .filter(notifications::channel.eq(n.channel.as_str()))
        .filter(notifications::version.eq(n.version))
        .filter(
            notifications::offset_minutes
                .eq(i32::try_from(n.offset.num_minutes()).unwrap_or(i32::MAX)),
        )
        .filter(notifications::resend_number.gt(0))
        .count()
        .get_result(db))?)
}

/// Removes the messages and manage links of these bookings (erasure and
/// retention).
pub fn delete_for(conn: &mut DbConnection, consultation_ids: &[String]) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::delete(
        notifications::table.filter(notifications::consultation_id.eq_any(consultation_ids))
    )
    .execute(db))?;
    crate::native!(conn, |db| diesel::delete(
        manage_links::table.filter(manage_links::consultation_id.eq_any(consultation_ids))
    )
    .execute(db))?;
    Ok(())
}

/// Deletes finished log rows made before `cutoff` (retention).
pub fn purge_finished(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(
        notifications::table
            .filter(notifications::created_at.lt(to_db(cutoff)))
            .filter(notifications::status.ne_all(OPEN)),
    )
    .execute(db))?)
}

/// Stores the hash of a manage link's token.
pub fn insert_link(
    conn: &mut DbConnection,
    token_hash: &str,
    consultation_id: &str,
    notification_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(manage_links::table)
        .values((
            manage_links::token_hash.eq(token_hash),
            manage_links::consultation_id.eq(consultation_id),
            manage_links::notification_id.eq(Some(notification_id)),
            manage_links::created_at.eq(to_db(now)),
        ))
        .execute(db))?;
    Ok(())
}

/// The booking a manage link's token opens, by the token's hash.
pub fn link_consultation(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<String>, DbError> {
    Ok(crate::native!(conn, |db| manage_links::table
        .find(token_hash)
        .select(manage_links::consultation_id)
        .get_result(db))
    .optional()?)
}
