//! Regressions for races and hostile input: nothing here may give a 500,
//! lose an acknowledged write, or move money twice.

use chrono::Duration;
use clinic_api::domain::actor::Role;
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::{spawn_app, TestApp};

async fn count_consultations(app: &TestApp) -> i64 {
    app.app
        .db
        .run(|c| {
            use diesel::prelude::*;
            clinic_api::db::schema::consultations::table
                .count()
                .get_result::<i64>(c)
                .map_err(clinic_api::db::DbError::from)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn far_out_dates_are_refused_and_the_service_keeps_working() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;
    let mut body = booking_body(&slot, &token, "far@example.com");
    body["starts_at"] = json!("+262142-12-31T23:00:00Z");
    app.post("/v1/consultations", None, &body)
        .await
        .assert_problem(422, "slot_not_offered");
    for path in [
        "/v1/availability?from=2026-12-01&to=%2B262142-12-31",
        "/v1/availability?from=0001-01-01&to=0001-01-02",
    ] {
        app.get(path, None)
            .await
            .assert_problem(422, "validation_failed");
    }
    app.get("/v1/consultations?to=%2B262142-12-31", Some(&staff))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/v1/closures",
        Some(&staff),
        &json!({"starts_at": "9999-01-01T00:00:00Z", "ends_at": "+262142-12-31T23:00:00Z", "reason": "x"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // And the next booking is really stored.
    let ok = book(&app, &slot, "next@example.com", None).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(count_consultations(&app).await, 1);
}

#[tokio::test]
async fn control_characters_are_refused_not_stored() {
    let app = spawn_app().await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;
    let mut body = booking_body(&slot, &token, "nul@example.com");
    body["notes"] = json!("x\u{0}y");
    let answer = app.post("/v1/consultations", None, &body).await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(answer.body["errors"][0]["field"], "notes");
    app.get("/v1/faqs?q=%00", None)
        .await
        .assert_problem(400, "invalid_characters");
    app.get("/v1/treatments/a%00b", None)
        .await
        .assert_problem(400, "invalid_characters");
    assert_eq!(count_consultations(&app).await, 0);
}

#[tokio::test]
async fn a_later_booking_never_rewrites_an_earlier_ones_contact_details() {
    let app = spawn_app().await;
    let (id, token, _) = book_first(&app).await;
    let slot = first_slot(&app).await;
    let t2 = screening_token(&app, DOB).await;
    let mut other = booking_body(&slot, &t2, "alex@example.com");
    other["client"]["full_name"] = json!("Someone Else");
    other["client"]["phone"] = json!("+44 7700 900999");
    assert_eq!(
        app.post("/v1/consultations", None, &other).await.status,
        201
    );
    let first = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(first.body["client"]["full_name"], "Alex Morgan");
    assert_eq!(first.body["client"]["phone"], "+44 7700 900123");
}

#[tokio::test]
async fn racing_cancel_and_reschedule_never_strand_a_slot() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    for round in 0..6 {
        let free = slots(&app, "2026-12-01", "2026-12-02").await;
        let (from, to) = (free[0].clone(), free[1].clone());
        let booked = book(&app, &from, &format!("race{round}@example.com"), None).await;
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let token = booked.body["manage_token"].as_str().unwrap().to_owned();
        let cancel_path = format!("/v1/consultations/{id}/cancel");
        let move_path = format!("/v1/consultations/{id}/reschedule");
        let cancel_body = json!({});
        let move_body = json!({"starts_at": to["starts_at"]});
        let (cancelled, moved) = tokio::join!(
            app.post(&cancel_path, Some(&token), &cancel_body),
            app.post(&move_path, Some(&token), &move_body),
        );
        assert!(
            matches!(cancelled.status, 200 | 409 | 503),
            "{}",
            cancelled.text
        );
        assert!(
            matches!(moved.status, 200 | 409 | 410 | 503),
            "{}",
            moved.text
        );
        let now = app
            .get(&format!("/v1/consultations/{id}"), Some(&staff))
            .await;
        if now.body["status"] == "cancelled" {
            assert_eq!(cancelled.status, 200, "round {round}: {}", cancelled.text);
            // A cancelled booking holds nothing: both slots can be booked.
            for slot in [&from, &to] {
                let again = book(&app, slot, &format!("after{round}@example.com"), None).await;
                assert_eq!(again.status, 201, "round {round}: {}", again.text);
                let id2 = again.body["id"].as_str().unwrap();
                let undone = app
                    .post(
                        &format!("/v1/consultations/{id2}/cancel"),
                        Some(&staff),
                        &json!({}),
                    )
                    .await;
                assert_eq!(undone.status, 200, "{}", undone.text);
            }
        } else {
            // Not cancelled: still live, holding exactly the slot it says
            // (the move won, or the cancel lost to it), and the other one free.
            assert_eq!(now.body["status"], "pending_deposit", "round {round}");
            let held = if moved.status == 200 { &to } else { &from };
            let other = if moved.status == 200 { &from } else { &to };
            assert_eq!(now.body["starts_at"], held["starts_at"], "round {round}");
            let taken = book(&app, held, &format!("held{round}@example.com"), None).await;
            taken.assert_problem(409, "slot_unavailable");
            let free = book(&app, other, &format!("free{round}@example.com"), None).await;
            assert_eq!(free.status, 201, "round {round}: {}", free.text);
            for done in [id.clone(), free.body["id"].as_str().unwrap().to_owned()] {
                let undone = app
                    .post(
                        &format!("/v1/consultations/{done}/cancel"),
                        Some(&staff),
                        &json!({}),
                    )
                    .await;
                assert_eq!(undone.status, 200, "{}", undone.text);
            }
        }
        let after = app
            .get(&format!("/v1/consultations/{id}"), Some(&staff))
            .await;
        assert_eq!(after.body["status"], "cancelled", "round {round}");
    }
}

#[tokio::test]
async fn a_refund_owed_on_cancellation_survives_a_stripe_outage() {
    use crate::fake_stripe::{Failure, FakeStripe};
    let fake = FakeStripe::start();
    let base = fake.base_url.clone();
    let app = crate::helpers::spawn_app_with(move |s| {
        s.stripe = Some(clinic_api::config::StripeSettings {
            secret_key: "sk_test_x".into(),
            publishable_key: None,
            webhook_secret: "whsec_x".into(),
            api_base: Some(base),
            timeout: std::time::Duration::from_millis(800),
        })
    })
    .await;
    let next_week = slots(&app, "2026-12-01", "2026-12-01").await[0].clone();
    let booked = book(&app, &next_week, "owed@example.com", None).await.body;
    let pi = fake.payment_intents().pop().unwrap().id;
    fake.set_status(&pi, "succeeded");
    let (id, token) = (
        booked["id"].as_str().unwrap(),
        booked["manage_token"].as_str().unwrap(),
    );
    // Reading reconciles the payment (no webhook in this test).
    assert_eq!(
        app.get(&format!("/v1/consultations/{id}"), Some(token))
            .await
            .body["status"],
        "confirmed"
    );

    fake.fail_next(1, Failure::ServerError);
    let cancelled = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["deposit_action"], "refund");
    assert_eq!(cancelled.body["refund_pending"], true);
    assert_eq!(cancelled.body["consultation"]["status"], "cancelled");
    assert!(fake.refunds().is_empty());

    app.clock.advance(Duration::minutes(1));
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.refunds_made, 1);
    assert_eq!(fake.refunds().len(), 1);
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(token))
        .await;
    assert_eq!(seen.body["deposit"]["status"], "refunded");
    let again = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(again.refunds_made, 0);
    assert_eq!(fake.refunds().len(), 1, "never refunded twice");
}

#[tokio::test]
async fn a_payment_that_lands_as_the_hold_lapses_is_found_without_a_webhook() {
    use crate::fake_stripe::FakeStripe;
    let fake = FakeStripe::start();
    let base = fake.base_url.clone();
    let app = crate::helpers::spawn_app_with(move |s| {
        s.stripe = Some(clinic_api::config::StripeSettings {
            secret_key: "sk_test_x".into(),
            publishable_key: None,
            webhook_secret: "whsec_x".into(),
            api_base: Some(base),
            timeout: std::time::Duration::from_millis(800),
        })
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let (id, _, _) = book_first(&app).await;
    let pi = fake.payment_intents().pop().unwrap().id;
    app.clock.advance(Duration::minutes(16));
    // The sweeper expired it before Stripe's answer was known…
    let swept = clinic_api::app::holds::expire_lapsed(&app.app).await;
    assert_eq!(swept.unwrap().len(), 1);
    // …then the client's payment succeeds, and its webhook is lost.
    fake.set_status(&pi, "succeeded");
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.payments_reconciled, 1);
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(seen.body["status"], "confirmed", "the slot was still free");
    assert_eq!(seen.body["deposit"]["status"], "paid");
}
