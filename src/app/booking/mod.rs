//! Booking: create, read, cancel, reschedule, attend, no-show (holds that
//! lapse are `app::holds`, payments that confirm `app::confirm`). Each change runs in one unit of work; the database (slot claims,
//! conditional status updates, row locks) decides every race.
//!
//! Every path that sets or moves an appointment goes through [`place`],
//! which judges the slot and the client's age on its clinic-local date.

mod cancel;
mod create;
mod outcome;
mod record;
mod reschedule;
mod rules;

pub use self::cancel::{cancel, cancel_within, CancelCommand, Cancellation, FollowUp};
pub use self::create::{create, Booked, NewBooking, NotifyChoice};
pub use self::outcome::record_outcome;
pub use self::record::{find, get, load, load_for_update, may_act_on, Booking};
pub use self::reschedule::{reschedule, RescheduleCommand};
pub use self::rules::place;
