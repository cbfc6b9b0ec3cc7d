//! Who acts: API key roles, and the actor behind every change.

use super::policy::CancelledBy;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything staff can, plus keys, exports and erasure.
    Admin,
    /// Runs the clinic: catalogue, FAQ, schedule, bookings, deposits.
    Staff,
    /// A booking aggregator: availability and its own bookings.
    Partner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Staff, Role::Partner];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Staff => "staff",
            Self::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Staff routes admit admins too.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Admin | Self::Staff)
    }
}

/// The holder of a valid API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key_id: String,
    pub name: String,
    pub role: Role,
}

impl Identity {
    /// The actor this key acts as on a booking.
    pub fn actor(&self) -> Actor {
        if self.role == Role::Partner {
            Actor::Partner(self.key_id.clone())
        } else {
            Actor::Staff(self.key_id.clone())
        }
    }

    /// The audit trail's name for the key holder.
    pub fn label(&self) -> String {
        label::key(&self.key_id)
    }
}

/// Who is acting on a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The client, by the hash of the manage token they presented (empty
    /// while booking, before a token exists).
    Client(String),
    /// A partner (aggregator) acting for the client, by key id.
    Partner(String),
    /// Clinic staff, by key id.
    Staff(String),
}

impl Actor {
    /// The audit trail's name for the actor.
    pub fn label(&self) -> String {
        match self {
            Actor::Client(_) => label::CLIENT.to_owned(),
            Actor::Partner(key) | Actor::Staff(key) => label::key(key),
        }
    }

    /// Who a cancellation by this actor counts as.
    pub fn cancelled_by(&self) -> CancelledBy {
        match self {
            Actor::Staff(_) => CancelledBy::Clinic,
            _ => CancelledBy::Client,
        }
    }

    pub fn is_staff(&self) -> bool {
        matches!(self, Actor::Staff(_))
    }
}

/// How the audit trail names who made a change.
pub mod label {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nest() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(Role::Admin.is_staff() && Role::Staff.is_staff());
        assert!(!Role::Partner.is_staff());
    }

    #[test]
    fn staff_cancel_for_the_clinic_and_others_for_the_client() {
        assert_eq!(Actor::Staff("k".into()).cancelled_by(), CancelledBy::Clinic);
        assert_eq!(
            Actor::Partner("k".into()).cancelled_by(),
            CancelledBy::Client
        );
        assert_eq!(Actor::Client("h".into()).label(), "client");
        assert_eq!(Actor::Staff("k1".into()).label(), "key:k1");
    }
}
