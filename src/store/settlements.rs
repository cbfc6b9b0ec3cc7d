//! Redemptions and refunds of deposits, and applied provider events.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{deposits, processed_events, redemptions, refunds};
use crate::db::{DbConnection, DbError};
use crate::domain::money::{Currency, Money};

use super::{from_db, new_id, to_db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub id: String,
    pub deposit_id: String,
    pub treatment_id: String,
    pub amount: Money,
    pub note: Option<String>,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub deposit_id: String,
    pub amount: Money,
    pub provider: String,
    pub provider_refund_id: Option<String>,
    pub reason: String,
    pub recorded_by: String,
    /// `pending` while the provider is asked, then `succeeded`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub const REFUND_PENDING: &str = "pending";
pub const REFUND_SUCCEEDED: &str = "succeeded";

fn money(amount: i64, currency: &str) -> Result<Money, DbError> {
    Ok(Money::new(
        amount,
        Currency::parse(currency).map_err(|e| DbError::Other(e.into()))?,
    ))
}

/// Inserts the redemption; a second one for the deposit is a unique violation.
pub fn insert_redemption(
    conn: &mut DbConnection,
    deposit_id: &str,
    treatment_id: &str,
    amount: Money,
    note: Option<&str>,
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<Redemption, DbError> {
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(redemptions::table)
        .values((
            redemptions::id.eq(&id),
            redemptions::deposit_id.eq(deposit_id),
            redemptions::treatment_id.eq(treatment_id),
            redemptions::amount.eq(amount.amount),
            redemptions::currency.eq(amount.currency.code()),
            redemptions::note.eq(note),
            redemptions::recorded_by.eq(recorded_by),
            redemptions::created_at.eq(to_db(now)),
        ))
        .execute(db))?;
    redemption_of(conn, deposit_id)?.ok_or(DbError::NotFound)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = redemptions)]
struct RedemptionRow {
    id: String,
    deposit_id: String,
    treatment_id: String,
    amount: i64,
    currency: String,
    note: Option<String>,
    recorded_by: String,
    created_at: NaiveDateTime,
}

pub fn redemption_of(
    conn: &mut DbConnection,
    deposit_id: &str,
) -> Result<Option<Redemption>, DbError> {
    let row = crate::native!(conn, |db| redemptions::table
        .filter(redemptions::deposit_id.eq(deposit_id))
        .select(RedemptionRow::as_select())
        .get_result(db))
    .optional()?;
    row.map(|r| {
        Ok(Redemption {
            amount: money(r.amount, &r.currency)?,
            id: r.id,
            deposit_id: r.deposit_id,
            treatment_id: r.treatment_id,
            note: r.note,
            recorded_by: r.recorded_by,
            created_at: from_db(r.created_at),
        })
    })
    .transpose()
}

/// A refund about to be made, or made outside (a webhook).
pub struct NewRefund<'a> {
    pub deposit_id: &'a str,
    pub amount: Money,
    pub provider: &'a str,
    pub provider_refund_id: Option<&'a str>,
    pub reason: &'a str,
    pub recorded_by: &'a str,
    pub status: &'static str,
}

/// Inserts the refund (`pending` to reserve the deposit while the provider
/// is asked); a second one for the deposit is a unique violation.
pub fn insert_refund(
    conn: &mut DbConnection,
    r: &NewRefund,
    now: DateTime<Utc>,
) -> Result<Refund, DbError> {
    let id = new_id();
    let done = r.status == REFUND_SUCCEEDED;
    crate::native!(conn, |db| diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(&id),
            refunds::deposit_id.eq(r.deposit_id),
            refunds::amount.eq(r.amount.amount),
            refunds::currency.eq(r.amount.currency.code()),
            refunds::provider.eq(r.provider),
            refunds::provider_refund_id.eq(r.provider_refund_id),
            refunds::reason.eq(r.reason),
            refunds::recorded_by.eq(r.recorded_by),
            refunds::status.eq(r.status),
            refunds::created_at.eq(to_db(now)),
            refunds::completed_at.eq(done.then(|| to_db(now))),
        ))
        .execute(db))?;
    refund_of(conn, r.deposit_id)?.ok_or(DbError::NotFound)
}

/// Marks a pending refund as made.
pub fn complete_refund(
    conn: &mut DbConnection,
    deposit_id: &str,
    provider_refund_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        refunds::table
            .filter(refunds::deposit_id.eq(deposit_id))
            .filter(refunds::status.eq(REFUND_PENDING)),
    )
    .set((
        refunds::status.eq(REFUND_SUCCEEDED),
        refunds::provider_refund_id.eq(provider_refund_id),
        refunds::completed_at.eq(Some(to_db(now))),
    ))
    .execute(db))?;
    Ok(n == 1)
}

/// Drops a pending refund the provider refused (nothing was paid back).
pub fn drop_pending_refund(conn: &mut DbConnection, deposit_id: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::delete(
        refunds::table
            .filter(refunds::deposit_id.eq(deposit_id))
            .filter(refunds::status.eq(REFUND_PENDING)),
    )
    .execute(db))?;
    Ok(())
}

/// Deposits with a refund still to be made (for the periodic retry).
pub fn pending_refunds(conn: &mut DbConnection, limit: i64) -> Result<Vec<String>, DbError> {
    Ok(crate::native!(conn, |db| refunds::table
        .filter(refunds::status.eq(REFUND_PENDING))
        .select(refunds::deposit_id)
        .order(refunds::created_at.asc())
        .limit(limit)
        .load(db))?)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refunds)]
struct RefundRow {
    id: String,
    deposit_id: String,
    amount: i64,
    currency: String,
    provider: String,
    provider_refund_id: Option<String>,
    reason: String,
    recorded_by: String,
    status: String,
    created_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
}

pub fn refund_of(conn: &mut DbConnection, deposit_id: &str) -> Result<Option<Refund>, DbError> {
    let row = crate::native!(conn, |db| refunds::table
        .filter(refunds::deposit_id.eq(deposit_id))
        .select(RefundRow::as_select())
        .get_result(db))
    .optional()?;
    row.map(|r| {
        Ok(Refund {
            amount: money(r.amount, &r.currency)?,
            id: r.id,
            deposit_id: r.deposit_id,
            provider: r.provider,
            provider_refund_id: r.provider_refund_id,
            reason: r.reason,
            recorded_by: r.recorded_by,
            status: r.status,
            created_at: from_db(r.created_at),
            completed_at: r.completed_at.map(from_db),
        })
    })
    .transpose()
}

/// Records a provider event as applied; false when it already was (a
/// duplicate delivery). Call in the transaction that applies its effect.
pub fn mark_event_processed(
    conn: &mut DbConnection,
    event_id: &str,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = conn.transaction(|c| {
        crate::native!(c, |db| diesel::insert_into(processed_events::table)
            .values((
                processed_events::event_id.eq(event_id),
                processed_events::event_type.eq(event_type),
                processed_events::processed_at.eq(to_db(now)),
            ))
            .execute(db))
    });
    match inserted.map_err(DbError::from) {
        Ok(_) => Ok(true),
        Err(DbError::UniqueViolation(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Refunds still being made for these consultations' deposits.
pub fn pending_refunds_for(
    conn: &mut DbConnection,
    consultation_ids: &[String],
) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| refunds::table
        .inner_join(deposits::table.on(deposits::id.eq(refunds::deposit_id)))
        .filter(deposits::consultation_id.eq_any(consultation_ids))
        .filter(refunds::status.eq(REFUND_PENDING))
        .count()
        .get_result(db))?)
}

/// Removes the free text kept with these consultations' refunds and
/// redemptions (a reason or a note can name the client or their health);
/// the amounts, dates and provider references stay.
pub fn strip_free_text(
    conn: &mut DbConnection,
    consultation_ids: &[String],
) -> Result<(), DbError> {
    let deposit_ids: Vec<String> = crate::native!(conn, |db| deposits::table
        .filter(deposits::consultation_id.eq_any(consultation_ids))
        .select(deposits::id)
        .load(db))?;
    crate::native!(conn, |db| diesel::update(
        refunds::table.filter(refunds::deposit_id.eq_any(&deposit_ids))
    )
    .set(refunds::reason.eq(ERASED))
    .execute(db))?;
    crate::native!(conn, |db| diesel::update(
        redemptions::table.filter(redemptions::deposit_id.eq_any(&deposit_ids))
    )
    .set(redemptions::note.eq(None::<String>))
    .execute(db))?;
    Ok(())
}

/// What a refund's reason reads once erased.
pub const ERASED: &str = "(erased)";
