//! The cancellation policy: what happens to the deposit when a booking ends.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::deposit::DepositStatus;

/// Who ends the booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    /// The client (or a partner acting for them).
    Client,
    /// The clinic.
    Clinic,
}

impl CancelledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Clinic => "clinic",
        }
    }
}

/// What the policy does to the deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepositAction {
    /// Paid back in full.
    Refund,
    /// Kept by the clinic.
    Forfeit,
    /// Never paid: the payment request is withdrawn.
    Release,
    /// Already settled (redeemed, refunded, forfeited or cancelled): untouched.
    None,
}

/// The last moment a client can cancel and get the deposit back.
pub fn cancellation_deadline(starts_at: DateTime<Utc>, notice_hours: u32) -> DateTime<Utc> {
    starts_at - Duration::hours(i64::from(notice_hours))
}

/// Whether cancelling at `now` is late (inside the notice period).
pub fn is_late(starts_at: DateTime<Utc>, notice_hours: u32, now: DateTime<Utc>) -> bool {
    now > cancellation_deadline(starts_at, notice_hours)
}

/// The deposit action on cancellation: a clinic cancellation or one in time
/// refunds a paid deposit; a late client cancellation forfeits it; an
/// unpaid deposit is released.
pub fn on_cancel(
    deposit: DepositStatus,
    by: CancelledBy,
    starts_at: DateTime<Utc>,
    notice_hours: u32,
    now: DateTime<Utc>,
) -> DepositAction {
    match deposit {
        DepositStatus::Pending => DepositAction::Release,
        DepositStatus::Paid => match by {
            CancelledBy::Clinic => DepositAction::Refund,
            CancelledBy::Client if is_late(starts_at, notice_hours, now) => DepositAction::Forfeit,
            CancelledBy::Client => DepositAction::Refund,
        },
        _ => DepositAction::None,
    }
}

/// The deposit action on a no-show: a paid deposit is forfeited.
pub fn on_no_show(deposit: DepositStatus) -> DepositAction {
    match deposit {
        DepositStatus::Paid => DepositAction::Forfeit,
        _ => DepositAction::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cancellation_table() {
        let starts = t("2026-12-10T10:00:00Z");
        let deadline = t("2026-12-08T10:00:00Z"); // 48 h before
        let cases = [
            (
                DepositStatus::Paid,
                CancelledBy::Client,
                deadline - Duration::seconds(1),
                DepositAction::Refund,
            ),
            (
                DepositStatus::Paid,
                CancelledBy::Client,
                deadline,
                DepositAction::Refund,
            ),
            (
                DepositStatus::Paid,
                CancelledBy::Client,
                deadline + Duration::seconds(1),
                DepositAction::Forfeit,
            ),
            (
                DepositStatus::Paid,
                CancelledBy::Clinic,
                starts - Duration::minutes(5),
                DepositAction::Refund,
            ),
            (
                DepositStatus::Pending,
                CancelledBy::Client,
                starts - Duration::hours(1),
                DepositAction::Release,
            ),
            (
                DepositStatus::Pending,
                CancelledBy::Clinic,
                deadline,
                DepositAction::Release,
            ),
            (
                DepositStatus::Redeemed,
                CancelledBy::Client,
                deadline,
                DepositAction::None,
            ),
            (
                DepositStatus::Refunded,
                CancelledBy::Clinic,
                deadline,
                DepositAction::None,
            ),
        ];
        for (deposit, by, now, want) in cases {
            assert_eq!(
                on_cancel(deposit, by, starts, 48, now),
                want,
                "{deposit:?} {by:?} {now}"
            );
        }
        assert_eq!(cancellation_deadline(starts, 48), deadline);
    }

    #[test]
    fn no_shows_forfeit_paid_deposits_only() {
        assert_eq!(on_no_show(DepositStatus::Paid), DepositAction::Forfeit);
        assert_eq!(on_no_show(DepositStatus::Pending), DepositAction::None);
        assert_eq!(on_no_show(DepositStatus::Redeemed), DepositAction::None);
    }
}
