//! Regressions from the security and privacy audit: each test failed
//! before its fix.

use serde_json::{json, Value};

use clinic_api::domain::actor::Role;

use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::webhooks::{drain, subscribe};

/// Screens and books `slot` for a client born on `dob` (judged on the
/// slot's date), with `key` (a partner's) or anonymously.
async fn book_born(app: &TestApp, slot: &Value, dob: &str, key: Option<&str>) -> Value {
    let date = &slot["local_starts_at"].as_str().unwrap()[..10];
    let screened = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": dob, "pregnant": false, "breastfeeding": false,
                "autoimmune_condition": false, "active_infection_at_site": false,
                "other_medical_conditions": false, "appointment_date": date
            }),
        )
        .await;
    assert_eq!(screened.body["outcome"], "eligible", "{}", screened.text);
    let token = screened.body["screening_token"].as_str().unwrap();
    let mut body = booking_body(slot, token, &format!("born{dob}@example.com"));
    body["client"]["date_of_birth"] = json!(dob);
    let booked = app.post("/v1/consultations", key, &body).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    booked.body
}

#[tokio::test]
async fn no_path_moves_an_appointment_to_a_day_the_client_is_under_18() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let partner = app.key(Role::Partner).await;
    // Born 2009-01-01: 17 on 2026-12-31 (a Thursday), 18 from 2027-01-01.
    let dob = "2009-01-01";
    let new_years_eve = slots(&app, "2026-12-31", "2026-12-31").await;
    let new_year = slots(&app, "2027-01-01", "2027-01-01").await;
    let later = slots(&app, "2027-01-22", "2027-01-22").await;
    assert!(!new_years_eve.is_empty() && !new_year.is_empty() && later.len() >= 3);

    // The client (manage token), a partner (its own booking) and staff.
    let by_client = book_born(&app, &later[0], dob, None).await;
    let by_partner = book_born(&app, &later[1], dob, Some(&partner)).await;
    let for_staff = book_born(&app, &later[2], dob, None).await;
    let cases = [
        (
            &by_client,
            by_client["manage_token"].as_str().unwrap().to_owned(),
        ),
        (&by_partner, partner.clone()),
        (&for_staff, staff.clone()),
    ];
    for (booking, credential) in cases {
        let id = booking["id"].as_str().unwrap();
        let refused = app
            .post(
                &format!("/v1/consultations/{id}/reschedule"),
                Some(&credential),
                &json!({"starts_at": new_years_eve[0]["starts_at"]}),
            )
            .await;
        refused.assert_problem(422, "ineligible");
        assert_eq!(refused.body["reasons"][0]["code"], "under_minimum_age");
        let stored = app
            .get(&format!("/v1/consultations/{id}"), Some(&staff))
            .await;
        assert_eq!(stored.body["starts_at"], booking["starts_at"], "not moved");
    }
    // The day they turn 18 is fine.
    let id = by_client["id"].as_str().unwrap();
    let moved = app
        .post(
            &format!("/v1/consultations/{id}/reschedule"),
            Some(by_client["manage_token"].as_str().unwrap()),
            &json!({"starts_at": new_year[0]["starts_at"]}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["starts_at"], new_year[0]["starts_at"]);
}

#[tokio::test]
async fn webhook_endpoints_may_not_point_inside_the_network() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = false;
        s.webhooks.allow_private_targets = false;
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let create = |url: &str| json!({"url": url, "event_types": ["consultation.created"]});
    for target in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://192.168.0.7/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",
        "https://0x7f000001/hook",
        "https://localhost:8080/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://user:secret@partner.example/hook",
    ] {
        let refused = app
            .post("/v1/webhook-endpoints", Some(&staff), &create(target))
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], "url", "{target}");
        assert!(!refused.text.contains("secret@"), "the URL is not echoed");
    }
    let http = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &create("http://partner.example/h"),
        )
        .await;
    http.assert_problem(422, "validation_failed");
    assert!(http.text.contains("WEBHOOK_ALLOW_HTTP"), "{}", http.text);
    assert_eq!(
        app.get("/v1/webhook-endpoints", Some(&staff)).await.body["items"],
        json!([]),
        "nothing was stored"
    );
    // A public endpoint cannot be moved inside either.
    let ok = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &create("https://partner.example/hook"),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let id = ok.body["id"].as_str().unwrap();
    app.put(
        &format!("/v1/webhook-endpoints/{id}"),
        Some(&staff),
        &create("https://127.0.0.1:9/hook"),
    )
    .await
    .assert_problem(422, "validation_failed");
    let stored = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&staff))
        .await;
    assert_eq!(stored.body["url"], "https://partner.example/hook");
}

/// A local receiver subscribed (http://, loopback: allowed in tests) to
/// bookings, the server restarted with its delivery rules changed by
/// `rules`, then a booking made and the deliveries sent: the server, its
/// staff key and what the receiver got.
async fn booked_after_the_rules_changed(
    rules: impl FnOnce(&mut clinic_api::config::Settings),
) -> (TestApp, String, crate::receiver::Receiver) {
    let receiver = crate::receiver::Receiver::start();
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    subscribe(&app, &staff, &receiver.url, &["consultation.created"]).await;
    let app = app.restart_with(rules).await;
    book_first(&app).await;
    drain(&app).await;
    (app, staff, receiver)
}

#[tokio::test]
async fn deliveries_never_reach_a_private_address_whatever_was_stored() {
    // An endpoint saved while private targets were allowed (or by hand)
    // gets nothing once the rule applies: checked again at every send.
    let (app, staff, receiver) = booked_after_the_rules_changed(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.allow_private_targets = false;
    })
    .await;
    assert!(receiver.received().is_empty());
    let endpoints = app.get("/v1/webhook-endpoints", Some(&staff)).await;
    let id = endpoints.body["items"][0]["id"].as_str().unwrap();
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&staff),
        )
        .await;
    let error = log.body["items"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("not allowed"), "{error}");
}

#[tokio::test]
async fn a_revoked_keys_endpoints_receive_nothing_more() {
    let receiver = crate::receiver::Receiver::start();
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    for role in [Role::Staff, Role::Partner] {
        let key = app.key(role).await;
        let (endpoint, _) = subscribe(&app, &key, &receiver.url, &["consultation.created"]).await;
        clinic_api::app::api_keys::revoke(&app.app, &key[..11])
            .await
            .unwrap();
        // A staff endpoint would hear of any booking (and the partner's key
        // books no more): make one anonymously.
        let slot = first_slot(&app).await;
        let booked = book(&app, &slot, "after-revoke@example.com", None).await;
        assert_eq!(booked.status, 201);
        drain(&app).await;
        assert!(receiver.received().is_empty(), "{role:?}");
        let stored = app
            .get(&format!("/v1/webhook-endpoints/{endpoint}"), Some(&admin))
            .await;
        assert_eq!(stored.body["active"], false);
        assert!(stored.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("revoked"));
        // Turning it back on does not resume deliveries to a revoked owner.
        let revived = app
            .put(
                &format!("/v1/webhook-endpoints/{endpoint}"),
                Some(&admin),
                &json!({"url": receiver.url, "event_types": ["consultation.created"], "active": true}),
            )
            .await;
        assert_eq!(revived.status, 200, "{}", revived.text);
        book(&app, &first_slot(&app).await, "later@example.com", None).await;
        drain(&app).await;
        assert!(receiver.received().is_empty(), "{role:?} after re-enabling");
    }
}

#[tokio::test]
async fn one_key_holds_a_bounded_number_of_endpoints_and_replays() {
    let receiver = crate::receiver::Receiver::start();
    let app = spawn_app_with(|s| {
        s.webhooks.max_endpoints_per_key = 3;
        s.webhooks.max_replays_per_minute = 2;
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            subscribe(&app, &staff, &receiver.url, &["consultation.created"])
                .await
                .0,
        );
    }
    app.post(
        "/v1/webhook-endpoints",
        Some(&staff),
        &json!({"url": receiver.url, "event_types": ["consultation.created"]}),
    )
    .await
    .assert_problem(409, "too_many_endpoints");
    let listed = app.get("/v1/webhook-endpoints", Some(&staff)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);
    book_first(&app).await;
    drain(&app).await;
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{}/deliveries", ids[0]),
            Some(&staff),
        )
        .await;
    let delivery = log.body["items"][0]["id"].as_str().unwrap().to_owned();
    let replay = format!(
        "/v1/webhook-endpoints/{}/deliveries/{delivery}/replay",
        ids[0]
    );
    for _ in 0..2 {
        assert_eq!(
            app.post(&replay, Some(&staff), &json!({})).await.status,
            202
        );
    }
    let limited = app.post(&replay, Some(&staff), &json!({})).await;
    limited.assert_problem(429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
}

#[tokio::test]
async fn stripe_is_asked_only_after_authorisation_and_at_most_once_per_interval() {
    let (app, fake) = crate::payments::stripe_app().await;
    let (mine, my_token, _) = book_first(&app).await;
    let other = book(&app, &first_slot(&app).await, "other@example.com", None).await;
    let other_id = other.body["id"].as_str().unwrap();
    fake.clear_requests();
    // Another booking's token: 404, and Stripe hears nothing.
    app.get(&format!("/v1/consultations/{other_id}"), Some(&my_token))
        .await
        .assert_problem(404, "not_found");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    // The holder reading their own pending booking a hundred times: Stripe
    // is asked once in the interval, not a hundred times.
    for _ in 0..100 {
        let seen = app
            .get(&format!("/v1/consultations/{mine}"), Some(&my_token))
            .await;
        assert_eq!(seen.status, 200);
    }
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
    app.clock.advance(chrono::Duration::seconds(31));
    app.get(&format!("/v1/consultations/{mine}"), Some(&my_token))
        .await;
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn cursors_outside_the_supported_span_are_refused_not_crashed() {
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    let partner = app.key(Role::Partner).await;
    book_first(&app).await;
    let endpoint = subscribe(
        &app,
        &admin,
        "http://127.0.0.1:9/h",
        &["consultation.created"],
    )
    .await
    .0;
    for cursor in [
        "-999999999999999999~00000000-0000-0000-0000-000000000000",
        "999999999999999999~00000000-0000-0000-0000-000000000000",
    ] {
        for (path, key) in [
            ("/v1/consultations", &partner),
            ("/v1/consultations", &admin),
            ("/v1/clients", &admin),
            ("/v1/deposits", &admin),
            ("/v1/audit-events", &admin),
            (
                &*format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
                &admin,
            ),
        ] {
            let answer = app.get(&format!("{path}?cursor={cursor}"), Some(key)).await;
            answer.assert_problem(422, "validation_failed");
            assert_eq!(answer.body["errors"][0]["field"], "cursor", "{path}");
        }
    }
}

#[tokio::test]
async fn answers_with_personal_data_or_secrets_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let admin = app.key(Role::Admin).await;
    let token = screening_token(&app, DOB).await;
    let slot = first_slot(&app).await;
    let booked = app
        .post(
            "/v1/consultations",
            None,
            &booking_body(&slot, &token, "cache@example.com"),
        )
        .await;
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let manage = booked.body["manage_token"].as_str().unwrap().to_owned();
    let screened = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": DOB, "pregnant": false, "breastfeeding": false,
                "autoimmune_condition": false, "active_infection_at_site": false,
                "other_medical_conditions": false
            }),
        )
        .await;
    let endpoint = app
        .post(
            "/v1/webhook-endpoints",
            Some(&staff),
            &json!({"url": "http://127.0.0.1:9/h", "event_types": ["consultation.created"]}),
        )
        .await;
    let client = app.get("/v1/clients?q=cache", Some(&staff)).await;
    let client_id = client.body["items"][0]["id"].as_str().unwrap().to_owned();
    let answers = [
        booked,
        screened,
        endpoint,
        app.get(&format!("/v1/consultations/{id}"), Some(&manage))
            .await,
        app.get(&format!("/v1/consultations/{id}/screening"), Some(&staff))
            .await,
        app.get(&format!("/v1/clients/{client_id}"), Some(&staff))
            .await,
        app.get(&format!("/v1/clients/{client_id}/export"), Some(&admin))
            .await,
        app.get("/v1/consultations", Some(&staff)).await,
    ];
    for a in &answers {
        assert!(a.status < 300, "{}", a.text);
        assert_eq!(a.header("cache-control"), Some("no-store"), "{}", a.text);
    }
    // Public answers stay cacheable with their validators.
    let faqs = app.get("/v1/faqs", None).await;
    assert_eq!(faqs.header("cache-control"), Some("no-cache"));
    assert!(faqs.header("etag").is_some());
}

#[tokio::test]
async fn health_answers_named_twice_are_refused() {
    let app = spawn_app().await;
    let doubled = r#"{"date_of_birth":"1990-04-12","pregnant":true,"pregnant":false,
        "breastfeeding":false,"autoimmune_condition":false,"active_infection_at_site":false,
        "other_medical_conditions":false}"#;
    let answer = app
        .send(
            app.client
                .post(app.url("/v1/screenings"))
                .header("content-type", "application/json")
                .body(doubled),
        )
        .await;
    answer.assert_problem(400, "malformed_json");
    assert!(answer.body["detail"]
        .as_str()
        .unwrap()
        .contains("duplicate key \"pregnant\""));
    assert_eq!(
        clinic_api::store::screenings::count(&mut app.app.db.conn().unwrap()).unwrap(),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn a_name_of_only_invisible_characters_is_no_name() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let token = screening_token(&app, DOB).await;
    let mut body = booking_body(&first_slot(&app).await, &token, "ghost@example.com");
    body["client"]["full_name"] = json!("\u{200B}\u{200C}\u{200D}\u{FEFF}");
    let refused = app.post("/v1/consultations", None, &body).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "client.full_name");
    assert!(live_bookings(&app, &staff).await.is_empty());
}

#[tokio::test]
async fn staff_reads_of_health_data_are_audited() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let admin = app.key(Role::Admin).await;
    let (id, _, _) = book_first(&app).await;
    let screening = app
        .get(&format!("/v1/consultations/{id}/screening"), Some(&staff))
        .await;
    assert_eq!(screening.status, 200);
    let client = app.get("/v1/clients?q=alex", Some(&staff)).await;
    let client_id = client.body["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/clients/{client_id}"), Some(&staff))
            .await
            .status,
        200
    );
    let trail = app
        .get("/v1/audit-events?action=screening.viewed", Some(&admin))
        .await;
    let viewed = trail.body["items"].as_array().unwrap();
    assert_eq!(viewed.len(), 1, "{viewed:?}");
    assert_eq!(viewed[0]["subject_id"], screening.body["id"]);
    assert!(viewed[0]["actor"].as_str().unwrap().starts_with("key:"));
    let clients = app
        .get("/v1/audit-events?action=client.viewed", Some(&admin))
        .await;
    assert_eq!(clients.body["items"][0]["subject_id"], client_id);
}

/// Books `slot` as `name` with this email, phone and date of birth.
async fn book_as(
    app: &TestApp,
    slot: &Value,
    name: &str,
    email: &str,
    phone: &str,
    dob: &str,
) -> crate::helpers::Answer {
    let screened = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": dob, "pregnant": false, "breastfeeding": false,
                "autoimmune_condition": false, "active_infection_at_site": false,
                "other_medical_conditions": false
            }),
        )
        .await;
    let token = screened.body["screening_token"].as_str().unwrap();
    let mut body = booking_body(slot, token, email);
    body["client"] =
        json!({"full_name": name, "email": email, "phone": phone, "date_of_birth": dob});
    app.post("/v1/consultations", None, &body).await
}

#[tokio::test]
async fn an_anonymous_booking_never_rewrites_or_joins_someone_elses_record() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let admin = app.key(Role::Admin).await;
    let free = slots(&app, "2026-12-01", "2026-12-02").await;
    // The victim books, pays, comes and is done with.
    let victim = book_as(
        &app,
        &free[0],
        "Vera Victim",
        "vera@example.com",
        "+44 7700 900001",
        "1980-01-01",
    )
    .await;
    assert_eq!(victim.status, 201);
    let victim_client = app.get("/v1/clients?q=vera", Some(&staff)).await.body["items"][0].clone();
    // Someone else books with her email (upper-cased), another name,
    // phone and date of birth, and holds the slot.
    let other = book_as(
        &app,
        &free[2],
        "Mallory",
        "VERA@EXAMPLE.COM",
        "+44 7700 900666",
        "1990-06-06",
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.text);
    // Her record is as she left it…
    let record = app
        .get(
            &format!("/v1/clients/{}", victim_client["id"].as_str().unwrap()),
            Some(&staff),
        )
        .await;
    assert_eq!(record.body["full_name"], "Vera Victim");
    assert_eq!(record.body["phone"], "+44 7700 900001");
    assert_eq!(record.body["date_of_birth"], "1980-01-01");
    assert_eq!(record.body["consultations"].as_array().unwrap().len(), 1);
    // …the other booking is on a record of its own, with what it was given…
    let both = app.get("/v1/clients?q=vera@", Some(&staff)).await;
    assert_eq!(both.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(other.body["client"]["full_name"], "Mallory");
    // …and the other hold does not block her erasure.
    let cancelled = app
        .post(
            &format!(
                "/v1/consultations/{}/cancel",
                victim.body["id"].as_str().unwrap()
            ),
            Some(victim.body["manage_token"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200);
    let erased = app
        .post(
            &format!(
                "/v1/clients/{}/erasure",
                victim_client["id"].as_str().unwrap()
            ),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    // The same person booking again joins their own record.
    let again = book_as(
        &app,
        &free[4],
        "vera  victim",
        "Vera@Example.com",
        "+44 7700 900001",
        "1980-01-01",
    )
    .await;
    assert_eq!(again.status, 201);
    let records = app.get("/v1/clients?q=vera@", Some(&staff)).await;
    assert_eq!(
        records.body["items"].as_array().unwrap().len(),
        2,
        "Mallory's and the new one"
    );
}

#[tokio::test]
async fn the_holds_cap_sees_through_formatting_and_counts_per_address() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.abuse.max_holds_per_client = 2;
        s.abuse.max_holds_per_address = 4;
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let free = slots(&app, "2026-12-01", "2026-12-03").await;
    assert!(free.len() >= 10);
    // One person, written five ways: two holds, then refused.
    let ways = [
        ("alex.morgan+a@gmail.com", "+447700900123"),
        ("alexmorgan@googlemail.com", "07700 900123"),
        ("AlexMorgan+b@gmail.com", "+44 (7700) 900123"),
        ("a.lex.morgan@gmail.com", "+44 (0)7700 900-123"),
    ];
    let mut answers = Vec::new();
    for (i, (email, phone)) in ways.iter().enumerate() {
        answers.push(
            book_as(&app, &free[i], "Alex Morgan", email, phone, DOB)
                .await
                .status,
        );
    }
    assert_eq!(answers, vec![201, 201, 409, 409]);
    // Throwaway contacts from one address: capped too.
    let mut from_one_address = Vec::new();
    for i in 0..4 {
        let a = book_as(
            &app,
            &free[4 + i],
            "Throwaway",
            &format!("t{i}@example.com"),
            &format!("+44 7700 90{i:04}"),
            DOB,
        )
        .await;
        from_one_address.push(a.status);
    }
    assert_eq!(
        from_one_address,
        vec![201, 201, 409, 409],
        "4 holds per address"
    );
    let live = live_bookings(&app, &staff).await;
    assert_eq!(live.len(), 4, "only what was answered 201 holds a slot");
    // Partners are capped per key.
    let app = crate::helpers::spawn_app_with(|s| s.abuse.max_holds_per_partner = 1).await;
    let partner = app.key(Role::Partner).await;
    let free = slots(&app, "2026-12-01", "2026-12-01").await;
    assert_eq!(
        book(&app, &free[0], "p1@example.com", Some(&partner))
            .await
            .status,
        201
    );
    book(&app, &free[1], "p2@example.com", Some(&partner))
        .await
        .assert_problem(409, "too_many_holds");
}

#[tokio::test]
async fn an_http_endpoint_saved_in_development_gets_nothing_once_http_is_off() {
    let (_app, _staff, receiver) = booked_after_the_rules_changed(|s| {
        s.webhooks.allow_http = false;
        s.webhooks.allow_private_targets = true;
    })
    .await;
    assert!(
        receiver.received().is_empty(),
        "WEBHOOK_ALLOW_HTTP is honoured at delivery time"
    );
}
