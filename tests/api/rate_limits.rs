//! The rate-limited operations (anonymous screenings and bookings, delivery
//! replays) say where their caller stands on every answer they count —
//! `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` — and a 429
//! adds `Retry-After`; a refused request changes nothing.

use chrono::Duration;
use serde_json::{json, Value};

use clinic_api::domain::actor::Role;

use crate::fixtures::*;
use crate::helpers::{spawn_app_with, Answer};
use crate::webhooks::{drain, subscribe};

/// The three fields, as numbers.
fn standing(answer: &Answer) -> (u64, u64, u64) {
    let field = |name: &str| -> u64 {
        answer
            .header(name)
            .unwrap_or_else(|| panic!("{name} missing: {}", answer.text))
            .parse()
            .unwrap()
    };
    (
        field("ratelimit-limit"),
        field("ratelimit-remaining"),
        field("ratelimit-reset"),
    )
}

fn screening() -> Value {
    json!({
        "date_of_birth": DOB, "pregnant": false, "breastfeeding": false,
        "autoimmune_condition": false, "active_infection_at_site": false,
        "other_medical_conditions": false
    })
}

#[tokio::test]
async fn anonymous_screenings_and_bookings_report_their_standing_and_429_past_it() {
    let app = spawn_app_with(|s| s.abuse.rate_limit_per_minute = 3).await;
    let staff = app.key(Role::Staff).await;
    // The test clock stands at the start of a minute: 60 seconds are left.
    for remaining in [2, 1, 0] {
        let ok = app.post("/v1/screenings", None, &screening()).await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        assert_eq!(standing(&ok), (3, remaining, 60));
    }
    let limited = app.post("/v1/screenings", None, &screening()).await;
    limited.assert_problem(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("60"));
    assert_eq!(standing(&limited), (3, 0, 60));

    // Bookings have a count of their own; a refusal after the count (here
    // a used screening token) still says where the caller stands.
    app.clock.advance(Duration::seconds(61));
    let token = screening_token(&app, DOB).await;
    let slot = first_slot(&app).await;
    let mut answers = Vec::new();
    for email in [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ] {
        let body = booking_body(&slot, &token, email);
        answers.push(app.post("/v1/consultations", None, &body).await);
    }
    let booked = &answers[0];
    assert_eq!(booked.status, 201, "{}", booked.text);
    let (limit, remaining, reset) = standing(booked);
    assert_eq!((limit, remaining), (3, 2));
    assert!((1..=60).contains(&reset));
    let again = &answers[1];
    assert!(again.status >= 400, "{}", again.text);
    assert_eq!(standing(again).1, 1);
    let limited = &answers[3];
    limited.assert_problem(429, "rate_limited");
    assert_eq!(standing(limited).1, 0);
    assert!(limited.header("retry-after").is_some());
    // One booking was made: the refused ones left nothing behind.
    let diary = app.get("/v1/consultations", Some(&staff)).await;
    assert_eq!(
        diary.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        diary.text
    );

    // A key's booking is not counted, so it carries no fields.
    let partner = app.key(Role::Partner).await;
    let other = app.get("/v1/availability", None).await.body["slots"][0].clone();
    let by_partner = book(&app, &other, "p@example.com", Some(&partner)).await;
    assert_eq!(by_partner.status, 201, "{}", by_partner.text);
    assert!(by_partner.header("ratelimit-limit").is_none());
}

#[tokio::test]
async fn delivery_replays_report_their_standing_per_key() {
    let receiver = crate::receiver::Receiver::start();
    let app = spawn_app_with(|s| s.webhooks.max_replays_per_minute = 2).await;
    let staff = app.key(Role::Staff).await;
    let (endpoint, _) = subscribe(&app, &staff, &receiver.url, &["consultation.created"]).await;
    book_first(&app).await;
    drain(&app).await;
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            Some(&staff),
        )
        .await;
    let delivery = log.body["items"][0]["id"].as_str().unwrap().to_owned();
    let replay = format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay");
    let first = app.post(&replay, Some(&staff), &json!({})).await;
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!(standing(&first), (2, 1, 60));
    // Counted, then not found: the answer still says where the key stands.
    let missing = app
        .post(
            &format!(
                "/v1/webhook-endpoints/{endpoint}/deliveries/0b9a8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d/replay"
            ),
            Some(&staff),
            &json!({}),
        )
        .await;
    missing.assert_problem(404, "not_found");
    assert_eq!(standing(&missing), (2, 0, 60));
    let limited = app.post(&replay, Some(&staff), &json!({})).await;
    limited.assert_problem(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("60"));
    assert_eq!(standing(&limited), (2, 0, 60));
    // Another key has a count of its own.
    let other = app.key(Role::Admin).await;
    let theirs = app.post(&replay, Some(&other), &json!({})).await;
    assert_eq!(theirs.status, 202, "{}", theirs.text);
    assert_eq!(standing(&theirs), (2, 1, 60));
    // Two replays were queued; the refused one was not: the audit trail
    // holds exactly two.
    let audit = app
        .get(
            &format!("/v1/audit-events?action=webhook_delivery.replayed&subject_id={delivery}"),
            Some(&other),
        )
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn the_document_describes_the_fields_on_every_rate_limited_operation() {
    let doc: Value = serde_json::from_str(&clinic_api::api::openapi_json()).unwrap();
    let mut seen = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            if !clinic_api::api::contract::RATE_LIMITED.contains(&id) {
                continue;
            }
            seen += 1;
            assert_eq!(
                op["responses"]["429"]["$ref"], "#/components/responses/TooManyRequests",
                "{id}"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('2') {
                    for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
                        assert!(
                            response["headers"][name].is_object(),
                            "{id} {status} {name}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(seen, clinic_api::api::contract::RATE_LIMITED.len());
    let limited = &doc["components"]["responses"]["TooManyRequests"]["headers"];
    for name in [
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    ] {
        assert!(limited[name]["schema"]["maximum"].is_number(), "{name}");
    }
}
