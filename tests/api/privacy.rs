//! Client records, export, erasure, retention, the audit trail, abuse
//! limits, CORS, and logs that never carry secrets or health data.

use std::io::Read;
use std::process::{Command, Stdio};

use chrono::Duration;
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

async fn client_id(app: &TestApp, staff: &str, email: &str) -> String {
    let found = app
        .get(&format!("/v1/clients?q={email}"), Some(staff))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    found.body["items"][0]["id"]
        .as_str()
        .expect("the client")
        .to_owned()
}

#[tokio::test]
async fn staff_find_clients_and_see_their_records() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, _, _) = book_first(&app).await;
    for q in ["MORGAN", "alex@", "7700"] {
        let found = app.get(&format!("/v1/clients?q={q}"), Some(&staff)).await;
        assert_eq!(found.body["items"].as_array().unwrap().len(), 1, "{q}");
    }
    let nobody = app.get("/v1/clients?q=zzz", Some(&staff)).await;
    assert_eq!(nobody.body["items"], json!([]));
    let cid = client_id(&app, &staff, "alex").await;
    let record = app.get(&format!("/v1/clients/{cid}"), Some(&staff)).await;
    assert_eq!(record.body["full_name"], "Alex Morgan");
    assert_eq!(record.body["date_of_birth"], DOB);
    assert_eq!(record.body["consultations"][0]["id"], id.as_str());
    assert_eq!(record.body["screenings"][0]["outcome"], "eligible");
    assert_eq!(record.body["deposits"][0]["status"], "pending");
    let partner = app.key(Role::Partner).await;
    app.get("/v1/clients", Some(&partner))
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/clients/{cid}/export"), Some(&staff))
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn the_audit_trail_follows_a_booking_to_its_redemption() {
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    let staff = app.key(Role::Staff).await;
    let (id, _, booking) = book_first(&app).await;
    pay_manually(&app, &booking, &staff).await;
    app.clock.advance(Duration::days(2));
    app.post(
        &format!("/v1/consultations/{id}/attended"),
        Some(&staff),
        &json!({}),
    )
    .await;
    let treatment = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body["id"]
        .clone();
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    let redeemed = app
        .post(
            &format!("/v1/deposits/{deposit}/redemptions"),
            Some(&staff),
            &json!({"treatment_id": treatment}),
        )
        .await;
    assert_eq!(redeemed.status, 201);

    let trail = app.get("/v1/audit-events?limit=100", Some(&admin)).await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    let events: Vec<(String, String)> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject_id"] == id.as_str() || e["subject_id"] == deposit)
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let staff_key_id = app
        .app
        .db
        .run(clinic_api::store::api_keys::list)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.role == "staff")
        .unwrap()
        .id;
    let by_staff = format!("key:{staff_key_id}");
    assert_eq!(
        events,
        vec![
            ("consultation.created".to_owned(), "client".to_owned()),
            ("deposit.paid".to_owned(), by_staff.clone()),
            ("consultation.confirmed".to_owned(), by_staff.clone()),
            ("consultation.attended".to_owned(), by_staff.clone()),
            ("deposit.redeemed".to_owned(), by_staff.clone()),
        ]
    );
    let confirmed = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "consultation.confirmed")
        .unwrap();
    assert_eq!(confirmed["before"]["status"], "pending_deposit");
    assert_eq!(confirmed["after"]["status"], "confirmed");
    assert!(!trail.text.contains(DOB), "no date of birth in the trail");
    assert!(
        !trail.text.contains("alex@example.com"),
        "no contact details in the trail"
    );

    let only = app
        .get(
            &format!("/v1/audit-events?subject_id={deposit}"),
            Some(&admin),
        )
        .await;
    assert_eq!(only.body["items"].as_array().unwrap().len(), 2);
    let page = app.get("/v1/audit-events?limit=2", Some(&admin)).await;
    assert!(page.body["next"].is_string());
    app.get("/v1/audit-events", Some(&staff))
        .await
        .assert_problem(403, "forbidden");
    // Staff catalogue edits are audited too.
    let faq = app
        .post(
            "/v1/faqs",
            Some(&staff),
            &json!({"question": "Parking?", "answer": "Yes.", "topic": "visiting"}),
        )
        .await;
    assert_eq!(faq.status, 201);
    let created = app
        .get("/v1/audit-events?action=faq.created", Some(&admin))
        .await;
    assert_eq!(created.body["items"][0]["actor"], by_staff.as_str());
}

#[tokio::test]
async fn export_holds_everything_and_erasure_keeps_only_the_financial_facts() {
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    let staff = app.key(Role::Staff).await;
    let next_week = slots(&app, "2026-12-01", "2026-12-01").await[0].clone();
    let booked = book(&app, &next_week, "erase@example.com", None).await.body;
    let id = booked["id"].as_str().unwrap().to_owned();
    pay_manually(&app, &booked, &staff).await;
    let cid = client_id(&app, &staff, "erase@").await;

    let export = app
        .get(&format!("/v1/clients/{cid}/export"), Some(&admin))
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.body["client"]["email"], "erase@example.com");
    assert_eq!(export.body["client"]["date_of_birth"], DOB);
    assert_eq!(
        export.body["client"]["screenings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(export.body["client"]["deposits"][0]["status"], "paid");
    assert!(export.body["audit_events"].as_array().unwrap().len() >= 3);

    // A confirmed consultation to come blocks erasure.
    let path = format!("/v1/clients/{cid}/erasure");
    app.post(&path, Some(&admin), &json!({}))
        .await
        .assert_problem(409, "erasure_blocked");
    // Cancelled by the clinic, the deposit is refunded; then erasure works.
    app.post(
        &format!("/v1/consultations/{id}/cancel"),
        Some(&staff),
        &json!({}),
    )
    .await;
    let erased = app.post(&path, Some(&admin), &json!({})).await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert!(erased.body["erased_at"].is_string());
    app.post(&path, Some(&admin), &json!({}))
        .await
        .assert_problem(409, "already_erased");

    let after = app
        .get(&format!("/v1/clients/{cid}/export"), Some(&admin))
        .await;
    let text = after.text.clone();
    assert!(
        !text.contains("erase@example.com") && !text.contains(DOB) && !text.contains("Alex Morgan"),
        "{text}"
    );
    assert_eq!(after.body["client"]["screenings"], json!([]));
    let deposit = &after.body["client"]["deposits"][0];
    assert_eq!(
        deposit["amount"],
        json!({"amount": 2500, "currency": "GBP"})
    );
    assert_eq!(deposit["status"], "refunded");
    assert!(deposit["paid_at"].is_string());
    let consultation = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(consultation.body["client"]["email"], "");
    assert_eq!(consultation.body["starts_at"], next_week["starts_at"]);
}

#[tokio::test]
async fn an_unsettled_paid_deposit_blocks_erasure() {
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    let staff = app.key(Role::Staff).await;
    let (id, _, booking) = book_first(&app).await;
    assert_eq!(pay_manually(&app, &booking, &staff).await.status, 200);
    app.clock.advance(Duration::days(2));
    let attended = app
        .post(
            &format!("/v1/consultations/{id}/attended"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(attended.body["status"], "attended", "{}", attended.text);
    let cid = client_id(&app, &staff, "alex").await;
    let blocked = app
        .post(
            &format!("/v1/clients/{cid}/erasure"),
            Some(&admin),
            &json!({}),
        )
        .await;
    blocked.assert_problem(409, "erasure_blocked");
    assert!(blocked.body["detail"]
        .as_str()
        .unwrap()
        .contains("paid deposit"));
}

#[tokio::test]
async fn ended_bookings_lose_personal_data_after_the_retention_period() {
    let app = spawn_app_with(|s| s.retention.ended_booking_days = 30).await;
    let staff = app.key(Role::Staff).await;
    let (id, _, _) = book_first(&app).await;
    app.clock.advance(Duration::minutes(20)); // the hold lapses
    clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    app.clock.advance(Duration::days(29));
    let early = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(early.ended_bookings_anonymised, 0);
    app.clock.advance(Duration::days(2));
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.ended_bookings_anonymised, 1);
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(seen.body["status"], "expired");
    assert_eq!(seen.body["client"]["full_name"], "");
    app.get(&format!("/v1/consultations/{id}/screening"), Some(&staff))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn public_writes_are_rate_limited_per_address() {
    let app = spawn_app_with(|s| s.abuse.rate_limit_per_minute = 3).await;
    let body = json!({
        "date_of_birth": DOB, "pregnant": false, "breastfeeding": false,
        "autoimmune_condition": false, "active_infection_at_site": false,
        "other_medical_conditions": false
    });
    for _ in 0..3 {
        assert_eq!(app.post("/v1/screenings", None, &body).await.status, 201);
    }
    let limited = app.post("/v1/screenings", None, &body).await;
    limited.assert_problem(429, "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Bookings count separately; authenticated partners are not limited.
    let partner = app.key(Role::Partner).await;
    let slot = first_slot(&app).await;
    app.clock.advance(Duration::seconds(61));
    let ok = book(&app, &slot, "p@example.com", Some(&partner)).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(
        app.post("/v1/screenings", None, &body).await.status,
        201,
        "a new window"
    );
}

#[tokio::test]
async fn one_contact_cannot_hold_many_unpaid_slots() {
    let app = spawn_app_with(|s| s.abuse.max_holds_per_client = 2).await;
    let free = slots(&app, "2026-12-01", "2026-12-01").await;
    assert_eq!(
        book(&app, &free[0], "hoarder@example.com", None)
            .await
            .status,
        201
    );
    assert_eq!(
        book(&app, &free[1], "HOARDER@example.com", None)
            .await
            .status,
        201
    );
    book(&app, &free[2], "hoarder@example.com", None)
        .await
        .assert_problem(409, "too_many_holds");
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        book(&app, &free[2], "hoarder@example.com", None)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        spawn_app_with(|s| s.abuse.cors_allowed_origins = vec!["https://clinic.example".into()])
            .await;
    let preflight = |origin: &'static str| {
        app.send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/v1/consultations"))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "content-type, idempotency-key",
                ),
        )
    };
    let allowed = preflight("https://clinic.example").await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://clinic.example")
    );
    let denied = preflight("https://evil.example").await;
    assert_ne!(
        denied.header("access-control-allow-origin"),
        Some("https://evil.example")
    );
    let get = app
        .send(
            app.client
                .get(app.url("/v1/treatments"))
                .header("Origin", "https://clinic.example"),
        )
        .await;
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("https://clinic.example")
    );
    assert_eq!(
        get.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn logs_of_a_full_booking_flow_carry_no_secrets_or_health_data() {
    let fake = crate::fake_stripe::FakeStripe::start();
    let sink = crate::smtp_sink::SmtpSink::start();
    let smtp_url = sink.url();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("clinic.db").display());
    let port = free_port();
    let stripe_secret = "sk_test_LOGCHECKsecret1234567890";
    let webhook_secret = "whsec_LOGCHECKwebhook1234567890";
    let env = [
        ("DATABASE_URL", db.as_str()),
        ("BIND_ADDR", &format!("127.0.0.1:{port}")),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("STRIPE_SECRET_KEY", stripe_secret),
        ("STRIPE_WEBHOOK_SECRET", webhook_secret),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_LOGCHECK"),
        ("STRIPE_API_BASE", fake.base_url.as_str()),
        ("SMTP_URL", smtp_url.as_str()),
        ("NOTIFY_FROM", "JB Cosmetic <bookings@jb.example>"),
        ("NOTIFY_POLL_MS", "100"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    // Key commands use a database that exists: make it first.
    let migrated = Command::new(env!("CARGO_BIN_EXE_clinic-api"))
        .arg("migrate")
        .env_clear()
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let key_out = Command::new(env!("CARGO_BIN_EXE_clinic-api"))
        .args([
            "api-key",
            "create",
            "--role",
            "staff",
            "--name",
            "log check",
        ])
        .env_clear()
        .envs(env.clone())
        .output()
        .unwrap();
    let api_key = String::from_utf8(key_out.stdout).unwrap().trim().to_owned();
    let mut server = Command::new(env!("CARGO_BIN_EXE_clinic-api"))
        .env_clear()
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Screening with a flagged answer, then a booking, as a client would.
    let dob = "1987-03-09";
    let screening: Value = http
        .post(format!("{base}/v1/screenings"))
        .json(&json!({
            "date_of_birth": dob, "pregnant": false, "breastfeeding": false,
            "autoimmune_condition": false, "active_infection_at_site": false,
            "other_medical_conditions": true
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let screening_token = screening["screening_token"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    let slots: Value = http
        .get(format!(
            "{base}/v1/availability?from={today}&to={}",
            today + Duration::days(10)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = &slots["slots"][0];
    let booking: Value = http
        .post(format!("{base}/v1/consultations"))
        .header("Idempotency-Key", "log-check-1")
        .json(&json!({
            "client": {"full_name": "Logan Check", "email": "logan@example.com", "phone": "+44 7700 900555", "date_of_birth": dob},
            "screening_token": screening_token, "practitioner_id": slot["practitioner_id"],
            "starts_at": slot["starts_at"], "accept_cancellation_policy": true,
            "notes": "private note about my jaw"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = booking["id"].as_str().expect("booked").to_owned();
    let manage_token = booking["manage_token"].as_str().unwrap().to_owned();
    let client_secret = booking["deposit"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let pi = fake.payment_intents().pop().unwrap().id;
    fake.set_status(&pi, "succeeded");
    let event = crate::fake_stripe::event_json(
        "evt_log",
        "payment_intent.succeeded",
        fake.payment_intent_value(&pi).unwrap(),
    );
    let sig = crate::fake_stripe::signature_header(
        webhook_secret,
        &event,
        chrono::Utc::now().timestamp(),
    );
    let webhook = http
        .post(format!("{base}/v1/webhooks/stripe"))
        .header("Stripe-Signature", &sig)
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 200);
    for (path, token) in [
        (format!("/v1/consultations/{id}"), manage_token.as_str()),
        (
            format!("/v1/consultations/{id}/screening"),
            api_key.as_str(),
        ),
        (
            "/v1/consultations?status=confirmed".to_owned(),
            api_key.as_str(),
        ),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let _ = http
        .get(format!("{base}/v1/consultations/{id}"))
        .bearer_auth("mt_wrong")
        .send()
        .await;
    // The messages went out (their text and links must not be logged).
    let mails = sink
        .wait_until(|ms| ms.iter().any(|m| m.text().contains("is confirmed")))
        .await;
    let texts: Vec<String> = mails.iter().map(|m| m.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("is confirmed")),
        "{texts:?}"
    );
    let link_tokens: Vec<String> = texts
        .iter()
        .filter_map(|t| t.split("token=").nth(1))
        .map(|t| t.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert!(!link_tokens.is_empty());
    // Stop the server (SIGTERM drains, then exits) and read everything it logged.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM");
    assert!(logs.lines().count() > 10, "the flow was logged: {logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "JSON lines"
    );
    assert!(logs.contains("request_id"), "request ids in log lines");
    let scrubbed = without_ids(&logs);
    for secret in [
        dob,
        "1987",
        "other_medical_conditions",
        "private note",
        "logan@example.com",
        "900555",
        screening_token.as_str(),
        manage_token.as_str(),
        &manage_token[3..],
        api_key.as_str(),
        &api_key[12..],
        stripe_secret,
        webhook_secret,
        client_secret.as_str(),
        "mt_wrong",
        "s3cret",
        "Hello Logan",
        "is confirmed",
        "manage#id",
    ]
    .into_iter()
    .chain(link_tokens.iter().map(String::as_str))
    {
        // A short secret is looked for outside ids, where it cannot occur
        // by chance; a long one (a token, a key) everywhere.
        let haystack = if secret.len() < 12 { &scrubbed } else { &logs };
        assert!(!haystack.contains(secret), "the logs contain {secret:?}");
    }
    assert!(
        logs.contains("notification sent"),
        "the worker ran and logged"
    );
}

/// The logs with every id (UUIDs, request ids: runs of hex digits and
/// dashes of 32 or more) blanked, so that a short secret such as a year
/// is not "found" inside a random id by chance.
fn without_ids(logs: &str) -> String {
    let mut out = String::with_capacity(logs.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_hexdigit).count() >= 32 {
            out.push_str("<id>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in logs.chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}
