//! The messages, in the clinic's voice: a subject, plain text and HTML made
//! from the same paragraphs, and a short SMS. Each names the clinic (name,
//! address, phone from configuration), gives times in the clinic's zone
//! with the zone named, and links to the client's booking page.
//!
//! What a message may carry is fixed here, not by its caller: the booking's
//! time, practitioner, status and deposit, the client's name, and links.
//! Never the date of birth, screening answers or outcome, the booking's
//! notes, or any token but the manage link the client owns — [`Facts`]
//! has no field that could hold them.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Kind;
use crate::domain::calendar::Method;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::money::Money;
use crate::domain::policy::CancelledBy;

/// The clinic, as messages present it.
#[derive(Debug, Clone, Copy)]
pub struct Clinic<'a> {
    pub name: &'a str,
    pub address: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub tz: Tz,
    /// Where clients book (`PUBLIC_BASE_URL`), without a trailing slash.
    pub public_base_url: &'a str,
    pub cancellation_notice_hours: u32,
}

/// The deposit, as messages tell it.
#[derive(Debug, Clone, Copy)]
pub struct DepositFacts<'a> {
    pub amount: Money,
    pub status: DepositStatus,
    /// `manual` or `stripe`.
    pub provider: &'a str,
    /// A refund is reserved and the provider is making it.
    pub refund_in_progress: bool,
}

/// Everything a message may say.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub clinic: Clinic<'a>,
    pub consultation_id: &'a str,
    pub client_name: &'a str,
    pub practitioner: Option<&'a str>,
    pub status: Status,
    /// `direct`, `partner` or `staff` (for the clinic's alerts).
    pub channel: &'a str,
    pub starts_at: DateTime<Utc>,
    pub previous_starts_at: Option<DateTime<Utc>>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub cancellation_deadline: DateTime<Utc>,
    pub cancelled_by: Option<CancelledBy>,
    pub deposit: DepositFacts<'a>,
    /// The client's booking page, with their token in the fragment.
    pub manage_link: &'a str,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
    /// The calendar document to attach, if any, by its method.
    pub calendar: Option<Method>,
}

/// A time in the clinic's zone with the zone named:
/// `Thursday 3 December 2026 at 10:00 GMT`.
pub fn when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%A %-d %B %Y at %H:%M %Z")
        .to_string()
}

/// The short form for subjects and SMS: `Thu 3 Dec, 10:00 GMT`.
pub fn when_short(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b, %H:%M %Z")
        .to_string()
}

/// The clock time alone, for a hold's end: `10:15 GMT`.
fn clock(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M %Z").to_string()
}

/// One paragraph of a message.
enum Block {
    Text(String),
    Link { label: String, url: String },
}

/// A message before it is written out as text and HTML.
struct Draft {
    subject: String,
    greeting: Option<String>,
    blocks: Vec<Block>,
    sms: String,
    calendar: Option<Method>,
}

fn p(text: impl Into<String>) -> Block {
    Block::Text(text.into())
}

fn link(label: impl Into<String>, url: impl Into<String>) -> Block {
    Block::Link {
        label: label.into(),
        url: url.into(),
    }
}

/// Escapes text for HTML.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The clinic's signature lines.
fn signature(c: &Clinic) -> Vec<String> {
    let mut lines = vec![c.name.to_owned()];
    if let Some(a) = c.address {
        lines.push(a.to_owned());
    }
    let reach: Vec<&str> = [c.phone, c.email].into_iter().flatten().collect();
    if !reach.is_empty() {
        lines.push(reach.join(" · "));
    }
    lines.push(format!(
        "Times are in the clinic's time zone ({}).",
        c.tz.name()
    ));
    lines
}

impl Draft {
    fn finish(self, clinic: &Clinic) -> Message {
        let mut text = String::new();
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n",
        );
        if let Some(g) = &self.greeting {
            text.push_str(g);
            text.push_str("\n\n");
            html.push_str(&format!("<p>{}</p>\n", html_escape(g)));
        }
        for block in &self.blocks {
            match block {
                Block::Text(t) => {
                    text.push_str(t);
                    html.push_str(&format!("<p>{}</p>\n", html_escape(t)));
                }
                Block::Link { label, url } => {
                    text.push_str(&format!("{label}: {url}"));
                    html.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>\n",
                        html_escape(url),
                        html_escape(label)
                    ));
                }
            }
            text.push_str("\n\n");
        }
        let sig = signature(clinic);
        text.push_str("-- \n");
        text.push_str(&sig.join("\n"));
        text.push('\n');
        html.push_str("<hr>\n<p style=\"color: #555\">");
        html.push_str(
            &sig.iter()
                .map(|l| html_escape(l))
                .collect::<Vec<_>>()
                .join("<br>\n"),
        );
        html.push_str("</p>\n</body></html>\n");
        Message {
            subject: self.subject,
            text,
            html,
            sms: self.sms,
            calendar: self.calendar,
        }
    }
}

/// What happened to the deposit, in a sentence.
fn deposit_outcome(f: &Facts) -> String {
    let amount = f.deposit.amount.display();
    let hours = f.clinic.cancellation_notice_hours;
    match f.deposit.status {
        DepositStatus::Refunded => format!("Your deposit of {amount} has been refunded."),
        DepositStatus::Paid if f.deposit.refund_in_progress => format!(
            "Your deposit of {amount} is being refunded to the card you paid with; banks can take a few days to show it."
        ),
        DepositStatus::Forfeited => format!(
            "As the booking was cancelled less than {hours} hours before the appointment, the deposit of {amount} is kept under the clinic's cancellation policy."
        ),
        DepositStatus::Pending | DepositStatus::Cancelled => {
            "No deposit had been paid, so nothing has been charged.".to_owned()
        }
        DepositStatus::Redeemed => {
            format!("Your deposit of {amount} was already redeemed against a treatment.")
        }
        DepositStatus::Paid => format!(
            "Your deposit of {amount} stays with the clinic as credit in your name; contact us to use it or to have it back."
        ),
    }
}

fn contact_line(c: &Clinic) -> String {
    match (c.phone, c.email) {
        (Some(phone), _) => format!("call us on {phone}"),
        (None, Some(email)) => format!("write to {email}"),
        (None, None) => "contact the clinic".to_owned(),
    }
}

fn with_whom(f: &Facts) -> String {
    f.practitioner
        .map(|p| format!(" with {p}"))
        .unwrap_or_default()
}

/// Renders a message of `kind` about a booking.
pub fn render(kind: Kind, f: &Facts) -> Message {
    let c = &f.clinic;
    let tz = c.tz;
    let at = when(f.starts_at, tz);
    let short = when_short(f.starts_at, tz);
    let amount = f.deposit.amount.display();
    let hours = c.cancellation_notice_hours;
    let deadline = when(f.cancellation_deadline, tz);
    let greeting = Some(format!("Hello {},", f.client_name));
    let manage = || link("Manage your booking", f.manage_link);
    let book_again = || link("Book a consultation", format!("{}/", c.public_base_url));
    let keep_deposit = || {
        p(format!(
            "You can cancel or move it until {deadline} and keep your deposit; after that the deposit is kept under our cancellation policy."
        ))
    };
    let was_confirmed = !matches!(
        f.deposit.status,
        DepositStatus::Pending | DepositStatus::Cancelled
    );
    let draft = match kind {
        Kind::BookingReceived => {
            let hold = f
                .hold_expires_at
                .map(|h| clock(h, tz))
                .unwrap_or_else(|| "shortly".to_owned());
            let how = if f.deposit.provider == "stripe" {
                format!("Pay the {amount} deposit on your booking page before {hold}.")
            } else {
                format!(
                    "To confirm it, pay the {amount} deposit before {hold}: {} and we will take it by card.",
                    contact_line(c)
                )
            };
            Draft {
                subject: format!("Your consultation at {} is held until {hold}: please pay the deposit", c.name),
                greeting,
                blocks: vec![
                    p(format!(
                        "Thank you for booking a consultation at {} on {at}{}.",
                        c.name,
                        with_whom(f)
                    )),
                    p(format!("We are holding the slot for you until {hold}. {how} If the deposit is not paid by then, the slot is released and nothing is charged.")),
                    p("The deposit is credit, not a fee: it is redeemed against any treatment you have with us."),
                    manage(),
                ],
                sms: format!(
                    "{}: your consultation on {short} is held until {hold}. Pay the {amount} deposit to confirm it: {}",
                    c.name, f.manage_link
                ),
                calendar: None,
            }
        }
        Kind::BookingConfirmed => Draft {
            subject: format!("Confirmed: your consultation at {} on {short}", c.name),
            greeting,
            blocks: vec![
                p(format!(
                    "Your deposit of {amount} is paid and your consultation at {} is confirmed for {at}{}.",
                    c.name,
                    with_whom(f)
                )),
                p("The calendar invitation attached adds it to your calendar."),
                keep_deposit(),
                manage(),
            ],
            sms: format!(
                "{}: your consultation on {short} is confirmed. Manage it: {}",
                c.name, f.manage_link
            ),
            calendar: Some(Method::Request),
        },
        Kind::BookingRescheduled => {
            let from = f
                .previous_starts_at
                .map(|t| format!(" from {}", when(t, tz)))
                .unwrap_or_default();
            let confirmed = f.status == Status::Confirmed;
            let mut blocks = vec![p(format!(
                "Your consultation at {} has moved{from} to {at}{}.",
                c.name,
                with_whom(f)
            ))];
            if confirmed {
                blocks.push(p(
                    "The calendar invitation attached moves the event in your calendar.",
                ));
                blocks.push(keep_deposit());
            }
            blocks.push(manage());
            Draft {
                subject: format!("Moved: your consultation at {} is now on {short}", c.name),
                greeting,
                blocks,
                sms: format!(
                    "{}: your consultation has moved to {short}. Manage it: {}",
                    c.name, f.manage_link
                ),
                calendar: confirmed.then_some(Method::Request),
            }
        }
        Kind::BookingCancelled => {
            let who = match f.cancelled_by {
                Some(CancelledBy::Clinic) => format!(
                    "We are sorry: {} has had to cancel your consultation on {at}.",
                    c.name
                ),
                _ => format!("Your consultation at {} on {at} is cancelled, as asked.", c.name),
            };
            Draft {
                subject: format!("Cancelled: your consultation at {} on {short}", c.name),
                greeting,
                blocks: vec![
                    p(who),
                    p(deposit_outcome(f)),
                    p("To choose another time:"),
                    book_again(),
                ],
                sms: format!(
                    "{}: your consultation on {short} is cancelled. {}",
                    c.name,
                    deposit_outcome(f)
                ),
                calendar: was_confirmed.then_some(Method::Cancel),
            }
        }
        Kind::HoldExpired => {
            let hold = f
                .hold_expires_at
                .map(|h| format!(" by {}", clock(h, tz)))
                .unwrap_or_default();
            Draft {
                subject: format!("Your hold on a consultation at {} has lapsed", c.name),
                greeting,
                blocks: vec![
                    p(format!(
                        "The deposit was not paid{hold}, so the slot on {at} has been released. Nothing has been charged."
                    )),
                    p("You are welcome to book again:"),
                    book_again(),
                ],
                sms: format!(
                    "{}: the hold on your consultation on {short} lapsed and the slot was released. Nothing was charged.",
                    c.name
                ),
                calendar: None,
            }
        }
        Kind::LatePayment => Draft {
            subject: format!("{}: your deposit arrived after the hold lapsed", c.name),
            greeting,
            blocks: vec![
                p(format!(
                    "We received your deposit of {amount} after the hold on the slot on {at} had lapsed, and the slot had been taken by then."
                )),
                p(format!(
                    "The deposit is kept as credit in your name: {} to choose another time or to have it refunded.",
                    contact_line(c)
                )),
            ],
            sms: format!(
                "{}: your {amount} deposit arrived after the hold on {short} lapsed and the slot was taken. It is kept as credit: please contact us.",
                c.name
            ),
            calendar: None,
        },
        Kind::DepositRefunded => Draft {
            subject: format!("{}: your deposit of {amount} has been refunded", c.name),
            greeting,
            blocks: vec![p(format!(
                "Your deposit of {amount} for the consultation on {at} has been refunded. Banks can take a few days to show it."
            ))],
            sms: format!(
                "{}: your {amount} deposit for {short} has been refunded.",
                c.name
            ),
            calendar: None,
        },
        Kind::DepositForfeited => {
            let why = if f.status == Status::NoShow {
                format!("As you did not come to your consultation on {at}, the deposit of {amount} is kept under our cancellation policy.")
            } else {
                format!("The deposit of {amount} for your consultation on {at} is kept under our cancellation policy (changes less than {hours} hours before the appointment).")
            };
            Draft {
                subject: format!("{}: your deposit of {amount}", c.name),
                greeting,
                blocks: vec![p(why), p("To book another time:"), book_again()],
                sms: format!(
                    "{}: the {amount} deposit for {short} is kept under our cancellation policy.",
                    c.name
                ),
                calendar: None,
            }
        }
        Kind::DepositRedeemed => Draft {
            subject: format!("{}: your deposit of {amount} was used for your treatment", c.name),
            greeting,
            blocks: vec![p(format!(
                "Your deposit of {amount} has been redeemed against your treatment. Thank you for coming to {}.",
                c.name
            ))],
            sms: format!(
                "{}: your {amount} deposit was redeemed against your treatment. Thank you.",
                c.name
            ),
            calendar: None,
        },
        Kind::Reminder => {
            let place = c
                .address
                .map(|a| format!(" at {a}"))
                .unwrap_or_default();
            Draft {
                subject: format!("Reminder: your consultation at {} on {short}", c.name),
                greeting,
                blocks: vec![
                    p(format!(
                        "This is a reminder of your consultation at {}{place} on {at}{}.",
                        c.name,
                        with_whom(f)
                    )),
                    p(format!(
                        "If you need to cancel or move it, please do so on your booking page; changes less than {hours} hours before the appointment forfeit the deposit."
                    )),
                    manage(),
                ],
                sms: format!(
                    "{}: reminder of your consultation on {short}. Manage it: {}",
                    c.name, f.manage_link
                ),
                calendar: None,
            }
        }
        Kind::ClinicNewBooking => {
            let state = match (f.status, f.hold_expires_at) {
                (Status::PendingDeposit, Some(h)) => {
                    format!("waiting for the {amount} deposit until {}", clock(h, tz))
                }
                (s, _) => s.as_str().replace('_', " "),
            };
            let take = if f.deposit.provider == "manual" && f.status == Status::PendingDeposit {
                " The deposit is taken by hand: record it with POST /v1/deposits/{id}/payments once paid."
            } else {
                ""
            };
            Draft {
                subject: format!("New booking: {short} — {}", f.client_name),
                greeting: None,
                blocks: vec![
                    p(format!(
                        "A consultation was booked for {at}{} (booked {}).",
                        with_whom(f),
                        booked_via(f.channel)
                    )),
                    p(format!("Client: {}. Status: {state}.{take}", f.client_name)),
                    p(format!("Consultation id: {}", f.consultation_id)),
                ],
                sms: String::new(),
                calendar: None,
            }
        }
        Kind::ClinicCancellation => {
            let by = match f.cancelled_by {
                Some(CancelledBy::Clinic) => "by the clinic",
                _ => "by the client",
            };
            Draft {
                subject: format!("Cancelled: {short} — {}", f.client_name),
                greeting: None,
                blocks: vec![
                    p(format!(
                        "The consultation of {} on {at}{} was cancelled {by}; the slot is free again.",
                        f.client_name,
                        with_whom(f)
                    )),
                    p(format!("Deposit: {}", f.deposit.status.as_str().replace('_', " "))),
                    p(format!("Consultation id: {}", f.consultation_id)),
                ],
                sms: String::new(),
                calendar: None,
            }
        }
    };
    draft.finish(c)
}

fn booked_via(channel: &str) -> &'static str {
    match channel {
        "partner" => "through a booking partner",
        "staff" => "by staff",
        _ => "online",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn facts(kind_status: Status, deposit: DepositStatus) -> Facts<'static> {
        let starts: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        Facts {
            clinic: Clinic {
                name: "JB Cosmetic",
                address: Some("1 High Street, London"),
                phone: Some("020 7946 0000"),
                email: Some("hello@jb.example"),
                tz: chrono_tz::Europe::London,
                public_base_url: "https://book.jb.example",
                cancellation_notice_hours: 48,
            },
            consultation_id: "3f2b9c1e-0000-4000-8000-000000000001",
            client_name: "Alex <Morgan>",
            practitioner: Some("Nurse Julie"),
            status: kind_status,
            channel: "direct",
            starts_at: starts,
            previous_starts_at: Some("2026-12-02T14:00:00Z".parse().unwrap()),
            hold_expires_at: Some("2026-11-25T10:15:00Z".parse().unwrap()),
            cancellation_deadline: starts - chrono::Duration::hours(48),
            cancelled_by: Some(CancelledBy::Client),
            deposit: DepositFacts {
                amount: Money::new(2500, Currency::GBP),
                status: deposit,
                provider: "manual",
                refund_in_progress: false,
            },
            manage_link: "https://book.jb.example/manage#id=3f2b&token=mt_x",
        }
    }

    #[test]
    fn every_kind_names_the_clinic_and_the_local_time_with_its_zone() {
        for kind in Kind::ALL {
            let m = render(kind, &facts(Status::Confirmed, DepositStatus::Paid));
            assert!(
                m.subject.contains("JB Cosmetic") || m.subject.contains("Alex"),
                "{kind:?}"
            );
            for body in [&m.text, &m.html] {
                assert!(body.contains("JB Cosmetic"), "{kind:?}");
                assert!(body.contains("1 High Street, London"), "{kind:?}");
                assert!(body.contains("020 7946 0000"), "{kind:?}");
                assert!(body.contains("Europe/London"), "{kind:?}");
            }
            if !matches!(kind, Kind::DepositRedeemed) {
                assert!(m.text.contains("10:00 GMT"), "{kind:?}: {}", m.text);
            }
        }
    }

    #[test]
    fn times_are_local_with_the_zone_named() {
        let summer: DateTime<Utc> = "2026-07-01T13:00:00Z".parse().unwrap();
        assert_eq!(
            when(summer, chrono_tz::Europe::London),
            "Wednesday 1 July 2026 at 14:00 BST"
        );
        let winter: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        assert_eq!(
            when_short(winter, chrono_tz::Europe::London),
            "Thu 3 Dec, 10:00 GMT"
        );
    }

    #[test]
    fn html_is_escaped_and_links_are_anchors() {
        let m = render(
            Kind::BookingConfirmed,
            &facts(Status::Confirmed, DepositStatus::Paid),
        );
        assert!(m.html.contains("Hello Alex &lt;Morgan&gt;,"));
        assert!(!m.html.contains("<Morgan>"));
        assert!(m
            .html
            .contains("<a href=\"https://book.jb.example/manage#id=3f2b&amp;token=mt_x\">"));
        assert!(m
            .text
            .contains("Manage your booking: https://book.jb.example/manage#id=3f2b&token=mt_x"));
        assert_eq!(m.calendar, Some(Method::Request));
    }

    #[test]
    fn the_cancellation_says_what_became_of_the_deposit() {
        let cases = [
            (DepositStatus::Refunded, false, "has been refunded"),
            (DepositStatus::Paid, true, "is being refunded"),
            (
                DepositStatus::Forfeited,
                false,
                "kept under the clinic's cancellation policy",
            ),
            (DepositStatus::Cancelled, false, "nothing has been charged"),
        ];
        for (status, in_progress, says) in cases {
            let mut f = facts(Status::Cancelled, status);
            f.deposit.refund_in_progress = in_progress;
            let m = render(Kind::BookingCancelled, &f);
            assert!(m.text.contains(says), "{status:?}: {}", m.text);
            assert!(m.sms.contains(says), "{status:?}: {}", m.sms);
        }
        let unpaid = render(
            Kind::BookingCancelled,
            &facts(Status::Cancelled, DepositStatus::Cancelled),
        );
        assert_eq!(unpaid.calendar, None, "no event was ever sent");
        let paid = render(
            Kind::BookingCancelled,
            &facts(Status::Cancelled, DepositStatus::Refunded),
        );
        assert_eq!(paid.calendar, Some(Method::Cancel));
        let mut by_clinic = facts(Status::Cancelled, DepositStatus::Refunded);
        by_clinic.cancelled_by = Some(CancelledBy::Clinic);
        assert!(render(Kind::BookingCancelled, &by_clinic)
            .text
            .contains("has had to cancel"));
    }

    #[test]
    fn booking_received_says_how_and_by_when_to_pay() {
        let mut f = facts(Status::PendingDeposit, DepositStatus::Pending);
        let manual = render(Kind::BookingReceived, &f);
        assert!(manual.text.contains("until 10:15 GMT"), "{}", manual.text);
        assert!(manual.text.contains("call us on 020 7946 0000"));
        f.deposit.provider = "stripe";
        let stripe = render(Kind::BookingReceived, &f);
        assert!(stripe
            .text
            .contains("Pay the £25.00 deposit on your booking page before 10:15 GMT"));
        assert!(stripe.sms.contains(f.manage_link));
    }

    #[test]
    fn a_move_names_both_times_and_moves_the_event_once_confirmed() {
        let m = render(
            Kind::BookingRescheduled,
            &facts(Status::Confirmed, DepositStatus::Paid),
        );
        assert!(m.text.contains(
            "from Wednesday 2 December 2026 at 14:00 GMT to Thursday 3 December 2026 at 10:00 GMT"
        ));
        assert_eq!(m.calendar, Some(Method::Request));
        let pending = render(
            Kind::BookingRescheduled,
            &facts(Status::PendingDeposit, DepositStatus::Pending),
        );
        assert_eq!(pending.calendar, None);
    }

    #[test]
    fn clinic_alerts_carry_no_client_link() {
        for kind in [Kind::ClinicNewBooking, Kind::ClinicCancellation] {
            let m = render(kind, &facts(Status::Cancelled, DepositStatus::Paid));
            assert!(!m.text.contains("mt_x"), "{kind:?}");
            assert!(m.text.contains("3f2b9c1e-0000-4000-8000-000000000001"));
        }
    }
}
