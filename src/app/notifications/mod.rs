//! Client and clinic notifications: planned with each booking change in
//! its unit of work ([`plan`]), sent by the background [`worker`] through
//! the configured channels (`notify`), rendered from the booking as it is
//! at send time ([`render`]); staff read, resend and preview them
//! ([`log`]).

pub mod log;
pub mod plan;
pub mod render;
pub mod worker;

pub use self::log::{list, preview, purge, resend, Preview, MAX_RESENDS, PREVIEW_TOKEN};
pub use self::worker::{pass, run_forever, Pass};
