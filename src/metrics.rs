//! What an operator watches, in the Prometheus text format: one registry
//! per running application (tests run many side by side), recorded by the
//! HTTP layer (requests, 503s by cause) and the use cases (bookings,
//! consultation and deposit changes, webhook deliveries), and sampled at
//! scrape time (the pool, the backlogs, live holds). A leaf: it knows
//! nothing of the rest of the crate, so every layer may record into it.
//!
//! Served on its own listener (`METRICS_BIND_ADDR`), see `api::metrics`.

use std::sync::Mutex;

use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Latency buckets, in seconds: a millisecond to ten seconds (the longest
/// a request may wait on the database by default is about eight).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The pool's figures at a moment (counters as totals since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFigures {
    pub max_size: u64,
    pub open: u64,
    pub in_use: u64,
    pub waits: u64,
    pub wait_timeouts: u64,
    pub broken_discarded: u64,
    pub deadlines_passed: u64,
    pub statements: u64,
    pub storage_full: bool,
}

/// What the database held at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub outbox_undispatched: i64,
    pub deliveries_pending: i64,
    /// Age of the oldest pending delivery, in seconds (0 when none).
    pub oldest_pending_age_s: f64,
    pub holds_live: i64,
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    unavailable: IntCounterVec,
    bookings: IntCounterVec,
    consultation_changes: IntCounterVec,
    deposit_changes: IntCounterVec,
    deliveries: IntCounterVec,
    pool_max: IntGauge,
    pool_open: IntGauge,
    pool_in_use: IntGauge,
    pool_waits: IntCounter,
    pool_wait_timeouts: IntCounter,
    pool_broken: IntCounter,
    deadlines: IntCounter,
    statements: IntCounter,
    storage_full: IntGauge,
    database_up: IntGauge,
    outbox: IntGauge,
    pending: IntGauge,
    oldest_pending: Gauge,
    holds: IntGauge,
    /// The pool's totals at the last sample (its counters advance by the difference).
    last_pool: Mutex<PoolFigures>,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from a request's arrival to its answer, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("a valid metric");
        r.register(Box::new(latency.clone()))
            .expect("registered once");
        let oldest_pending = Gauge::new(
            "webhook_oldest_pending_delivery_age_seconds",
            "Age of the oldest webhook delivery not yet made (0 when none).",
        )
        .expect("a valid metric");
        r.register(Box::new(oldest_pending.clone()))
            .expect("registered once");
        Self {
            requests: counter_vec(
                &r,
                "http_requests_total",
                "Requests answered, by route (the matched pattern) and status.",
                &["method", "route", "status"],
            ),
            latency,
            unavailable: counter_vec(
                &r,
                "http_unavailable_responses_total",
                "503 answers, by cause (the problem code).",
                &["cause"],
            ),
            bookings: counter_vec(
                &r,
                "clinic_booking_attempts_total",
                "Booking requests, by outcome (created, replayed, or the problem code).",
                &["outcome"],
            ),
            consultation_changes: counter_vec(
                &r,
                "clinic_consultation_changes_total",
                "Committed changes of consultations, by change.",
                &["change"],
            ),
            deposit_changes: counter_vec(
                &r,
                "clinic_deposit_changes_total",
                "Committed changes of deposits, by change.",
                &["change"],
            ),
            deliveries: counter_vec(
                &r,
                "webhook_delivery_attempts_total",
                "Webhook delivery attempts, by outcome.",
                &["outcome"],
            ),
            pool_max: gauge(
                &r,
                "db_pool_connections_max",
                "Largest size of the connection pool.",
            ),
            pool_open: gauge(
                &r,
                "db_pool_connections_open",
                "Open connections, idle or in use.",
            ),
            pool_in_use: gauge(&r, "db_pool_connections_in_use", "Connections in use."),
            pool_waits: counter(
                &r,
                "db_pool_waits_total",
                "Requests that found every connection busy and waited.",
            ),
            pool_wait_timeouts: counter(
                &r,
                "db_pool_wait_timeouts_total",
                "Requests that gave up waiting for a connection.",
            ),
            pool_broken: counter(
                &r,
                "db_pool_broken_connections_discarded_total",
                "Connections found dead (on checkout or on first error) and dropped.",
            ),
            deadlines: counter(
                &r,
                "db_deadlines_passed_total",
                "Units of work abandoned at their deadline (answered 503).",
            ),
            statements: counter(
                &r,
                "db_statements_total",
                "Statements sent to the database (queries, BEGIN, COMMIT, savepoints).",
            ),
            storage_full: gauge(
                &r,
                "db_storage_full",
                "1 while writes fail for lack of space, until one succeeds.",
            ),
            database_up: gauge(
                &r,
                "db_up",
                "1 when the database answered this scrape's sample queries.",
            ),
            outbox: gauge(
                &r,
                "outbox_events_undispatched",
                "Events written but not yet fanned out to webhook deliveries.",
            ),
            pending: gauge(
                &r,
                "webhook_deliveries_pending",
                "Webhook deliveries not yet made.",
            ),
            oldest_pending,
            holds: gauge(
                &r,
                "clinic_holds_live",
                "Unpaid bookings holding their slot now.",
            ),
            last_pool: Mutex::new(PoolFigures::default()),
            registry: r,
        }
    }

    /// One answered request; `problem` is the problem code of an error answer.
    pub fn request(
        &self,
        method: &str,
        route: &str,
        status: u16,
        seconds: f64,
        problem: Option<&str>,
    ) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
        if status == 503 {
            self.unavailable
                .with_label_values(&[problem.unwrap_or("unknown")])
                .inc();
        }
    }

    pub fn booking_attempt(&self, outcome: &str) {
        self.bookings.with_label_values(&[outcome]).inc();
    }

    /// A committed change of a consultation or deposit (`subject`).
    pub fn state_change(&self, subject: &str, change: &str) {
        match subject {
            "consultation" => self.consultation_changes.with_label_values(&[change]).inc(),
            "deposit" => self.deposit_changes.with_label_values(&[change]).inc(),
            _ => {}
        }
    }

    pub fn delivery_attempt(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.deliveries.with_label_values(&[outcome]).inc();
    }

    pub fn set_pool(&self, now: PoolFigures) {
        let mut last = self.last_pool.lock().unwrap_or_else(|p| p.into_inner());
        let gauge = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        gauge(&self.pool_max, now.max_size);
        gauge(&self.pool_open, now.open);
        gauge(&self.pool_in_use, now.in_use);
        self.pool_waits.inc_by(now.waits.saturating_sub(last.waits));
        self.pool_wait_timeouts
            .inc_by(now.wait_timeouts.saturating_sub(last.wait_timeouts));
        self.pool_broken
            .inc_by(now.broken_discarded.saturating_sub(last.broken_discarded));
        self.deadlines
            .inc_by(now.deadlines_passed.saturating_sub(last.deadlines_passed));
        self.statements
            .inc_by(now.statements.saturating_sub(last.statements));
        self.storage_full.set(i64::from(now.storage_full));
        *last = now;
    }

    /// The sampled database figures; `None` when the database did not
    /// answer (the last figures stay, and `db_up` is 0).
    pub fn set_backlog(&self, backlog: Option<Backlog>) {
        let Some(b) = backlog else {
            self.database_up.set(0);
            return;
        };
        self.database_up.set(1);
        self.outbox.set(b.outbox_undispatched);
        self.pending.set(b.deliveries_pending);
        self.oldest_pending.set(b.oldest_pending_age_s);
        self.holds.set(b.holds_live);
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_figures_appear_in_the_text() {
        let m = Metrics::new();
        m.request("GET", "/v1/treatments", 200, 0.003, None);
        m.request(
            "POST",
            "/v1/consultations",
            503,
            2.5,
            Some("database_timeout"),
        );
        m.booking_attempt("created");
        m.state_change("deposit", "deposit.paid");
        m.set_pool(PoolFigures {
            max_size: 10,
            open: 3,
            broken_discarded: 4,
            ..Default::default()
        });
        m.set_pool(PoolFigures {
            max_size: 10,
            open: 3,
            broken_discarded: 6,
            ..Default::default()
        });
        let text = m.render();
        for line in [
            "http_requests_total{method=\"GET\",route=\"/v1/treatments\",status=\"200\"} 1",
            "http_unavailable_responses_total{cause=\"database_timeout\"} 1",
            "clinic_booking_attempts_total{outcome=\"created\"} 1",
            "clinic_deposit_changes_total{change=\"deposit.paid\"} 1",
            "db_pool_broken_connections_discarded_total 6",
            "db_pool_connections_max 10",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
