//! Steps most booking tests share: screen, find a slot, book.

use serde_json::{json, Value};

use crate::helpers::{Answer, TestApp};

pub const DOB: &str = "1990-04-12";

pub async fn practitioner_id(app: &TestApp) -> String {
    let list = app.get("/v1/practitioners", None).await;
    list.body["items"][0]["id"]
        .as_str()
        .expect("a seeded practitioner")
        .to_owned()
}

pub async fn screening_token(app: &TestApp, dob: &str) -> String {
    let answer = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": dob,
                "pregnant": false,
                "breastfeeding": false,
                "autoimmune_condition": false,
                "active_infection_at_site": false,
                "other_medical_conditions": false
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["screening_token"].as_str().unwrap().to_owned()
}

pub async fn slots(app: &TestApp, from: &str, to: &str) -> Vec<Value> {
    let answer = app
        .get(&format!("/v1/availability?from={from}&to={to}"), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["slots"].as_array().unwrap().clone()
}

/// The first free slot in the week after the test clock's today.
pub async fn first_slot(app: &TestApp) -> Value {
    let today = app.now().date_naive();
    let to = today + chrono::Duration::days(7);
    slots(app, &today.to_string(), &to.to_string())
        .await
        .into_iter()
        .next()
        .expect("a free slot within a week")
}

pub fn booking_body(slot: &Value, token: &str, email: &str) -> Value {
    json!({
        "client": {
            "full_name": "Alex Morgan",
            "email": email,
            "phone": "+44 7700 900123",
            "date_of_birth": DOB
        },
        "screening_token": token,
        "practitioner_id": slot["practitioner_id"],
        "starts_at": slot["starts_at"],
        "accept_cancellation_policy": true
    })
}

pub async fn book(app: &TestApp, slot: &Value, email: &str, key: Option<&str>) -> Answer {
    let token = screening_token(app, DOB).await;
    app.post("/v1/consultations", key, &booking_body(slot, &token, email))
        .await
}

/// Books the first free slot and returns (consultation id, manage token, answer body).
pub async fn book_first(app: &TestApp) -> (String, String, Value) {
    let slot = first_slot(app).await;
    let answer = book(app, &slot, "alex@example.com", None).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    (
        answer.body["id"].as_str().unwrap().to_owned(),
        answer.body["manage_token"].as_str().unwrap().to_owned(),
        answer.body,
    )
}

/// Staff record the deposit of a booking as paid at the desk.
pub async fn pay_manually(app: &TestApp, booking: &Value, staff: &str) -> Answer {
    let deposit = booking["deposit"]["id"].as_str().unwrap();
    app.post(
        &format!("/v1/deposits/{deposit}/payments"),
        Some(staff),
        &json!({"reference": "desk receipt 1"}),
    )
    .await
}

/// Every stored consultation holding its slot (pending or confirmed), as
/// staff see them, in start order.
pub async fn live_bookings(app: &TestApp, staff: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some("/v1/consultations?status=pending_deposit,confirmed&limit=100".to_owned());
    while let Some(path) = next {
        let page = app.get(&path, Some(staff)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        out.extend(page.body["items"].as_array().unwrap().iter().cloned());
        next = page.body["next"].as_str().map(str::to_owned);
    }
    out
}

/// Moves the clock to the appointment and staff mark it attended (after
/// which its deposit may be redeemed or refunded on its own).
pub async fn attend(app: &TestApp, booking: &Value, staff: &str) {
    let starts: chrono::DateTime<chrono::Utc> =
        booking["starts_at"].as_str().unwrap().parse().unwrap();
    if app.now() < starts {
        app.clock.set(starts + chrono::Duration::minutes(5));
    }
    let id = booking["id"].as_str().unwrap();
    let done = app
        .post(
            &format!("/v1/consultations/{id}/attended"),
            Some(staff),
            &json!({}),
        )
        .await;
    assert_eq!(done.body["status"], "attended", "{}", done.text);
}
