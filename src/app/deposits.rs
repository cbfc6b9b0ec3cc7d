//! Settling deposits: recording a payment taken by hand, redeeming against
//! a treatment, refunding. Money moves only from `paid`, by conditional
//! updates under the deposit's row lock, with the unique redemption/refund
//! rows as the database's guarantee that nothing is settled twice.
//!
//! A refund is reserved first (a `pending` refund row, in the unit of work
//! that decides it), then asked of the provider with an idempotency key
//! derived from the deposit, then recorded as made. A reserved refund that
//! the provider could not make yet is retried by the periodic task.

use super::booking::{self, Confirmation};
use super::idempotency::{self, Claim, IdempotentRequest, Render, Reply};
use super::{App, AppError, Tx};
use crate::db::{DbConnection, DbError};
use crate::domain::actor::label;
use crate::domain::consultation::Status;
use crate::domain::deposit::{DepositStatus, DepositTransition};
use crate::domain::event_types::{BookingChange, EventType};
use crate::store::deposits::{self, Deposit};
use crate::store::settlements::{self, NewRefund, Redemption, Refund, REFUND_PENDING};
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

/// Loads a deposit under its row lock.
fn load_locked(conn: &mut DbConnection, id: &str) -> Result<Deposit, AppError> {
    deposits::lock(conn, id)?;
    deposits::get(conn, id)?.ok_or(AppError::NotFound("deposit"))
}

/// Why a deposit cannot make `transition`, as a 409.
fn not_allowed(d: &Deposit, transition: DepositTransition) -> AppError {
    let (code, detail) = match (d.status, transition) {
        (DepositStatus::Redeemed, DepositTransition::Redeem) => {
            ("already_redeemed", "This deposit was already redeemed.")
        }
        (DepositStatus::Refunded, DepositTransition::Refund) => {
            ("already_refunded", "This deposit was already refunded.")
        }
        (DepositStatus::Paid, DepositTransition::Pay) => {
            ("already_paid", "This deposit is already paid.")
        }
        (DepositStatus::Pending, _) => ("deposit_unpaid", "This deposit has not been paid."),
        _ => ("deposit_settled", "This deposit is already settled."),
    };
    AppError::conflict(code, format!("{detail} (status: {})", d.status.as_str()))
}

/// Whether a refund is already reserved or made for the deposit.
pub fn refund_under_way(conn: &mut DbConnection, deposit_id: &str) -> Result<bool, DbError> {
    Ok(settlements::refund_of(conn, deposit_id)?.is_some())
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
        let _: Confirmation = booking::confirm_payment(tx, &d, Some(&reference), &actor)?;
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

/// Reserves a full refund of a paid deposit, inside the unit of work that
/// decides it; then [`complete_refund`] after it commits. A manual
/// deposit's refund (paid back by the clinic) is recorded as made at once;
/// returns whether the provider must still be asked.
pub fn reserve_refund(
    tx: &mut Tx<'_>,
    id: &str,
    reason: &str,
    recorded_by: &str,
) -> Result<bool, AppError> {
    let d = load_locked(tx.conn, id)?;
    if let Some(existing) = settlements::refund_of(tx.conn, &d.id)? {
        // A reserved refund is completed by whoever reserved it (or the
        // periodic retry), never by a second request.
        if existing.status == REFUND_PENDING {
            return Err(AppError::conflict(
                "refund_in_progress",
                "This deposit is being refunded.",
            ));
        }
        return Err(not_allowed(&d, DepositTransition::Refund));
    }
    if d.status.after(DepositTransition::Refund).is_none() {
        return Err(not_allowed(&d, DepositTransition::Refund));
    }
    tx.deposit_changed(
        recorded_by,
        BookingChange::DepositRefundReserved,
        &d.id,
        Some(&d),
    )?;
    settlements::insert_refund(
        tx.conn,
        &NewRefund {
            deposit_id: &d.id,
            amount: d.amount,
            provider: &d.provider,
            provider_refund_id: None,
            reason,
            recorded_by,
            status: REFUND_PENDING,
        },
        tx.now,
    )
    .map_err(|e| {
        AppError::conflict_on_unique(e, "already_refunded", "This deposit was already refunded.")
    })?;
    if d.provider == "manual" {
        record_refunded(tx, &d.id, None)?;
        return Ok(false);
    }
    Ok(true)
}

/// Records a reserved refund as made: the deposit refunded (if still paid)
/// and the refund row completed.
fn record_refunded(
    tx: &mut Tx<'_>,
    deposit_id: &str,
    provider_refund_id: Option<&str>,
) -> Result<(Deposit, Refund), AppError> {
    let current = load_locked(tx.conn, deposit_id)?;
    if current.status == DepositStatus::Paid {
        deposits::set_status(
            tx.conn,
            deposit_id,
            DepositStatus::Paid,
            DepositStatus::Refunded,
            None,
            tx.now,
        )?;
        let by = settlements::refund_of(tx.conn, deposit_id)?
            .map(|r| r.recorded_by)
            .unwrap_or_else(|| label::SYSTEM.to_owned());
        tx.deposit_changed(&by, EventType::DepositRefunded, deposit_id, Some(&current))?;
    } else if current.status != DepositStatus::Refunded {
        // Settled another way while the provider refunded it.
        tracing::error!(deposit = %deposit_id, status = current.status.as_str(), "refund made for a deposit settled otherwise; staff must review");
    }
    settlements::complete_refund(tx.conn, deposit_id, provider_refund_id, tx.now)?;
    let refund = settlements::refund_of(tx.conn, deposit_id)?.ok_or(DbError::NotFound)?;
    Ok((
        deposits::get(tx.conn, deposit_id)?.ok_or(DbError::NotFound)?,
        refund,
    ))
}

/// Makes a reserved refund: asks the provider (idempotent by deposit, so a
/// retry never refunds twice), then records the deposit as refunded.
pub async fn complete_refund(app: &App, id: &str) -> Result<(Deposit, Refund), AppError> {
    let deposit_id = id.to_owned();
    let d = app
        .db
        .run(move |conn| deposits::get(conn, &deposit_id)?.ok_or(AppError::NotFound("deposit")))
        .await?;
    let provider_refund_id = match (&d.provider[..], &d.provider_payment_id) {
        ("stripe", Some(payment_id)) => Some(
            app.payments
                .refund(payment_id, d.amount, &format!("refund-{}", d.id))
                .await?
                .id,
        ),
        ("stripe", None) => {
            return Err(AppError::internal(format!(
                "stripe deposit {} has no payment id",
                d.id
            )));
        }
        _ => None,
    };
    app.write(move |tx| record_refunded(tx, &d.id, provider_refund_id.as_deref()))
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
    let ttl = app.idempotency_ttl();
    let render = std::sync::Arc::new(render);
    let r = render.clone();
    // Phase 1: reserve (and, for manual deposits, make) the refund.
    let reserved = app
        .write(move |tx| {
            let ticket = match &request {
                None => None,
                Some(req) => match idempotency::claim(tx, req, ttl)? {
                    Claim::Replay(response) => {
                        return Ok(Reserved::Replayed(Reply {
                            response,
                            replayed: true,
                        }))
                    }
                    Claim::Proceed(ticket) => Some(ticket),
                },
            };
            // An interrupted attempt reserved it already: finish that one.
            let resumed = ticket
                .as_ref()
                .and_then(|t| t.resource_id.clone())
                .is_some()
                && settlements::refund_of(tx.conn, &deposit_id)?
                    .is_some_and(|r| r.status == REFUND_PENDING);
            let ask_provider = if resumed {
                true
            } else {
                match tx.savepoint(|tx| reserve_refund(tx, &deposit_id, &reason, &by)) {
                    Ok(ask) => ask,
                    Err(e) => match &ticket {
                        Some(t) if idempotency::complete_failure(tx, t, &r, &e)? => {
                            return Ok(Reserved::Failed(e))
                        }
                        _ => return Err(e),
                    },
                }
            };
            if !ask_provider {
                let d = DepositRecord::load(tx.conn, &deposit_id)?.ok_or(DbError::NotFound)?;
                let response = (r.ok)(&d)?;
                if let Some(t) = &ticket {
                    idempotency::complete(tx, t, &response)?;
                }
                return Ok(Reserved::Answered(Reply {
                    response,
                    replayed: false,
                }));
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
                let response = (render.ok)(&d)?;
                if let Some(t) = &ticket {
                    idempotency::complete(tx, t, &response)?;
                }
                Ok(Reply {
                    response,
                    replayed: false,
                })
            })
            .await
        }
        Err(e @ AppError::Provider(_)) => {
            let deposit_id = id.to_owned();
            let r = render.clone();
            app.write(move |tx| {
                settlements::drop_pending_refund(tx.conn, &deposit_id)?;
                if let Some(t) = &ticket {
                    if !idempotency::complete_failure(tx, t, &r, &e)? {
                        idempotency::release(tx, t)?;
                    }
                }
                Ok(e)
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

/// Retries reserved refunds the provider could not make yet (the periodic
/// task). Returns how many were made.
pub async fn retry_pending_refunds(app: &App) -> usize {
    let Ok(pending) = app
        .db
        .run(|conn| settlements::pending_refunds(conn, 100))
        .await
    else {
        return 0;
    };
    let mut made = 0;
    for deposit_id in pending {
        match complete_refund(app, &deposit_id).await {
            Ok(_) => made += 1,
            Err(e) => {
                tracing::warn!(deposit = %deposit_id, error = %e, "a reserved refund is still pending")
            }
        }
    }
    made
}
