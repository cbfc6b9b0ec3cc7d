//! A consultation's lifecycle: the states and the only legal moves.
//!
//! ```text
//! pending_deposit ──paid──▶ confirmed ──▶ attended | no_show | cancelled
//!        │  └──cancel──▶ cancelled
//!        └──hold lapses──▶ expired ──rebook──▶ confirmed
//!                              └──cancel──▶ cancelled
//! ```
//!
//! An expired booking can be rebooked or cancelled only when its deposit
//! was paid after all (it lapsed, was paid, and lost its slot): the client
//! holds credit and chooses a new slot or the refund. The app checks the
//! deposit; this table says which moves exist.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Holding the slot until `hold_expires_at` while the deposit is paid.
    PendingDeposit,
    /// Deposit paid; the slot is the client's.
    Confirmed,
    Attended,
    NoShow,
    Cancelled,
    /// The hold lapsed before the deposit was paid.
    Expired,
}

/// A move of a consultation from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    DepositPaid,
    Attend,
    MarkNoShow,
    Cancel,
    HoldLapsed,
    Reschedule,
    /// A new slot for an expired booking whose deposit was paid.
    Rebook,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::PendingDeposit,
        Status::Confirmed,
        Status::Attended,
        Status::NoShow,
        Status::Cancelled,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingDeposit => "pending_deposit",
            Self::Confirmed => "confirmed",
            Self::Attended => "attended",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the consultation still holds its slot.
    pub fn holds_slot(self) -> bool {
        matches!(self, Self::PendingDeposit | Self::Confirmed)
    }

    /// The state after `transition`, or `None` when the move is illegal.
    pub fn after(self, transition: Transition) -> Option<Status> {
        use Status::*;
        use Transition::*;
        match (self, transition) {
            (PendingDeposit, DepositPaid) => Some(Confirmed),
            (PendingDeposit, HoldLapsed) => Some(Expired),
            (PendingDeposit | Confirmed, Cancel) => Some(Cancelled),
            (PendingDeposit | Confirmed, Reschedule) => Some(self),
            (Expired, Rebook) => Some(Confirmed),
            (Expired, Cancel) => Some(Cancelled),
            (Confirmed, Attend) => Some(Attended),
            (Confirmed, MarkNoShow) => Some(NoShow),
            _ => None,
        }
    }
}

impl Transition {
    pub fn describe(self) -> &'static str {
        match self {
            Self::DepositPaid => "confirm",
            Self::Attend => "mark as attended",
            Self::MarkNoShow => "mark as a no-show",
            Self::Cancel => "cancel",
            Self::HoldLapsed => "expire",
            Self::Reschedule => "reschedule",
            Self::Rebook => "rebook",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;
    use Transition::*;

    #[test]
    fn only_the_documented_moves_are_legal() {
        let legal = [
            (PendingDeposit, DepositPaid, Confirmed),
            (PendingDeposit, HoldLapsed, Expired),
            (PendingDeposit, Cancel, Cancelled),
            (PendingDeposit, Reschedule, PendingDeposit),
            (Confirmed, Cancel, Cancelled),
            (Confirmed, Attend, Attended),
            (Confirmed, MarkNoShow, NoShow),
            (Confirmed, Reschedule, Confirmed),
            (Expired, Rebook, Confirmed),
            (Expired, Cancel, Cancelled),
        ];
        let transitions = [
            DepositPaid,
            Attend,
            MarkNoShow,
            Cancel,
            HoldLapsed,
            Reschedule,
            Rebook,
        ];
        for from in Status::ALL {
            for t in transitions {
                let want = legal
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == t)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.after(t), want, "{from:?} + {t:?}");
            }
        }
    }

    #[test]
    fn final_states_hold_no_slot() {
        for s in [Attended, NoShow, Cancelled, Expired] {
            assert!(!s.holds_slot());
        }
        assert!(PendingDeposit.holds_slot() && Confirmed.holds_slot());
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
