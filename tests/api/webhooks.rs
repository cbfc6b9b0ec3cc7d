//! Outbound webhooks: subscription, signed delivery, retries, ordering,
//! replay, restart durability, partner isolation; and the partner feed.

use std::time::Duration as StdDuration;

use chrono::Duration;
use clinic_api::domain::actor::Role;
use clinic_api::domain::webhook_delivery::verify;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

use crate::receiver::{Answer, Receiver};

pub async fn subscribe(app: &TestApp, key: &str, url: &str, types: &[&str]) -> (String, String) {
    let created = app
        .post(
            "/v1/webhook-endpoints",
            Some(key),
            &json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["secret"].as_str().unwrap().to_owned(),
    )
}

pub async fn pass(app: &TestApp) -> clinic_api::app::deliveries::Pass {
    clinic_api::app::deliveries::pass(&app.app).await.unwrap()
}

/// Runs passes until nothing is due (for the current clock).
pub async fn drain(app: &TestApp) {
    for _ in 0..50 {
        let p = pass(app).await;
        if p.delivered == 0 && p.failed == 0 && p.dispatched == 0 {
            return;
        }
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn subscribers_get_signed_events_without_personal_data() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    let (_, secret) = subscribe(
        &app,
        &staff,
        &receiver.url,
        &[
            "consultation.created",
            "consultation.confirmed",
            "deposit.paid",
        ],
    )
    .await;
    let (id, _, booking) = book_first(&app).await;
    pay_manually(&app, &booking, &staff).await;
    drain(&app).await;

    let got = receiver.received();
    assert_eq!(
        types(&receiver.accepted()),
        vec![
            "consultation.created",
            "deposit.paid",
            "consultation.confirmed"
        ]
    );
    for r in &got {
        let sig = &r.headers["clinic-signature"];
        assert!(
            verify(&secret, sig, r.body.as_bytes(), app.now().timestamp(), 300),
            "{sig}"
        );
        assert!(!verify(
            "whsec_wrong",
            sig,
            r.body.as_bytes(),
            app.now().timestamp(),
            300
        ));
        let event: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(r.headers["clinic-event-id"], event["id"].as_str().unwrap());
        assert_eq!(
            r.headers["clinic-event-type"],
            event["type"].as_str().unwrap()
        );
        assert_eq!(event["data"]["consultation"]["id"], id.as_str());
        for private in [
            DOB,
            "alex@example.com",
            "Alex Morgan",
            "900123",
            "needs_review",
            "screening",
        ] {
            assert!(!r.body.contains(private), "{private} in {}", r.body);
        }
    }
    let ids: std::collections::HashSet<&str> = got
        .iter()
        .map(|r| r.headers["clinic-event-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "each event has its own id");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_in_event_order() {
    let app = spawn_app_with(|s| s.webhooks.timeout = StdDuration::from_millis(300)).await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(
        &app,
        &staff,
        &receiver.url,
        &["consultation.created", "consultation.cancelled"],
    )
    .await;
    let (id, token, _) = book_first(&app).await;
    app.clock.advance(Duration::seconds(1));
    app.post(
        &format!("/v1/consultations/{id}/cancel"),
        Some(&token),
        &json!({}),
    )
    .await;

    receiver.script([
        Answer::Status(500),
        Answer::Status(503),
        Answer::Slow(StdDuration::from_millis(1500)),
    ]);
    pass(&app).await; // 500
    pass(&app).await; // not due yet: nothing sent
    assert_eq!(receiver.received().len(), 1);
    app.clock.advance(Duration::seconds(30));
    pass(&app).await; // 503
    app.clock.advance(Duration::seconds(60));
    pass(&app).await; // times out
    app.clock.advance(Duration::seconds(120));
    drain(&app).await; // delivered, then the second event
    assert_eq!(
        types(&receiver.accepted()),
        vec!["consultation.created", "consultation.cancelled"]
    );
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            Some(&staff),
        )
        .await;
    let items = log.body["items"].as_array().unwrap();
    let created = items
        .iter()
        .find(|d| d["event_type"] == "consultation.created")
        .unwrap();
    assert_eq!(created["status"], "succeeded");
    assert_eq!(created["attempts"], 4);
    assert_eq!(
        items[0]["event_type"], "consultation.cancelled",
        "newest first"
    );
    let failed_first = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries?status=pending"),
            Some(&staff),
        )
        .await;
    assert_eq!(failed_first.body["items"], json!([]));
}

#[tokio::test]
async fn deliveries_are_abandoned_after_a_day_and_the_endpoint_disabled() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(&app, &staff, &receiver.url, &["consultation.created"]).await;
    book_first(&app).await;
    receiver.script(std::iter::repeat_n(Answer::Status(500), 200));
    for _ in 0..40 {
        pass(&app).await;
        app.clock.advance(Duration::hours(1));
    }
    let seen = app
        .get(&format!("/v1/webhook-endpoints/{endpoint}"), Some(&staff))
        .await;
    assert_eq!(seen.body["active"], false);
    assert!(seen.body["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("24 hours"));
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            Some(&staff),
        )
        .await;
    assert_eq!(log.body["items"][0]["status"], "abandoned");
    assert!(log.body["items"][0]["attempts"].as_i64().unwrap() >= 20);

    // Replay after fixing the receiver: re-enable, replay, delivered.
    receiver.script([]);
    let mut enable =
        json!({"url": receiver.url, "event_types": ["consultation.created"], "active": true});
    let updated = app
        .put(
            &format!("/v1/webhook-endpoints/{endpoint}"),
            Some(&staff),
            &enable,
        )
        .await;
    assert_eq!(updated.body["active"], true);
    let delivery = log.body["items"][0]["id"].as_str().unwrap();
    let before = receiver.received().len();
    let replay = app
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(replay.status, 202, "{}", replay.text);
    drain(&app).await;
    let after = receiver.received();
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[before].answered, 200);
    enable["event_types"] = json!(["not.a.type"]);
    app.put(
        &format!("/v1/webhook-endpoints/{endpoint}"),
        Some(&staff),
        &enable,
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn replayed_deliveries_carry_the_same_event_id() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(&app, &staff, &receiver.url, &["consultation.created"]).await;
    book_first(&app).await;
    drain(&app).await;
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            Some(&staff),
        )
        .await;
    let delivery = log.body["items"][0]["id"].as_str().unwrap();
    app.post(
        &format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay"),
        Some(&staff),
        &json!({}),
    )
    .await;
    drain(&app).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].headers["clinic-event-id"],
        got[1].headers["clinic-event-id"]
    );
    let other = app.key(Role::Staff).await;
    app.post(
        &format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay"),
        Some(&other),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn events_survive_a_restart() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    subscribe(
        &app,
        &staff,
        &receiver.url,
        &["consultation.created", "consultation.cancelled"],
    )
    .await;
    let (id, token, _) = book_first(&app).await;
    receiver.script([Answer::Status(500)]);
    pass(&app).await; // the first attempt fails; the second event is not even dispatched yet
    let cancelled = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["consultation"]["status"], "cancelled");
    let app = app.restart().await;
    let stored = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(stored.body["status"], "cancelled");
    app.clock.advance(Duration::minutes(5));
    drain(&app).await;
    assert_eq!(
        types(&receiver.accepted()),
        vec!["consultation.created", "consultation.cancelled"]
    );
}

#[tokio::test]
async fn partners_only_hear_about_their_own_bookings() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let partner_a = app.key(Role::Partner).await;
    let partner_b = app.key(Role::Partner).await;
    let (ra, rb, rs) = (Receiver::start(), Receiver::start(), Receiver::start());
    let all = ["consultation.created"];
    let (endpoint_a, _) = subscribe(&app, &partner_a, &ra.url, &all).await;
    subscribe(&app, &partner_b, &rb.url, &all).await;
    subscribe(&app, &staff, &rs.url, &all).await;

    let slot = first_slot(&app).await;
    assert_eq!(
        book(&app, &slot, "a@example.com", Some(&partner_a))
            .await
            .status,
        201
    );
    book_first(&app).await; // a direct booking
    drain(&app).await;
    assert_eq!(ra.accepted().len(), 1);
    assert_eq!(rb.accepted().len(), 0);
    assert_eq!(rs.accepted().len(), 2);

    app.get(
        &format!("/v1/webhook-endpoints/{endpoint_a}"),
        Some(&partner_b),
    )
    .await
    .assert_problem(404, "not_found");
    let mine = app.get("/v1/webhook-endpoints", Some(&partner_b)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    app.post(
        "/v1/webhook-endpoints",
        None,
        &json!({"url": ra.url, "event_types": all}),
    )
    .await
    .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn endpoints_must_use_https_in_production() {
    let app = spawn_app_with(|s| s.webhooks.allow_http = false).await;
    let staff = app.key(Role::Staff).await;
    app.post(
        "/v1/webhook-endpoints",
        Some(&staff),
        &json!({"url": "http://partner.example/hook", "event_types": ["consultation.created"]}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let ok = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &json!({"url": "https://partner.example/hook", "event_types": ["consultation.created"]}),
        )
        .await;
    assert_eq!(ok.status, 201);
    assert!(ok.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert!(
        app.get("/v1/webhook-endpoints", Some(&staff)).await.body["items"][0]
            .get("secret")
            .is_none()
    );
    let catalogue = app.get("/v1/webhook-event-types", None).await;
    assert_eq!(catalogue.body["items"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn the_partner_feed_has_every_slot_and_an_etag() {
    let app = spawn_app().await;
    let partner = app.key(Role::Partner).await;
    let feed = app.get("/v1/availability/feed", Some(&partner)).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let slots = feed.body["slots"].as_array().unwrap();
    assert!(slots.len() > 200, "the whole horizon: {}", slots.len());
    let etag = feed.header("etag").unwrap().to_owned();
    let same = app
        .send(
            app.client
                .get(app.url("/v1/availability/feed"))
                .bearer_auth(&partner)
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(same.status, 304);
    book_first(&app).await;
    let changed = app
        .send(
            app.client
                .get(app.url("/v1/availability/feed"))
                .bearer_auth(&partner)
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(
        changed.body["slots"].as_array().unwrap().len(),
        slots.len() - 1
    );
    app.get("/v1/availability/feed", None)
        .await
        .assert_problem(401, "unauthorized");
    app.get(
        "/v1/availability/feed?from=2026-11-25&to=2027-06-01",
        Some(&partner),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn the_delivery_loop_sends_events_on_its_own() {
    let app = spawn_app_with(|s| s.webhooks.poll_interval = StdDuration::from_millis(100)).await;
    let staff = app.key(Role::Staff).await;
    let receiver = Receiver::start();
    subscribe(&app, &staff, &receiver.url, &["consultation.created"]).await;
    book_first(&app).await;
    for _ in 0..100 {
        if !receiver.accepted().is_empty() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert_eq!(types(&receiver.accepted()), vec!["consultation.created"]);
}

/// Books `n` consultations, a second apart on the test clock, each on its
/// own slot; returns their ids in booking order.
async fn book_many(app: &TestApp, n: usize) -> Vec<String> {
    let today = app.now().date_naive();
    let free = slots(
        app,
        &today.to_string(),
        &(today + Duration::days(14)).to_string(),
    )
    .await;
    let mut ids = Vec::new();
    for (i, slot) in free.iter().take(n).enumerate() {
        app.clock.advance(Duration::seconds(1));
        let booked = book(app, slot, &format!("c{i}@example.com"), None).await;
        assert_eq!(booked.status, 201, "{}", booked.text);
        ids.push(booked.body["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn a_backlog_drains_back_to_back_in_order_and_a_failing_endpoint_holds_up_no_other() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (healthy, failing) = (Receiver::start(), Receiver::start());
    subscribe(&app, &staff, &healthy.url, &["consultation.created"]).await;
    subscribe(&app, &staff, &failing.url, &["consultation.created"]).await;
    // Each answer takes a moment, so two at once would be seen.
    healthy.script(std::iter::repeat_n(
        Answer::Slow(StdDuration::from_millis(20)),
        30,
    ));
    failing.script([Answer::Status(500)]);
    let ids = book_many(&app, 12).await;

    let p = pass(&app).await;
    assert_eq!(
        (p.delivered, p.failed),
        (12, 1),
        "one pass sends the whole backlog: {p:?}"
    );
    let sent: Vec<String> = healthy
        .accepted()
        .iter()
        .map(|e| e["data"]["consultation"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, ids, "in event order");
    assert_eq!(healthy.max_in_flight(), 1, "one at a time per endpoint");
    assert_eq!(
        failing.received().len(),
        1,
        "the rest wait behind the failure"
    );

    // The failing endpoint's queue resumes at its retry, still in order.
    app.clock.advance(Duration::seconds(31));
    drain(&app).await;
    let late: Vec<String> = failing
        .accepted()
        .iter()
        .map(|e| e["data"]["consultation"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(late, ids);
}

#[tokio::test]
async fn an_interrupted_delivery_is_sent_again_once_its_short_lease_passes() {
    let timeout = StdDuration::from_millis(500);
    let app = spawn_app_with(|s| s.webhooks.timeout = timeout).await;
    let staff = app.key(Role::Staff).await;
    let (slow, other) = (Receiver::start(), Receiver::start());
    subscribe(&app, &staff, &slow.url, &["consultation.created"]).await;
    let (first, _, _) = book_first(&app).await;
    slow.script([Answer::Slow(StdDuration::from_millis(400))]);

    // The sender is gone mid-delivery (its pass dropped, as in a crash).
    let interrupted = tokio::time::timeout(StdDuration::from_millis(100), pass(&app)).await;
    assert!(interrupted.is_err(), "the delivery was still in flight");
    subscribe(&app, &staff, &other.url, &["consultation.created"]).await;
    let second = book_many(&app, 1).await.remove(0);
    pass(&app).await;
    assert_eq!(other.accepted().len(), 1, "another endpoint is not held up");
    assert!(slow.accepted().is_empty(), "held while its lease runs");

    // The lease is the subscriber's time-out and two seconds, not a minute.
    app.clock
        .advance(Duration::milliseconds(500) + Duration::seconds(2));
    drain(&app).await;
    let mut got: Vec<String> = slow
        .accepted()
        .iter()
        .map(|e| e["data"]["consultation"]["id"].as_str().unwrap().to_owned())
        .collect();
    // The interrupted request may or may not have been answered before
    // its sender went: at least once, then in order.
    got.dedup();
    assert_eq!(got, vec![first, second]);
}
