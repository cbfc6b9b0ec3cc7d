//! Delivering booking events to subscribers' webhook endpoints (outbound): the outbox
//! is fanned out to deliveries, and each endpoint's deliveries are sent in
//! event order, signed, and retried with exponential backoff for a day.
//! Every instance runs this loop; claims in the database keep each delivery
//! to one sender, and nothing is lost across restarts (at-least-once).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{App, AppError};
use crate::domain::webhook_delivery::{backoff, signature, RETRY_WINDOW_HOURS, SIGNATURE_HEADER};
use crate::store::deliveries::{self as store, Attempt, Delivery};

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub dispatched: usize,
    pub delivered: usize,
    pub failed: usize,
}

/// One pass: fan out new events, then send what is due.
pub async fn pass(app: &App) -> Result<Pass, AppError> {
    let now = app.now();
    let dispatched = app
        .write(move |tx| Ok(store::fan_out(tx.conn, tx.now, 500)?))
        .await?;
    let heads = app.db.run(store::heads_of_queues).await?;
    let lease = now
        + Duration::from_std(app.settings.webhooks.timeout).unwrap_or(Duration::seconds(10))
        + Duration::seconds(30);
    let mut claimed = Vec::new();
    for head in heads.into_iter().filter(|h| h.next_attempt_at <= now) {
        let h = head.clone();
        if app
            .write(move |tx| Ok(store::claim(tx.conn, &h, lease)?))
            .await?
        {
            claimed.push(head);
        }
    }
    let results = futures_util::future::join_all(claimed.iter().map(|d| send(app, d))).await;
    let mut out = Pass {
        dispatched,
        ..Pass::default()
    };
    for ok in results {
        match ok {
            Ok(true) => out.delivered += 1,
            Ok(false) => out.failed += 1,
            Err(e) => tracing::warn!(error = %e, "could not record a delivery attempt"),
        }
    }
    Ok(out)
}

/// Sends one delivery and records the outcome; true when delivered.
async fn send(app: &App, d: &Delivery) -> Result<bool, AppError> {
    let endpoint_id = d.endpoint_id.clone();
    let Some(endpoint) = app
        .db
        .run(move |conn| store::endpoint(conn, &endpoint_id))
        .await?
    else {
        return Ok(false);
    };
    // Checked again at every send: the rules may have tightened since the
    // endpoint was saved, and its name may resolve elsewhere now.
    let policy = app.settings.webhooks.target_policy();
    if let Err(e) = crate::outbound::check_target(&endpoint.url, policy).await {
        tracing::warn!(endpoint = %endpoint.id, reason = %e, "webhook target refused");
        return record(app, d, &endpoint.id, false, None, Some(REFUSED)).await;
    }
    let sent_at = app.now();
    let result = app
        .http
        .post(&endpoint.url)
        .header("Content-Type", "application/json")
        .header("Clinic-Event-Id", &d.event_id)
        .header("Clinic-Event-Type", &d.event_type)
        .header("Clinic-Delivery-Id", &d.id)
        .header(
            SIGNATURE_HEADER,
            signature(&endpoint.secret, sent_at.timestamp(), d.payload.as_bytes()),
        )
        .body(d.payload.clone())
        .send()
        .await;
    let (ok, status_code, error) = match result {
        Ok(resp) if resp.status().is_success() => (true, Some(resp.status().as_u16()), None),
        Ok(resp) => (
            false,
            Some(resp.status().as_u16()),
            Some(format!("HTTP {}", resp.status().as_u16())),
        ),
        // One message for every failure without an answer: the log must not
        // tell an open port from a closed one, or a slow host from none.
        Err(_) => (false, None, Some(NO_ANSWER.to_owned())),
    };
    record(app, d, &endpoint.id, ok, status_code, error.as_deref()).await
}

/// What the delivery log says when the endpoint gave no HTTP answer.
const NO_ANSWER: &str = "no HTTP answer (could not connect, or timed out)";
/// What it says when the endpoint's address is not allowed.
const REFUSED: &str = "the endpoint's address is not allowed (it must be a public https:// host)";

/// Records a delivery attempt and its effect on the endpoint.
async fn record(
    app: &App,
    d: &Delivery,
    endpoint_id: &str,
    ok: bool,
    status_code: Option<u16>,
    error: Option<&str>,
) -> Result<bool, AppError> {
    let error = error.map(str::to_owned);
    let endpoint_id = endpoint_id.to_owned();
    let now = app.now();
    let retry_at = retry_time(d, now);
    let id = d.id.clone();
    let disable_after = Duration::hours(RETRY_WINDOW_HOURS);
    let disabled = app
        .write(move |tx| {
            let attempt = Attempt {
                ok,
                status_code,
                error: error.as_deref(),
                retry_at,
            };
            store::record_attempt(tx.conn, &id, &attempt, now)?;
            Ok(store::record_endpoint_outcome(
                tx.conn,
                &endpoint_id,
                ok,
                disable_after,
                now,
            )?)
        })
        .await?;
    if disabled {
        tracing::warn!(endpoint = %d.endpoint_id, "webhook endpoint disabled after a day of failures");
    }
    Ok(ok)
}

/// When to retry a failed delivery: backoff after each failure, for the
/// retry window from the delivery's creation; then it is abandoned.
pub fn retry_time(d: &Delivery, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let failures = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
    let next = now + backoff(failures);
    (now - d.created_at < Duration::hours(RETRY_WINDOW_HOURS)).then_some(next)
}

/// Runs passes until cancelled.
pub async fn run_forever(app: Arc<App>) {
    let period = app.settings.webhooks.poll_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = pass(&app).await {
            tracing::warn!(error = %e, "webhook delivery pass failed");
        }
    }
}
