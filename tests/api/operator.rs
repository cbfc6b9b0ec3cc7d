//! What an operator meets: the command line (help, version, which database,
//! no database made by mistake, purge's report), the start-up log, and the
//! smaller HTTP behaviours (parameters named in errors, a body-less cancel,
//! the webhook URL rule, the padlocks of Swagger UI) and the rehearsal clock.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use clinic_api::db::DatabaseUrl;
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::fixtures::{book_first, pay_manually};
use crate::helpers::{spawn_app, spawn_app_with, TestDatabase};

fn url_of(db: &TestDatabase) -> String {
    match &db.url {
        DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        DatabaseUrl::Postgres(u) => u.clone(),
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinic-api"));
    cmd.args(args).env_clear().env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let (ok, out, _) = run(&["--version"], &[]);
    assert!(ok);
    assert_eq!(
        out.trim(),
        format!("clinic-api {}", env!("CARGO_PKG_VERSION"))
    );
    let (ok, out, _) = run(&["--help"], &[]);
    assert!(ok && out.contains("api-key create"), "{out}");
    for (args, first_line) in [
        (&["serve", "--help"][..], "usage: clinic-api [serve]"),
        (&["migrate", "--help"][..], "usage: clinic-api migrate"),
        (&["openapi", "--help"][..], "usage: clinic-api openapi"),
        (&["api-key", "--help"][..], "usage:"),
        (
            &["api-key", "create", "--help"][..],
            "usage: clinic-api api-key create",
        ),
        (
            &["api-key", "create", "--role", "staff", "-h"][..],
            "usage: clinic-api api-key create",
        ),
        (
            &["api-key", "revoke", "--help"][..],
            "usage: clinic-api api-key revoke",
        ),
        (
            &["api-key", "list", "--help"][..],
            "usage: clinic-api api-key list",
        ),
        (&["purge", "--help"][..], "usage: clinic-api purge"),
        (
            &["healthcheck", "--help"][..],
            "usage: clinic-api healthcheck",
        ),
        (&["help", "purge"][..], "usage: clinic-api purge"),
    ] {
        let (ok, out, err) = run(args, &[("DATABASE_URL", "sqlite:///nonexistent/x.db")]);
        assert!(ok, "{args:?}: {err}");
        assert!(out.starts_with(first_line), "{args:?}: {out}");
    }
    let (ok, _, err) = run(&["frobnicate", "--help"], &[]);
    assert!(!ok && err.contains("usage:"));
}

#[test]
fn key_and_purge_commands_refuse_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("data").join("clinic.db");
    let url = format!("sqlite://{}", missing.display());
    for args in [
        &["api-key", "create", "--role", "staff", "--name", "x"][..],
        &["api-key", "list"][..],
        &["api-key", "revoke", "ck_abcdefgh"][..],
        &["purge"][..],
    ] {
        let (ok, out, err) = run(args, &[("DATABASE_URL", &url)]);
        assert!(!ok, "{args:?} succeeded");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(
            err.contains(&format!("no database at {url}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(!missing.exists(), "{args:?} created the database");
    }
    // The default, relative to where the command runs.
    let (ok, _, err) = Command::new(env!("CARGO_BIN_EXE_clinic-api"))
        .args(["api-key", "list"])
        .env_clear()
        .current_dir(dir.path())
        .output()
        .map(|o| {
            (
                o.status.success(),
                (),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert!(!ok);
    assert!(
        err.contains("no database at sqlite://data/clinic.db ("),
        "{err}"
    );
    assert!(!dir.path().join("data").exists());
}

#[test]
fn commands_say_which_database_they_used_and_purge_reports_in_words() {
    let db = TestDatabase::create();
    let url = url_of(&db);
    let masked = db.url.masked();
    let (ok, _, err) = run(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(ok, "{err}");
    assert!(err.contains(&masked), "{err}");
    let (ok, key, err) = run(
        &["api-key", "create", "--role", "staff", "--name", "Desk"],
        &[("DATABASE_URL", &url)],
    );
    assert!(ok, "{err}");
    assert!(key.trim().starts_with("ck_"));
    assert!(err.contains(&format!("in {masked}")), "{err}");
    let (ok, out, err) = run(&["api-key", "list"], &[("DATABASE_URL", &url)]);
    assert!(ok && out.contains("Desk"), "{err}");
    assert!(err.contains(&format!("keys in {masked}")), "{err}");
    let (ok, out, err) = run(&["purge"], &[("DATABASE_URL", &url)]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("maintenance of {masked} done:")),
        "{out}"
    );
    assert!(out.contains("unused screenings deleted"), "{out}");
    assert!(!out.contains("Report {"), "{out}");
    // A rehearsal database (marked by its first DEMO_CLOCK run) is never
    // purged on the real clock.
    let (ok, _, err) = run(
        &["purge"],
        &[("DATABASE_URL", &url), ("DEMO_CLOCK", "true")],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["purge"], &[("DATABASE_URL", &url)]);
    assert!(!ok);
    assert!(err.contains("was run with DEMO_CLOCK=true"), "{err}");
}

/// Starts `clinic-api serve` and returns its stderr up to the start-up
/// line, then stops it (our own child, by its handle).
fn start_up_log(env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinic-api"));
    cmd.arg("serve")
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(" serving ") {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    let log = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    log.expect("the server logs its start-up line")
}

#[test]
fn start_up_names_what_it_runs_on_in_one_plain_line() {
    let db = TestDatabase::create();
    let mut url = url_of(&db);
    // A password (ignored by the test server's trust authentication) to mask.
    if let Some(rest) = url.strip_prefix("postgres://postgres@") {
        url = format!("postgres://postgres:hunter2@{rest}");
    }
    let log = start_up_log(&[
        ("DATABASE_URL", &url),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_only"),
    ]);
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {log:?}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    let warn = log.lines().find(|l| l.contains("WARN")).unwrap_or_default();
    assert!(warn.contains("STRIPE_PUBLISHABLE_KEY is ignored"), "{log}");
    let line = log.lines().find(|l| l.contains(" serving ")).unwrap();
    let masked = DatabaseUrl::parse(&url).unwrap().masked();
    assert!(line.contains(&format!("database={masked}")), "{line}");
    assert!(line.contains("payments=manual"), "{line}");
    assert!(line.contains("time_zone=Europe/London"), "{line}");
    assert!(line.contains("listening=http://127.0.0.1:"), "{line}");
    assert!(line.contains("/swagger-ui/"), "{line}");
    assert!(line.contains("booking_page=http://127.0.0.1:"), "{line}");
}

#[tokio::test]
async fn query_errors_name_the_parameter() {
    let app = spawn_app().await;
    let bad = app.get("/v1/faqs?limit=abc", None).await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.body["errors"][0]["field"], "limit", "{}", bad.text);
    assert_eq!(bad.body["errors"][0]["message"], "must be a whole number");
    let unknown = app.get("/v1/treatments?include_archivd=true", None).await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(unknown.body["errors"][0]["field"], "include_archivd");
    let date = app.get("/v1/availability?from=tomorrow", None).await;
    assert_eq!(date.body["errors"][0]["field"], "from", "{}", date.text);
}

#[tokio::test]
async fn a_cancel_without_a_body_cancels() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (id, token, _) = book_first(&app).await;
        let mut req = app
            .client
            .post(app.url(&format!("/v1/consultations/{id}/cancel")))
            .bearer_auth(&token);
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let answer = app.send(req).await;
        assert_eq!(answer.status, 200, "{content_type:?}: {}", answer.text);
        assert_eq!(answer.body["dry_run"], false);
        let stored = app
            .get(&format!("/v1/consultations/{id}"), Some(&token))
            .await;
        assert_eq!(stored.body["status"], "cancelled", "{content_type:?}");
        assert_eq!(stored.body["deposit"]["status"], "cancelled");
    }
    // A body still has to be JSON.
    let (id, token, _) = book_first(&app).await;
    let form = app
        .send(
            app.client
                .post(app.url(&format!("/v1/consultations/{id}/cancel")))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("dry_run=true"),
        )
        .await;
    form.assert_problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn an_http_webhook_url_is_refused_with_the_setting_named() {
    let app = spawn_app_with(|s| s.webhooks.allow_http = false).await;
    let staff = app.key(Role::Staff).await;
    let answer = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &json!({"url": "http://partner.example/hook", "event_types": ["consultation.confirmed"]}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert!(
        answer.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("WEBHOOK_ALLOW_HTTP"),
        "{}",
        answer.text
    );
}

#[test]
fn public_routes_look_public_in_swagger_ui_and_staff_routes_locked() {
    // Swagger UI hides the padlock only for `security: [{}]`.
    let doc: Value = serde_json::from_str(&clinic_api::api::openapi_json()).unwrap();
    let mut public = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            let security = op["security"].as_array().unwrap();
            let anonymous = security
                .iter()
                .any(|s| s.as_object().is_some_and(|o| o.is_empty()));
            if anonymous {
                assert_eq!(
                    security.len(),
                    1,
                    "{method} {path} ({id}): public but shown locked"
                );
                public.push(id.to_owned());
            } else {
                assert!(!security.is_empty(), "{id}");
            }
        }
    }
    for id in [
        "listTreatments",
        "getTreatment",
        "listFaqs",
        "getAvailability",
        "createConsultation",
        "getClinic",
    ] {
        assert!(public.contains(&id.to_owned()), "{id} should be public");
    }
    let create = &doc["paths"]["/v1/treatments"]["post"]["security"];
    assert_eq!(create, &json!([{"api_key": []}]));
}

#[tokio::test]
async fn the_rehearsal_clock_runs_the_day_of_flows() {
    let app = spawn_app_with(|s| s.demo_clock = true).await;
    let admin = app.key(Role::Admin).await;
    let staff = app.key(Role::Staff).await;
    let (id, _, booking) = book_first(&app).await;
    assert_eq!(pay_manually(&app, &booking, &staff).await.status, 200);
    let starts_at = booking["starts_at"].as_str().unwrap().to_owned();
    // Too early for the day-of flows.
    app.post(
        &format!("/v1/consultations/{id}/attended"),
        Some(&staff),
        &json!({}),
    )
    .await
    .assert_problem(409, "too_early");

    // Only an admin moves the clock, and only forward.
    app.post("/demo/clock", Some(&staff), &json!({"to": starts_at}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        "/demo/clock",
        Some(&admin),
        &json!({"to": "2026-01-01T00:00:00Z"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let moved = app
        .post("/demo/clock", Some(&admin), &json!({"to": starts_at}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["now"], starts_at.as_str());
    assert_eq!(
        app.get("/demo/clock", Some(&staff)).await.body["now"],
        starts_at.as_str()
    );

    let attended = app
        .post(
            &format!("/v1/consultations/{id}/attended"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(attended.status, 200, "{}", attended.text);
    assert_eq!(attended.body["status"], "attended");
    // The move is in the audit trail, with who made it.
    let audit = app
        .get("/v1/audit-events?action=demo_clock.advanced", Some(&admin))
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn the_rehearsal_clock_is_kept_apart_from_real_databases() {
    // An ordinary server has no clock to move.
    let real = spawn_app().await;
    let admin = real.key(Role::Admin).await;
    real.post(
        "/demo/clock",
        Some(&admin),
        &json!({"to": "2027-01-01T00:00:00Z"}),
    )
    .await
    .assert_problem(404, "not_found");
    // A database with real bookings refuses to become a rehearsal one...
    book_first(&real).await;
    let mut demo = (*real.app.settings).clone();
    demo.demo_clock = true;
    let payments = clinic_api::payments::from_settings(&demo).unwrap();
    let on_real = clinic_api::app::App::new(
        real.app.db.clone(),
        Arc::new(demo),
        Arc::new(clinic_api::clock::ShiftedClock::default()),
        payments.clone(),
    );
    let err = clinic_api::app::demo_clock::prepare(&on_real)
        .await
        .unwrap_err();
    assert!(err.contains("needs a database of its own"), "{err}");

    // ...and a rehearsal database refuses to run on the real clock.
    let rehearsal = spawn_app_with(|s| s.demo_clock = true).await;
    let plain = clinic_api::app::App::new(
        rehearsal.app.db.clone(),
        Arc::new((*real.app.settings).clone()),
        Arc::new(clinic_api::clock::SystemClock),
        payments,
    );
    let err = clinic_api::app::demo_clock::prepare(&plain)
        .await
        .unwrap_err();
    assert!(err.contains("was run with DEMO_CLOCK=true"), "{err}");
    // Stripe and the rehearsal clock never meet.
    let err = clinic_api::config::Settings::from_vars(
        [
            ("DEMO_CLOCK", "true"),
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
    .unwrap_err();
    assert_eq!(err.name, "DEMO_CLOCK");
}
