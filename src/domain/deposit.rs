//! A deposit's lifecycle. The deposit is credit: once paid it is redeemed
//! against a treatment, refunded, or forfeited under the cancellation policy.
//!
//! ```text
//! pending ──▶ paid ──▶ redeemed | refunded | forfeited
//!    └──▶ cancelled
//! ```

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepositStatus {
    /// Awaiting payment.
    Pending,
    /// Paid: credit the client holds.
    Paid,
    /// Used against a treatment.
    Redeemed,
    /// Paid back.
    Refunded,
    /// Kept by the clinic under the cancellation policy.
    Forfeited,
    /// Never paid; the booking ended.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositTransition {
    Pay,
    Redeem,
    Refund,
    Forfeit,
    Cancel,
}

impl DepositStatus {
    pub const ALL: [DepositStatus; 6] = [
        DepositStatus::Pending,
        DepositStatus::Paid,
        DepositStatus::Redeemed,
        DepositStatus::Refunded,
        DepositStatus::Forfeited,
        DepositStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Redeemed => "redeemed",
            Self::Refunded => "refunded",
            Self::Forfeited => "forfeited",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state after `transition`, or `None` when the move is illegal: money
    /// is never redeemed twice, refunded twice, or both.
    pub fn after(self, transition: DepositTransition) -> Option<DepositStatus> {
        use DepositStatus::*;
        use DepositTransition::*;
        match (self, transition) {
            (Pending, Pay) => Some(Paid),
            (Pending, Cancel) => Some(Cancelled),
            (Paid, Redeem) => Some(Redeemed),
            (Paid, Refund) => Some(Refunded),
            (Paid, Forfeit) => Some(Forfeited),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DepositStatus::*;
    use DepositTransition::*;

    #[test]
    fn only_the_documented_moves_are_legal() {
        let legal = [
            (Pending, Pay, Paid),
            (Pending, Cancel, Cancelled),
            (Paid, Redeem, Redeemed),
            (Paid, Refund, Refunded),
            (Paid, Forfeit, Forfeited),
        ];
        for from in DepositStatus::ALL {
            for t in [Pay, Redeem, Refund, Forfeit, Cancel] {
                let want = legal
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == t)
                    .map(|(_, _, t)| *t);
                assert_eq!(from.after(t), want, "{from:?} + {t:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in DepositStatus::ALL {
            assert_eq!(DepositStatus::parse(s.as_str()), Some(s));
        }
    }
}
