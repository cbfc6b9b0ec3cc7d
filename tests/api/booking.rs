//! Availability, booking, holds, idempotency, self-service and the diary.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn availability_lists_free_slots_inside_opening_hours() {
    let app = spawn_app().await;
    // Today is Wednesday 2026-11-25 10:00Z; notice is 24 h.
    let slots = slots(&app, "2026-11-25", "2026-11-28").await;
    let first = &slots[0];
    assert_eq!(
        first["starts_at"], "2026-11-26T12:00:00Z",
        "Thursday opens at 12:00"
    );
    assert_eq!(first["ends_at"], "2026-11-26T12:30:00Z");
    assert_eq!(first["local_starts_at"], "2026-11-26T12:00:00+00:00");
    let starts: Vec<&str> = slots
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    assert!(starts.contains(&"2026-11-27T09:00:00Z"), "Friday 09:00");
    assert!(
        starts.contains(&"2026-11-28T13:30:00Z"),
        "Saturday's last slot"
    );
    assert!(
        !starts.contains(&"2026-11-28T14:00:00Z"),
        "Saturday closes at 14:00"
    );
    assert_eq!(starts.len(), 16 + 16 + 8);

    app.get("/v1/availability?from=2026-12-01&to=2027-01-15", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/availability?from=2026-12-05&to=2026-12-01", None)
        .await
        .assert_problem(422, "validation_failed");
    // The widest range: 31 days with both ends counted, as documented.
    let widest = app
        .get("/v1/availability?from=2026-12-01&to=2026-12-31", None)
        .await;
    assert_eq!(widest.status, 200, "{}", widest.text);
    let too_wide = app
        .get("/v1/availability?from=2026-12-01&to=2027-01-01", None)
        .await;
    too_wide.assert_problem(422, "validation_failed");
    assert_eq!(
        too_wide.body["errors"][0]["field"], "to",
        "{}",
        too_wide.text
    );
    // Without dates: that widest range from today (clinic-local).
    let default = app.get("/v1/availability", None).await;
    assert_eq!(default.status, 200, "{}", default.text);
    assert_eq!(default.body["from"], "2026-11-25");
    assert_eq!(default.body["to"], "2026-12-25");
    let open_end = app.get("/v1/availability?from=2026-12-01", None).await;
    assert_eq!(open_end.body["to"], "2026-12-31", "{}", open_end.text);
    app.get("/v1/availability?to=2026-11-20", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/availability?from=2026-02-30&to=2026-03-01", None)
        .await
        .assert_problem(422, "validation_failed");
}

async fn open_sundays(app: &TestApp, staff: &str, windows: Value) {
    let pid = practitioner_id(app).await;
    let answer = app
        .put(
            &format!("/v1/practitioners/{pid}/opening-hours"),
            Some(staff),
            &json!({"windows": windows}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn spring_forward_has_no_slot_in_the_missing_hour() {
    let app = spawn_app_with(|s| s.booking.horizon_days = 60).await;
    let staff = app.key(Role::Staff).await;
    app.clock.set(at("2026-03-20T10:00:00Z"));
    open_sundays(
        &app,
        &staff,
        json!([
            {"weekday": "sunday", "opens": "00:00", "closes": "04:00"},
            {"weekday": "sunday", "opens": "13:00", "closes": "15:00"}
        ]),
    )
    .await;
    let slots = slots(&app, "2026-03-29", "2026-03-29").await;
    let local: Vec<&str> = slots
        .iter()
        .map(|s| s["local_starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        local,
        vec![
            "2026-03-29T00:00:00+00:00",
            "2026-03-29T00:30:00+00:00",
            "2026-03-29T02:00:00+01:00",
            "2026-03-29T02:30:00+01:00",
            "2026-03-29T03:00:00+01:00",
            "2026-03-29T03:30:00+01:00",
            "2026-03-29T13:00:00+01:00",
            "2026-03-29T13:30:00+01:00",
            "2026-03-29T14:00:00+01:00",
            "2026-03-29T14:30:00+01:00",
        ]
    );
    let afternoon = slots
        .iter()
        .find(|s| s["local_starts_at"] == "2026-03-29T13:00:00+01:00")
        .unwrap();
    assert_eq!(afternoon["starts_at"], "2026-03-29T12:00:00Z");
    // And a booking lands in the right hour.
    let booked = book(&app, afternoon, "spring@example.com", None).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert_eq!(booked.body["local_starts_at"], "2026-03-29T13:00:00+01:00");
}

#[tokio::test]
async fn fall_back_offers_the_repeated_hour_once() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    app.clock.set(at("2026-10-16T10:00:00Z"));
    open_sundays(
        &app,
        &staff,
        json!([
            {"weekday": "sunday", "opens": "00:00", "closes": "03:00"},
            {"weekday": "sunday", "opens": "14:00", "closes": "15:00"}
        ]),
    )
    .await;
    let slots = slots(&app, "2026-10-25", "2026-10-25").await;
    let local: Vec<&str> = slots
        .iter()
        .map(|s| s["local_starts_at"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = local.iter().map(|l| &l[..19]).collect();
    assert_eq!(unique.len(), local.len(), "no local start twice: {local:?}");
    assert!(local.contains(&"2026-10-25T01:00:00+01:00"));
    assert!(local.contains(&"2026-10-25T14:00:00+00:00"));
    let afternoon = slots
        .iter()
        .find(|s| s["local_starts_at"] == "2026-10-25T14:00:00+00:00")
        .unwrap();
    assert_eq!(afternoon["starts_at"], "2026-10-25T14:00:00Z");
    // Slots never overlap in real time.
    let mut ends = DateTime::<Utc>::MIN_UTC;
    for s in &slots {
        let start = at(s["starts_at"].as_str().unwrap());
        assert!(start >= ends, "{s}");
        ends = at(s["ends_at"].as_str().unwrap());
    }
}

#[tokio::test]
async fn a_booking_holds_the_slot_with_a_pending_deposit() {
    let app = spawn_app().await;
    let slot = first_slot(&app).await;
    let answer = book(&app, &slot, "alex@example.com", None).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let b = &answer.body;
    let id = b["id"].as_str().unwrap();
    assert_eq!(
        answer.header("location"),
        Some(format!("/v1/consultations/{id}").as_str())
    );
    assert_eq!(b["status"], "pending_deposit");
    assert_eq!(b["starts_at"], slot["starts_at"]);
    assert_eq!(b["hold_expires_at"], "2026-11-25T10:15:00Z");
    assert_eq!(b["deposit"]["status"], "pending");
    assert_eq!(
        b["deposit"]["amount"],
        json!({"amount": 2500, "currency": "GBP"})
    );
    assert_eq!(b["deposit"]["provider"], "manual");
    assert!(b["manage_token"].as_str().unwrap().starts_with("mt_"));
    assert_eq!(b["client"]["email"], "alex@example.com");
    assert!(b["client"].get("date_of_birth").is_none());
    assert!(b.get("needs_review").is_none(), "not shown to the client");
    assert_eq!(b["channel"], "direct");

    // The slot is no longer offered.
    let after = first_slot(&app).await;
    assert_ne!(after["starts_at"], slot["starts_at"]);
    // A second booking of it is refused.
    let again = book(&app, &slot, "sam@example.com", None).await;
    again.assert_problem(409, "slot_unavailable");
}

#[tokio::test]
async fn fifty_simultaneous_attempts_at_one_slot_give_exactly_one_booking() {
    let app = spawn_app_with(|s| s.database_pool_size = 16).await;
    let slot = first_slot(&app).await;
    let mut bodies = Vec::new();
    for i in 0..50 {
        let token = screening_token(&app, DOB).await;
        bodies.push(booking_body(
            &slot,
            &token,
            &format!("client{i}@example.com"),
        ));
    }
    let attempts = bodies
        .iter()
        .map(|b| app.post("/v1/consultations", None, b));
    let answers = futures_util::future::join_all(attempts).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == 409 && a.body["code"] == "slot_unavailable")
        .count();
    let others: Vec<String> = answers
        .iter()
        .filter(|a| a.status != 201 && a.status != 409)
        .map(|a| a.text.clone())
        .collect();
    assert_eq!((created, conflicts), (1, 49), "others: {others:?}");
    // What is stored agrees: one booking holds the slot, the one answered 201.
    let staff = app.key(Role::Staff).await;
    let winner = answers.iter().find(|a| a.status == 201).unwrap();
    let live = live_bookings(&app, &staff).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["id"], winner.body["id"]);
    assert_eq!(live[0]["starts_at"], slot["starts_at"]);
    assert!(slots(&app, "2026-11-25", "2026-12-02")
        .await
        .iter()
        .all(|s| s["starts_at"] != slot["starts_at"]));
}

#[tokio::test]
async fn overlapping_slots_cannot_both_be_booked_even_concurrently() {
    // 30-minute consultations every 15 minutes: neighbouring slots overlap.
    let app = spawn_app_with(|s| {
        s.booking.slot_step_minutes = 15;
        s.database_pool_size = 16;
    })
    .await;
    let all = slots(&app, "2026-11-26", "2026-11-26").await;
    let candidates: Vec<Value> = all.into_iter().take(6).collect(); // 12:00 .. 13:15
    let mut requests = Vec::new();
    for round in 0..5 {
        for (i, slot) in candidates.iter().enumerate() {
            let token = screening_token(&app, DOB).await;
            requests.push(booking_body(
                slot,
                &token,
                &format!("c{round}-{i}@example.com"),
            ));
        }
    }
    let answers = futures_util::future::join_all(
        requests
            .iter()
            .map(|b| app.post("/v1/consultations", None, b)),
    )
    .await;
    let mut booked: Vec<(DateTime<Utc>, DateTime<Utc>)> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| {
            (
                at(a.body["starts_at"].as_str().unwrap()),
                at(a.body["ends_at"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(
        answers.iter().all(|a| a.status == 201 || a.status == 409),
        "only 201s and 409s"
    );
    booked.sort();
    for pair in booked.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping bookings: {pair:?}");
    }
    // Six half-hour slots 15 minutes apart: at least two never overlap
    // whoever wins (e.g. 12:15 and 13:00 leave no room for a third).
    assert!(booked.len() >= 2, "some slots book: {booked:?}");
    // What is stored is exactly what was answered 201, and never overlaps.
    let staff = app.key(Role::Staff).await;
    let mut stored: Vec<(DateTime<Utc>, DateTime<Utc>)> = live_bookings(&app, &staff)
        .await
        .iter()
        .map(|c| {
            (
                at(c["starts_at"].as_str().unwrap()),
                at(c["ends_at"].as_str().unwrap()),
            )
        })
        .collect();
    stored.sort();
    assert_eq!(stored, booked);
}

#[tokio::test]
async fn a_lapsed_hold_frees_the_slot_before_any_sweeper_runs() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let slot = first_slot(&app).await;
    let first = book(&app, &slot, "first@example.com", None).await;
    assert_eq!(first.status, 201);
    app.clock.advance(Duration::minutes(15));
    // Hold lapsed at exactly hold_expires_at: the slot is offered again.
    assert_eq!(first_slot(&app).await["starts_at"], slot["starts_at"]);
    let second = book(&app, &slot, "second@example.com", None).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let id = first.body["id"].as_str().unwrap();
    let old = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(old.body["status"], "expired");
    assert_eq!(old.body["end_reason"], "hold_lapsed");
    assert_eq!(old.body["deposit"]["status"], "cancelled");
    // Paying the lapsed booking's deposit now cannot take the slot back.
    let paid = pay_manually(&app, &first.body, &staff).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(paid.body["consultation_status"], "expired");
    assert_eq!(
        paid.body["consultation_end_reason"],
        "paid_after_hold_lapsed_slot_taken"
    );
}

#[tokio::test]
async fn the_sweeper_expires_lapsed_holds_and_late_payment_still_confirms_a_free_slot() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, token, booking) = book_first(&app).await;
    app.clock.advance(Duration::minutes(20));
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.holds_expired, 1);
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(seen.body["status"], "expired");
    // The slot is still free, so a late payment confirms the booking.
    let paid = pay_manually(&app, &booking, &staff).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    assert_eq!(paid.body["consultation_status"], "confirmed");
    let now = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(now.body["status"], "confirmed");
    assert_eq!(now.body["end_reason"], Value::Null);
    assert_ne!(first_slot(&app).await["starts_at"], booking["starts_at"]);
}

#[tokio::test]
async fn idempotency_keys_replay_reject_and_wait() {
    let app = spawn_app().await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;
    let body = booking_body(&slot, &token, "alex@example.com");
    let send = |b: &Value, key: &str| {
        let req = app
            .client
            .post(app.url("/v1/consultations"))
            .header("Idempotency-Key", key)
            .json(b);
        app.send(req)
    };
    let first = send(&body, "key-1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let replay = send(&body, "key-1").await;
    assert_eq!(replay.status, 201);
    assert_eq!(
        replay.body, first.body,
        "the same answer, manage token included"
    );
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("location"), first.header("location"));

    let mut other = body.clone();
    other["notes"] = json!("changed");
    send(&other, "key-1")
        .await
        .assert_problem(422, "idempotency_key_reused");

    // A request still in flight under a key: a second one waits its turn.
    let scope = format!(
        "anon:{}|POST /v1/consultations",
        &clinic_api::secrets::hash(&token)[..16]
    );
    let digest =
        clinic_api::api::extract::BodyDigest::of(serde_json::to_vec(&body).unwrap().as_slice())
            .hex();
    // An attempt in flight elsewhere (another instance, say) holds key-2.
    let request = clinic_api::app::idempotency::IdempotentRequest {
        scope,
        key: "key-2".into(),
        fingerprint: digest,
    };
    let terms = app.app.idempotency_terms();
    app.app
        .write(move |tx| clinic_api::app::idempotency::claim(tx, &request, terms).map(|_| ()))
        .await
        .unwrap();
    send(&body, "key-2")
        .await
        .assert_problem(409, "idempotency_key_in_flight");

    send(&body, &"x".repeat(300))
        .await
        .assert_problem(400, "invalid_idempotency_key");
    // Only one booking exists.
    let staff = app.key(Role::Staff).await;
    let list = app.get("/v1/consultations", Some(&staff)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tokens_only_open_their_own_booking() {
    let app = spawn_app().await;
    let (a, token_a, _) = book_first(&app).await;
    let slot = first_slot(&app).await;
    let b = book(&app, &slot, "b@example.com", None).await;
    let token_b = b.body["manage_token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/consultations/{a}"), Some(&token_a))
            .await
            .status,
        200
    );
    app.get(&format!("/v1/consultations/{a}"), Some(token_b))
        .await
        .assert_problem(404, "not_found");
    // No credentials, or a token that opens no booking: 401, the same
    // whether or not the booking exists.
    app.get(&format!("/v1/consultations/{a}"), None)
        .await
        .assert_problem(401, "unauthorized");
    app.get(&format!("/v1/consultations/{a}"), Some("mt_forged"))
        .await
        .assert_problem(401, "unauthorized");
    let missing = uuid::Uuid::new_v4();
    app.get(&format!("/v1/consultations/{missing}"), None)
        .await
        .assert_problem(401, "unauthorized");
    app.get(&format!("/v1/consultations/{missing}"), Some(&token_a))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/consultations/{a}/cancel"),
        Some(token_b),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/v1/consultations/{a}/calendar.ics"),
        Some(token_b),
    )
    .await
    .assert_problem(404, "not_found");
    let still = app
        .get(&format!("/v1/consultations/{a}"), Some(&token_a))
        .await;
    assert_eq!(still.body["status"], "pending_deposit");
}

#[tokio::test]
async fn partners_book_for_clients_and_see_only_their_own() {
    let app = spawn_app().await;
    let partner_a = app.key(Role::Partner).await;
    let partner_b = app.key(Role::Partner).await;
    let slot = first_slot(&app).await;
    let booked = book(&app, &slot, "p@example.com", Some(&partner_a)).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert_eq!(booked.body["channel"], "partner");
    let id = booked.body["id"].as_str().unwrap();
    let (direct, _, _) = book_first(&app).await;

    assert_eq!(
        app.get(&format!("/v1/consultations/{id}"), Some(&partner_a))
            .await
            .status,
        200
    );
    app.get(&format!("/v1/consultations/{id}"), Some(&partner_b))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/consultations/{direct}"), Some(&partner_a))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/consultations/{id}/cancel"),
        Some(&partner_b),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");

    let list = app.get("/v1/consultations", Some(&partner_a)).await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id]);
    assert!(list.body["items"][0].get("needs_review").is_none());
    let none = app.get("/v1/consultations", Some(&partner_b)).await;
    assert_eq!(none.body["items"], json!([]));
}

#[tokio::test]
async fn screening_tokens_are_checked_at_booking() {
    let app = spawn_app().await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;

    let mut wrong_dob = booking_body(&slot, &token, "a@example.com");
    wrong_dob["client"]["date_of_birth"] = json!("1991-04-12");
    let answer = app.post("/v1/consultations", None, &wrong_dob).await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(answer.body["errors"][0]["field"], "client.date_of_birth");

    let used = app
        .post(
            "/v1/consultations",
            None,
            &booking_body(&slot, &token, "a@example.com"),
        )
        .await;
    assert_eq!(used.status, 201);
    let other_slot = first_slot(&app).await;
    app.post(
        "/v1/consultations",
        None,
        &booking_body(&other_slot, &token, "a@example.com"),
    )
    .await
    .assert_problem(409, "screening_used");

    let stale = screening_token(&app, DOB).await;
    app.clock.advance(Duration::hours(25));
    let later = first_slot(&app).await;
    app.post(
        "/v1/consultations",
        None,
        &booking_body(&later, &stale, "a@example.com"),
    )
    .await
    .assert_problem(422, "screening_expired");

    app.post(
        "/v1/consultations",
        None,
        &booking_body(&later, "st_nonsense", "a@example.com"),
    )
    .await
    .assert_problem(422, "validation_failed");

    let mut no_consent = booking_body(&later, &screening_token(&app, DOB).await, "a@example.com");
    no_consent["accept_cancellation_policy"] = json!(false);
    no_consent["client"]["email"] = json!("not-an-email");
    let answer = app.post("/v1/consultations", None, &no_consent).await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(
        answer.body["errors"].as_array().unwrap().len(),
        2,
        "{}",
        answer.text
    );

    let mut off_grid = booking_body(&later, &screening_token(&app, DOB).await, "a@example.com");
    off_grid["starts_at"] = json!("2026-11-28T10:07:00Z");
    app.post("/v1/consultations", None, &off_grid)
        .await
        .assert_problem(422, "slot_not_offered");
}

#[tokio::test]
async fn age_is_checked_again_on_the_appointment_date() {
    let app = spawn_app().await;
    // Turns 18 on 2026-11-28 (a Saturday); screened for that date.
    let screened = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": "2008-11-28", "pregnant": false, "breastfeeding": false,
                "autoimmune_condition": false, "active_infection_at_site": false,
                "other_medical_conditions": false, "appointment_date": "2026-11-28"
            }),
        )
        .await;
    assert_eq!(screened.body["outcome"], "eligible");
    let token = screened.body["screening_token"].as_str().unwrap();
    let friday = slots(&app, "2026-11-27", "2026-11-27").await[0].clone();
    let mut body = booking_body(&friday, token, "young@example.com");
    body["client"]["date_of_birth"] = json!("2008-11-28");
    app.post("/v1/consultations", None, &body)
        .await
        .assert_problem(422, "ineligible");
    let saturday = slots(&app, "2026-11-28", "2026-11-28").await[0].clone();
    let mut body = booking_body(&saturday, token, "young@example.com");
    body["client"]["date_of_birth"] = json!("2008-11-28");
    let ok = app.post("/v1/consultations", None, &body).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[tokio::test]
async fn cancellation_follows_the_policy() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;

    // Unpaid: the deposit is released.
    let (id, token, _) = book_first(&app).await;
    let preview = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({"dry_run": true}),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert_eq!(preview.body["deposit_action"], "release");
    assert_eq!(
        preview.body["consultation"]["status"], "pending_deposit",
        "a dry run changes nothing"
    );
    let done = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(done.body["consultation"]["status"], "cancelled");
    assert_eq!(done.body["consultation"]["deposit"]["status"], "cancelled");
    assert_eq!(done.body["consultation"]["cancelled_by"], "client");
    app.post(
        &format!("/v1/consultations/{id}/cancel"),
        Some(&token),
        &json!({}),
    )
    .await
    .assert_problem(409, "already_cancelled");

    // Paid, in time (more than 48 h ahead): refunded.
    let next_week = slots(&app, "2026-12-01", "2026-12-01").await[0].clone();
    let booked = book(&app, &next_week, "intime@example.com", None).await;
    let (id, token) = (
        booked.body["id"].as_str().unwrap().to_owned(),
        booked.body["manage_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(pay_manually(&app, &booked.body, &staff).await.status, 200);
    let preview = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({"dry_run": true}),
        )
        .await;
    assert_eq!(preview.body["deposit_action"], "refund");
    assert_eq!(
        preview.body["refund"],
        json!({"amount": 2500, "currency": "GBP"})
    );
    assert_eq!(preview.body["late"], false);
    let done = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(done.body["consultation"]["deposit"]["status"], "refunded");

    // Paid, late (the first slot is 26 h away, inside 48 h): forfeited.
    let slot = first_slot(&app).await;
    let booked = book(&app, &slot, "late@example.com", None).await;
    let (id, token) = (
        booked.body["id"].as_str().unwrap(),
        booked.body["manage_token"].as_str().unwrap(),
    );
    pay_manually(&app, &booked.body, &staff).await;
    let done = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(token),
            &json!({}),
        )
        .await;
    assert_eq!(done.body["deposit_action"], "forfeit");
    assert_eq!(done.body["late"], true);
    assert_eq!(done.body["consultation"]["deposit"]["status"], "forfeited");

    // The clinic cancels late: still refunded.
    let slot = first_slot(&app).await;
    let booked = book(&app, &slot, "clinic@example.com", None).await;
    pay_manually(&app, &booked.body, &staff).await;
    let id = booked.body["id"].as_str().unwrap();
    let done = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&staff),
            &json!({"reason": "Practitioner ill"}),
        )
        .await;
    assert_eq!(done.body["deposit_action"], "refund");
    assert_eq!(done.body["consultation"]["cancelled_by"], "clinic");
    let deposit = booked.body["deposit"]["id"].as_str().unwrap();
    let record = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(record.body["refund"]["reason"], "Practitioner ill");
}

#[tokio::test]
async fn rescheduling_moves_the_booking_and_keeps_the_deposit() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let all = slots(&app, "2026-12-01", "2026-12-02").await;
    let (from, to, taken) = (all[0].clone(), all[3].clone(), all[5].clone());
    let booked = book(&app, &from, "move@example.com", None).await;
    let id = booked.body["id"].as_str().unwrap();
    let token = booked.body["manage_token"].as_str().unwrap();
    pay_manually(&app, &booked.body, &staff).await;
    assert_eq!(
        book(&app, &taken, "other@example.com", None).await.status,
        201
    );

    let path = format!("/v1/consultations/{id}/reschedule");
    app.post(
        &path,
        Some(token),
        &json!({"starts_at": taken["starts_at"]}),
    )
    .await
    .assert_problem(409, "slot_unavailable");
    let moved = app
        .post(&path, Some(token), &json!({"starts_at": to["starts_at"]}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["starts_at"], to["starts_at"]);
    assert_eq!(moved.body["status"], "confirmed");
    assert_eq!(moved.body["deposit"]["id"], booked.body["deposit"]["id"]);
    assert_eq!(moved.body["deposit"]["status"], "paid");
    let free: Vec<Value> = slots(&app, "2026-12-01", "2026-12-02").await;
    assert!(
        free.iter().any(|s| s["starts_at"] == from["starts_at"]),
        "the old slot is free again"
    );
    assert!(!free.iter().any(|s| s["starts_at"] == to["starts_at"]));

    // Inside the notice period a client can no longer move it; staff can.
    app.clock
        .set(at(to["starts_at"].as_str().unwrap()) - Duration::hours(30));
    let later = slots(&app, "2026-12-03", "2026-12-03").await[0].clone();
    app.post(
        &path,
        Some(token),
        &json!({"starts_at": later["starts_at"]}),
    )
    .await
    .assert_problem(409, "outside_cancellation_window");
    let by_staff = app
        .post(
            &path,
            Some(&staff),
            &json!({"starts_at": later["starts_at"]}),
        )
        .await;
    assert_eq!(by_staff.status, 200, "{}", by_staff.text);
}

#[tokio::test]
async fn the_calendar_event_carries_the_clinic_time_zone() {
    let app = spawn_app().await;
    let (id, token, _) = book_first(&app).await;
    let resp = app
        .client
        .get(app.url(&format!("/v1/consultations/{id}/calendar.ics")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = resp.text().await.unwrap();
    assert!(ics.contains("BEGIN:VEVENT"));
    assert!(
        ics.contains("DTSTART;TZID=Europe/London:20261126T120000"),
        "{ics}"
    );
    assert!(ics.contains("TZID:Europe/London"));
    assert!(ics.contains("STATUS:TENTATIVE"), "unpaid hold");
    assert!(ics.contains(&format!("UID:{id}@clinic-api")));
}

#[tokio::test]
async fn staff_run_the_diary() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let slot = first_slot(&app).await;
        let b = book(&app, &slot, &format!("d{i}@example.com"), None).await;
        ids.push(b.body["id"].as_str().unwrap().to_owned());
        if i < 2 {
            pay_manually(&app, &b.body, &staff).await;
        }
    }
    let confirmed = app
        .get("/v1/consultations?status=confirmed", Some(&staff))
        .await;
    assert_eq!(confirmed.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        confirmed.body["items"][0]["needs_review"], false,
        "staff see the review flag"
    );
    let page = app
        .get(
            "/v1/consultations?limit=2&from=2026-11-26&to=2026-11-26",
            Some(&staff),
        )
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let next = page.body["next"].as_str().unwrap();
    let rest = app.get(next, Some(&staff)).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next"], Value::Null);
    app.get("/v1/consultations?status=nonsense", Some(&staff))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/consultations", None)
        .await
        .assert_problem(401, "unauthorized");

    // Outcomes: not before the start; no-show forfeits; pending cannot attend.
    let first = &ids[0];
    app.post(
        &format!("/v1/consultations/{first}/attended"),
        Some(&staff),
        &json!({}),
    )
    .await
    .assert_problem(409, "too_early");
    app.clock.set(at("2026-11-26T12:05:00Z"));
    let attended = app
        .post(
            &format!("/v1/consultations/{first}/attended"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(attended.body["status"], "attended", "{}", attended.text);
    assert_eq!(
        attended.body["deposit"]["status"], "paid",
        "credit to redeem"
    );
    app.post(
        &format!("/v1/consultations/{first}/no-show"),
        Some(&staff),
        &json!({}),
    )
    .await
    .assert_problem(409, "illegal_transition");
    app.clock.set(at("2026-11-26T12:35:00Z"));
    let second = &ids[1];
    let no_show = app
        .post(
            &format!("/v1/consultations/{second}/no-show"),
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(no_show.body["status"], "no_show");
    assert_eq!(no_show.body["deposit"]["status"], "forfeited");
    let partner = app.key(Role::Partner).await;
    app.post(
        &format!("/v1/consultations/{second}/attended"),
        Some(&partner),
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn staff_read_the_screening_behind_a_booking() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, token, _) = book_first(&app).await;
    let s = app
        .get(&format!("/v1/consultations/{id}/screening"), Some(&staff))
        .await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["outcome"], "eligible");
    assert_eq!(s.body["date_of_birth"], DOB);
    app.get(&format!("/v1/consultations/{id}/screening"), Some(&token))
        .await
        .assert_problem(401, "unauthorized");
    let partner = app.key(Role::Partner).await;
    app.get(&format!("/v1/consultations/{id}/screening"), Some(&partner))
        .await
        .assert_problem(403, "forbidden");
    // Attached screenings survive the retention purge.
    app.clock.advance(Duration::days(40));
    clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/v1/consultations/{id}/screening"), Some(&staff))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn schedule_management_changes_availability() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let pid = practitioner_id(&app).await;
    let closed = app
        .post(
            "/v1/closures",
            Some(&staff),
            &json!({"from_date": "2026-11-27", "to_date": "2026-11-27", "reason": "Training"}),
        )
        .await;
    assert_eq!(closed.status, 201, "{}", closed.text);
    let friday = slots(&app, "2026-11-27", "2026-11-27").await;
    assert!(friday.is_empty(), "{friday:?}");
    let cid = closed.body["id"].as_str().unwrap();
    let listed = app
        .get("/v1/closures?from=2026-11-01&to=2026-12-31", Some(&staff))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/v1/closures/{cid}"), Some(&staff))
            .await
            .status,
        204
    );
    assert!(!slots(&app, "2026-11-27", "2026-11-27").await.is_empty());

    app.post("/v1/closures", Some(&staff), &json!({"reason": "x"}))
        .await
        .assert_problem(422, "validation_failed");
    app.put(
        &format!("/v1/practitioners/{pid}/opening-hours"),
        Some(&staff),
        &json!({"windows": [
            {"weekday": "monday", "opens": "09:00", "closes": "12:00"},
            {"weekday": "monday", "opens": "11:00", "closes": "13:00"}
        ]}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.put(
        &format!("/v1/practitioners/{pid}/opening-hours"),
        Some(&staff),
        &json!({"windows": [{"weekday": "funday", "opens": "09:07", "closes": "12:00"}]}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let new = app
        .post(
            "/v1/practitioners",
            Some(&staff),
            &json!({"name": "Dr Sam", "title": "Aesthetic doctor"}),
        )
        .await;
    assert_eq!(new.status, 201, "{}", new.text);
    let sid = new.body["id"].as_str().unwrap();
    app.put(
        &format!("/v1/practitioners/{sid}/opening-hours"),
        Some(&staff),
        &json!({"windows": [{"weekday": "monday", "opens": "09:00", "closes": "10:00"}]}),
    )
    .await;
    let monday = slots(&app, "2026-11-30", "2026-11-30").await;
    assert_eq!(monday.len(), 2);
    assert!(monday.iter().all(|s| s["practitioner_id"] == sid));
    let only = app
        .get(
            &format!("/v1/availability?from=2026-11-30&to=2026-11-30&practitioner_id={pid}"),
            None,
        )
        .await;
    assert_eq!(only.body["slots"], json!([]));
}
