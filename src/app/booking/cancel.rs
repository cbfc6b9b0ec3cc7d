//! Cancelling a booking under the policy, by its holder, the partner that
//! made it, or the clinic.

use chrono::{DateTime, Utc};

use super::record::{load_for_update, Booking};
use super::rules::{concurrent_update, illegal};
use crate::app::holds;
use crate::app::idempotency::{self, IdempotentRequest, Render, Reply, Start};
use crate::app::refunds::{complete_refund, refund_under_way, reserve_refund};
use crate::app::{App, AppError, Tx};
use crate::config::Settings;
use crate::db::DbError;
use crate::domain::actor::Actor;
use crate::domain::consultation::{Status, Transition};
use crate::domain::deposit::{DepositStatus, DepositTransition};
use crate::domain::event_types::{BookingChange, EventType};
use crate::domain::policy::{self, CancelledBy, DepositAction};
use crate::store::consultations::{self, StatusChange};
use crate::store::deposits;

/// A cancellation request.
#[derive(Debug, Clone, Default)]
pub struct CancelCommand {
    /// Only report what would happen; change nothing.
    pub dry_run: bool,
    /// Why, for the clinic's records.
    pub reason: Option<String>,
}

/// What a cancellation did (or would do, for a dry run).
#[derive(Debug, Clone)]
pub struct Cancellation {
    pub dry_run: bool,
    pub deposit_action: DepositAction,
    pub late: bool,
    pub deadline: DateTime<Utc>,
    /// The refund is reserved but the provider has not made it yet.
    pub refund_pending: bool,
    /// The booking after the cancellation (as it is, for a dry run).
    pub booking: Booking,
}

impl idempotency::Subject for Cancellation {
    fn subject_id(&self) -> Option<&str> {
        Some(&self.booking.consultation.id)
    }
}

/// What the unit of work decided, and whether the provider is to be asked.
struct Decided {
    cancellation: Cancellation,
    /// The deposit's provider payment to withdraw, or to refund.
    after_commit: FollowUp,
}

/// What a committed cancellation leaves to do with the payment provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    Nothing,
    /// Withdraw an unpaid payment request so it cannot be paid later.
    Withdraw(String),
    /// Ask the provider for the reserved refund of this deposit.
    Refund(String),
}

impl FollowUp {
    /// Does it; returns whether a refund was made now (a refund the provider
    /// could not make yet stays reserved, and the periodic task retries it).
    pub async fn run(self, app: &App) -> bool {
        match self {
            FollowUp::Nothing => false,
            FollowUp::Withdraw(payment) => {
                if let Err(e) = app.payments.cancel_payment(&payment).await {
                    tracing::warn!(error = %e, "could not withdraw a payment request");
                }
                false
            }
            FollowUp::Refund(deposit_id) => match complete_refund(app, &deposit_id).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "refund reserved on cancellation; will be retried");
                    false
                }
            },
        }
    }
}

/// Cancels a booking as `actor`, inside a unit of work the caller runs (a
/// schedule change cancelling what it would strand); returns what is left
/// to do once it commits.
pub fn cancel_within(
    tx: &mut Tx<'_>,
    settings: &Settings,
    id: &str,
    actor: &Actor,
    reason: Option<String>,
) -> Result<FollowUp, AppError> {
    let command = CancelCommand {
        dry_run: false,
        reason,
    };
    Ok(decide(tx, settings, id, actor, &command)?.after_commit)
}

fn decide(
    tx: &mut Tx<'_>,
    settings: &Settings,
    id: &str,
    actor: &Actor,
    command: &CancelCommand,
) -> Result<Decided, AppError> {
    let (mut c, d) = load_for_update(tx.conn, id, actor)?;
    holds::settle_lapsed(tx, &mut c)?;
    // An expired booking can be cancelled only to take back credit: a
    // deposit paid after its slot was lost.
    let credit = c.status == Status::Expired && d.status == DepositStatus::Paid;
    if c.status.after(Transition::Cancel).is_none() || (c.status == Status::Expired && !credit) {
        return Err(illegal(&c, Transition::Cancel));
    }
    let notice = settings.booking.cancellation_notice_hours;
    let by = actor.cancelled_by();
    // Credit from a lost slot is always refunded: the clinic lost nothing.
    let action = if credit {
        DepositAction::Refund
    } else {
        policy::on_cancel(d.status, by, c.starts_at, notice, tx.now)
    };
    let late = !credit && policy::is_late(c.starts_at, notice, tx.now);
    let deadline = policy::cancellation_deadline(c.starts_at, notice);
    if command.dry_run {
        return Ok(Decided {
            cancellation: Cancellation {
                dry_run: true,
                deposit_action: action,
                late,
                deadline,
                refund_pending: false,
                booking: Booking::of(tx.conn, c)?,
            },
            after_commit: FollowUp::Nothing,
        });
    }
    let moved = consultations::set_status(
        tx.conn,
        &c.id,
        c.status,
        Status::Cancelled,
        StatusChange {
            cancelled_by: Some(by.as_str()),
            end_reason: None,
        },
        tx.now,
    )?;
    if !moved {
        return Err(concurrent_update());
    }
    consultations::release_claims(tx.conn, &c.id)?;
    // The client's own words stay with the booking (and go with its
    // personal data); nothing else copies them.
    if let Some(reason) = &command.reason {
        consultations::set_cancellation_reason(tx.conn, &c.id, reason)?;
    }
    let who = actor.label();
    tx.consultation_changed(&who, EventType::ConsultationCancelled, &c.id, Some(&c))?;
    let settle = |tx: &mut Tx<'_>, t: DepositTransition, change: BookingChange| {
        let to = d
            .status
            .after(t)
            .expect("the policy only picks legal moves");
        if deposits::set_status(tx.conn, &d.id, d.status, to, None, tx.now)? {
            tx.deposit_changed(&who, change, &d.id, Some(&d))?;
        }
        Ok::<_, DbError>(())
    };
    let mut after_commit = FollowUp::Nothing;
    match action {
        DepositAction::Release => {
            settle(
                tx,
                DepositTransition::Cancel,
                BookingChange::DepositCancelled,
            )?;
            if let Some(payment) = &d.provider_payment_id {
                after_commit = FollowUp::Withdraw(payment.clone());
            }
        }
        DepositAction::Forfeit if !refund_under_way(tx.conn, &d.id)? => settle(
            tx,
            DepositTransition::Forfeit,
            EventType::DepositForfeited.into(),
        )?,
        // The refund is reserved with the cancellation; the provider is
        // asked once this commits (and the periodic task retries).
        DepositAction::Refund => {
            // The clinic's own reason is its record; a client's words are
            // never copied into the money records.
            let reason = match (by, &command.reason) {
                (CancelledBy::Clinic, Some(r)) => r.as_str(),
                (CancelledBy::Clinic, None) => "cancelled by the clinic",
                (CancelledBy::Client, _) => "cancelled by the client",
            };
            if reserve_refund(tx, &d.id, reason, &actor.label())? {
                after_commit = FollowUp::Refund(d.id.clone());
            }
        }
        DepositAction::Forfeit | DepositAction::None => {}
    }
    let refund_pending = matches!(after_commit, FollowUp::Refund(_));
    Ok(Decided {
        cancellation: Cancellation {
            dry_run: false,
            deposit_action: action,
            late,
            deadline,
            refund_pending,
            booking: Booking::load(tx.conn, &c.id)?.ok_or(DbError::NotFound)?,
        },
        after_commit,
    })
}

/// How the first transaction ended.
enum Began {
    Replayed(Reply),
    Decided(Reply, Box<Decided>, Option<idempotency::Ticket>),
    Failed(AppError),
}

/// Cancels a booking under the policy (`dry_run` only reports). The answer
/// is stored with the cancellation; when the provider then makes the
/// refund, the stored answer is brought up to date.
pub async fn cancel(
    app: &App,
    actor: &Actor,
    id: &str,
    command: CancelCommand,
    request: Option<IdempotentRequest>,
    render: Render<Cancellation>,
) -> Result<Reply, AppError> {
    let settings = app.settings.clone();
    let terms = app.idempotency_terms();
    let (id, actor) = (id.to_owned(), actor.clone());
    let render = std::sync::Arc::new(render);
    let r = render.clone();
    let began = app
        .write(move |tx| {
            let ticket = match idempotency::start(tx, request.as_ref(), terms)? {
                Start::Replay(reply) => return Ok(Began::Replayed(reply)),
                Start::Fresh(ticket) => ticket,
            };
            match tx.savepoint(|tx| decide(tx, &settings, &id, &actor, &command)) {
                Ok(decided) => {
                    let reply =
                        idempotency::answer(tx, ticket.as_ref(), &r, &decided.cancellation)?;
                    Ok(Began::Decided(reply, Box::new(decided), ticket))
                }
                Err(e) => {
                    idempotency::settle_failure(tx, ticket.as_ref(), &r, e).map(Began::Failed)
                }
            }
        })
        .await?;
    let (reply, decided, ticket) = match began {
        Began::Replayed(reply) => return Ok(reply),
        Began::Failed(e) => return Err(e),
        Began::Decided(reply, decided, ticket) => (reply, decided, ticket),
    };
    let decided = *decided;
    let refunding = matches!(decided.after_commit, FollowUp::Refund(_));
    if !decided.after_commit.run(app).await || !refunding {
        return Ok(reply);
    }
    // The provider made the refund: the stored answer says so from now on.
    let mut cancellation = decided.cancellation;
    app.write(move |tx| {
        cancellation.refund_pending = false;
        cancellation.booking = Booking::load(tx.conn, &cancellation.booking.consultation.id)?
            .ok_or(DbError::NotFound)?;
        let response = (render.ok)(&cancellation)?;
        if let Some(t) = &ticket {
            idempotency::amend(tx, t, &response)?;
        }
        Ok(Reply {
            response,
            replayed: false,
        })
    })
    .await
}
