//! Pure domain types and rules: no I/O, no clock reads, no database.

pub mod age;
pub mod catalogue;
pub mod eligibility;
pub mod money;
pub mod slug;
pub mod treatment;

/// Bookings are laid on a five-minute grid: slot lengths, steps and opening
/// times are multiples of it, and the database claims time in cells of it.
pub const GRID_MINUTES: u32 = 5;
pub mod slots;
