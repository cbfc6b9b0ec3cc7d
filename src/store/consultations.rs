//! Consultations and the slot claims that guard them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{consultations, slot_claims};
use crate::db::{DbConnection, DbError};
use crate::domain::consultation::Status;
use crate::domain::slots::{grid_cells, Interval};

use super::{from_db, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
struct Row {
    id: String,
    client_id: String,
    client_full_name: String,
    client_email: String,
    client_phone: String,
    practitioner_id: String,
    treatment_id: Option<String>,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    status: String,
    hold_expires_at: Option<NaiveDateTime>,
    notes: Option<String>,
    needs_review: bool,
    manage_token_hash: String,
    channel: String,
    booked_by_key_id: Option<String>,
    policy_accepted_at: NaiveDateTime,
    cancelled_by: Option<String>,
    end_reason: Option<String>,
    sequence: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    client_email_key: String,
    client_phone_key: String,
    source_key: String,
    cancellation_reason: Option<String>,
    notify_email: bool,
    notify_sms: bool,
}

/// How a booking was made.
pub mod channel {
    /// The client, through the clinic's own front end or the API directly.
    pub const DIRECT: &str = "direct";
    /// An aggregator with a partner key.
    pub const PARTNER: &str = "partner";
    /// Clinic staff with a staff key.
    pub const STAFF: &str = "staff";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    pub id: String,
    pub client_id: String,
    /// Contact details as given with this booking.
    pub client_full_name: String,
    pub client_email: String,
    pub client_phone: String,
    pub practitioner_id: String,
    pub treatment_id: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: Status,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub needs_review: bool,
    pub manage_token_hash: String,
    pub channel: String,
    pub booked_by_key_id: Option<String>,
    pub policy_accepted_at: DateTime<Utc>,
    pub cancelled_by: Option<String>,
    pub end_reason: Option<String>,
    pub sequence: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The contact details in the forms the holds cap counts them in.
    pub client_email_key: String,
    pub client_phone_key: String,
    /// Where an anonymous booking came from (a hash of the client's
    /// address), for the holds cap; empty otherwise.
    pub source_key: String,
    /// What the client said when cancelling (free text, personal data).
    pub cancellation_reason: Option<String>,
    /// The client's channels for notifications (SMS is opt-in).
    pub notify_email: bool,
    pub notify_sms: bool,
}

impl Consultation {
    pub fn interval(&self) -> Interval {
        Interval::new(self.starts_at, self.ends_at)
    }

    /// Whether the unpaid hold has lapsed at `now` (even if no sweeper ran).
    pub fn hold_lapsed(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::PendingDeposit && self.hold_expires_at.is_some_and(|t| t <= now)
    }
}

impl TryFrom<Row> for Consultation {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Consultation {
            status: Status::parse(&r.status).ok_or_else(|| {
                DbError::Other(format!("unknown consultation status {}", r.status))
            })?,
            id: r.id,
            client_id: r.client_id,
            client_full_name: r.client_full_name,
            client_email: r.client_email,
            client_phone: r.client_phone,
            practitioner_id: r.practitioner_id,
            treatment_id: r.treatment_id,
            starts_at: from_db(r.starts_at),
            ends_at: from_db(r.ends_at),
            hold_expires_at: r.hold_expires_at.map(from_db),
            notes: r.notes,
            needs_review: r.needs_review,
            manage_token_hash: r.manage_token_hash,
            channel: r.channel,
            booked_by_key_id: r.booked_by_key_id,
            policy_accepted_at: from_db(r.policy_accepted_at),
            cancelled_by: r.cancelled_by,
            end_reason: r.end_reason,
            sequence: r.sequence,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
            client_email_key: r.client_email_key,
            client_phone_key: r.client_phone_key,
            source_key: r.source_key,
            cancellation_reason: r.cancellation_reason,
            notify_email: r.notify_email,
            notify_sms: r.notify_sms,
        })
    }
}

pub fn insert(conn: &mut DbConnection, c: &Consultation) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(consultations::table)
        .values((
            consultations::id.eq(&c.id),
            consultations::client_id.eq(&c.client_id),
            consultations::client_full_name.eq(&c.client_full_name),
            consultations::client_email.eq(&c.client_email),
            consultations::client_phone.eq(&c.client_phone),
            consultations::practitioner_id.eq(&c.practitioner_id),
            consultations::treatment_id.eq(&c.treatment_id),
            consultations::starts_at.eq(to_db(c.starts_at)),
            consultations::ends_at.eq(to_db(c.ends_at)),
            consultations::status.eq(c.status.as_str()),
            consultations::hold_expires_at.eq(c.hold_expires_at.map(to_db)),
            consultations::notes.eq(&c.notes),
            consultations::needs_review.eq(c.needs_review),
            consultations::manage_token_hash.eq(&c.manage_token_hash),
            consultations::channel.eq(&c.channel),
            consultations::booked_by_key_id.eq(&c.booked_by_key_id),
            (
                consultations::policy_accepted_at.eq(to_db(c.policy_accepted_at)),
                consultations::cancelled_by.eq(&c.cancelled_by),
                consultations::end_reason.eq(&c.end_reason),
                consultations::sequence.eq(c.sequence),
                consultations::created_at.eq(to_db(c.created_at)),
                consultations::updated_at.eq(to_db(c.updated_at)),
                consultations::notify_email.eq(c.notify_email),
                consultations::notify_sms.eq(c.notify_sms),
            ),
            (
                consultations::client_email_key.eq(&c.client_email_key),
                consultations::client_phone_key.eq(&c.client_phone_key),
                consultations::source_key.eq(&c.source_key),
                consultations::cancellation_reason.eq(&c.cancellation_reason),
            ),
        ))
        .execute(db))?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Consultation>, DbError> {
    crate::native!(conn, |db| consultations::table
        .find(id)
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Consultation::try_from)
    .transpose()
}

pub fn by_manage_token_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> Result<Option<Consultation>, DbError> {
    crate::native!(conn, |db| consultations::table
        .filter(consultations::manage_token_hash.eq(hash))
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Consultation::try_from)
    .transpose()
}

/// What else changes with a status move.
#[derive(Debug, Default, Clone)]
pub struct StatusChange {
    pub cancelled_by: Option<&'static str>,
    /// `Some(None)` clears a previous reason.
    pub end_reason: Option<Option<String>>,
}

/// Moves `id` from `from` to `to`, only if it is still in `from`
/// (optimistic: false when another request moved it first).
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: Status,
    to: Status,
    change: StatusChange,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let hold = if to == Status::PendingDeposit {
        None
    } else {
        Some(None::<NaiveDateTime>)
    };
    let n = crate::native!(conn, |db| diesel::update(
        consultations::table
            .find(id)
            .filter(consultations::status.eq(from.as_str())),
    )
    .set((
        consultations::status.eq(to.as_str()),
        consultations::updated_at.eq(to_db(now)),
        change
            .cancelled_by
            .map(|b| consultations::cancelled_by.eq(Some(b))),
        change.end_reason.map(|r| consultations::end_reason.eq(r)),
        hold.map(|h| consultations::hold_expires_at.eq(h)),
        // A cancellation is a new revision of the calendar event (its
        // METHOD:CANCEL carries the higher SEQUENCE, RFC 5546).
        (to == Status::Cancelled)
            .then_some(consultations::sequence.eq(consultations::sequence + 1)),
    ))
    .execute(db))?;
    Ok(n == 1)
}

/// Takes the row lock on a consultation before reading it for a change
/// (PostgreSQL; SQLite's write transaction already excludes other writers),
/// so concurrent changes to one booking queue instead of interleaving.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(consultations::table.find(id))
        .set(consultations::sequence.eq(consultations::sequence))
        .execute(db))?;
    Ok(())
}

/// Moves the appointment, if it is still in `status` at `sequence`; the
/// caller has claimed the new cells. False when it changed meanwhile.
pub fn move_to(
    conn: &mut DbConnection,
    c: &Consultation,
    practitioner_id: &str,
    slot: Interval,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        consultations::table
            .find(&c.id)
            .filter(consultations::status.eq(c.status.as_str()))
            .filter(consultations::sequence.eq(c.sequence)),
    )
    .set((
        consultations::practitioner_id.eq(practitioner_id),
        consultations::starts_at.eq(to_db(slot.starts_at)),
        consultations::ends_at.eq(to_db(slot.ends_at)),
        consultations::sequence.eq(consultations::sequence + 1),
        consultations::updated_at.eq(to_db(now)),
    ))
    .execute(db))?;
    Ok(n == 1)
}

pub fn set_manage_token_hash(conn: &mut DbConnection, id: &str, hash: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(consultations::table.find(id))
        .set(consultations::manage_token_hash.eq(hash))
        .execute(db))?;
    Ok(())
}

/// Deletes a consultation that was never acknowledged (a failed booking).
pub fn delete_unacknowledged(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    release_claims(conn, id)?;
    crate::native!(conn, |db| diesel::delete(
        crate::db::schema::deposits::table
            .filter(crate::db::schema::deposits::consultation_id.eq(id)),
    )
    .execute(db))?;
    crate::native!(conn, |db| diesel::delete(consultations::table.find(id))
        .execute(db))?;
    Ok(())
}

/// Time that is taken: consultations that hold their slot (a pending one
/// only while its hold is live), overlapping `range`.
pub fn busy(
    conn: &mut DbConnection,
    practitioner_id: &str,
    range: Interval,
    now: DateTime<Utc>,
) -> Result<Vec<Interval>, DbError> {
    let rows: Vec<(NaiveDateTime, NaiveDateTime)> =
        crate::native!(conn, |db| consultations::table
            .filter(consultations::practitioner_id.eq(practitioner_id))
            .filter(consultations::starts_at.lt(to_db(range.ends_at)))
            .filter(consultations::ends_at.gt(to_db(range.starts_at)))
            .filter(
                consultations::status
                    .eq_any([
                        Status::Confirmed.as_str(),
                        Status::Attended.as_str(),
                        Status::NoShow.as_str(),
                    ])
                    .or(is_pending().and(consultations::hold_expires_at.gt(to_db(now)))),
            )
            .select((consultations::starts_at, consultations::ends_at))
            .load(db))?;
    Ok(rows
        .into_iter()
        .map(|(s, e)| Interval::new(from_db(s), from_db(e)))
        .collect())
}

/// `status = 'pending_deposit'` with the value in the SQL text. Bound as a
/// parameter, it makes SQLite plan the statement again on every run, since
/// whether the partial index on pending holds applies depends on the value.
fn is_pending() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("consultations.status = 'pending_deposit'")
}

/// Unpaid bookings holding their slot at `now` (for the metrics).
pub fn live_holds(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| consultations::table
        .filter(is_pending())
        .filter(consultations::hold_expires_at.gt(to_db(now)))
        .count()
        .get_result(db))?)
}

/// Live unpaid holds counted for the holds caps: those of a contact
/// (email or phone), of a source address, and of a booking key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldCounts {
    pub contact: i64,
    pub source: i64,
    pub key: i64,
}

/// Counts the live unpaid holds of a contact (its email or phone key),
/// of a source (when given) and of a key (when given), in one statement.
pub fn live_holds_of(
    conn: &mut DbConnection,
    email_key: &str,
    phone_key: &str,
    source_key: Option<&str>,
    key_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<HoldCounts, DbError> {
    use diesel::dsl::count_star;
    use diesel::sql_types::Integer;
    // A value no key has (keys are hashes and ids) stands for "not asked".
    const NONE: &str = "(none)";
    let (source, key) = (source_key.unwrap_or(NONE), key_id.unwrap_or(NONE));
    let live = || {
        consultations::table
            .filter(is_pending())
            .filter(consultations::hold_expires_at.gt(to_db(now)))
    };
    // The counts, each through its own partial index, labelled (a union
    // keeps no order), in one statement.
    // The contact's count in two parts (its email; its phone on bookings
    // with another email), each an equality on its own index: an OR of the
    // two would be read through the expiry index, every live hold in turn.
    let rows: Vec<(i32, i64)> = crate::native!(conn, |db| live()
        .filter(consultations::client_email_key.eq(email_key))
        .select((0.into_sql::<Integer>(), count_star()))
        .union_all(
            live()
                .filter(consultations::client_phone_key.eq(phone_key))
                .filter(consultations::client_email_key.ne(email_key))
                .select((0.into_sql::<Integer>(), count_star())),
        )
        .union_all(
            live()
                .filter(consultations::source_key.eq(source))
                .select((1.into_sql::<Integer>(), count_star())),
        )
        .union_all(
            live()
                .filter(consultations::booked_by_key_id.eq(key))
                .select((2.into_sql::<Integer>(), count_star())),
        )
        .load(db))?;
    let mut counts = HoldCounts::default();
    for (label, n) in rows {
        match label {
            0 => counts.contact += n,
            1 => counts.source = n,
            _ => counts.key = n,
        }
    }
    Ok(counts)
}

/// Bookings still to come that hold their slot (confirmed, or pending with
/// a live hold), overlapping `range`, of one practitioner or all.
pub fn live_overlapping(
    conn: &mut DbConnection,
    practitioner_id: Option<&str>,
    range: Interval,
    now: DateTime<Utc>,
) -> Result<Vec<Consultation>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| {
        let mut q = consultations::table
            .filter(consultations::starts_at.lt(to_db(range.ends_at)))
            .filter(consultations::ends_at.gt(to_db(range.starts_at)))
            .filter(consultations::starts_at.gt(to_db(now)))
            .filter(
                consultations::status
                    .eq(Status::Confirmed.as_str())
                    .or(is_pending().and(consultations::hold_expires_at.gt(to_db(now)))),
            )
            .select(Row::as_select())
            .order((consultations::starts_at.asc(), consultations::id.asc()))
            .into_boxed();
        if let Some(p) = practitioner_id {
            q = q.filter(consultations::practitioner_id.eq(p.to_owned()));
        }
        q.load(db)
    })?;
    rows.into_iter().map(Consultation::try_from).collect()
}

/// The ids of a client's consultations.
pub fn ids_of_client(conn: &mut DbConnection, client_id: &str) -> Result<Vec<String>, DbError> {
    Ok(crate::native!(conn, |db| consultations::table
        .filter(consultations::client_id.eq(client_id))
        .select(consultations::id)
        .load(db))?)
}

/// Consultations that ended (cancelled or expired) before `cutoff` and
/// still hold personal data.
pub fn ended_with_personal_data(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(crate::native!(conn, |db| consultations::table
        .filter(
            consultations::status.eq_any([Status::Cancelled.as_str(), Status::Expired.as_str()]),
        )
        .filter(consultations::updated_at.lt(to_db(cutoff)))
        .filter(consultations::personal_data_removed_at.is_null())
        .select(consultations::id)
        .limit(limit)
        .load(db))?)
}

/// Removes the personal data these bookings carry: the contact details
/// given with them (and the keys derived from them), the notes and the
/// cancellation reason. The bookings stay, as the clinic's records.
pub fn strip_personal_data(
    conn: &mut DbConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(crate::native!(conn, |db| diesel::update(
        consultations::table.filter(consultations::id.eq_any(ids))
    )
    .set((
        consultations::client_full_name.eq(""),
        consultations::client_email.eq(""),
        consultations::client_phone.eq(""),
        consultations::client_email_key.eq(""),
        consultations::client_phone_key.eq(""),
        consultations::source_key.eq(""),
        consultations::notes.eq(None::<String>),
        consultations::cancellation_reason.eq(None::<String>),
        consultations::personal_data_removed_at.eq(Some(to_db(now))),
    ))
    .execute(db))?)
}

/// A booking as erasure judges it: its status, start and hold expiry.
pub type BookingState = (Status, DateTime<Utc>, Option<DateTime<Utc>>);

/// A client's bookings as erasure judges them.
pub fn states_of_client(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Vec<BookingState>, DbError> {
    let rows: Vec<(String, NaiveDateTime, Option<NaiveDateTime>)> =
        crate::native!(conn, |db| consultations::table
            .filter(consultations::client_id.eq(client_id))
            .select((
                consultations::status,
                consultations::starts_at,
                consultations::hold_expires_at,
            ))
            .load(db))?;
    rows.into_iter()
        .map(|(status, starts, hold)| {
            let status = Status::parse(&status)
                .ok_or_else(|| DbError::Other(format!("unknown consultation status {status}")))?;
            Ok((status, from_db(starts), hold.map(from_db)))
        })
        .collect()
}

/// Records what the client said when cancelling.
pub fn set_cancellation_reason(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(consultations::table.find(id))
        .set(consultations::cancellation_reason.eq(Some(reason)))
        .execute(db))?;
    Ok(())
}

/// Pending consultations whose hold lapsed at or before `now`.
pub fn lapsed_holds(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(crate::native!(conn, |db| consultations::table
        .filter(is_pending())
        .filter(consultations::hold_expires_at.le(to_db(now)))
        .select(consultations::id)
        .order(consultations::hold_expires_at.asc())
        .limit(limit)
        .load(db))?)
}

/// Filters for the staff list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub statuses: Vec<Status>,
    pub practitioner_id: Option<String>,
    pub booked_by_key_id: Option<String>,
    pub client_id: Option<String>,
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

/// Consultations in (starts_at, id) order.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> Result<Vec<Consultation>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| {
        let mut q = consultations::table
            .select(Row::as_select())
            .order((consultations::starts_at.asc(), consultations::id.asc()))
            .limit(f.limit)
            .into_boxed();
        if let Some(from) = f.from {
            q = q.filter(consultations::starts_at.ge(to_db(from)));
        }
        if let Some(to) = f.to {
            q = q.filter(consultations::starts_at.lt(to_db(to)));
        }
        if !f.statuses.is_empty() {
            q = q.filter(
                consultations::status
                    .eq_any(f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
        }
        if let Some(p) = &f.practitioner_id {
            q = q.filter(consultations::practitioner_id.eq(p.clone()));
        }
        if let Some(k) = &f.booked_by_key_id {
            q = q.filter(consultations::booked_by_key_id.eq(k.clone()));
        }
        if let Some(c) = &f.client_id {
            q = q.filter(consultations::client_id.eq(c.clone()));
        }
        if let Some((at, id)) = &f.after {
            let at = to_db(*at);
            q = q.filter(
                consultations::starts_at.gt(at).or(consultations::starts_at
                    .eq(at)
                    .and(consultations::id.gt(id.clone()))),
            );
        }
        q.load(db)
    })?;
    rows.into_iter().map(Consultation::try_from).collect()
}

/// Claims every cell of `slot`; a `UniqueViolation` when any is held (the
/// cells it did claim are the caller's to roll back, in its savepoint).
pub fn claim(
    conn: &mut DbConnection,
    practitioner_id: &str,
    slot: Interval,
    consultation_id: &str,
) -> Result<(), DbError> {
    if claim_unheld(conn, practitioner_id, slot, consultation_id)? == cells_of(slot) {
        return Ok(());
    }
    Err(DbError::UniqueViolation(
        "slot_claims: a cell of the slot is held".into(),
    ))
}

/// Claims the cells of `slot` that no one holds; returns how many it
/// claimed (fewer than the slot's cells when some are held).
pub fn claim_unheld(
    conn: &mut DbConnection,
    practitioner_id: &str,
    slot: Interval,
    consultation_id: &str,
) -> Result<usize, DbError> {
    let rows: Vec<_> = grid_cells(&slot)
        .into_iter()
        .map(|cell| {
            (
                slot_claims::practitioner_id.eq(practitioner_id.to_owned()),
                slot_claims::cell_start.eq(to_db(cell)),
                slot_claims::consultation_id.eq(consultation_id.to_owned()),
            )
        })
        .collect();
    Ok(crate::native!(conn, |db| diesel::insert_into(
        slot_claims::table
    )
    .values(&rows)
    .on_conflict_do_nothing()
    .execute(db))?)
}

/// How many claim cells `slot` covers.
pub fn cells_of(slot: Interval) -> usize {
    grid_cells(&slot).len()
}

pub fn release_claims(conn: &mut DbConnection, consultation_id: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::delete(
        slot_claims::table.filter(slot_claims::consultation_id.eq(consultation_id))
    )
    .execute(db))?;
    Ok(())
}

/// Consultations holding claims on any cell of `slot`.
pub fn claim_holders(
    conn: &mut DbConnection,
    practitioner_id: &str,
    slot: Interval,
) -> Result<Vec<String>, DbError> {
    let cells: Vec<NaiveDateTime> = grid_cells(&slot).into_iter().map(to_db).collect();
    let mut ids: Vec<String> = crate::native!(conn, |db| slot_claims::table
        .filter(slot_claims::practitioner_id.eq(practitioner_id))
        .filter(slot_claims::cell_start.eq_any(cells))
        .select(slot_claims::consultation_id)
        .load(db))?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Whether any consultation was ever booked here.
pub fn any(conn: &mut DbConnection) -> Result<bool, DbError> {
    let found: Option<String> = crate::native!(conn, |db| consultations::table
        .select(consultations::id)
        .first(db)
        .optional())?;
    Ok(found.is_some())
}
