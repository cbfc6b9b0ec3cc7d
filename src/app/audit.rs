//! What happened, written inside the unit of work that made it happen: the
//! audit trail (every staff or partner action and every change of a
//! consultation or deposit) and the outbox of events for webhook
//! subscribers. Neither carries health data, dates of birth or contact
//! details. Recording a change of a booking also plans the notifications
//! it causes (`app::notifications::plan`), and tells the unit of work
//! which cached answers it makes stale.

use serde_json::{json, Value};

use super::notifications::plan::plan as plan_notifications;
use super::Tx;
use crate::cache::Stale;
use crate::db::DbError;
use crate::domain::event_types::BookingChange;
use crate::store::consultations::{self, channel, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::{audit, deliveries, ordered_id};

/// A consultation's state for the audit trail and events (no contact
/// details, no health flags).
pub fn consultation_state(c: &Consultation) -> Value {
    json!({
        "status": c.status.as_str(),
        "practitioner_id": c.practitioner_id,
        "starts_at": c.starts_at,
        "ends_at": c.ends_at,
        "hold_expires_at": c.hold_expires_at,
        "treatment_id": c.treatment_id,
        "channel": c.channel,
        "cancelled_by": c.cancelled_by,
        "end_reason": c.end_reason.as_deref().filter(|r| !r.is_empty()),
    })
}

/// A deposit's state for the audit trail and events.
pub fn deposit_state(d: &Deposit) -> Value {
    json!({
        "status": d.status.as_str(),
        "amount": d.amount,
        "provider": d.provider,
        "provider_payment_id": d.provider_payment_id,
    })
}

/// The cached answers a change to a subject of this type makes stale.
fn stale_after(subject_type: &str) -> Stale {
    match subject_type {
        "consultation" | "deposit" | "practitioner" | "closure" => Stale {
            availability: true,
            ..Stale::default()
        },
        "treatment" | "faq" => Stale {
            catalogue: true,
            ..Stale::default()
        },
        _ => Stale::default(),
    }
}

impl Tx<'_> {
    /// Appends one audit event.
    pub fn audit(
        &mut self,
        actor: &str,
        action: &str,
        subject_type: &str,
        subject_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), DbError> {
        self.invalidates(stale_after(subject_type));
        match subject_type {
            "consultation" => self.changed("consultation", action),
            "deposit" => self.changed("deposit", action),
            _ => {}
        }
        audit::insert(
            self.conn,
            &audit::NewEvent {
                actor,
                action,
                subject_type,
                subject_id,
                before: before.map(|v| v.to_string()),
                after: after.map(|v| v.to_string()),
            },
            self.now,
        )
    }

    /// Records a change of a consultation, read back as it now is (audit,
    /// and the outbox when published).
    pub fn consultation_changed(
        &mut self,
        actor: &str,
        change: impl Into<BookingChange>,
        id: &str,
        before: Option<&Consultation>,
    ) -> Result<(), DbError> {
        let after = consultations::get(self.conn, id)?.ok_or(DbError::NotFound)?;
        self.consultation_recorded(actor, change, before, &after, None)
    }

    /// Like [`Tx::consultation_changed`], when the caller holds the
    /// consultation as it now is (and its deposit, if known).
    pub fn consultation_recorded(
        &mut self,
        actor: &str,
        change: impl Into<BookingChange>,
        before: Option<&Consultation>,
        after: &Consultation,
        deposit: Option<&Deposit>,
    ) -> Result<(), DbError> {
        let change = change.into();
        self.audit(
            actor,
            change.as_str(),
            "consultation",
            &after.id,
            before.map(consultation_state),
            Some(consultation_state(after)),
        )?;
        self.publish(change, after, deposit)?;
        plan_notifications(self, change, before, after)
    }

    /// Records a change of a deposit, read back as it now is.
    pub fn deposit_changed(
        &mut self,
        actor: &str,
        change: impl Into<BookingChange>,
        id: &str,
        before: Option<&Deposit>,
    ) -> Result<(), DbError> {
        let change = change.into();
        let after = deposits::get(self.conn, id)?.ok_or(DbError::NotFound)?;
        self.audit(
            actor,
            change.as_str(),
            "deposit",
            id,
            before.map(deposit_state),
            Some(deposit_state(&after)),
        )?;
        if change.published().is_none() {
            return Ok(());
        }
        let c = consultations::get(self.conn, &after.consultation_id)?.ok_or(DbError::NotFound)?;
        self.publish(change, &c, Some(&after))?;
        plan_notifications(self, change, None, &c)
    }

    /// Writes the outbox event of a published change.
    fn publish(
        &mut self,
        change: BookingChange,
        c: &Consultation,
        deposit: Option<&Deposit>,
    ) -> Result<(), DbError> {
        let Some(event_type) = change.published() else {
            return Ok(());
        };
        let deposit = match deposit {
            Some(d) => Some(d.clone()),
            None => deposits::by_consultation(self.conn, &c.id)?,
        };
        let id = ordered_id();
        let mut consultation = consultation_state(c);
        consultation["id"] = json!(c.id);
        let payload = json!({
            "id": id,
            "type": event_type.as_str(),
            "occurred_at": self.now,
            "data": {
                "consultation": consultation,
                "deposit": deposit.map(|d| json!({
                    "id": d.id,
                    "status": d.status.as_str(),
                    "amount": d.amount,
                })),
            },
        });
        let partner = (c.channel == channel::PARTNER)
            .then(|| c.booked_by_key_id.clone())
            .flatten();
        deliveries::insert_outbox_event(
            self.conn,
            &deliveries::NewOutboxEvent {
                id: &id,
                event_type: event_type.as_str(),
                consultation_id: &c.id,
                partner_key_id: partner.as_deref(),
                payload: payload.to_string(),
            },
            self.now,
        )
    }
}
