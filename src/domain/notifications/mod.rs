//! Notifications to the client and the clinic: which messages a change of a
//! booking plans, when reminders are due, whether a planned message still
//! makes sense when its time comes, how failures are retried, and how
//! recipients are shown in the log. The messages themselves are
//! [`messages`]. Pure: the caller passes `now`.
//!
//! Every booking change passes through the unit of work's
//! `consultation_recorded` / `deposit_changed`, which call [`plan`]: the
//! messages are decided in the same transaction as the change (an outbox),
//! so every path that changes a booking, today's and tomorrow's, notifies.

pub mod messages;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::consultation::Status;
use super::event_types::{BookingChange, EventType};

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Booked, deposit pending: how and by when to pay.
    BookingReceived,
    /// Deposit paid: the booking stands (with the calendar event).
    BookingConfirmed,
    /// Moved to another time (the calendar event moves: same UID, higher SEQUENCE).
    BookingRescheduled,
    /// Cancelled by the client or the clinic, and what became of the deposit.
    BookingCancelled,
    /// The hold lapsed before the deposit was paid.
    HoldExpired,
    /// A payment arrived after the hold lapsed and the slot had gone.
    LatePayment,
    DepositRefunded,
    DepositForfeited,
    DepositRedeemed,
    /// Before the appointment, at each configured offset.
    Reminder,
    /// To the clinic: a booking was made.
    ClinicNewBooking,
    /// To the clinic: a booking was cancelled.
    ClinicCancellation,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::BookingReceived,
        Kind::BookingConfirmed,
        Kind::BookingRescheduled,
        Kind::BookingCancelled,
        Kind::HoldExpired,
        Kind::LatePayment,
        Kind::DepositRefunded,
        Kind::DepositForfeited,
        Kind::DepositRedeemed,
        Kind::Reminder,
        Kind::ClinicNewBooking,
        Kind::ClinicCancellation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BookingReceived => "booking_received",
            Self::BookingConfirmed => "booking_confirmed",
            Self::BookingRescheduled => "booking_rescheduled",
            Self::BookingCancelled => "booking_cancelled",
            Self::HoldExpired => "hold_expired",
            Self::LatePayment => "late_payment",
            Self::DepositRefunded => "deposit_refunded",
            Self::DepositForfeited => "deposit_forfeited",
            Self::DepositRedeemed => "deposit_redeemed",
            Self::Reminder => "reminder",
            Self::ClinicNewBooking => "clinic_new_booking",
            Self::ClinicCancellation => "clinic_cancellation",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Who receives it.
    pub fn audience(self) -> Audience {
        match self {
            Self::ClinicNewBooking | Self::ClinicCancellation => Audience::Clinic,
            _ => Audience::Client,
        }
    }

    /// What the message is for, for the README and the API.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BookingReceived => {
                "Booked, deposit pending: how and by when to pay; the slot is held until then."
            }
            Self::BookingConfirmed => {
                "Deposit paid, booking confirmed; the calendar event attached (METHOD:REQUEST)."
            }
            Self::BookingRescheduled => {
                "The appointment moved; the calendar event moves with it (same UID, higher SEQUENCE)."
            }
            Self::BookingCancelled => {
                "Cancelled by the client or the clinic, what became of the deposit; METHOD:CANCEL."
            }
            Self::HoldExpired => "The hold lapsed before the deposit was paid; the slot is released.",
            Self::LatePayment => {
                "A payment arrived after the hold lapsed and the slot was taken; it is kept as credit."
            }
            Self::DepositRefunded => "The deposit was refunded.",
            Self::DepositForfeited => "The deposit was kept under the cancellation policy.",
            Self::DepositRedeemed => "The deposit was redeemed against a treatment.",
            Self::Reminder => "A reminder before the appointment (REMINDER_OFFSETS).",
            Self::ClinicNewBooking => "To the clinic (CLINIC_NOTIFY_EMAIL): a booking was made.",
            Self::ClinicCancellation => "To the clinic (CLINIC_NOTIFY_EMAIL): a booking was cancelled.",
        }
    }
}

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Client,
    Clinic,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Clinic => "clinic",
        }
    }
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a planned message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its time (or its next try).
    Pending,
    /// Claimed by an instance that is sending it (until its lease ends).
    Sending,
    /// Accepted by the mail server or the SMS provider.
    Sent,
    /// Rendered and recorded, not sent: no channel is configured.
    Recorded,
    /// Given up: refused for good, or failing for too long.
    Failed,
    /// Withdrawn before its time by a later change (moved, cancelled…).
    Dropped,
    /// Not sent when its time came: it no longer made sense.
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 7] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Recorded,
        DeliveryStatus::Failed,
        DeliveryStatus::Dropped,
        DeliveryStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Recorded => "recorded",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the message is still to be sent.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Sending)
    }
}

/// What planning and the send-time checks read of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingState {
    pub status: Status,
    pub starts_at: DateTime<Utc>,
    pub sequence: i32,
    pub updated_at: DateTime<Utc>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// The client's choices at booking time.
    pub notify_email: bool,
    pub notify_sms: bool,
    /// Whether there is an address / number to send to (erasure empties them).
    pub has_email: bool,
    pub has_phone: bool,
}

/// The clinic's notification settings that planning needs.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Reminder offsets before the appointment, any order.
    pub reminder_offsets: &'a [Duration],
    /// Whether the clinic has an alert address.
    pub clinic_alerts: bool,
}

/// One message to plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: Kind,
    pub channel: Channel,
    /// The booking's sequence it is about.
    pub version: i32,
    /// Reminders: the offset before the appointment; zero otherwise.
    pub offset: Duration,
    /// When it is due.
    pub send_after: DateTime<Utc>,
    /// Rescheduled: the start before the move.
    pub previous_starts_at: Option<DateTime<Utc>>,
}

/// What a change does to the booking's messages: the open messages of these
/// kinds are withdrawn (a later change made them wrong), then these are
/// planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub drop: Vec<Kind>,
    pub messages: Vec<Planned>,
}

/// The messages about the appointment itself, withdrawn when it ends.
const ABOUT_THE_APPOINTMENT: [Kind; 4] = [
    Kind::BookingReceived,
    Kind::BookingConfirmed,
    Kind::BookingRescheduled,
    Kind::Reminder,
];

/// The client's channels for this booking.
pub fn client_channels(b: &BookingState) -> Vec<Channel> {
    let mut out = Vec::new();
    if b.notify_email && b.has_email {
        out.push(Channel::Email);
    }
    if b.notify_sms && b.has_phone {
        out.push(Channel::Sms);
    }
    out
}

/// When each reminder of an appointment is due, for those still to come.
///
/// The instants are the appointment's UTC start minus each offset, computed
/// in UTC. An offset is elapsed time ("48 hours before"), and UTC has no
/// clock changes: the reminder goes exactly that long before the
/// appointment whatever the clinic's clocks do in between. Doing the sum on
/// the clinic's wall clock instead would land 2 h reminders in a missing
/// hour in spring (01:00–02:00 does not exist in London) or on a repeated
/// one in autumn, and make a "48 h" reminder 47 or 49 real hours early when
/// the window spans a change. So across a change the reminder's *local*
/// time differs from the appointment's by an hour, which is what elapsed
/// time means; the message states the appointment in local time with its
/// zone.
pub fn reminder_times(
    starts_at: DateTime<Utc>,
    offsets: &[Duration],
    now: DateTime<Utc>,
) -> Vec<(Duration, DateTime<Utc>)> {
    let mut out: Vec<(Duration, DateTime<Utc>)> = offsets
        .iter()
        .map(|o| (*o, starts_at - *o))
        .filter(|(_, at)| *at > now)
        .collect();
    out.sort_by_key(|(_, at)| *at);
    out.dedup();
    out
}

/// The messages a change plans (and those it withdraws), from the booking
/// as it is after the change. A reminder whose time has already passed
/// when the booking is confirmed (booked close to the appointment) is not
/// planned: the confirmation says the same, just now.
pub fn plan(
    change: BookingChange,
    before: Option<&BookingState>,
    after: &BookingState,
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Plan {
    let channels = client_channels(after);
    let at_once = |kind: Kind| -> Vec<Planned> {
        let targets = match kind.audience() {
            Audience::Client => channels.clone(),
            Audience::Clinic if rules.clinic_alerts => vec![Channel::Email],
            Audience::Clinic => Vec::new(),
        };
        targets
            .into_iter()
            .map(|channel| Planned {
                kind,
                channel,
                version: after.sequence,
                offset: Duration::zero(),
                send_after: now,
                previous_starts_at: None,
            })
            .collect()
    };
    let reminders = || -> Vec<Planned> {
        let mut out = Vec::new();
        for (offset, at) in reminder_times(after.starts_at, rules.reminder_offsets, now) {
            for channel in &channels {
                out.push(Planned {
                    kind: Kind::Reminder,
                    channel: *channel,
                    version: after.sequence,
                    offset,
                    send_after: at,
                    previous_starts_at: None,
                });
            }
        }
        out
    };
    // A deposit settled in the same unit of work as the cancellation is
    // told by the cancellation message.
    let told_by_cancellation = after.status == Status::Cancelled && after.updated_at == now;
    let Some(event) = change.published() else {
        return match change {
            BookingChange::ConsultationSlotLost => Plan {
                drop: vec![Kind::HoldExpired],
                messages: at_once(Kind::LatePayment),
            },
            _ => Plan::default(),
        };
    };
    match event {
        EventType::ConsultationCreated => Plan {
            drop: Vec::new(),
            messages: [
                at_once(Kind::BookingReceived),
                at_once(Kind::ClinicNewBooking),
            ]
            .concat(),
        },
        EventType::ConsultationConfirmed => Plan {
            drop: vec![Kind::BookingReceived, Kind::HoldExpired, Kind::Reminder],
            messages: [at_once(Kind::BookingConfirmed), reminders()].concat(),
        },
        EventType::ConsultationRescheduled => {
            let mut moved = at_once(Kind::BookingRescheduled);
            for m in &mut moved {
                m.previous_starts_at = before.map(|b| b.starts_at);
            }
            let reminders = if after.status == Status::Confirmed {
                reminders()
            } else {
                Vec::new()
            };
            Plan {
                drop: vec![Kind::BookingRescheduled, Kind::Reminder],
                messages: [moved, reminders].concat(),
            }
        }
        EventType::ConsultationCancelled => Plan {
            drop: ABOUT_THE_APPOINTMENT.to_vec(),
            messages: [
                at_once(Kind::BookingCancelled),
                at_once(Kind::ClinicCancellation),
            ]
            .concat(),
        },
        EventType::ConsultationExpired => Plan {
            drop: ABOUT_THE_APPOINTMENT.to_vec(),
            messages: at_once(Kind::HoldExpired),
        },
        EventType::ConsultationAttended | EventType::ConsultationNoShow => Plan {
            drop: ABOUT_THE_APPOINTMENT.to_vec(),
            messages: Vec::new(),
        },
        EventType::DepositRefunded if !told_by_cancellation => Plan {
            drop: Vec::new(),
            messages: at_once(Kind::DepositRefunded),
        },
        EventType::DepositForfeited if !told_by_cancellation => Plan {
            drop: Vec::new(),
            messages: at_once(Kind::DepositForfeited),
        },
        EventType::DepositRedeemed => Plan {
            drop: Vec::new(),
            messages: at_once(Kind::DepositRedeemed),
        },
        EventType::DepositPaid | EventType::DepositRefunded | EventType::DepositForfeited => {
            Plan::default()
        }
    }
}

/// A planned message, as the send-time check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub kind: Kind,
    pub version: i32,
    pub offset: Duration,
    /// A resend asked by staff: sent now whatever its version or delay.
    pub resend: bool,
}

/// What to do with a message whose time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Not sent: it no longer makes sense (the reason is logged on it).
    Skip(&'static str),
}

/// Whether a due message still makes sense now, from the booking as it is.
///
/// Messages about the appointment are sent only while it stands and is to
/// come; a move or cancellation made after one was planned withdraws it
/// (and this check catches any the withdrawal raced with). Messages about
/// money are always sent.
///
/// Reminders sent late (the service was down at their time) follow one
/// rule: a reminder at offset `o` is still sent while the appointment is
/// more than `o / 2` away — a 48 h reminder up to 24 h late, a 2 h one up
/// to an hour late; later than that it is skipped as too late. It is also
/// skipped when a nearer reminder (a smaller offset) is itself due, since
/// that one says the same, closer to the time. Staff resends skip only on
/// the appointment's state, never on lateness, and never after it starts.
pub fn verdict(due: &Due, b: &BookingState, offsets: &[Duration], now: DateTime<Utc>) -> Verdict {
    let standing = matches!(b.status, Status::PendingDeposit | Status::Confirmed);
    let to_come = now < b.starts_at;
    let current = due.resend || due.version == b.sequence;
    match due.kind {
        Kind::BookingReceived => {
            if b.status != Status::PendingDeposit || b.hold_expires_at.is_some_and(|h| h <= now) {
                Verdict::Skip("the booking is no longer waiting for its deposit")
            } else {
                Verdict::Send
            }
        }
        Kind::BookingConfirmed => {
            if b.status != Status::Confirmed {
                Verdict::Skip("the booking is no longer confirmed")
            } else if !to_come {
                Verdict::Skip("the appointment has started")
            } else {
                Verdict::Send
            }
        }
        Kind::BookingRescheduled => {
            if !standing {
                Verdict::Skip("the booking has ended")
            } else if !current {
                Verdict::Skip("the booking moved again")
            } else if !to_come {
                Verdict::Skip("the appointment has started")
            } else {
                Verdict::Send
            }
        }
        Kind::Reminder => {
            if b.status != Status::Confirmed {
                Verdict::Skip("the booking is not confirmed")
            } else if !current {
                Verdict::Skip("the booking moved; its reminders were planned again")
            } else if !to_come {
                Verdict::Skip("the appointment has started")
            } else if due.resend {
                Verdict::Send
            } else if now >= b.starts_at - due.offset / 2 {
                Verdict::Skip("too late: less than half the reminder's offset remained")
            } else if offsets
                .iter()
                .any(|o| *o < due.offset && b.starts_at - *o <= now)
            {
                Verdict::Skip("a nearer reminder is due")
            } else {
                Verdict::Send
            }
        }
        Kind::BookingCancelled => {
            if b.status == Status::Cancelled {
                Verdict::Send
            } else {
                Verdict::Skip("the booking is not cancelled")
            }
        }
        Kind::HoldExpired | Kind::LatePayment => {
            if b.status == Status::Expired {
                Verdict::Send
            } else {
                Verdict::Skip("the booking is no longer expired")
            }
        }
        Kind::DepositRefunded
        | Kind::DepositForfeited
        | Kind::DepositRedeemed
        | Kind::ClinicNewBooking
        | Kind::ClinicCancellation => Verdict::Send,
    }
}

/// Why an attempt failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server or provider could not take it now (a 4xx SMTP answer, a
    /// 429 or 5xx HTTP answer, no connection, a timeout): retry.
    Transient,
    /// Refused (a 5xx SMTP answer, a 4xx HTTP answer): retried a few times
    /// in case the refusal was the server's passing fault, then given up.
    Refused,
    /// The recipient cannot be written to (an invalid address or number):
    /// given up at once.
    Invalid,
}

/// Attempts after which a refused message is given up.
pub const MAX_REFUSED_ATTEMPTS: i32 = 3;
/// Attempts after which a failing message is given up.
pub const MAX_ATTEMPTS: i32 = 10;

/// The wait before the next try after `attempts` failed attempts: one
/// minute, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(6);
    Duration::minutes(1 << doublings).min(Duration::hours(1))
}

/// When to try again after a failure (the attempt count includes the
/// failed one), or `None` to give up and record the failure.
pub fn retry_at(failure: Failure, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = match failure {
        Failure::Invalid => return None,
        Failure::Refused => MAX_REFUSED_ATTEMPTS,
        Failure::Transient => MAX_ATTEMPTS,
    };
    (attempts < limit).then(|| now + backoff(attempts))
}

/// An e-mail address for the log: its first character and its domain
/// (`a***@example.com`).
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// A phone number for the log: its last three digits (`***123`).
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(3)..].iter().collect();
    format!("***{tail}")
}

/// Parses `REMINDER_OFFSETS`: comma-separated durations such as `48h`,
/// `90m`, `2d` (`none`: no reminders). Each is positive and at
/// most 30 days; duplicates are refused.
pub fn parse_offsets(raw: &str) -> Result<Vec<Duration>, String> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut out: Vec<Duration> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let unit = part.chars().last().unwrap_or('h');
        let number = &part[..part.len() - unit.len_utf8()];
        let n: i64 = number
            .parse()
            .map_err(|_| format!("{part}: expected a number and a unit, e.g. 48h, 90m or 2d"))?;
        if !(1..=30 * 24 * 60).contains(&n) {
            return Err(format!(
                "{part}: must be more than zero and at most 30 days"
            ));
        }
        let d = match unit {
            'm' => Duration::minutes(n),
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            _ => return Err(format!("{part}: the unit must be m, h or d")),
        };
        if d <= Duration::zero() || d > Duration::days(30) {
            return Err(format!(
                "{part}: must be more than zero and at most 30 days"
            ));
        }
        if out.contains(&d) {
            return Err(format!("{part}: given twice"));
        }
        out.push(d);
    }
    out.sort_by(|a, b| b.cmp(a));
    Ok(out)
}

/// An offset as written in the log: whole hours as `48h`, else minutes (`90m`).
pub fn offset_label(offset: Duration) -> String {
    let minutes = offset.num_minutes();
    if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

#[cfg(test)]
mod tests;
