//! Planning, inside the unit of work: every recorded booking change
//! (`Tx::consultation_recorded`, `Tx::deposit_changed`) calls [`plan`],
//! which withdraws the messages the change made wrong and plans the ones
//! it causes, in the same transaction as the change.

use crate::app::Tx;
use crate::db::DbError;
use crate::domain::event_types::BookingChange;
use crate::domain::notifications::{
    self as rules, Audience, BookingState, Channel, Kind, Planned, Rules,
};
use crate::store::consultations::Consultation;
use crate::store::notifications::{self as store, NewNotification};

/// What planning and the send-time checks read of a consultation.
pub fn state(c: &Consultation) -> BookingState {
    BookingState {
        status: c.status,
        starts_at: c.starts_at,
        sequence: c.sequence,
        updated_at: c.updated_at,
        hold_expires_at: c.hold_expires_at,
        notify_email: c.notify_email,
        notify_sms: c.notify_sms,
        has_email: !c.client_email.trim().is_empty(),
        has_phone: !c.client_phone.trim().is_empty(),
    }
}

/// The recipient of a message, masked for the log.
pub fn masked_recipient(
    kind: Kind,
    channel: Channel,
    c: &Consultation,
    clinic_address: Option<&str>,
) -> String {
    match (kind.audience(), channel) {
        (Audience::Clinic, _) => rules::mask_email(clinic_address.unwrap_or("")),
        (Audience::Client, Channel::Email) => rules::mask_email(&c.client_email),
        (Audience::Client, Channel::Sms) => rules::mask_phone(&c.client_phone),
    }
}

/// Plans the notifications of a change of the booking `after` (as it now
/// is; `before` as it was, when known).
pub fn plan(
    tx: &mut Tx<'_>,
    change: BookingChange,
    before: Option<&Consultation>,
    after: &Consultation,
) -> Result<(), DbError> {
    let settings = tx.settings().clone();
    let n = &settings.notifications;
    let rules = Rules {
        reminder_offsets: &n.reminder_offsets,
        clinic_alerts: n.clinic_notify_email.is_some(),
    };
    let before = before.map(state);
    let plan = rules::plan(change, before.as_ref(), &state(after), &rules, tx.now);
    if !plan.drop.is_empty() {
        let reason = format!("withdrawn: {}", change.as_str());
        store::drop_pending(tx.conn, &after.id, &plan.drop, &reason, tx.now)?;
    }
    if plan.messages.is_empty() {
        return Ok(());
    }
    let clinic = n.clinic_notify_email.as_deref();
    let rows: Vec<NewNotification<'_>> = plan
        .messages
        .iter()
        .map(|m: &Planned| NewNotification {
            consultation_id: &after.id,
            kind: m.kind,
            channel: m.channel,
            version: m.version,
            offset: m.offset,
            resend_number: 0,
            recipient_masked: masked_recipient(m.kind, m.channel, after, clinic),
            previous_starts_at: m.previous_starts_at,
            send_after: m.send_after,
        })
        .collect();
    store::insert(tx.conn, &rows, tx.now)?;
    Ok(())
}
