//! Staff record how a confirmed appointment went: attended, or a no-show
//! (which forfeits the deposit under the policy).

use super::record::{load_for_update, Booking};
use super::rules::{concurrent_update, illegal};
use crate::app::refunds::refund_under_way;
use crate::app::{App, AppError};
use crate::db::DbError;
use crate::domain::actor::Actor;
use crate::domain::consultation::Transition;
use crate::domain::deposit::DepositStatus;
use crate::domain::event_types::EventType;
use crate::domain::policy::{self, DepositAction};
use crate::store::consultations::{self, StatusChange};
use crate::store::deposits;

/// Marks a confirmed consultation attended or a no-show, from its start
/// time on.
pub async fn record_outcome(
    app: &App,
    actor: &Actor,
    id: &str,
    transition: Transition,
) -> Result<Booking, AppError> {
    let (id, actor) = (id.to_owned(), actor.clone());
    app.write(move |tx| {
        let (c, d) = load_for_update(tx.conn, &id, &actor)?;
        let Some(to) = c.status.after(transition) else {
            return Err(illegal(&c, transition));
        };
        if tx.now < c.starts_at {
            return Err(AppError::conflict(
                "too_early",
                "An appointment can be marked attended or a no-show once it has started.",
            ));
        }
        if !consultations::set_status(
            tx.conn,
            &c.id,
            c.status,
            to,
            StatusChange::default(),
            tx.now,
        )? {
            return Err(concurrent_update());
        }
        let who = actor.label();
        let event = if transition == Transition::Attend {
            EventType::ConsultationAttended
        } else {
            EventType::ConsultationNoShow
        };
        tx.consultation_changed(&who, event, &c.id, Some(&c))?;
        if transition == Transition::MarkNoShow
            && policy::on_no_show(d.status) == DepositAction::Forfeit
            && !refund_under_way(tx.conn, &d.id)?
            && deposits::set_status(
                tx.conn,
                &d.id,
                DepositStatus::Paid,
                DepositStatus::Forfeited,
                None,
                tx.now,
            )?
        {
            tx.deposit_changed(&who, EventType::DepositForfeited, &d.id, Some(&d))?;
        }
        Ok(Booking::load(tx.conn, &id)?.ok_or(DbError::NotFound)?)
    })
    .await
}
