//! A booking's notifications, for staff: the log, a resend, and a preview
//! of any message without sending it.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ConsultationPath;
use crate::api::auth::StaffKey;
use crate::api::error::ApiError;
use crate::api::{pagination, ProblemResponses};
use crate::app::{notifications, App};
use crate::domain::notifications::{offset_label, Audience, Channel, DeliveryStatus, Kind};
use crate::store::notifications::Notification;

/// One message of a booking: planned, sent, or not sent and why. The log
/// keeps no message body and shows the recipient masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationEntry {
    #[schema(format = "uuid")]
    pub id: String,
    pub kind: Kind,
    pub audience: Audience,
    pub channel: Channel,
    /// Masked: `a***@example.com`, `***123`.
    #[schema(example = "a***@example.com", max_length = 320)]
    pub recipient: String,
    pub status: DeliveryStatus,
    /// Why it was skipped, withdrawn, recorded or given up.
    #[schema(max_length = 200)]
    pub status_reason: Option<String>,
    /// The booking's revision the message is about (bumped by each move
    /// and by the cancellation).
    #[schema(minimum = 0, maximum = 2147483647)]
    pub version: i32,
    /// Reminders: how long before the appointment, e.g. `48h`.
    #[schema(example = "48h", max_length = 16)]
    pub reminder_offset: Option<String>,
    /// 0 for the planned message, n for the nth resend.
    #[schema(minimum = 0, maximum = 2147483647)]
    pub resend_number: i32,
    /// Attempts made to send it.
    #[schema(minimum = 0, maximum = 2147483647)]
    pub attempts: i32,
    /// When it is (or was) due.
    pub send_after: DateTime<Utc>,
    /// While pending: the next try.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last failure, e.g. `SMTP 451` (never an address or a body).
    #[schema(example = "SMTP 451", max_length = 200)]
    pub last_error: Option<String>,
    /// When the channel took it (or, with no channel, when it was recorded).
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Notification> for NotificationEntry {
    fn from(n: Notification) -> Self {
        Self {
            next_attempt_at: (n.status == DeliveryStatus::Pending).then_some(n.next_attempt_at),
            reminder_offset: (n.kind == Kind::Reminder).then(|| offset_label(n.offset)),
            id: n.id,
            kind: n.kind,
            audience: n.audience,
            channel: n.channel,
            recipient: n.recipient_masked,
            status: n.status,
            status_reason: n.status_reason,
            version: n.version,
            resend_number: n.resend_number,
            attempts: n.attempts,
            send_after: n.send_after,
            last_attempt_at: n.last_attempt_at,
            last_error: n.last_error,
            sent_at: n.sent_at,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

/// A page of a booking's notification log.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    #[schema(max_items = 100)]
    pub items: Vec<NotificationEntry>,
    /// URL of the next page, or null on the last.
    #[schema(max_length = 4096)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Page size (1–100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From the `next` link of the previous page.
    pub cursor: Option<String>,
}

/// Notification log
///
/// Staff: every message planned for the booking, newest first — kind,
/// channel, masked recipient, status, attempts and times. Messages are
/// planned with each change of the booking and sent by a background worker;
/// with no channel configured they are `recorded`, not sent.
#[utoipa::path(
    operation_id = "listConsultationNotifications",
    tag = "Consultations",
    params(ConsultationPath, NotificationQuery),
    responses(
        (status = 200, description = "A page of the log", body = NotificationList),
        ProblemResponses<401, 403, 404, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/consultations/{id}/notifications")]
pub async fn list(
    req: HttpRequest,
    app: web::Data<App>,
    _staff: StaffKey,
    path: web::Path<ConsultationPath>,
    query: web::Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let rows = notifications::list(&app, &path.id.to_string(), before, limit + 1).await?;
    let (rows, next) = pagination::page(&req, rows, limit, |last| {
        pagination::encode_time(last.created_at, &last.id)
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(NotificationList {
            items: rows.into_iter().map(NotificationEntry::from).collect(),
            next,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NotificationPath {
    /// The consultation's id.
    pub id: uuid::Uuid,
    /// The message's id, from the log.
    pub notification_id: uuid::Uuid,
}

/// Resend a message
///
/// Staff: sends the message again now, rendered from the booking as it is
/// (a copy in the log, with `resend_number`), unless the booking's state no
/// longer fits it (a confirmation of a cancelled booking is skipped).
/// Refused while the message itself is still to be sent, and after five
/// resends.
#[utoipa::path(
    operation_id = "resendConsultationNotification",
    tag = "Consultations",
    params(NotificationPath),
    responses(
        (status = 202, description = "Queued", body = NotificationEntry),
        ProblemResponses<401, 403, 404, 409>,
    ),
    security(("api_key" = []))
)]
#[post("/consultations/{id}/notifications/{notification_id}/resend")]
pub async fn resend(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<NotificationPath>,
) -> Result<HttpResponse, ApiError> {
    let copy = notifications::resend(
        &app,
        &path.id.to_string(),
        &path.notification_id.to_string(),
        &staff.identity.label(),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(NotificationEntry::from(copy)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The message to render.
    #[param(inline)]
    pub kind: Kind,
    /// `email` (default) or `sms`.
    #[param(inline)]
    pub channel: Option<Channel>,
}

/// A message as it would be sent now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreview {
    pub kind: Kind,
    pub channel: Channel,
    #[schema(example = "a***@example.com", max_length = 320)]
    pub recipient: String,
    /// The e-mail's subject.
    #[schema(max_length = 300)]
    pub subject: String,
    /// The plain-text e-mail, or the SMS.
    #[schema(max_length = 100000)]
    pub text: String,
    /// The HTML e-mail (absent for SMS).
    #[schema(max_length = 200000)]
    pub html: Option<String>,
    /// The attached calendar document's method, if any (`REQUEST`, `CANCEL`).
    #[schema(example = "REQUEST", max_length = 16)]
    pub calendar_method: Option<String>,
    /// The attached `.ics` document, if any.
    #[schema(max_length = 100000)]
    pub calendar: Option<String>,
}

/// Preview a message
///
/// Staff: renders any kind of message for the booking as it is now, without
/// sending it and without issuing a manage token (the link shows a
/// placeholder where a real message carries a token of its own).
#[utoipa::path(
    operation_id = "previewConsultationNotification",
    tag = "Consultations",
    params(ConsultationPath, PreviewQuery),
    responses(
        (status = 200, description = "The rendered message", body = NotificationPreview),
        ProblemResponses<401, 403, 404, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/consultations/{id}/notifications/preview")]
pub async fn preview(
    app: web::Data<App>,
    _staff: StaffKey,
    path: web::Path<ConsultationPath>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let channel = query.channel.unwrap_or(Channel::Email);
    let p = notifications::preview(&app, &path.id.to_string(), query.kind, channel).await?;
    let sms = p.channel == Channel::Sms;
    let body = NotificationPreview {
        kind: p.kind,
        channel: p.channel,
        recipient: p.recipient_masked,
        subject: p.message.subject,
        text: if sms { p.message.sms } else { p.message.text },
        html: (!sms).then_some(p.message.html),
        calendar_method: p.calendar.as_ref().map(|(m, _)| m.as_str().to_owned()),
        calendar: p.calendar.map(|(_, ics)| ics),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}
