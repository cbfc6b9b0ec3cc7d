//! What happened: the audit trail (every staff or partner action and every
//! state change of a consultation or deposit) and the outbox of events for
//! webhook subscribers. Both are written in the same transaction as the
//! change they describe, and neither carries health data, dates of birth or
//! contact details.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::db::schema::{audit_events, outbox_events};
use crate::db::{DbConnection, DbError};
use crate::store::consultations::{self, channel, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::{ordered_id, to_db};

/// Who made a change, as the audit trail names them.
pub mod actor {
    /// The booking's holder, with the manage token.
    pub const CLIENT: &str = "client";
    /// Stripe, through a webhook or reconciliation.
    pub const STRIPE: &str = "stripe";
    /// The service itself (sweeps, retention).
    pub const SYSTEM: &str = "system";

    /// An API key holder (staff, admin or partner), by key id.
    pub fn key(key_id: &str) -> String {
        format!("key:{key_id}")
    }
}

/// A change to a consultation or deposit. Those in [`EventType`] are also
/// sent to webhook subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "consultation.created")]
    ConsultationCreated,
    #[serde(rename = "consultation.confirmed")]
    ConsultationConfirmed,
    #[serde(rename = "consultation.rescheduled")]
    ConsultationRescheduled,
    #[serde(rename = "consultation.cancelled")]
    ConsultationCancelled,
    #[serde(rename = "consultation.expired")]
    ConsultationExpired,
    #[serde(rename = "consultation.attended")]
    ConsultationAttended,
    #[serde(rename = "consultation.no_show")]
    ConsultationNoShow,
    #[serde(rename = "deposit.paid")]
    DepositPaid,
    #[serde(rename = "deposit.refunded")]
    DepositRefunded,
    #[serde(rename = "deposit.redeemed")]
    DepositRedeemed,
    #[serde(rename = "deposit.forfeited")]
    DepositForfeited,
    /// Audit only: an unpaid deposit was withdrawn.
    #[serde(rename = "deposit.cancelled")]
    DepositCancelled,
    /// Audit only: a refund was reserved and is being made.
    #[serde(rename = "deposit.refund_reserved")]
    DepositRefundReserved,
    /// Audit only: a payment arrived after the slot had gone to someone else.
    #[serde(rename = "consultation.slot_lost")]
    ConsultationSlotLost,
}

impl Kind {
    /// The event types subscribers can ask for.
    pub const PUBLISHED: [Kind; 11] = [
        Kind::ConsultationCreated,
        Kind::ConsultationConfirmed,
        Kind::ConsultationRescheduled,
        Kind::ConsultationCancelled,
        Kind::ConsultationExpired,
        Kind::ConsultationAttended,
        Kind::ConsultationNoShow,
        Kind::DepositPaid,
        Kind::DepositRefunded,
        Kind::DepositRedeemed,
        Kind::DepositForfeited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ConsultationCreated => "consultation.created",
            Kind::ConsultationConfirmed => "consultation.confirmed",
            Kind::ConsultationRescheduled => "consultation.rescheduled",
            Kind::ConsultationCancelled => "consultation.cancelled",
            Kind::ConsultationExpired => "consultation.expired",
            Kind::ConsultationAttended => "consultation.attended",
            Kind::ConsultationNoShow => "consultation.no_show",
            Kind::DepositPaid => "deposit.paid",
            Kind::DepositRefunded => "deposit.refunded",
            Kind::DepositRedeemed => "deposit.redeemed",
            Kind::DepositForfeited => "deposit.forfeited",
            Kind::DepositCancelled => "deposit.cancelled",
            Kind::DepositRefundReserved => "deposit.refund_reserved",
            Kind::ConsultationSlotLost => "consultation.slot_lost",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Self::PUBLISHED.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_published(self) -> bool {
        Self::PUBLISHED.contains(&self)
    }
}

/// The events webhook endpoints can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "consultation.created")]
    ConsultationCreated,
    #[serde(rename = "consultation.confirmed")]
    ConsultationConfirmed,
    #[serde(rename = "consultation.rescheduled")]
    ConsultationRescheduled,
    #[serde(rename = "consultation.cancelled")]
    ConsultationCancelled,
    #[serde(rename = "consultation.expired")]
    ConsultationExpired,
    #[serde(rename = "consultation.attended")]
    ConsultationAttended,
    #[serde(rename = "consultation.no_show")]
    ConsultationNoShow,
    #[serde(rename = "deposit.paid")]
    DepositPaid,
    #[serde(rename = "deposit.refunded")]
    DepositRefunded,
    #[serde(rename = "deposit.redeemed")]
    DepositRedeemed,
    #[serde(rename = "deposit.forfeited")]
    DepositForfeited,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::ConsultationCreated,
        EventType::ConsultationConfirmed,
        EventType::ConsultationRescheduled,
        EventType::ConsultationCancelled,
        EventType::ConsultationExpired,
        EventType::ConsultationAttended,
        EventType::ConsultationNoShow,
        EventType::DepositPaid,
        EventType::DepositRefunded,
        EventType::DepositRedeemed,
        EventType::DepositForfeited,
    ];

    pub fn kind(self) -> Kind {
        Kind::PUBLISHED[Self::ALL.iter().position(|t| *t == self).expect("listed")]
    }

    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

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

/// Appends one audit event.
#[allow(clippy::too_many_arguments)]
pub fn audit(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    before: Option<Value>,
    after: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(ordered_id()),
            audit_events::occurred_at.eq(to_db(now)),
            audit_events::actor.eq(actor),
            audit_events::action.eq(action),
            audit_events::subject_type.eq(subject_type),
            audit_events::subject_id.eq(subject_id),
            audit_events::before_state.eq(before.map(|v| v.to_string())),
            audit_events::after_state.eq(after.map(|v| v.to_string())),
        ))
        .execute(db))?;
    Ok(())
}

/// Records a change of a consultation (audit, and the outbox when
/// published); `before` is its state before the change, if it existed.
pub fn consultation_changed(
    conn: &mut DbConnection,
    actor: &str,
    kind: Kind,
    id: &str,
    before: Option<&Consultation>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let after = consultations::get(conn, id)?.ok_or(DbError::NotFound)?;
    consultation_recorded(conn, actor, kind, before, &after, None, now)
}

/// Like [`consultation_changed`], when the caller holds the consultation as
/// it now is (and its deposit, if known): nothing is read back.
pub fn consultation_recorded(
    conn: &mut DbConnection,
    actor: &str,
    kind: Kind,
    before: Option<&Consultation>,
    after: &Consultation,
    deposit: Option<&Deposit>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    audit(
        conn,
        actor,
        kind.as_str(),
        "consultation",
        &after.id,
        before.map(consultation_state),
        Some(consultation_state(after)),
        now,
    )?;
    match deposit {
        Some(d) => publish_with(conn, kind, after, Some(d), now),
        None => publish(conn, kind, after, now),
    }
}

/// Records a change of a deposit (audit, and the outbox when published).
pub fn deposit_changed(
    conn: &mut DbConnection,
    actor: &str,
    kind: Kind,
    id: &str,
    before: Option<&Deposit>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let after = deposits::get(conn, id)?.ok_or(DbError::NotFound)?;
    audit(
        conn,
        actor,
        kind.as_str(),
        "deposit",
        id,
        before.map(deposit_state),
        Some(deposit_state(&after)),
        now,
    )?;
    let consultation =
        consultations::get(conn, &after.consultation_id)?.ok_or(DbError::NotFound)?;
    publish(conn, kind, &consultation, now)
}

/// Writes the outbox event for a published kind.
fn publish(
    conn: &mut DbConnection,
    kind: Kind,
    c: &Consultation,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if !kind.is_published() {
        return Ok(());
    }
    let deposit = deposits::by_consultation(conn, &c.id)?;
    publish_with(conn, kind, c, deposit.as_ref(), now)
}

fn publish_with(
    conn: &mut DbConnection,
    kind: Kind,
    c: &Consultation,
    deposit: Option<&Deposit>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if !kind.is_published() {
        return Ok(());
    }
    let id = ordered_id();
    let mut consultation = consultation_state(c);
    consultation["id"] = json!(c.id);
    let payload = json!({
        "id": id,
        "type": kind.as_str(),
        "occurred_at": now,
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
    crate::native!(conn, |db| diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(&id),
            outbox_events::event_type.eq(kind.as_str()),
            outbox_events::occurred_at.eq(to_db(now)),
            outbox_events::consultation_id.eq(&c.id),
            outbox_events::partner_key_id.eq(partner),
            outbox_events::payload.eq(payload.to_string()),
            outbox_events::dispatched.eq(false),
        ))
        .execute(db))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_the_published_kinds() {
        for t in EventType::ALL {
            assert!(t.kind().is_published());
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("deposit.cancelled"), None);
    }

    #[test]
    fn published_kinds_round_trip_and_audit_only_ones_are_not_published() {
        for k in Kind::PUBLISHED {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert!(!Kind::DepositCancelled.is_published());
        assert_eq!(Kind::parse("deposit.cancelled"), None);
    }
}
