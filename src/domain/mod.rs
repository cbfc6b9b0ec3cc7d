//! Pure domain types and rules: no I/O, no clock reads, no database.

pub mod actor;
pub mod age;
pub mod calendar;
pub mod catalogue;
pub mod consultation;
pub mod contact;
pub mod dates;
pub mod deposit;
pub mod eligibility;
pub mod event_types;
pub mod money;
pub mod notifications;
pub mod policy;
pub mod slots;
pub mod slug;
pub mod text;
pub mod treatment;
pub mod webhook_delivery;

/// Bookings are laid on a five-minute grid: slot lengths, steps and opening
/// times are multiples of it, and the database claims time in cells of it.
pub const GRID_MINUTES: u32 = 5;
