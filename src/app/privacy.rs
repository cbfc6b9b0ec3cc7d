//! Personal data over its life: what is held about a client (the record
//! and the export), erasure on request, and retention periods. Financial
//! facts (deposit amounts, dates, Stripe references) are kept; personal and
//! health data are removed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::booking::Booking;
use super::deposits::DepositRecord;
use super::{App, AppError, Tx};
use crate::db::schema::{consultations, deposits, idempotency_keys, refunds, screenings};
use crate::db::{DbConnection, DbError};
use crate::domain::actor::label;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::store::audit::{self, AuditEvent};
use crate::store::clients::{self, ClientRow};
use crate::store::consultations::ListFilter;
use crate::store::notifications::{self as notification_log, Notification};
use crate::store::screenings::Screening;
use crate::store::{from_db, to_db};

/// Everything about one client a member of staff needs.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client: ClientRow,
    pub bookings: Vec<Booking>,
    pub screenings: Vec<Screening>,
    pub deposits: Vec<DepositRecord>,
}

/// Everything held about a client, for a subject access request.
#[derive(Debug, Clone)]
pub struct ClientExport {
    pub exported_at: DateTime<Utc>,
    pub record: ClientRecord,
    /// The audit trail of the client, their bookings and deposits.
    pub audit_events: Vec<AuditEvent>,
    /// The notification log of their bookings (masked recipients, no bodies).
    pub notifications: Vec<Notification>,
}

fn load_record(conn: &mut DbConnection, id: &str) -> Result<ClientRecord, AppError> {
    let client = clients::get(conn, id)?.ok_or(AppError::NotFound("client"))?;
    let rows = crate::store::consultations::list(
        conn,
        &ListFilter {
            client_id: Some(id.to_owned()),
            limit: 10_000,
            ..Default::default()
        },
    )?;
    let mut record = ClientRecord {
        client,
        bookings: Vec::new(),
        screenings: Vec::new(),
        deposits: Vec::new(),
    };
    for c in rows {
        if let Some(s) = crate::store::screenings::by_consultation(conn, &c.id)? {
            record.screenings.push(s);
        }
        let booking = Booking::of(conn, c)?;
        record
            .deposits
            .push(DepositRecord::of(conn, booking.deposit.clone())?);
        record.bookings.push(booking);
    }
    Ok(record)
}

/// A client with their bookings, screenings and deposits.
pub async fn client_record(app: &App, id: &str) -> Result<ClientRecord, AppError> {
    let id = id.to_owned();
    app.db.run(move |conn| load_record(conn, &id)).await
}

/// Everything held about a client as one document; the export is audited.
pub async fn export(app: &App, id: &str, actor: &str) -> Result<ClientExport, AppError> {
    let (id, actor) = (id.to_owned(), actor.to_owned());
    app.write(move |tx| {
        let record = load_record(tx.conn, &id)?;
        let mut subjects = vec![id.clone()];
        subjects.extend(record.bookings.iter().map(|b| b.consultation.id.clone()));
        subjects.extend(record.deposits.iter().map(|d| d.deposit.id.clone()));
        let trail = audit::list(
            tx.conn,
            &audit::Filter {
                subject_ids: subjects,
                limit: 100_000,
                ..Default::default()
            },
        )?;
        let bookings: Vec<String> = record
            .bookings
            .iter()
            .map(|b| b.consultation.id.clone())
            .collect();
        let notifications = notification_log::of_consultations(tx.conn, &bookings)?;
        tx.audit(&actor, "client.exported", "client", &id, None, None)?;
        Ok(ClientExport {
            exported_at: tx.now,
            record,
            audit_events: trail,
            notifications,
        })
    })
    .await
}

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
    )> = crate::native!(conn, |db| consultations::table
        .filter(consultations::client_id.eq(client_id))
        .select((
            consultations::id,
            consultations::status,
            consultations::starts_at,
            consultations::hold_expires_at,
        ))
        .load(db))?;
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
    let unresolved: i64 = crate::native!(conn, |db| deposits::table
        .filter(deposits::consultation_id.eq_any(&ids))
        .filter(deposits::status.eq(DepositStatus::Paid.as_str()))
        .count()
        .get_result(db))?;
    if unresolved > 0 {
        return Ok(Some("The client holds a paid deposit not yet redeemed, refunded or forfeited; settle it first."));
    }
    let pending_refunds: i64 = crate::native!(conn, |db| refunds::table
        .inner_join(deposits::table.on(deposits::id.eq(refunds::deposit_id)))
        .filter(deposits::consultation_id.eq_any(&ids))
        .filter(refunds::status.eq(crate::store::settlements::REFUND_PENDING))
        .count()
        .get_result(db))?;
    if pending_refunds > 0 {
        return Ok(Some(
            "A refund to the client is still being made; try again once it completes.",
        ));
    }
    Ok(None)
}

/// Removes the personal data a booking carries (its contact snapshot and
/// notes), its screening, stored answers that repeat them, and its
/// notification log and manage links.
fn strip_consultations(tx: &mut Tx<'_>, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let (conn, now) = (&mut *tx.conn, tx.now);
    crate::native!(conn, |db| diesel::update(
        consultations::table.filter(consultations::id.eq_any(ids))
    )
    .set((
        consultations::client_full_name.eq(""),
        consultations::client_email.eq(""),
        consultations::client_phone.eq(""),
        consultations::notes.eq(None::<String>),
        consultations::personal_data_removed_at.eq(Some(to_db(now))),
    ))
    .execute(db))?;
    crate::native!(conn, |db| diesel::delete(
        screenings::table.filter(screenings::consultation_id.eq_any(ids))
    )
    .execute(db))?;
    crate::native!(conn, |db| diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::resource_id.eq_any(ids))
    )
    .execute(db))?;
    notification_log::delete_for(conn, ids)?;
    Ok(())
}

/// Erases a client's personal and health data, or says why not (409).
/// Returns the client as it now stands.
pub async fn erase(app: &App, client_id: &str, actor: &str) -> Result<ClientRow, AppError> {
    let (client_id, actor) = (client_id.to_owned(), actor.to_owned());
    app.write(move |tx| {
        let client = clients::get(tx.conn, &client_id)?.ok_or(AppError::NotFound("client"))?;
        if client.erased_at.is_some() {
            return Err(AppError::conflict(
                "already_erased",
                "This client's data was already erased.",
            ));
        }
        if let Some(why) = erasure_blocker(tx.conn, &client_id, tx.now)? {
            return Err(AppError::conflict("erasure_blocked", why));
        }
        let ids: Vec<String> = crate::native!(tx.conn, |db| consultations::table
            .filter(consultations::client_id.eq(&client_id))
            .select(consultations::id)
            .load(db))?;
        strip_consultations(tx, &ids)?;
        clients::anonymise(tx.conn, &client_id, tx.now)?;
        let after = serde_json::json!({ "consultations": ids.len() });
        tx.audit(
            &actor,
            "client.erased",
            "client",
            &client_id,
            None,
            Some(after),
        )?;
        Ok(clients::get(tx.conn, &client_id)?.ok_or(DbError::NotFound)?)
    })
    .await
}

/// Retention: removes the personal data of bookings that ended (cancelled or
/// expired) before `cutoff`. Attended and no-show bookings are clinical and
/// financial records and are kept.
pub async fn purge_ended_bookings(app: &App, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
    app.write(move |tx| purge_ended_in(tx, cutoff)).await
}

fn purge_ended_in(tx: &mut Tx<'_>, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
    let ids: Vec<String> = crate::native!(tx.conn, |db| consultations::table
        .filter(
            consultations::status.eq_any([Status::Cancelled.as_str(), Status::Expired.as_str()]),
        )
        .filter(consultations::updated_at.lt(to_db(cutoff)))
        .filter(consultations::personal_data_removed_at.is_null())
        .select(consultations::id)
        .limit(500)
        .load(db))?;
    if ids.is_empty() {
        return Ok(0);
    }
    strip_consultations(tx, &ids)?;
    tx.audit(
        label::SYSTEM,
        "retention.bookings_purged",
        "consultation",
        "*",
        None,
        Some(serde_json::json!({ "count": ids.len() })),
    )?;
    Ok(ids.len())
}
