//! Personal data over its life: what is held about a client (the record
//! and the export), erasure on request, and retention periods. Financial
//! facts (deposit amounts, dates, Stripe references) are kept; personal and
//! health data are removed.

use chrono::{DateTime, Utc};

use super::booking::Booking;
use super::deposits::DepositRecord;
use super::{App, AppError, Tx};
use crate::db::{DbConnection, DbError};
use crate::domain::actor::label;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::store::audit::{self, AuditEvent};
use crate::store::clients::{self, ClientRow};
use crate::store::consultations::{self, ListFilter};
use crate::store::notifications::{self as notification_log, Notification};
use crate::store::screenings::{self, Screening};
use crate::store::{deposits, idempotency, settlements};

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
    let rows = consultations::list(
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
        if let Some(s) = screenings::by_consultation(conn, &c.id)? {
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

/// A client with their bookings, screenings and deposits, for a member of
/// staff. It holds special category data (date of birth, screenings): the
/// read is audited.
pub async fn client_record(app: &App, id: &str, actor: &str) -> Result<ClientRecord, AppError> {
    let (id, actor) = (id.to_owned(), actor.to_owned());
    app.write(move |tx| {
        let record = load_record(tx.conn, &id)?;
        tx.audit(&actor, "client.viewed", "client", &id, None, None)?;
        Ok(record)
    })
    .await
}

/// The screening behind a booking, for a member of staff (special category
/// data: the read is audited).
pub async fn screening_of(
    app: &App,
    consultation_id: &str,
    actor: &str,
) -> Result<Screening, AppError> {
    let (id, actor) = (consultation_id.to_owned(), actor.to_owned());
    app.write(move |tx| {
        let s =
            screenings::by_consultation(tx.conn, &id)?.ok_or(AppError::NotFound("screening"))?;
        tx.audit(&actor, "screening.viewed", "screening", &s.id, None, None)?;
        Ok(s)
    })
    .await
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
    for (status, starts_at, hold) in consultations::states_of_client(conn, client_id)? {
        if status == Status::Confirmed && starts_at > now {
            return Ok(Some(
                "The client has a confirmed consultation still to come; cancel it first.",
            ));
        }
        if status == Status::PendingDeposit && hold.is_some_and(|h| h > now) {
            return Ok(Some("The client has a booking whose deposit is being paid; wait for it to complete or lapse."));
        }
    }
    let ids = consultations::ids_of_client(conn, client_id)?;
    if deposits::count_in_status(conn, &ids, DepositStatus::Paid)? > 0 {
        return Ok(Some("The client holds a paid deposit not yet redeemed, refunded or forfeited; settle it first."));
    }
    if settlements::pending_refunds_for(conn, &ids)? > 0 {
        return Ok(Some(
            "A refund to the client is still being made; try again once it completes.",
        ));
    }
    Ok(None)
}

/// Removes every copy of the personal data these bookings carry: the
/// contact details given with them and the keys derived from them, the
/// notes and the cancellation reason (the bookings stay), their screenings,
/// the free text of their refunds and redemptions, the stored answers
/// to requests about them (which repeat contact details and tokens), and
/// their notification log and manage links. The
/// financial facts stay: amounts, dates, provider references.
pub fn strip_bookings(tx: &mut Tx<'_>, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    consultations::strip_personal_data(tx.conn, ids, tx.now)?;
    screenings::delete_for(tx.conn, ids)?;
    settlements::strip_free_text(tx.conn, ids)?;
    idempotency::delete_about(tx.conn, ids)?;
    notification_log::delete_for(tx.conn, ids)?;
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
        let ids = consultations::ids_of_client(tx.conn, &client_id)?;
        strip_bookings(tx, &ids)?;
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

/// What a retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Ended bookings whose personal data was removed.
    pub bookings: usize,
    /// Clients whose record was anonymised (no booking needs it any more).
    pub clients: usize,
}

/// Retention: removes the personal data of bookings that ended (cancelled
/// or expired) before `cutoff`, then anonymises the records of clients no
/// booking needs any more (all their bookings purged, or none, and nothing
/// changed since `cutoff`). Attended and no-show bookings are clinical and
/// financial records and are kept — with their clients — until erasure.
pub async fn purge_ended_bookings(app: &App, cutoff: DateTime<Utc>) -> Result<Purged, AppError> {
    app.write(move |tx| {
        let ids = consultations::ended_with_personal_data(tx.conn, cutoff, 500)?;
        strip_bookings(tx, &ids)?;
        let clients = clients::without_live_bookings(tx.conn, cutoff, 500)?;
        for id in &clients {
            clients::anonymise(tx.conn, id, tx.now)?;
        }
        let purged = Purged {
            bookings: ids.len(),
            clients: clients.len(),
        };
        if purged != Purged::default() {
            tx.audit(
                label::SYSTEM,
                "retention.bookings_purged",
                "consultation",
                "*",
                None,
                Some(serde_json::json!({ "count": purged.bookings, "clients": purged.clients })),
            )?;
        }
        Ok(purged)
    })
    .await
}
