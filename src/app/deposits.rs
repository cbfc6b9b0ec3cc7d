//! Settling deposits by staff: recording a payment taken by hand, redeeming
//! against a treatment, refunding (`app::refunds`). Money moves only from
//! `paid`, by conditional updates under the deposit's row lock, with the
//! unique redemption/refund rows as the database's guarantee that nothing
//! is settled twice.

use super::confirm::{confirm_payment, Confirmation};
use super::idempotency::{self, IdempotentRequest, Render, Reply, Start};
use super::refunds::{complete_refund, load_locked, not_allowed, refund_under_way, reserve_refund};
use super::{App, AppError};
use crate::db::{DbConnection, DbError};
use crate::domain::consultation::Status;
use crate::domain::deposit::{DepositStatus, DepositTransition};
use crate::domain::event_types::EventType;
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, Redemption, Refund, REFUND_PENDING};
use crate::store::{consultations, treatments};

/// A deposit with how it was settled and where its consultation stands.
#[derive(Debug, Clone)]
pub struct DepositRecord {
    pub deposit: Deposit,
    pub consultation_status: Status,
    pub consultation_end_reason: Option<String>,
    pub redemption: Option<Redemption>,
    pub refund: Option<Refund>,
}

impl idempotency::Subject for DepositRecord {
    fn subject_id(&self) -> Option<&str> {
        Some(&self.deposit.consultation_id)
    }
}

impl DepositRecord {
    pub fn of(conn: &mut DbConnection, deposit: Deposit) -> Result<DepositRecord, DbError> {
        let c = consultations::get(conn, &deposit.consultation_id)?.ok_or(DbError::NotFound)?;
        Ok(DepositRecord {
            redemption: settlements::redemption_of(conn, &deposit.id)?,
            refund: settlements::refund_of(conn, &deposit.id)?,
            consultation_status: c.status,
            consultation_end_reason: c.end_reason.filter(|r| !r.is_empty()),
            deposit,
        })
    }

    pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<DepositRecord>, DbError> {
        match deposits::get(conn, id)? {
            Some(d) => Self::of(conn, d).map(Some),
            None => Ok(None),
        }
    }
}

/// Whether the deposit's consultation is still to happen (held or
/// confirmed): its deposit is then neither redeemed nor refunded on its
/// own — the booking has to be attended, or cancelled, first.
fn booking_is_live(conn: &mut DbConnection, d: &Deposit) -> Result<bool, AppError> {
    let c = consultations::get(conn, &d.consultation_id)?.ok_or(DbError::NotFound)?;
    Ok(c.status.holds_slot())
}

/// Staff record a deposit taken by phone or at the desk (manual provider).
pub async fn record_manual_payment(
    app: &App,
    id: &str,
    reference: &str,
    actor: &str,
    request: Option<IdempotentRequest>,
    render: Render<DepositRecord>,
) -> Result<Reply, AppError> {
    let (id, reference, actor) = (id.to_owned(), reference.to_owned(), actor.to_owned());
    app.write_once(request, render, move |tx| {
        let d = deposits::get(tx.conn, &id)?.ok_or(AppError::NotFound("deposit"))?;
        if d.provider != "manual" {
            return Err(AppError::conflict(
                "provider_mismatch",
                "This deposit is collected through Stripe; its payment is recorded from Stripe.",
            ));
        }
        if d.status.after(DepositTransition::Pay).is_none() && d.status != DepositStatus::Cancelled
        {
            return Err(not_allowed(&d, DepositTransition::Pay));
        }
        let _: Confirmation = confirm_payment(tx, &d, Some(&reference), &actor)?;
        Ok(DepositRecord::load(tx.conn, &id)?.ok_or(DbError::NotFound)?)
    })
    .await
}

/// Redeems a paid deposit against a treatment.
pub async fn redeem(
    app: &App,
    id: &str,
    treatment_id: &str,
    note: Option<&str>,
    recorded_by: &str,
    request: Option<IdempotentRequest>,
    render: Render<DepositRecord>,
) -> Result<Reply, AppError> {
    let (id, treatment_id, note, recorded_by) = (
        id.to_owned(),
        treatment_id.to_owned(),
        note.map(str::to_owned),
        recorded_by.to_owned(),
    );
    app.write_once(request, render, move |tx| {
        let d = load_locked(tx.conn, &id)?;
        let Some(to) = d.status.after(DepositTransition::Redeem) else {
            return Err(not_allowed(&d, DepositTransition::Redeem));
        };
        if booking_is_live(tx.conn, &d)? {
            return Err(AppError::conflict(
                "consultation_not_attended",
                "A deposit is redeemed against a treatment at or after its consultation: mark the consultation attended first.",
            ));
        }
        if refund_under_way(tx.conn, &d.id)? {
            return Err(AppError::conflict(
                "refund_in_progress",
                "This deposit is being refunded.",
            ));
        }
        treatments::by_id(tx.conn, &treatment_id)?
            .ok_or_else(|| AppError::field("treatment_id", "unknown", "names no treatment"))?;
        if !deposits::set_status(tx.conn, &d.id, d.status, to, None, tx.now)? {
            return Err(AppError::conflict(
                "concurrent_update",
                "The deposit changed meanwhile; reload it.",
            ));
        }
        settlements::insert_redemption(
            tx.conn,
            &d.id,
            &treatment_id,
            d.amount,
            note.as_deref(),
            &recorded_by,
            tx.now,
        )
        .map_err(|e| {
            AppError::conflict_on_unique(
                e,
                "already_redeemed",
                "This deposit was already redeemed.",
            )
        })?;
        tx.deposit_changed(&recorded_by, EventType::DepositRedeemed, &d.id, Some(&d))?;
        Ok(DepositRecord::load(tx.conn, &id)?.ok_or(DbError::NotFound)?)
    })
    .await
}

/// Staff refund a paid deposit in full. If the provider fails, the
/// reservation is dropped and nothing has changed (a retry is safe: the
/// provider call is idempotent by deposit).
pub async fn refund(
    app: &App,
    id: &str,
    reason: &str,
    recorded_by: &str,
    request: Option<IdempotentRequest>,
    render: Render<DepositRecord>,
) -> Result<Reply, AppError> {
    let (deposit_id, reason, by) = (id.to_owned(), reason.to_owned(), recorded_by.to_owned());
    let terms = app.idempotency_terms();
    let render = std::sync::Arc::new(render);
    let r = render.clone();
    // Phase 1: reserve (and, for manual deposits, make) the refund.
    let reserved = app
        .write(move |tx| {
            let ticket = match idempotency::start(tx, request.as_ref(), terms)? {
                Start::Replay(reply) => return Ok(Reserved::Replayed(reply)),
                Start::Fresh(ticket) => ticket,
            };
            // An interrupted attempt reserved it already: finish that one.
            let resumed = ticket
                .as_ref()
                .and_then(|t| t.resource_id().map(str::to_owned))
                .is_some()
                && settlements::refund_of(tx.conn, &deposit_id)?
                    .is_some_and(|r| r.status == REFUND_PENDING);
            let ask_provider = if resumed {
                true
            } else {
                let reserved = tx.savepoint(|tx| {
                    let d = load_locked(tx.conn, &deposit_id)?;
                    if booking_is_live(tx.conn, &d)? {
                        return Err(AppError::conflict(
                            "booking_live",
                            "This deposit belongs to a booking still to come: cancel the booking instead (a cancellation by the clinic refunds the deposit), or mark it attended first.",
                        ));
                    }
                    reserve_refund(tx, &deposit_id, &reason, &by)
                });
                match reserved {
                    Ok(ask) => ask,
                    Err(e) => {
                        return idempotency::settle_failure(tx, ticket.as_ref(), &r, e)
                            .map(Reserved::Failed)
                    }
                }
            };
            if !ask_provider {
                let d = DepositRecord::load(tx.conn, &deposit_id)?.ok_or(DbError::NotFound)?;
                return idempotency::answer(tx, ticket.as_ref(), &r, &d).map(Reserved::Answered);
            }
            if let Some(t) = &ticket {
                idempotency::hold(tx, t, &deposit_id)?;
            }
            Ok(Reserved::AskProvider(ticket))
        })
        .await?;
    let ticket = match reserved {
        Reserved::Replayed(reply) | Reserved::Answered(reply) => return Ok(reply),
        Reserved::Failed(e) => return Err(e),
        Reserved::AskProvider(ticket) => ticket,
    };
    // Phase 2: the provider, then the answer.
    match complete_refund(app, id).await {
        Ok((d, _)) => {
            app.write(move |tx| {
                let d = DepositRecord::load(tx.conn, &d.id)?.ok_or(DbError::NotFound)?;
                idempotency::answer(tx, ticket.as_ref(), &render, &d)
            })
            .await
        }
        Err(e @ AppError::Provider(_)) => {
            let deposit_id = id.to_owned();
            let r = render.clone();
            app.write(move |tx| {
                settlements::drop_pending_refund(tx.conn, &deposit_id)?;
                idempotency::abandon(tx, ticket.as_ref(), &r, e)
            })
            .await
            .and_then(Err)
        }
        Err(e) => Err(e),
    }
}

/// What the first transaction of a staff refund did.
enum Reserved {
    Replayed(Reply),
    Answered(Reply),
    AskProvider(Option<idempotency::Ticket>),
    Failed(AppError),
}
