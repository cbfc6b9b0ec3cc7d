//! `/metrics`: on its own listener, behind its token, in the Prometheus
//! text format (checked with `promtool check metrics`, from Debian's
//! `prometheus` package, which `.ci/run` installs), with the figures the
//! operator needs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use clinic_api::domain::actor::Role;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::json;

use crate::fixtures::{book, first_slot};
use crate::helpers::{spawn_app_on, Answer, TestApp};
use crate::receiver::Receiver;

const TOKEN: &str = "scrape-secret-123";

async fn scrape(app: &TestApp, token: Option<&str>) -> Answer {
    let port = app.metrics_port.expect("the metrics listener is on");
    let mut req = app.client.get(format!("http://127.0.0.1:{port}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    app.send(req).await
}

/// `promtool check metrics` on the text: its complaints, if any.
fn promtool(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed to check the metrics format (Debian: apt-get install \
                 prometheus; .ci/run installs it): {e}"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The value of the sample whose line starts with `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_are_served_apart_behind_a_token_and_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    let app = spawn_app_on(clinic_api::db::DatabaseUrl::Sqlite(path.clone()), |s| {
        s.metrics.bind_addr = Some("127.0.0.1:0".parse().unwrap());
        s.metrics.token = Some(TOKEN.into());
        s.database_limits.lock_timeout = Duration::from_millis(300);
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    let hook = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &json!({"url": receiver.url, "event_types": ["consultation.created"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    assert_eq!(app.get("/v1/treatments", None).await.status, 200);
    let slot = first_slot(&app).await;
    assert_eq!(book(&app, &slot, "a@example.com", None).await.status, 201);
    book(&app, &slot, "b@example.com", None)
        .await
        .assert_problem(409, "slot_unavailable");
    // A 503: another process holds SQLite's write lock past the lock timeout.
    let mut locker = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    locker.batch_execute("BEGIN IMMEDIATE").unwrap();
    let busy = app
        .post("/v1/screenings", None, &crate::faults::screening())
        .await;
    locker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(busy.status, 503, "{}", busy.text);

    assert_eq!(scrape(&app, None).await.status, 401);
    assert_eq!(scrape(&app, Some("wrong")).await.status, 401);
    assert_eq!(
        app.get("/metrics", None).await.status,
        404,
        "not on the API's listener"
    );
    let got = scrape(&app, Some(TOKEN)).await;
    assert_eq!(got.status, 200);
    assert!(got
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    let text = &got.text;
    if let Err(complaints) = promtool(text) {
        panic!("promtool check metrics:\n{complaints}\n---\n{text}");
    }
    for (series, expected) in [
        (
            r#"http_requests_total{method="GET",route="/v1/treatments",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="POST",route="/v1/consultations",status="409"}"#,
            1.0,
        ),
        (
            r#"http_unavailable_responses_total{cause="database_busy"}"#,
            1.0,
        ),
        (r#"clinic_booking_attempts_total{outcome="created"}"#, 1.0),
        (
            r#"clinic_booking_attempts_total{outcome="slot_unavailable"}"#,
            1.0,
        ),
        (
            r#"clinic_consultation_changes_total{change="consultation.created"}"#,
            1.0,
        ),
        ("clinic_holds_live", 1.0),
        ("db_pool_connections_max", 8.0),
        ("db_up", 1.0),
        ("db_storage_full", 0.0),
        ("outbox_events_undispatched", 1.0),
    ] {
        assert_eq!(value(text, series), Some(expected), "{series} in\n{text}");
    }
    assert!(
        value(
            text,
            r#"http_request_duration_seconds_count{method="GET",route="/v1/treatments"}"#
        )
        .is_some(),
        "{text}"
    );

    // Once fanned out and delivered, the backlog is empty again.
    clinic_api::app::deliveries::pass(&app.app).await.unwrap();
    let after = scrape(&app, Some(TOKEN)).await.text;
    assert_eq!(value(&after, "outbox_events_undispatched"), Some(0.0));
    assert_eq!(value(&after, "webhook_deliveries_pending"), Some(0.0));
    assert_eq!(
        value(
            &after,
            r#"webhook_delivery_attempts_total{outcome="delivered"}"#
        ),
        Some(1.0)
    );
    assert_eq!(receiver.accepted().len(), 1);
}
