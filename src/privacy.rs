//! Personal data over its life: what is held about a client, erasure on
//! request, and retention periods. Financial facts (deposit amounts, dates,
//! Stripe references) are kept; personal and health data are removed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{consultations, deposits, idempotency_keys, refunds, screenings};
use crate::db::{write_transaction, DbConnection, DbError};
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::error::ApiError;
use crate::events;
use crate::store::clients;
use crate::store::{from_db, to_db};

/// Why a client cannot be erased yet, if they cannot.
pub fn erasure_blocker(
    conn: &mut DbConnection,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, DbError> {
    let rows: Vec<(
        String,
        String,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    )> = consultations::table
        .filter(consultations::client_id.eq(client_id))
        .select((
            consultations::id,
            consultations::status,
            consultations::starts_at,
            consultations::hold_expires_at,
        ))
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    for (_, status, starts_at, hold) in &rows {
        let upcoming = from_db(*starts_at) > now;
        if *status == Status::Confirmed.as_str() && upcoming {
            return Ok(Some(
                "The client has a confirmed consultation still to come; cancel it first.",
            ));
        }
        if *status == Status::PendingDeposit.as_str() && hold.is_some_and(|h| from_db(h) > now) {
            return Ok(Some("The client has a booking whose deposit is being paid; wait for it to complete or lapse."));
        }
    }
    let unresolved: i64 = deposits::table
        .filter(deposits::consultation_id.eq_any(&ids))
        .filter(deposits::status.eq(DepositStatus::Paid.as_str()))
        .count()
        .get_result(conn)?;
    if unresolved > 0 {
        return Ok(Some("The client holds a paid deposit not yet redeemed, refunded or forfeited; settle it first."));
    }
    let pending_refunds: i64 = refunds::table
        .inner_join(deposits::table.on(deposits::id.eq(refunds::deposit_id)))
        .filter(deposits::consultation_id.eq_any(&ids))
        .filter(refunds::status.eq(crate::store::settlements::REFUND_PENDING))
        .count()
        .get_result(conn)?;
    if pending_refunds > 0 {
        return Ok(Some(
            "A refund to the client is still being made; try again once it completes.",
        ));
    }
    Ok(None)
}

/// Removes the personal data a booking carries (its contact snapshot and
/// notes), its screening, and stored answers that repeat them.
fn strip_consultations(
    conn: &mut DbConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(consultations::table.filter(consultations::id.eq_any(ids)))
        .set((
            consultations::client_full_name.eq(""),
            consultations::client_email.eq(""),
            consultations::client_phone.eq(""),
            consultations::notes.eq(None::<String>),
            consultations::personal_data_removed_at.eq(Some(to_db(now))),
        ))
        .execute(conn)?;
    diesel::delete(screenings::table.filter(screenings::consultation_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::resource_id.eq_any(ids)))
        .execute(conn)?;
    Ok(())
}

/// Erases a client's personal and health data, or says why not (409).
pub fn erase(
    conn: &mut DbConnection,
    client_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let client = clients::get(conn, client_id)?.ok_or(ApiError::NotFound("client"))?;
        if client.erased_at.is_some() {
            return Err(ApiError::conflict(
                "already_erased",
                "This client's data was already erased.",
            ));
        }
        if let Some(why) = erasure_blocker(conn, client_id, now)? {
            return Err(ApiError::conflict("erasure_blocked", why));
        }
        let ids: Vec<String> = consultations::table
            .filter(consultations::client_id.eq(client_id))
            .select(consultations::id)
            .load(conn)?;
        strip_consultations(conn, &ids, now)?;
        clients::anonymise(conn, client_id, now)?;
        let after = serde_json::json!({ "consultations": ids.len() });
        events::audit(
            conn,
            actor,
            "client.erased",
            "client",
            client_id,
            None,
            Some(after),
            now,
        )?;
        Ok(())
    })
}

/// Retention: removes the personal data of bookings that ended (cancelled or
/// expired) before `cutoff`. Attended and no-show bookings are clinical and
/// financial records and are kept.
pub fn purge_ended_bookings(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let ids: Vec<String> = consultations::table
        .filter(
            consultations::status.eq_any([Status::Cancelled.as_str(), Status::Expired.as_str()]),
        )
        .filter(consultations::updated_at.lt(to_db(cutoff)))
        .filter(consultations::personal_data_removed_at.is_null())
        .select(consultations::id)
        .limit(500)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        strip_consultations(conn, &ids, now)?;
        events::audit(
            conn,
            events::actor::SYSTEM,
            "retention.bookings_purged",
            "consultation",
            "*",
            None,
            Some(serde_json::json!({ "count": ids.len() })),
            now,
        )
    })?;
    Ok(ids.len())
}
