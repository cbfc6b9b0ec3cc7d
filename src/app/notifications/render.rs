//! Rendering a message of a booking as it is now: the facts a message may
//! carry are read here (and only these), then `domain::notifications::
//! messages` writes them out. The worker renders at send time, so nothing
//! of a message is kept at rest; a preview renders the same way.

use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::domain::calendar::{self, Appointment, Method, Party};
use crate::domain::consultation::Status;
use crate::domain::notifications::messages::{self, Clinic, DepositFacts, Facts, Message};
use crate::domain::notifications::{Audience, Channel, Kind};
use crate::domain::policy::{self, CancelledBy};
use crate::notify::{CalendarPart, Outgoing};
use crate::store::consultations::{self, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::practitioners;
use crate::store::settlements::{self, REFUND_PENDING};

/// A booking with what its messages say about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub consultation: Consultation,
    pub deposit: Deposit,
    pub refund_in_progress: bool,
    pub practitioner: Option<String>,
}

/// Loads a booking for its messages.
pub fn load(conn: &mut DbConnection, consultation_id: &str) -> Result<Option<Loaded>, DbError> {
    let Some(consultation) = consultations::get(conn, consultation_id)? else {
        return Ok(None);
    };
    let Some(deposit) = deposits::by_consultation(conn, consultation_id)? else {
        return Ok(None);
    };
    let refund_in_progress =
        settlements::refund_of(conn, &deposit.id)?.is_some_and(|r| r.status == REFUND_PENDING);
    let practitioner = practitioners::get(conn, &consultation.practitioner_id)?.map(|p| p.name);
    Ok(Some(Loaded {
        consultation,
        deposit,
        refund_in_progress,
        practitioner,
    }))
}

/// The bare address inside `Name <address>`.
fn bare_address(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => mailbox[open + 1..close].trim(),
        _ => mailbox.trim(),
    }
}

/// The clinic's calendar address, the ORGANIZER of its events:
/// `CLINIC_NOTIFY_EMAIL`, else the sender `NOTIFY_FROM`, else the public
/// `CLINIC_EMAIL`.
pub fn organizer_address(settings: &Settings) -> String {
    let n = &settings.notifications;
    n.clinic_notify_email
        .as_deref()
        .or(n.from.as_deref())
        .or(settings.clinic_contact.email.as_deref())
        .map(bare_address)
        .unwrap_or("noreply@localhost")
        .to_owned()
}

/// The client's booking page for a manage token: the token travels in the
/// URL fragment, which browsers never send to a server (nor put in logs
/// or `Referer` headers); the page reads it and calls the API with it.
pub fn manage_link(settings: &Settings, consultation_id: &str, token: &str) -> String {
    format!(
        "{}/manage#id={consultation_id}&token={token}",
        settings.public_base_url
    )
}

/// The booking as an iCalendar document with `method`: `PUBLISH` for the
/// download; `REQUEST` / `CANCEL` sent to the client, with the clinic as
/// ORGANIZER and the client as ATTENDEE. The UID is the consultation's and
/// never changes; SEQUENCE is the booking's, bumped by every move and by
/// the cancellation.
pub fn calendar_file(settings: &Settings, c: &Consultation, method: Method) -> String {
    let uid = format!("{}@clinic-api", c.id);
    let summary = format!("Consultation at {}", settings.clinic_name);
    let description = format!(
        "Your consultation at {}. To cancel or move it, use your booking link; cancellations within {} hours of the appointment forfeit the deposit.",
        settings.clinic_name, settings.booking.cancellation_notice_hours
    );
    let organizer = organizer_address(settings);
    let location = settings
        .clinic_contact
        .address
        .as_deref()
        .unwrap_or(&settings.clinic_name);
    let invitation = method != Method::Publish;
    calendar::render(&Appointment {
        uid: &uid,
        starts_at: c.starts_at,
        ends_at: c.ends_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
        sequence: u32::try_from(c.sequence).unwrap_or(0),
        summary: &summary,
        description: &description,
        location: Some(location),
        organizer_name: Some(&settings.clinic_name),
        cancelled: matches!(c.status, Status::Cancelled | Status::Expired),
        tentative: c.status == Status::PendingDeposit,
        tz: settings.clinic_timezone,
        method,
        organizer: invitation.then_some(Party {
            name: &settings.clinic_name,
            email: &organizer,
        }),
        attendee: invitation.then_some(Party {
            name: &c.client_full_name,
            email: &c.client_email,
        }),
    })
}

/// Renders a message of `kind` about a loaded booking.
pub fn render(
    settings: &Settings,
    b: &Loaded,
    kind: Kind,
    previous_starts_at: Option<chrono::DateTime<chrono::Utc>>,
    manage_link: &str,
) -> Message {
    let c = &b.consultation;
    let contact = &settings.clinic_contact;
    let facts = Facts {
        clinic: Clinic {
            name: &settings.clinic_name,
            address: contact.address.as_deref(),
            phone: contact.phone.as_deref(),
            email: contact.email.as_deref(),
            tz: settings.clinic_timezone,
            public_base_url: &settings.public_base_url,
            cancellation_notice_hours: settings.booking.cancellation_notice_hours,
        },
        consultation_id: &c.id,
        client_name: &c.client_full_name,
        practitioner: b.practitioner.as_deref(),
        status: c.status,
        channel: &c.channel,
        starts_at: c.starts_at,
        previous_starts_at,
        hold_expires_at: c.hold_expires_at,
        cancellation_deadline: policy::cancellation_deadline(
            c.starts_at,
            settings.booking.cancellation_notice_hours,
        ),
        cancelled_by: c.cancelled_by.as_deref().map(|by| {
            if by == "clinic" {
                CancelledBy::Clinic
            } else {
                CancelledBy::Client
            }
        }),
        deposit: DepositFacts {
            amount: b.deposit.amount,
            status: b.deposit.status,
            provider: &b.deposit.provider,
            refund_in_progress: b.refund_in_progress,
        },
        manage_link,
    };
    messages::render(kind, &facts)
}

/// Where a message goes: the client's address or number, or the clinic's
/// alert address. `None` when there is none (erased, or not configured).
pub fn recipient(
    settings: &Settings,
    kind: Kind,
    channel: Channel,
    c: &Consultation,
) -> Option<String> {
    let to = match (kind.audience(), channel) {
        (Audience::Clinic, _) => settings.notifications.clinic_notify_email.clone()?,
        (Audience::Client, Channel::Email) => c.client_email.clone(),
        (Audience::Client, Channel::Sms) => c.client_phone.clone(),
    };
    (!to.trim().is_empty()).then_some(to)
}

/// A rendered message as a channel sends it.
pub fn outgoing(
    settings: &Settings,
    b: &Loaded,
    message: &Message,
    to: String,
    channel: Channel,
    message_key: &str,
) -> Outgoing {
    let c = &b.consultation;
    let calendar = match (channel, message.calendar) {
        (Channel::Email, Some(method)) => Some(CalendarPart {
            content_type: method.content_type(),
            body: calendar_file(settings, c, method),
        }),
        _ => None,
    };
    let to_name = match channel {
        Channel::Email if to == c.client_email => c.client_full_name.clone(),
        _ => String::new(),
    };
    Outgoing {
        to,
        to_name,
        subject: message.subject.clone(),
        text: match channel {
            Channel::Email => message.text.clone(),
            Channel::Sms => message.sms.clone(),
        },
        html: message.html.clone(),
        calendar,
        message_key: message_key.to_owned(),
    }
}
