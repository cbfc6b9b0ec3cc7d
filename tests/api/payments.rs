//! Deposits: Stripe PaymentIntents against a fake Stripe, signed webhooks,
//! reconciliation, refunds and redemption, and the manual provider.

use std::time::Duration as StdDuration;

use chrono::Duration;
use clinic_api::config::StripeSettings;
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::fake_stripe::{charge_json, event_json, signature_header, Failure, FakeStripe};
use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, Answer, TestApp};

const SECRET: &str = "whsec_test_secret";

pub async fn stripe_app() -> (TestApp, FakeStripe) {
    stripe_app_timing_out_after(StdDuration::from_millis(800)).await
}

async fn stripe_app_timing_out_after(timeout: StdDuration) -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start();
    let base = fake.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.stripe = Some(StripeSettings {
            secret_key: "sk_test_clinic".into(),
            publishable_key: Some("pk_test_clinic".into()),
            webhook_secret: SECRET.into(),
            api_base: Some(base),
            timeout,
        })
    })
    .await;
    (app, fake)
}

#[tokio::test]
async fn a_retry_after_a_crash_mid_booking_takes_the_key_over_within_seconds() {
    let (app, fake) = stripe_app_timing_out_after(StdDuration::from_secs(5)).await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;
    let body = booking_body(&slot, &token, "crash@example.com");
    // Stripe is slow to answer; the server dies while it waits.
    fake.fail_next(1, Failure::Timeout(StdDuration::from_secs(4)));
    let url = app.url("/v1/consultations");
    let (client, first_body) = (app.client.clone(), body.clone());
    let first = tokio::spawn(async move {
        client
            .post(url)
            .header("Idempotency-Key", "crash-1")
            .json(&first_body)
            .send()
            .await
    });
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    let app = app.crash_and_restart().await;
    assert!(
        first.await.unwrap().is_err(),
        "the first attempt got no answer"
    );
    let retry = || async {
        app.send(
            app.client
                .post(app.url("/v1/consultations"))
                .header("Idempotency-Key", "crash-1")
                .json(&body),
        )
        .await
    };
    // While the dead attempt's lease runs (Stripe's time-out and a margin),
    // the key is in flight…
    retry()
        .await
        .assert_problem(409, "idempotency_key_in_flight");
    // …and seconds later the retry takes it over and finishes that booking.
    app.clock.advance(Duration::seconds(11));
    let done = retry().await;
    assert_eq!(done.status, 201, "{}", done.text);
    let staff = app.key(Role::Staff).await;
    let live = live_bookings(&app, &staff).await;
    assert_eq!(live.len(), 1, "one booking, not two: {live:?}");
    assert_eq!(live[0]["id"], done.body["id"]);
    assert_eq!(
        fake.payment_intents().len(),
        1,
        "asked of Stripe once, idempotently"
    );
    let token = done.body["manage_token"].as_str().unwrap();
    let seen = app
        .get(
            &format!("/v1/consultations/{}", live[0]["id"].as_str().unwrap()),
            Some(token),
        )
        .await;
    assert_eq!(seen.status, 200, "the answer's manage token works");
    // And it is the stored answer from then on.
    let again = retry().await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["id"], done.body["id"]);
}

async fn deliver(app: &TestApp, body: &str, signature: &str) -> Answer {
    app.send(
        app.client
            .post(app.url("/v1/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("Stripe-Signature", signature)
            .body(body.to_owned()),
    )
    .await
}

/// Sends a correctly signed event.
async fn send_event(app: &TestApp, id: &str, kind: &str, object: Value) -> Answer {
    let body = event_json(id, kind, object);
    let sig = signature_header(SECRET, &body, app.now().timestamp());
    deliver(app, &body, &sig).await
}

async fn succeed(app: &TestApp, fake: &FakeStripe, pi: &str, event_id: &str) -> Answer {
    fake.set_status(pi, "succeeded");
    let object = fake.payment_intent_value(pi).unwrap();
    send_event(app, event_id, "payment_intent.succeeded", object).await
}

fn pi_of(booking: &Value, fake: &FakeStripe) -> String {
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    fake.payment_intents()
        .into_iter()
        .find(|p| p.metadata.get("deposit_id").map(String::as_str) == Some(deposit))
        .expect("a PaymentIntent for the deposit")
        .id
}

#[tokio::test]
async fn a_stripe_booking_is_confirmed_by_a_signed_webhook() {
    let (app, fake) = stripe_app().await;
    let (id, token, booking) = book_first(&app).await;
    let deposit = &booking["deposit"];
    assert_eq!(deposit["provider"], "stripe");
    assert_eq!(deposit["publishable_key"], "pk_test_clinic");
    let pi = fake.payment_intents().pop().unwrap();
    assert_eq!(deposit["client_secret"], pi.client_secret.as_str());
    assert_eq!((pi.amount, pi.currency.as_str()), (2500, "gbp"));
    let keys: Vec<&str> = pi.metadata.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec!["consultation_id", "deposit_id"],
        "ids only in metadata"
    );
    assert_eq!(pi.metadata["consultation_id"], id);
    assert_eq!(
        pi.idempotency_key.as_deref(),
        Some(format!("deposit-{}", deposit["id"].as_str().unwrap()).as_str())
    );
    let create = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/payment_intents")
        .unwrap();
    assert_eq!(
        create.param("automatic_payment_methods[enabled]"),
        Some("true")
    );
    assert!(
        !create.form.iter().any(|(_, v)| v.contains("1990")),
        "no date of birth sent to Stripe"
    );

    let first = succeed(&app, &fake, &pi.id, "evt_1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["result"], "processed");
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(seen.body["status"], "confirmed");
    assert_eq!(seen.body["deposit"]["status"], "paid");
    assert!(
        seen.body["deposit"].get("client_secret").is_none(),
        "no secret once paid"
    );

    let again = succeed(&app, &fake, &pi.id, "evt_1").await;
    assert_eq!(again.body["result"], "duplicate");
    let after = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(after.body, seen.body, "a replayed event changes nothing");
}

#[tokio::test]
async fn forged_stale_and_unsigned_webhooks_change_nothing() {
    let (app, fake) = stripe_app().await;
    let (id, token, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    fake.set_status(&pi, "succeeded");
    let body = event_json(
        "evt_forged",
        "payment_intent.succeeded",
        fake.payment_intent_value(&pi).unwrap(),
    );
    let now = app.now().timestamp();

    let cases = [
        ("unsigned", body.clone(), None, "invalid_signature"),
        (
            "wrong secret",
            body.clone(),
            Some(signature_header("whsec_other", &body, now)),
            "invalid_signature",
        ),
        (
            "stale",
            body.clone(),
            Some(signature_header(SECRET, &body, now - 301)),
            "stale_signature",
        ),
        (
            "from the future",
            body.clone(),
            Some(signature_header(SECRET, &body, now + 301)),
            "stale_signature",
        ),
        (
            "garbage header",
            body.clone(),
            Some("t=abc,v1=zz".to_owned()),
            "invalid_signature",
        ),
    ];
    for (what, payload, signature, code) in cases {
        let answer = match &signature {
            Some(sig) => deliver(&app, &payload, sig).await,
            None => {
                app.send(
                    app.client
                        .post(app.url("/v1/webhooks/stripe"))
                        .body(payload.clone()),
                )
                .await
            }
        };
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        assert_eq!(answer.body["code"], code, "{what}");
    }
    // Tampered: signed body, then the amount changed.
    let sig = signature_header(SECRET, &body, now);
    let tampered = body.replace("\"amount\":2500", "\"amount\":1");
    assert_ne!(tampered, body);
    deliver(&app, &tampered, &sig)
        .await
        .assert_problem(400, "invalid_signature");

    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    // Reading a pending booking reconciles with Stripe, which says succeeded:
    // the lost webhook path. The forged events themselves did nothing.
    assert_eq!(seen.body["status"], "confirmed");
    let processed = app
        .app
        .db
        .run(|c| {
            use diesel::prelude::*;
            clinic_api::db::schema::processed_events::table
                .count()
                .get_result::<i64>(c)
                .map_err(clinic_api::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(processed, 0, "no forged event was recorded");
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_deposit_is_not_applied() {
    let (app, fake) = stripe_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, _, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    let mut object = fake.payment_intent_value(&pi).unwrap();
    object["status"] = json!("succeeded");
    object["amount"] = json!(100);
    let answer = send_event(&app, "evt_low", "payment_intent.succeeded", object.clone()).await;
    assert_eq!(answer.status, 200);
    object["amount"] = json!(2500);
    object["currency"] = json!("eur");
    send_event(&app, "evt_eur", "payment_intent.succeeded", object.clone()).await;
    object["currency"] = json!("gbp");
    object["metadata"]["deposit_id"] = json!("someone-else");
    send_event(&app, "evt_meta", "payment_intent.succeeded", object).await;
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(seen.body["status"], "pending_deposit");
    assert_eq!(seen.body["deposit"]["status"], "pending");
}

#[tokio::test]
async fn a_lost_webhook_is_reconciled_by_reading_and_by_the_periodic_task() {
    let (app, fake) = stripe_app().await;
    let staff = app.key(Role::Staff).await;
    let (a, token_a, booking_a) = book_first(&app).await;
    let slot = first_slot(&app).await;
    let booking_b = book(&app, &slot, "b@example.com", None).await.body;
    fake.set_status(&pi_of(&booking_a, &fake), "succeeded");
    fake.set_status(&pi_of(&booking_b, &fake), "succeeded");

    let read = app
        .get(&format!("/v1/consultations/{a}"), Some(&token_a))
        .await;
    assert_eq!(read.body["status"], "confirmed");

    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.payments_reconciled, 1);
    let b = booking_b["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/consultations/{b}"), Some(&staff))
            .await
            .body["status"],
        "confirmed"
    );
}

#[tokio::test]
async fn stripe_failing_at_booking_releases_the_hold_and_a_retry_works() {
    let (app, fake) = stripe_app().await;
    let slot = first_slot(&app).await;
    let token = screening_token(&app, DOB).await;
    let body = booking_body(&slot, &token, "retry@example.com");
    let send = || {
        app.send(
            app.client
                .post(app.url("/v1/consultations"))
                .header("Idempotency-Key", "booking-attempt-1")
                .json(&body),
        )
    };
    for failure in [
        Failure::ServerError,
        Failure::Timeout(StdDuration::from_millis(2500)),
        Failure::RateLimited,
    ] {
        fake.fail_next(1, failure.clone());
        let answer = send().await;
        assert!(
            matches!(answer.status, 502 | 503),
            "{failure:?}: {}",
            answer.text
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
        // Nothing half-made: the slot is free and no booking exists.
        assert_eq!(
            first_slot(&app).await["starts_at"],
            slot["starts_at"],
            "{failure:?}"
        );
    }
    let answer = send().await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let replay = send().await;
    assert_eq!(replay.body, answer.body);
    let staff = app.key(Role::Staff).await;
    let all = app.get("/v1/consultations", Some(&staff)).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    // The timed-out attempt created a PaymentIntent at Stripe; the retry
    // reused the deposit's idempotency key or made a fresh deposit — either
    // way exactly one PaymentIntent belongs to the live deposit.
    let live = answer.body["deposit"]["id"].as_str().unwrap();
    let for_live = fake
        .payment_intents()
        .into_iter()
        .filter(|p| p.metadata.get("deposit_id").map(String::as_str) == Some(live))
        .count();
    assert_eq!(for_live, 1);
}

#[tokio::test]
async fn refunds_go_through_stripe_once() {
    let (app, fake) = stripe_app().await;
    let staff = app.key(Role::Staff).await;
    let (_, _, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    succeed(&app, &fake, &pi, "evt_paid").await;
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    let path = format!("/v1/deposits/{deposit}/refund");
    // While the consultation is still to come, its deposit is not refunded
    // on its own: the booking is cancelled (or attended) first.
    app.post(&path, Some(&staff), &json!({"reason": "Goodwill"}))
        .await
        .assert_problem(409, "booking_live");
    attend(&app, &booking, &staff).await;

    fake.fail_next(1, Failure::ServerError);
    let failed = app
        .post(&path, Some(&staff), &json!({"reason": "Goodwill"}))
        .await;
    assert!(matches!(failed.status, 502 | 503), "{}", failed.text);
    assert_eq!(
        app.get(&format!("/v1/deposits/{deposit}"), Some(&staff))
            .await
            .body["status"],
        "paid"
    );

    let refunded = app
        .post(&path, Some(&staff), &json!({"reason": "Goodwill"}))
        .await;
    assert_eq!(refunded.status, 200, "{}", refunded.text);
    assert_eq!(refunded.body["status"], "refunded");
    assert_eq!(refunded.body["refund"]["provider"], "stripe");
    let stripe_refunds = fake.refunds();
    assert_eq!(stripe_refunds.len(), 1);
    assert_eq!(
        stripe_refunds[0].idempotency_key.as_deref(),
        Some(format!("refund-{deposit}").as_str())
    );
    assert_eq!(
        refunded.body["refund"]["provider_refund_id"],
        stripe_refunds[0].id.as_str()
    );

    app.post(&path, Some(&staff), &json!({"reason": "Again"}))
        .await
        .assert_problem(409, "already_refunded");
    // Stripe's own charge.refunded event afterwards changes nothing.
    let charge = fake.payment_intent(&pi).unwrap().latest_charge.unwrap();
    let event = send_event(
        &app,
        "evt_refund",
        "charge.refunded",
        charge_json(&charge, &pi, 2500, 2500),
    )
    .await;
    assert_eq!(event.status, 200);
    assert_eq!(fake.refunds().len(), 1);
    let record = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(record.body["refund"]["reason"], "Goodwill");
    app.post(
        &format!("/v1/deposits/{deposit}/redemptions"),
        Some(&staff),
        &json!({"treatment_id": uuid::Uuid::new_v4()}),
    )
    .await
    .assert_problem(409, "deposit_settled");
}

#[tokio::test]
async fn a_refund_made_in_the_stripe_dashboard_is_recorded() {
    let (app, fake) = stripe_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, _, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    fake.set_status(&pi, "succeeded");
    let charge = fake.payment_intent(&pi).unwrap().latest_charge.unwrap();
    // The refund's event overtakes the payment's own.
    let answer = send_event(
        &app,
        "evt_r",
        "charge.refunded",
        charge_json(&charge, &pi, 2500, 2500),
    )
    .await;
    assert_eq!(answer.body["result"], "processed", "{}", answer.text);
    let late = succeed(&app, &fake, &pi, "evt_s").await;
    assert_eq!(late.status, 200);
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    let record = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(record.body["status"], "refunded");
    assert_eq!(record.body["refund"]["provider_refund_id"], charge.as_str());
    // A refund confirms nothing: the pending booking ended with its deposit.
    let consultation = app
        .get(&format!("/v1/consultations/{id}"), Some(&staff))
        .await;
    assert_eq!(
        consultation.body["status"], "expired",
        "{}",
        consultation.text
    );
    assert_eq!(consultation.body["end_reason"], "payment_refunded");
    assert_eq!(first_slot(&app).await["starts_at"], booking["starts_at"]);
}

#[tokio::test]
async fn a_payment_after_the_slot_was_lost_is_kept_as_credit() {
    let (app, fake) = stripe_app().await;
    let staff = app.key(Role::Staff).await;
    let slot = first_slot(&app).await;
    let first = book(&app, &slot, "slow@example.com", None).await.body;
    app.clock.advance(Duration::minutes(16));
    let second = book(&app, &slot, "fast@example.com", None).await;
    assert_eq!(second.status, 201);
    let answer = succeed(&app, &fake, &pi_of(&first, &fake), "evt_late").await;
    assert_eq!(answer.status, 200);
    let deposit = first["deposit"]["id"].as_str().unwrap();
    let record = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(record.body["status"], "paid", "refundable credit");
    assert_eq!(record.body["consultation_status"], "expired");
    assert_eq!(
        record.body["consultation_end_reason"],
        "paid_after_hold_lapsed_slot_taken"
    );
    let credit = app.get("/v1/deposits?status=paid", Some(&staff)).await;
    assert_eq!(credit.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_canceled_payment_intent_releases_the_booking() {
    let (app, fake) = stripe_app().await;
    let (id, token, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    fake.set_status(&pi, "canceled");
    let answer = send_event(
        &app,
        "evt_c",
        "payment_intent.canceled",
        fake.payment_intent_value(&pi).unwrap(),
    )
    .await;
    assert_eq!(answer.body["result"], "processed");
    let seen = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(seen.body["status"], "expired");
    assert_eq!(seen.body["deposit"]["status"], "cancelled");
    assert_eq!(first_slot(&app).await["starts_at"], booking["starts_at"]);
    let failed = send_event(
        &app,
        "evt_f",
        "payment_intent.payment_failed",
        fake.payment_intent_value(&pi).unwrap(),
    )
    .await;
    assert_eq!(failed.status, 200);
}

#[tokio::test]
async fn a_client_cancelling_an_unpaid_stripe_booking_withdraws_the_payment() {
    let (app, fake) = stripe_app().await;
    let (id, token, booking) = book_first(&app).await;
    let pi = pi_of(&booking, &fake);
    let done = app
        .post(
            &format!("/v1/consultations/{id}/cancel"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["deposit_action"], "release");
    assert_eq!(fake.payment_intent(&pi).unwrap().status, "canceled");
    let stored = app
        .get(&format!("/v1/consultations/{id}"), Some(&token))
        .await;
    assert_eq!(stored.body["status"], "cancelled");
    assert_eq!(stored.body["deposit"]["status"], "cancelled");
}

#[tokio::test]
async fn the_manual_provider_works_end_to_end_without_stripe() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (id, token, booking) = book_first(&app).await;
    assert_eq!(booking["deposit"]["provider"], "manual");
    assert!(booking["deposit"].get("client_secret").is_none());
    let paid = pay_manually(&app, &booking, &staff).await;
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(paid.body["payment_reference"], "desk receipt 1");
    pay_manually(&app, &booking, &staff)
        .await
        .assert_problem(409, "already_paid");
    assert_eq!(
        app.get(&format!("/v1/consultations/{id}"), Some(&token))
            .await
            .body["status"],
        "confirmed"
    );

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
    let path = format!("/v1/deposits/{deposit}/redemptions");
    let redeemed = app
        .post(
            &path,
            Some(&staff),
            &json!({"treatment_id": treatment, "note": "Left jaw filler"}),
        )
        .await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.text);
    assert_eq!(redeemed.body["status"], "redeemed");
    assert_eq!(
        redeemed.body["redemption"]["amount"],
        json!({"amount": 2500, "currency": "GBP"})
    );
    app.post(&path, Some(&staff), &json!({"treatment_id": treatment}))
        .await
        .assert_problem(409, "already_redeemed");
    app.post(
        &format!("/v1/deposits/{deposit}/refund"),
        Some(&staff),
        &json!({"reason": "x"}),
    )
    .await
    .assert_problem(409, "deposit_settled");
    // Webhooks are not served without Stripe (an unsigned one is refused first).
    app.post("/v1/webhooks/stripe", None, &json!({}))
        .await
        .assert_problem(400, "invalid_signature");
    let signed = app
        .send(
            app.client
                .post(app.url("/v1/webhooks/stripe"))
                .header("Stripe-Signature", "t=1,v1=00")
                .json(&json!({})),
        )
        .await;
    signed.assert_problem(404, "not_found");
}

#[tokio::test]
async fn concurrent_redemptions_and_refunds_settle_a_deposit_once() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (_, _, booking) = book_first(&app).await;
    let paid = pay_manually(&app, &booking, &staff).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    assert_eq!(paid.body["status"], "paid");
    attend(&app, &booking, &staff).await;
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    let treatment = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body["id"]
        .clone();
    let redeem_path = format!("/v1/deposits/{deposit}/redemptions");
    let refund_path = format!("/v1/deposits/{deposit}/refund");
    let redeem_body = json!({"treatment_id": treatment});
    let refund_body = json!({"reason": "race"});
    let mut attempts = Vec::new();
    for i in 0..10 {
        if i % 2 == 0 {
            attempts.push(app.post(&redeem_path, Some(&staff), &redeem_body));
        } else {
            attempts.push(app.post(&refund_path, Some(&staff), &refund_body));
        }
    }
    let answers = futures_util::future::join_all(attempts).await;
    let summary: Vec<(u16, String)> = answers
        .iter()
        .map(|a| (a.status, a.body["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    let ok = answers
        .iter()
        .filter(|a| a.status == 200 || a.status == 201)
        .count();
    assert_eq!(ok, 1, "{summary:?}");
    assert!(
        answers.iter().all(|a| matches!(a.status, 200 | 201 | 409)),
        "{summary:?}"
    );
    // The stored deposit was settled exactly once, the way the winner said.
    let winner = answers
        .iter()
        .find(|a| a.status == 200 || a.status == 201)
        .unwrap();
    let stored = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(stored.body["status"], winner.body["status"]);
    match stored.body["status"].as_str() {
        Some("redeemed") => {
            assert!(stored.body["redemption"].is_object());
            assert!(stored.body["refund"].is_null());
        }
        Some("refunded") => {
            assert!(stored.body["refund"].is_object());
            assert!(stored.body["redemption"].is_null());
        }
        other => panic!("settled as {other:?}"),
    }
}
