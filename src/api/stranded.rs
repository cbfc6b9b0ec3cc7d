//! Live bookings a schedule change would leave outside the diary, and what
//! the request says to do with them (shared by opening hours and closures,
//! and by the 409 problem that lists them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::error;
use crate::app::schedule::Stranded;
use crate::domain::consultation::Status;

/// What to do with live bookings (confirmed, or held while the deposit is
/// paid) the change would leave outside opening hours or inside a closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnStrandedBookings {
    /// Refuse the change with 409 `bookings_stranded`, listing them.
    #[default]
    Refuse,
    /// Make the change and keep them, as exceptions.
    Keep,
    /// Make the change and cancel them on the clinic's side: a paid deposit
    /// is refunded, an unpaid one released.
    Cancel,
}

impl From<OnStrandedBookings> for Stranded {
    fn from(o: OnStrandedBookings) -> Self {
        match o {
            OnStrandedBookings::Refuse => Stranded::Refuse,
            OnStrandedBookings::Keep => Stranded::Keep,
            OnStrandedBookings::Cancel => Stranded::Cancel,
        }
    }
}

impl From<Stranded> for OnStrandedBookings {
    fn from(s: Stranded) -> Self {
        match s {
            Stranded::Refuse => OnStrandedBookings::Refuse,
            Stranded::Keep => OnStrandedBookings::Keep,
            Stranded::Cancel => OnStrandedBookings::Cancel,
        }
    }
}

/// A live booking the change leaves outside the diary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StrandedBooking {
    #[schema(format = "uuid")]
    pub consultation_id: String,
    #[schema(format = "uuid")]
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: Status,
}

impl From<error::StrandedBooking> for StrandedBooking {
    fn from(s: error::StrandedBooking) -> Self {
        Self {
            consultation_id: s.consultation_id,
            practitioner_id: s.practitioner_id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            status: s.status,
        }
    }
}

/// Lists `stranded` for an answer.
pub fn listed(stranded: Vec<error::StrandedBooking>) -> Vec<StrandedBooking> {
    stranded.into_iter().map(StrandedBooking::from).collect()
}
