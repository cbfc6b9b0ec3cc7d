//! The notification worker: every instance runs it. Each pass claims due
//! messages in the database (so with several instances on one PostgreSQL
//! each message goes to one sender: `FOR UPDATE SKIP LOCKED` and a
//! conditional update, under a lease), checks that the message still makes
//! sense, renders it from the booking as it is, sends it, and records the
//! outcome. Failures are retried with backoff; a refusal or an invalid
//! address ends as `failed` (recorded, not retried for ever).
//!
//! At most once per (booking, kind, version): the unique key on planned
//! messages, and the claim. The one window left is a crash after the mail
//! server took a message and before the instance recorded it: the lease
//! then runs out and the message is sent again, with the same
//! `Message-ID`, which mail clients show once. Choosing the other way
//! (never re-send an unrecorded attempt) would lose messages instead.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use super::plan::state;
use super::render::{self, Loaded};
use crate::app::{App, AppError};
use crate::domain::notifications::{self as rules, Audience, Due, Verdict};
use crate::secrets::{self, SecretKind};
use crate::store::notifications::{self as store, Notification, Outcome};

/// Messages one pass claims at most (it claims again when it took all).
const BATCH: i64 = 16;
/// Messages sent at once by one instance.
const CONCURRENCY: usize = 4;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub recorded: usize,
    pub skipped: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// How one claimed message ended, for the pass's count.
enum Ended {
    Sent,
    Recorded,
    Skipped,
    Postponed,
    Retrying,
    Failed,
    /// The lease was lost (another instance took it over).
    Lost,
}

/// Sends what is due, until nothing is.
pub async fn pass(app: &App) -> Result<Pass, AppError> {
    let mut out = Pass::default();
    loop {
        let now = app.now();
        // Long enough for every message of a batch to be sent in turn.
        let timeout =
            Duration::from_std(app.settings.notifications.timeout).unwrap_or(Duration::seconds(15));
        let rounds = i32::try_from(BATCH as usize / CONCURRENCY + 1).unwrap_or(5);
        let lease = now + timeout * rounds + Duration::seconds(30);
        let claimed = app
            .write(move |tx| Ok(store::claim_due(tx.conn, now, lease, BATCH)?))
            .await?;
        let full = claimed.len() as i64 == BATCH;
        let ended: Vec<Result<Ended, AppError>> = futures_util::stream::iter(claimed)
            .map(|n| deliver(app, n, lease))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for e in ended {
            match e {
                Ok(Ended::Sent) => out.sent += 1,
                Ok(Ended::Recorded) => out.recorded += 1,
                Ok(Ended::Skipped) => out.skipped += 1,
                Ok(Ended::Retrying) => out.retrying += 1,
                Ok(Ended::Failed) => out.failed += 1,
                Ok(Ended::Postponed | Ended::Lost) => {}
                Err(e) => tracing::warn!(error = %e, "could not record a notification"),
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

async fn record(
    app: &App,
    n: &Notification,
    lease: DateTime<Utc>,
    outcome: Outcome,
    ended: Ended,
) -> Result<Ended, AppError> {
    let id = n.id.clone();
    let kept = app
        .write(move |tx| Ok(store::record(tx.conn, &id, lease, &outcome, tx.now)?))
        .await?;
    Ok(if kept { ended } else { Ended::Lost })
}

/// Sends one claimed message and records how it ended.
async fn deliver(app: &App, n: Notification, lease: DateTime<Utc>) -> Result<Ended, AppError> {
    let settings = app.settings.clone();
    let id = n.consultation_id.clone();
    let Some(booking) = app.db.run(move |conn| render::load(conn, &id)).await? else {
        let o = Outcome::Skipped("the booking no longer exists".into());
        return record(app, &n, lease, o, Ended::Skipped).await;
    };
    let now = app.now();
    let c = &booking.consultation;
    let due = Due {
        kind: n.kind,
        version: n.version,
        offset: n.offset,
        resend: n.resend_number > 0,
    };
    let offsets = &settings.notifications.reminder_offsets;
    if let Verdict::Skip(why) = rules::verdict(&due, &state(c), offsets, now) {
        tracing::info!(notification = %n.id, kind = n.kind.as_str(), reason = why, "notification skipped");
        return record(app, &n, lease, Outcome::Skipped(why.into()), Ended::Skipped).await;
    }
    // A Stripe booking is told how to pay once its payment request exists.
    if n.kind == rules::Kind::BookingReceived
        && booking.deposit.provider == "stripe"
        && booking.deposit.provider_payment_id.is_none()
    {
        let o = Outcome::Postponed(now + Duration::seconds(5));
        return record(app, &n, lease, o, Ended::Postponed).await;
    }
    let Some(to) = render::recipient(&settings, n.kind, n.channel, c) else {
        let o = Outcome::Skipped("no address to send to".into());
        return record(app, &n, lease, o, Ended::Skipped).await;
    };
    let Some(sender) = app.notify.get(n.channel).cloned() else {
        // No channel: rendered (so a template fault shows here too) and
        // recorded; staff see the text with the preview.
        let _ = render::render(&settings, &booking, n.kind, n.previous_starts_at, "");
        tracing::info!(notification = %n.id, kind = n.kind.as_str(), channel = n.channel.as_str(), "notification recorded (no channel configured)");
        return record(app, &n, lease, Outcome::Recorded, Ended::Recorded).await;
    };
    let link = match n.kind.audience() {
        Audience::Client => issue_link(app, &booking, &n).await?,
        Audience::Clinic => String::new(),
    };
    let message = render::render(&settings, &booking, n.kind, n.previous_starts_at, &link);
    let outgoing = render::outgoing(&settings, &booking, &message, to, n.channel, &n.id);
    let attempts = n.attempts + 1;
    match sender.send(&outgoing).await {
        Ok(delivered) => {
            tracing::info!(notification = %n.id, kind = n.kind.as_str(), channel = n.channel.as_str(), attempts, "notification sent");
            let o = Outcome::Sent {
                provider_message_id: delivered.provider_message_id,
            };
            record(app, &n, lease, o, Ended::Sent).await
        }
        Err(e) => {
            let error = e.detail;
            match rules::retry_at(e.failure, attempts, app.now()) {
                Some(at) => {
                    tracing::warn!(notification = %n.id, kind = n.kind.as_str(), channel = n.channel.as_str(), attempts, error = %error, "notification not sent; will retry");
                    record(
                        app,
                        &n,
                        lease,
                        Outcome::Retry { at, error },
                        Ended::Retrying,
                    )
                    .await
                }
                None => {
                    tracing::warn!(notification = %n.id, kind = n.kind.as_str(), channel = n.channel.as_str(), attempts, error = %error, "notification failed for good");
                    record(app, &n, lease, Outcome::Failed { error }, Ended::Failed).await
                }
            }
        }
    }
}

/// A manage link of the message's own: a fresh token, stored only as its
/// hash, that opens the booking like the token given at booking time (so
/// the client's earlier links keep working). Stored before the message is
/// sent, so the link works as soon as it arrives.
async fn issue_link(app: &App, b: &Loaded, n: &Notification) -> Result<String, AppError> {
    let (token, _) = secrets::generate(SecretKind::ManageToken);
    let hash = secrets::hash(&token);
    let (consultation_id, notification_id) = (b.consultation.id.clone(), n.id.clone());
    app.write(move |tx| {
        Ok(store::insert_link(
            tx.conn,
            &hash,
            &consultation_id,
            &notification_id,
            tx.now,
        )?)
    })
    .await?;
    Ok(render::manage_link(
        &app.settings,
        &b.consultation.id,
        &token,
    ))
}

/// Runs passes until cancelled: one at start (messages left pending by a
/// stop go out at once), then every `NOTIFY_POLL_MS`.
pub async fn run_forever(app: Arc<App>) {
    let period = app.settings.notifications.poll_interval;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = pass(&app).await {
            tracing::warn!(error = %e, "notification pass failed");
        }
    }
}
