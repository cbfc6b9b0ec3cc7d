//! Deposits: one per consultation, money in minor units.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::deposits;
use crate::db::{DbConnection, DbError};
use crate::domain::deposit::DepositStatus;
use crate::domain::money::{Currency, Money};

use super::{from_db, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deposits)]
struct Row {
    id: String,
    consultation_id: String,
    amount: i64,
    currency: String,
    status: String,
    provider: String,
    provider_payment_id: Option<String>,
    client_secret: Option<String>,
    payment_reference: Option<String>,
    paid_at: Option<NaiveDateTime>,
    settled_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    pub id: String,
    pub consultation_id: String,
    pub amount: Money,
    pub status: DepositStatus,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub client_secret: Option<String>,
    pub payment_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Deposit {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Deposit {
            amount: Money::new(
                r.amount,
                Currency::parse(&r.currency).map_err(|e| DbError::Other(e.into()))?,
            ),
            status: DepositStatus::parse(&r.status)
                .ok_or_else(|| DbError::Other(format!("unknown deposit status {}", r.status)))?,
            id: r.id,
            consultation_id: r.consultation_id,
            provider: r.provider,
            provider_payment_id: r.provider_payment_id,
            client_secret: r.client_secret,
            payment_reference: r.payment_reference,
            paid_at: r.paid_at.map(from_db),
            settled_at: r.settled_at.map(from_db),
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

pub fn insert(conn: &mut DbConnection, d: &Deposit) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(deposits::table)
        .values((
            deposits::id.eq(&d.id),
            deposits::consultation_id.eq(&d.consultation_id),
            deposits::amount.eq(d.amount.amount),
            deposits::currency.eq(d.amount.currency.code()),
            deposits::status.eq(d.status.as_str()),
            deposits::provider.eq(&d.provider),
            deposits::provider_payment_id.eq(&d.provider_payment_id),
            deposits::client_secret.eq(&d.client_secret),
            deposits::payment_reference.eq(&d.payment_reference),
            deposits::created_at.eq(to_db(d.created_at)),
            deposits::updated_at.eq(to_db(d.updated_at)),
        ))
        .execute(db))?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Deposit>, DbError> {
    crate::native!(conn, |db| deposits::table
        .find(id)
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Deposit::try_from)
    .transpose()
}

pub fn by_consultation(
    conn: &mut DbConnection,
    consultation_id: &str,
) -> Result<Option<Deposit>, DbError> {
    crate::native!(conn, |db| deposits::table
        .filter(deposits::consultation_id.eq(consultation_id))
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Deposit::try_from)
    .transpose()
}

pub fn by_provider_payment_id(
    conn: &mut DbConnection,
    payment_id: &str,
) -> Result<Option<Deposit>, DbError> {
    crate::native!(conn, |db| deposits::table
        .filter(deposits::provider_payment_id.eq(payment_id))
        .select(Row::as_select())
        .get_result(db))
    .optional()?
    .map(Deposit::try_from)
    .transpose()
}

/// Takes the row lock on a deposit before reading it for a change (see
/// `consultations::lock`).
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(deposits::table.find(id))
        .set(deposits::status.eq(deposits::status))
        .execute(db))?;
    Ok(())
}

/// Records the provider's payment object for a pending deposit.
pub fn set_provider_payment(
    conn: &mut DbConnection,
    id: &str,
    payment_id: &str,
    client_secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::update(deposits::table.find(id))
        .set((
            deposits::provider_payment_id.eq(Some(payment_id)),
            deposits::client_secret.eq(client_secret),
            deposits::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    Ok(())
}

/// Moves a deposit from `from` to `to` only if it is still in `from`.
/// Settling moves (redeem, refund, forfeit, cancel) stamp `settled_at`;
/// paying stamps `paid_at` and the payment reference.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: DepositStatus,
    to: DepositStatus,
    reference: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let paying = to == DepositStatus::Paid;
    let n = crate::native!(conn, |db| diesel::update(
        deposits::table
            .find(id)
            .filter(deposits::status.eq(from.as_str())),
    )
    .set((
        deposits::status.eq(to.as_str()),
        deposits::updated_at.eq(to_db(now)),
        paying.then(|| deposits::paid_at.eq(Some(to_db(now)))),
        (!paying).then(|| deposits::settled_at.eq(Some(to_db(now)))),
        reference
            .filter(|_| paying)
            .map(|r| deposits::payment_reference.eq(Some(r.to_owned()))),
    ))
    .execute(db))?;
    Ok(n == 1)
}

/// Filters for the staff list of deposits.
/// How many of these consultations' deposits are in `status`.
pub fn count_in_status(
    conn: &mut DbConnection,
    consultation_ids: &[String],
    status: DepositStatus,
) -> Result<i64, DbError> {
    Ok(crate::native!(conn, |db| deposits::table
        .filter(deposits::consultation_id.eq_any(consultation_ids))
        .filter(deposits::status.eq(status.as_str()))
        .count()
        .get_result(db))?)
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub statuses: Vec<DepositStatus>,
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

/// Deposits in (created_at, id) order.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> Result<Vec<Deposit>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| {
        let mut q = deposits::table
            .select(Row::as_select())
            .order((deposits::created_at.asc(), deposits::id.asc()))
            .limit(f.limit)
            .into_boxed();
        if !f.statuses.is_empty() {
            q = q.filter(
                deposits::status.eq_any(f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
        }
        if let Some((at, id)) = &f.after {
            let at = to_db(*at);
            q = q.filter(
                deposits::created_at
                    .gt(at)
                    .or(deposits::created_at.eq(at).and(deposits::id.gt(id.clone()))),
            );
        }
        q.load(db)
    })?;
    rows.into_iter().map(Deposit::try_from).collect()
}

/// Unpaid deposits with a provider payment, for reconciliation: pending
/// ones, and ones cancelled since `cancelled_since` (a payment can land just
/// as a hold lapses, and its webhook can be lost).
pub fn unpaid_with_provider_payment(
    conn: &mut DbConnection,
    cancelled_since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Deposit>, DbError> {
    crate::native!(conn, |db| deposits::table
        .filter(
            deposits::status
                .eq(DepositStatus::Pending.as_str())
                .or(deposits::status
                    .eq(DepositStatus::Cancelled.as_str())
                    .and(deposits::updated_at.ge(to_db(cancelled_since)))),
        )
        .filter(deposits::provider_payment_id.is_not_null())
        .select(Row::as_select())
        .order(deposits::created_at.asc())
        .limit(limit)
        .load(db))?
    .into_iter()
    .map(Deposit::try_from)
    .collect()
}
