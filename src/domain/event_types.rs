//! The event catalogue: what partners and staff can subscribe to, and the
//! changes the audit trail records about bookings and deposits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The events webhook endpoints can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema)]
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

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsultationCreated => "consultation.created",
            Self::ConsultationConfirmed => "consultation.confirmed",
            Self::ConsultationRescheduled => "consultation.rescheduled",
            Self::ConsultationCancelled => "consultation.cancelled",
            Self::ConsultationExpired => "consultation.expired",
            Self::ConsultationAttended => "consultation.attended",
            Self::ConsultationNoShow => "consultation.no_show",
            Self::DepositPaid => "deposit.paid",
            Self::DepositRefunded => "deposit.refunded",
            Self::DepositRedeemed => "deposit.redeemed",
            Self::DepositForfeited => "deposit.forfeited",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What the event means, for the catalogue endpoint.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ConsultationCreated => {
                "A consultation was booked; its slot is held while the deposit is paid."
            }
            Self::ConsultationConfirmed => "The deposit was paid; the booking is confirmed.",
            Self::ConsultationRescheduled => "The booking moved to another slot.",
            Self::ConsultationCancelled => "The booking was cancelled (see cancelled_by).",
            Self::ConsultationExpired => {
                "The hold lapsed (or the payment was withdrawn) before the deposit was paid."
            }
            Self::ConsultationAttended => "The client came.",
            Self::ConsultationNoShow => "The client did not come.",
            Self::DepositPaid => "The deposit was paid.",
            Self::DepositRefunded => "The deposit was refunded.",
            Self::DepositRedeemed => "The deposit was redeemed against a treatment.",
            Self::DepositForfeited => "The deposit was kept under the cancellation policy.",
        }
    }
}

/// A change to a booking or its deposit, as the audit trail records it:
/// a published event, or one kept in the audit trail only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingChange {
    Published(EventType),
    /// An unpaid deposit was withdrawn.
    DepositCancelled,
    /// A refund was reserved and is being made.
    DepositRefundReserved,
    /// A payment arrived after the slot had gone to someone else.
    ConsultationSlotLost,
}

impl BookingChange {
    /// The audit trail's action name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published(t) => t.as_str(),
            Self::DepositCancelled => "deposit.cancelled",
            Self::DepositRefundReserved => "deposit.refund_reserved",
            Self::ConsultationSlotLost => "consultation.slot_lost",
        }
    }

    /// The event subscribers receive, if any.
    pub fn published(self) -> Option<EventType> {
        match self {
            Self::Published(t) => Some(t),
            _ => None,
        }
    }
}

impl From<EventType> for BookingChange {
    fn from(t: EventType) -> Self {
        Self::Published(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::json!(t.as_str())
            );
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(BookingChange::from(t).as_str(), t.as_str());
        }
        assert_eq!(EventType::parse("deposit.cancelled"), None);
    }

    #[test]
    fn audit_only_changes_are_not_published() {
        for c in [
            BookingChange::DepositCancelled,
            BookingChange::DepositRefundReserved,
            BookingChange::ConsultationSlotLost,
        ] {
            assert_eq!(c.published(), None);
            assert_eq!(EventType::parse(c.as_str()), None);
        }
    }
}
