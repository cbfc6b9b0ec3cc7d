//! Delivering booking events to subscribers' webhook endpoints (outbound): the outbox
//! is fanned out to deliveries, and each endpoint's deliveries are sent in
//! event order, one at a time, back to back while they succeed, signed,
//! and retried with exponential backoff for a day.
//! Every instance runs this loop; claims in the database keep each delivery
//! to one sender, and nothing is lost across restarts (at-least-once).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{App, AppError};
use crate::domain::webhook_delivery::{backoff, signature, RETRY_WINDOW_HOURS, SIGNATURE_HEADER};
use crate::store::deliveries::{self as store, Attempt, Delivery, Endpoint};

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub dispatched: usize,
    pub delivered: usize,
    pub failed: usize,
}

impl Pass {
    fn add(&mut self, other: &Pass) {
        self.dispatched += other.dispatched;
        self.delivered += other.delivered;
        self.failed += other.failed;
    }
}

/// How long a sender holds the delivery it is sending: the longest the
/// subscriber may take to answer, and a margin for recording the outcome.
/// If the sender dies meanwhile, the delivery is sent again once this has
/// passed (by any instance), and the endpoint's queue waits no longer.
fn lease(app: &App, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::from_std(app.settings.webhooks.timeout).unwrap_or(Duration::seconds(10))
        + Duration::seconds(2)
}

/// Fans out new events; returns how many, and the endpoints whose queue
/// has a delivery due.
async fn due_endpoints(app: &App) -> Result<(usize, Vec<String>), AppError> {
    let dispatched = app
        .write(move |tx| Ok(store::fan_out(tx.conn, tx.now, 500)?))
        .await?;
    let now = app.now();
    let heads = app.db.run(store::heads_of_queues).await?;
    let due = heads
        .into_iter()
        .filter(|h| h.next_attempt_at <= now)
        .map(|h| h.endpoint_id)
        .collect();
    Ok((dispatched, due))
}

/// One pass: fan out new events, then drain every endpoint whose queue is
/// due, at most `WEBHOOK_MAX_IN_FLIGHT` endpoints at once; returns once
/// each has run dry or failed.
pub async fn pass(app: &App) -> Result<Pass, AppError> {
    let (dispatched, due) = due_endpoints(app).await?;
    let slots = tokio::sync::Semaphore::new(app.settings.webhooks.max_in_flight);
    let drained = futures_util::future::join_all(due.iter().map(|endpoint| async {
        let _slot = slots.acquire().await;
        drain(app, endpoint).await
    }))
    .await;
    let mut out = Pass {
        dispatched,
        ..Pass::default()
    };
    for p in &drained {
        out.add(p);
    }
    Ok(out)
}

/// Sends an endpoint's due deliveries one after another, in event order,
/// while they succeed: each outcome is recorded, and the next delivery
/// claimed, in one write. Stops at the first failure (the rest wait behind
/// it for its retry) or when nothing more is due.
async fn drain(app: &App, endpoint_id: &str) -> Pass {
    let mut out = Pass::default();
    let id = endpoint_id.to_owned();
    let lease_until = lease(app, app.now());
    let first = app
        .write(move |tx| Ok(store::claim_next(tx.conn, &id, tx.now, lease_until)?))
        .await;
    let mut current = match first {
        Ok(next) => next,
        Err(e) => {
            tracing::warn!(error = %e, "could not claim a delivery");
            None
        }
    };
    while let Some((delivery, endpoint)) = current.take() {
        let attempt = send(app, &delivery, &endpoint).await;
        app.metrics.delivery_attempt(attempt.ok);
        if attempt.ok {
            out.delivered += 1;
        } else {
            out.failed += 1;
        }
        match record(app, &delivery, &endpoint, attempt).await {
            Ok(next) => current = next,
            Err(e) => tracing::warn!(error = %e, "could not record a delivery attempt"),
        }
    }
    out
}

/// One attempt's outcome.
struct Sent {
    ok: bool,
    status_code: Option<u16>,
    error: Option<String>,
}

/// Sends one delivery.
async fn send(app: &App, d: &Delivery, endpoint: &Endpoint) -> Sent {
    // Checked again at every send: the rules may have tightened since the
    // endpoint was saved, and its name may resolve elsewhere now.
    let policy = app.settings.webhooks.target_policy();
    if let Err(e) = crate::outbound::check_target(&endpoint.url, policy).await {
        tracing::warn!(endpoint = %endpoint.id, reason = %e, "webhook target refused");
        return Sent {
            ok: false,
            status_code: None,
            error: Some(REFUSED.to_owned()),
        };
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
    Sent {
        ok,
        status_code,
        error,
    }
}

/// What the delivery log says when the endpoint gave no HTTP answer.
const NO_ANSWER: &str = "no HTTP answer (could not connect, or timed out)";
/// What it says when the endpoint's address is not allowed.
const REFUSED: &str = "the endpoint's address is not allowed (it must be a public https:// host)";

/// Records an attempt on the delivery and its endpoint and, after a
/// success, claims the endpoint's next due delivery: one write.
async fn record(
    app: &App,
    d: &Delivery,
    endpoint: &Endpoint,
    sent: Sent,
) -> Result<Option<(Delivery, Endpoint)>, AppError> {
    let now = app.now();
    let retry_at = retry_time(d, now);
    let id = d.id.clone();
    let endpoint_id = endpoint.id.clone();
    let disable_after = Duration::hours(RETRY_WINDOW_HOURS);
    let lease_until = lease(app, now);
    let (disabled, next) = app
        .write(move |tx| {
            let attempt = Attempt {
                ok: sent.ok,
                status_code: sent.status_code,
                error: sent.error.as_deref(),
                retry_at,
            };
            store::record_attempt(tx.conn, &id, &attempt, now)?;
            let disabled =
                store::record_endpoint_outcome(tx.conn, &endpoint_id, sent.ok, disable_after, now)?;
            let next = if sent.ok {
                store::claim_next(tx.conn, &endpoint_id, now, lease_until)?
            } else {
                None
            };
            Ok((disabled, next))
        })
        .await?;
    if disabled {
        tracing::warn!(endpoint = %d.endpoint_id, "webhook endpoint disabled after a day of failures");
    }
    Ok(next)
}

/// When to retry a failed delivery: backoff after each failure, for the
/// retry window from the delivery's creation; then it is abandoned.
pub fn retry_time(d: &Delivery, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let failures = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
    let next = now + backoff(failures);
    (now - d.created_at < Duration::hours(RETRY_WINDOW_HOURS)).then_some(next)
}

/// Runs until cancelled: every `WEBHOOK_POLL_MS`, fans out new events and
/// starts draining each endpoint with a delivery due that is not already
/// being drained here, at most `WEBHOOK_MAX_IN_FLIGHT` at once. Each
/// endpoint drains on its own, so a slow or failing subscriber holds up
/// no other.
pub async fn run_forever(app: Arc<App>) {
    let period = app.settings.webhooks.poll_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let slots = Arc::new(tokio::sync::Semaphore::new(
        app.settings.webhooks.max_in_flight,
    ));
    let draining = Arc::new(std::sync::Mutex::new(HashSet::<String>::new()));
    // Dropped (and so every drain aborted) when this task is cancelled.
    let mut drains = tokio::task::JoinSet::new();
    loop {
        tick.tick().await;
        while drains.try_join_next().is_some() {}
        let due = match due_endpoints(&app).await {
            Ok((_, due)) => due,
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed");
                continue;
            }
        };
        for endpoint in due {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break; // at the bound: the rest wait for the next poll
            };
            if !draining
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(endpoint.clone())
            {
                continue;
            }
            let (app, draining) = (app.clone(), draining.clone());
            drains.spawn(async move {
                drain(&app, &endpoint).await;
                draining
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&endpoint);
                drop(slot);
            });
        }
    }
}
