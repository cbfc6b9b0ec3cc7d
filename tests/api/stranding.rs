//! The diary never strands a booking silently: opening hours and closures
//! that would leave live bookings outside it are refused unless the request
//! says what to do with them; credit from a lost slot can be rebooked or
//! refunded; a deposit is settled on its own only once its booking is over.

use serde_json::{json, Value};

use clinic_api::domain::actor::Role;

use crate::fixtures::*;
use crate::helpers::{spawn_app, TestApp};

/// Two bookings on Tuesday 1 December (one confirmed, one held) and the
/// practitioner.
async fn a_tuesday(app: &TestApp, staff: &str) -> (Value, Value, String) {
    let free = slots(app, "2026-12-01", "2026-12-01").await;
    let confirmed = book(app, &free[0], "paid@example.com", None).await.body;
    assert_eq!(pay_manually(app, &confirmed, staff).await.status, 200);
    let held = book(app, &free[2], "held@example.com", None).await.body;
    let practitioner = free[0]["practitioner_id"].as_str().unwrap().to_owned();
    (confirmed, held, practitioner)
}

async fn stored(app: &TestApp, staff: &str, booking: &Value) -> Value {
    app.get(
        &format!("/v1/consultations/{}", booking["id"].as_str().unwrap()),
        Some(staff),
    )
    .await
    .body
}

#[tokio::test]
async fn new_hours_that_would_strand_bookings_are_refused_previewed_kept_or_cancelled() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (confirmed, held, practitioner) = a_tuesday(&app, &staff).await;
    let path = format!("/v1/practitioners/{practitioner}/opening-hours");
    let wednesdays_only =
        json!({"windows": [{"weekday": "wednesday", "opens": "09:00", "closes": "17:00"}]});
    let before = app
        .get(&format!("/v1/practitioners/{practitioner}"), None)
        .await
        .body["opening_hours"]
        .clone();

    // Refused, listing both bookings; nothing changed.
    let refused = app.put(&path, Some(&staff), &wednesdays_only).await;
    refused.assert_problem(409, "bookings_stranded");
    let listed: Vec<&str> = refused.body["stranded_bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["consultation_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![
            confirmed["id"].as_str().unwrap(),
            held["id"].as_str().unwrap()
        ]
    );
    let after = app
        .get(&format!("/v1/practitioners/{practitioner}"), None)
        .await
        .body["opening_hours"]
        .clone();
    assert_eq!(after, before);

    // A dry run shows the same and changes nothing.
    let mut preview = wednesdays_only.clone();
    preview["dry_run"] = json!(true);
    let shown = app.put(&path, Some(&staff), &preview).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["dry_run"], true);
    assert_eq!(shown.body["stranded_bookings"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get(&format!("/v1/practitioners/{practitioner}"), None)
            .await
            .body["opening_hours"],
        before
    );

    // Kept: the hours change, the bookings stay as exceptions.
    let mut keep = wednesdays_only.clone();
    keep["on_stranded_bookings"] = json!("keep");
    let kept = app.put(&path, Some(&staff), &keep).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.body["on_stranded_bookings"], "keep");
    assert_eq!(
        stored(&app, &staff, &confirmed).await["status"],
        "confirmed"
    );
    assert_eq!(
        stored(&app, &staff, &held).await["status"],
        "pending_deposit"
    );

    // Back to Tuesdays, then cancelled: the paid deposit is refunded, the
    // unpaid one released, the bookings cancelled by the clinic.
    app.put(
        &path,
        Some(&staff),
        &json!({"windows": [{"weekday": "tuesday", "opens": "09:00", "closes": "17:00"}]}),
    )
    .await;
    let mut cancel = wednesdays_only.clone();
    cancel["on_stranded_bookings"] = json!("cancel");
    let cancelled = app.put(&path, Some(&staff), &cancel).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let paid = stored(&app, &staff, &confirmed).await;
    assert_eq!(paid["status"], "cancelled");
    assert_eq!(paid["cancelled_by"], "clinic");
    assert_eq!(paid["deposit"]["status"], "refunded");
    let unpaid = stored(&app, &staff, &held).await;
    assert_eq!(unpaid["status"], "cancelled");
    assert_eq!(unpaid["deposit"]["status"], "cancelled");
}

#[tokio::test]
async fn a_closure_over_live_bookings_is_refused_unless_told_what_to_do() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (confirmed, held, _) = a_tuesday(&app, &staff).await;
    let closure = json!({"from_date": "2026-12-01", "to_date": "2026-12-01", "reason": "Training"});
    let refused = app.post("/v1/closures", Some(&staff), &closure).await;
    refused.assert_problem(409, "bookings_stranded");
    assert_eq!(
        refused.body["stranded_bookings"].as_array().unwrap().len(),
        2
    );
    let none = app
        .get("/v1/closures?from=2026-12-01&to=2026-12-02", Some(&staff))
        .await;
    assert_eq!(none.body["items"], json!([]), "no closure was made");

    let mut preview = closure.clone();
    preview["dry_run"] = json!(true);
    let shown = app.post("/v1/closures", Some(&staff), &preview).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["stranded_bookings"].as_array().unwrap().len(), 2);

    let mut cancel = closure.clone();
    cancel["on_stranded_bookings"] = json!("cancel");
    let made = app.post("/v1/closures", Some(&staff), &cancel).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.body["stranded_bookings"].as_array().unwrap().len(), 2);
    assert_eq!(
        stored(&app, &staff, &confirmed).await["deposit"]["status"],
        "refunded"
    );
    assert_eq!(stored(&app, &staff, &held).await["status"], "cancelled");
    // A closure elsewhere strands nothing and needs no say.
    let quiet = app
        .post(
            "/v1/closures",
            Some(&staff),
            &json!({"from_date": "2026-12-24", "to_date": "2026-12-24", "reason": "Christmas Eve"}),
        )
        .await;
    assert_eq!(quiet.status, 201, "{}", quiet.text);
}

#[tokio::test]
async fn credit_from_a_lost_slot_can_be_rebooked_or_refunded() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let free = slots(&app, "2026-12-01", "2026-12-01").await;
    // Slow payer: the hold lapses, someone else takes the slot, then the
    // desk records the payment.
    let slow = book(&app, &free[0], "slow@example.com", None).await.body;
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        book(&app, &free[0], "fast@example.com", None).await.status,
        201
    );
    assert_eq!(pay_manually(&app, &slow, &staff).await.status, 200);
    let token = slow["manage_token"].as_str().unwrap();
    let id = slow["id"].as_str().unwrap();
    let lost = app
        .get(&format!("/v1/consultations/{id}"), Some(token))
        .await;
    assert_eq!(lost.body["status"], "expired");
    assert_eq!(lost.body["end_reason"], "paid_after_hold_lapsed_slot_taken");
    assert_eq!(lost.body["deposit"]["status"], "paid");
    // The client rebooks any free slot with the same manage token.
    let next = slots(&app, "2026-12-02", "2026-12-02").await[0].clone();
    let rebooked = app
        .post(
            &format!("/v1/consultations/{id}/reschedule"),
            Some(token),
            &json!({"starts_at": next["starts_at"]}),
        )
        .await;
    assert_eq!(rebooked.status, 200, "{}", rebooked.text);
    assert_eq!(rebooked.body["status"], "confirmed");
    assert_eq!(rebooked.body["starts_at"], next["starts_at"]);
    assert_eq!(rebooked.body["deposit"]["status"], "paid");
    assert!(rebooked.body["end_reason"].is_null());

    // Or, the alternative: another lost slot, cancelled for the refund.
    let free = slots(&app, "2026-12-03", "2026-12-03").await;
    let other = book(&app, &free[0], "other-slow@example.com", None)
        .await
        .body;
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        book(&app, &free[0], "other-fast@example.com", None)
            .await
            .status,
        201
    );
    assert_eq!(pay_manually(&app, &other, &staff).await.status, 200);
    let refunded = app
        .post(
            &format!("/v1/consultations/{}/cancel", other["id"].as_str().unwrap()),
            Some(other["manage_token"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(refunded.status, 200, "{}", refunded.text);
    assert_eq!(refunded.body["deposit_action"], "refund");
    assert_eq!(
        refunded.body["consultation"]["deposit"]["status"],
        "refunded"
    );
    // An expired booking that was never paid stays expired.
    let never = book(
        &app,
        &slots(&app, "2026-12-04", "2026-12-04").await[0],
        "never@example.com",
        None,
    )
    .await
    .body;
    app.clock.advance(chrono::Duration::minutes(16));
    app.post(
        &format!("/v1/consultations/{}/cancel", never["id"].as_str().unwrap()),
        Some(never["manage_token"].as_str().unwrap()),
        &json!({}),
    )
    .await
    .assert_problem(410, "hold_expired");
}

#[tokio::test]
async fn a_live_bookings_deposit_is_not_settled_on_its_own() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let (_, _, booking) = book_first(&app).await;
    assert_eq!(pay_manually(&app, &booking, &staff).await.status, 200);
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    let treatment = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body["id"]
        .clone();
    app.post(
        &format!("/v1/deposits/{deposit}/redemptions"),
        Some(&staff),
        &json!({"treatment_id": treatment}),
    )
    .await
    .assert_problem(409, "consultation_not_attended");
    app.post(
        &format!("/v1/deposits/{deposit}/refund"),
        Some(&staff),
        &json!({"reason": "Goodwill"}),
    )
    .await
    .assert_problem(409, "booking_live");
    let still = app
        .get(&format!("/v1/deposits/{deposit}"), Some(&staff))
        .await;
    assert_eq!(still.body["status"], "paid");
    // Once attended, it is redeemed against the treatment.
    attend(&app, &booking, &staff).await;
    let redeemed = app
        .post(
            &format!("/v1/deposits/{deposit}/redemptions"),
            Some(&staff),
            &json!({"treatment_id": treatment}),
        )
        .await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.text);
    assert_eq!(redeemed.body["status"], "redeemed");
}
