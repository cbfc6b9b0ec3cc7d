//! What staff do with a booking's notifications: read the log, resend a
//! message, preview any message without sending it.

use chrono::{DateTime, Utc};

use super::plan::masked_recipient;
use super::render;
use crate::app::{App, AppError};
use crate::db::DbError;
use crate::domain::calendar::Method;
use crate::domain::notifications::messages::Message;
use crate::domain::notifications::{Channel, Kind};
use crate::store::consultations;
use crate::store::notifications::{self as store, NewNotification, Notification};

/// Resends of one message at most (a cap on what one key can create).
pub const MAX_RESENDS: i64 = 5;

/// A page of a booking's notification log, newest first.
pub async fn list(
    app: &App,
    consultation_id: &str,
    before: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<Notification>, AppError> {
    let id = consultation_id.to_owned();
    app.db
        .run(move |conn| {
            consultations::get(conn, &id)?.ok_or(AppError::NotFound("consultation"))?;
            Ok(store::list(conn, &id, before, limit)?)
        })
        .await
}

/// Queues a sent (or ended) message to be sent again now, as a copy in the
/// log rendered from the booking as it is. Refused while the message is
/// still to be sent, and after `MAX_RESENDS` copies.
pub async fn resend(
    app: &App,
    consultation_id: &str,
    notification_id: &str,
    actor: &str,
) -> Result<Notification, AppError> {
    let (cid, nid, actor) = (
        consultation_id.to_owned(),
        notification_id.to_owned(),
        actor.to_owned(),
    );
    app.write(move |tx| {
        let original = store::get(tx.conn, &nid)?
            .filter(|n| n.consultation_id == cid)
            .ok_or(AppError::NotFound("notification"))?;
        if original.status.is_open() {
            return Err(AppError::conflict(
                "notification_pending",
                "This message has not been sent yet; it will be sent at its time.",
            ));
        }
        let copies = store::copies(tx.conn, &original)?;
        if copies >= MAX_RESENDS {
            return Err(AppError::conflict(
                "resend_limit",
                format!("This message was already resent {MAX_RESENDS} times."),
            ));
        }
        let c = consultations::get(tx.conn, &cid)?.ok_or(DbError::NotFound)?;
        let clinic = tx.settings().notifications.clinic_notify_email.clone();
        let row = NewNotification {
            consultation_id: &cid,
            kind: original.kind,
            channel: original.channel,
            version: original.version,
            offset: original.offset,
            resend_number: i32::try_from(copies + 1).unwrap_or(i32::MAX),
            recipient_masked: masked_recipient(
                original.kind,
                original.channel,
                &c,
                clinic.as_deref(),
            ),
            previous_starts_at: original.previous_starts_at,
            send_after: tx.now,
        };
        let ids = store::insert(tx.conn, &[row], tx.now)?;
        let id = ids.first().ok_or(DbError::NotFound)?;
        let copy = store::get(tx.conn, id)?.ok_or_else(|| {
            AppError::conflict("concurrent_update", "The message was resent meanwhile.")
        })?;
        tx.audit(
            &actor,
            "notification.resent",
            "consultation",
            &cid,
            None,
            Some(serde_json::json!({
                "notification_id": nid,
                "copy_id": copy.id,
                "kind": copy.kind.as_str(),
                "channel": copy.channel.as_str(),
            })),
        )?;
        Ok(copy)
    })
    .await
}

/// A message as it would be sent now, not sent.
#[derive(Debug, Clone)]
pub struct Preview {
    pub kind: Kind,
    pub channel: Channel,
    pub recipient_masked: String,
    pub message: Message,
    /// The calendar document the e-mail would carry.
    pub calendar: Option<(Method, String)>,
}

/// What the manage link looks like in a preview: a real message carries a
/// token of its own, issued when it is sent; a preview issues none.
pub const PREVIEW_TOKEN: &str = "mt_issued-when-sent";

/// Renders a message of any kind for a booking without sending it (and
/// without issuing a manage token).
pub async fn preview(
    app: &App,
    consultation_id: &str,
    kind: Kind,
    channel: Channel,
) -> Result<Preview, AppError> {
    let id = consultation_id.to_owned();
    let b = app
        .db
        .run(move |conn| render::load(conn, &id)?.ok_or(AppError::NotFound("consultation")))
        .await?;
    let settings = &app.settings;
    let c = &b.consultation;
    let link = render::manage_link(settings, &c.id, PREVIEW_TOKEN);
    let message = render::render(settings, &b, kind, None, &link);
    let calendar = match (channel, message.calendar) {
        (Channel::Email, Some(method)) => {
            Some((method, render::calendar_file(settings, c, method)))
        }
        _ => None,
    };
    Ok(Preview {
        kind,
        channel,
        recipient_masked: masked_recipient(
            kind,
            channel,
            c,
            settings.notifications.clinic_notify_email.as_deref(),
        ),
        message,
        calendar,
    })
}

/// Applies the log's retention: finished messages older than
/// `NOTIFICATION_RETENTION_DAYS` are deleted.
pub async fn purge(app: &App) -> Result<usize, AppError> {
    let days = i64::from(app.settings.notifications.log_retention_days);
    app.write(move |tx| {
        Ok(store::purge_finished(
            tx.conn,
            tx.now - chrono::Duration::days(days),
        )?)
    })
    .await
}
