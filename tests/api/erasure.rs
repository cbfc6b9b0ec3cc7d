//! Erasure and retention reach every stored copy: after them, no column of
//! any table (on either database) holds the client's name, email, phone,
//! date of birth, or anything they or staff wrote about them.

use chrono::Duration;
use diesel::sql_types::{Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};

use clinic_api::db::DbConnection;
use clinic_api::domain::actor::Role;

use crate::fixtures::*;
use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Cell {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

/// Every (table, column, value) of the database, as text.
fn every_value(conn: &mut DbConnection) -> Vec<(String, String, String)> {
    let (tables_sql, columns_sql): (&str, fn(&str) -> String) = match conn {
        DbConnection::Sqlite(_) => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            |t| format!("SELECT name FROM pragma_table_info('{t}')"),
        ),
        DbConnection::Postgres(_) => (
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
            |t| {
                format!(
                    "SELECT column_name AS name FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = '{t}'"
                )
            },
        ),
    };
    let tables: Vec<Name> = diesel::sql_query(tables_sql).load(conn).unwrap();
    let mut out = Vec::new();
    for t in tables.iter().map(|t| t.name.clone()) {
        let columns: Vec<Name> = diesel::sql_query(columns_sql(&t)).load(conn).unwrap();
        for c in columns.iter().map(|c| c.name.clone()) {
            let cells: Vec<Cell> =
                diesel::sql_query(format!("SELECT CAST(\"{c}\" AS TEXT) AS v FROM \"{t}\""))
                    .load(conn)
                    .unwrap();
            for v in cells.into_iter().filter_map(|c| c.v) {
                out.push((t.clone(), c.clone(), v));
            }
        }
    }
    out
}

/// Where any of `needles` still appears (case-insensitively).
fn traces(app: &TestApp, needles: &[&str]) -> Vec<String> {
    let mut conn = app.app.db.conn().unwrap();
    let all = every_value(&mut conn);
    assert!(
        all.len() > 100,
        "the scan reads the database ({} values)",
        all.len()
    );
    let mut found = Vec::new();
    for (t, c, v) in all {
        let lower = v.to_lowercase();
        for n in needles {
            if lower.contains(&n.to_lowercase()) {
                found.push(format!("{t}.{c} holds {n:?}"));
            }
        }
    }
    found
}

const NAME: &str = "Mallory Quinzel";
const EMAIL: &str = "mallory.quinzel@example.com";
const PHONE: &str = "+44 7700 900777";
const PHONE_E164: &str = "+447700900777";
const BORN: &str = "1987-03-19";
const NOTE: &str = "asymmetry after my jaw surgery";
const REASON: &str = "I have just learnt that I am pregnant";
const STAFF_NOTE: &str = "Treated Mallory's left jaw";

fn body(slot: &Value, token: &str) -> Value {
    json!({
        "client": {"full_name": NAME, "email": EMAIL, "phone": PHONE, "date_of_birth": BORN},
        "screening_token": token,
        "practitioner_id": slot["practitioner_id"],
        "starts_at": slot["starts_at"],
        "notes": NOTE,
        "accept_cancellation_policy": true
    })
}

async fn screen(app: &TestApp) -> String {
    let answer = app
        .post(
            "/v1/screenings",
            None,
            &json!({
                "date_of_birth": BORN, "pregnant": false, "breastfeeding": false,
                "autoimmune_condition": false, "active_infection_at_site": false,
                "other_medical_conditions": true
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["screening_token"].as_str().unwrap().to_owned()
}

/// Books with an Idempotency-Key (so a stored answer exists).
async fn book_keyed(app: &TestApp, slot: &Value, key: &str) -> Value {
    let token = screen(app).await;
    let answer = app
        .send(
            app.client
                .post(app.url("/v1/consultations"))
                .header("Idempotency-Key", key)
                .json(&body(slot, &token)),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body
}

/// A client's whole life at the clinic: two bookings (one moved, cancelled
/// with a reason and refunded; one attended and redeemed with a note),
/// every request with an Idempotency-Key.
async fn a_client_history(app: &TestApp, staff: &str) -> String {
    let slots = slots(app, "2026-12-01", "2026-12-09").await;
    let first = book_keyed(app, &slots[0], "book-1").await;
    let id = first["id"].as_str().unwrap();
    let token = first["manage_token"].as_str().unwrap();
    assert_eq!(pay_manually(app, &first, staff).await.status, 200);
    let moved = app
        .send(
            app.client
                .post(app.url(&format!("/v1/consultations/{id}/reschedule")))
                .bearer_auth(token)
                .header("Idempotency-Key", "move-1")
                .json(&json!({"starts_at": slots[3]["starts_at"]})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let cancelled = app
        .send(
            app.client
                .post(app.url(&format!("/v1/consultations/{id}/cancel")))
                .bearer_auth(token)
                .header("Idempotency-Key", "cancel-1")
                .json(&json!({"reason": REASON})),
        )
        .await;
    assert_eq!(
        cancelled.body["deposit_action"], "refund",
        "{}",
        cancelled.text
    );

    let second = book_keyed(app, &slots[6], "book-2").await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(pay_manually(app, &second, staff).await.status, 200);
    app.clock.set(
        second["starts_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + Duration::minutes(10),
    );
    let attended = app
        .post(
            &format!("/v1/consultations/{second_id}/attended"),
            Some(staff),
            &json!({}),
        )
        .await;
    assert_eq!(attended.body["status"], "attended", "{}", attended.text);
    let treatment = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body["id"]
        .clone();
    let deposit = second["deposit"]["id"].as_str().unwrap();
    let redeemed = app
        .send(
            app.client
                .post(app.url(&format!("/v1/deposits/{deposit}/redemptions")))
                .bearer_auth(staff)
                .header("Idempotency-Key", "redeem-1")
                .json(&json!({"treatment_id": treatment, "note": STAFF_NOTE})),
        )
        .await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.text);
    let found = app.get("/v1/clients?q=quinzel", Some(staff)).await;
    found.body["items"][0]["id"].as_str().unwrap().to_owned()
}

const EVERYTHING: [&str; 8] = [
    NAME, EMAIL, PHONE, PHONE_E164, BORN, NOTE, REASON, STAFF_NOTE,
];

#[tokio::test]
async fn erasure_leaves_no_copy_anywhere() {
    let app = crate::helpers::spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let admin = app.key(Role::Admin).await;
    let client = a_client_history(&app, &staff).await;
    // Before: the data is there (the scan finds what it looks for)…
    let before = traces(&app, &EVERYTHING);
    for n in [NAME, EMAIL, BORN, NOTE, REASON, STAFF_NOTE] {
        assert!(
            before.iter().any(|t| t.contains(&format!("{n:?}"))),
            "{n} stored: {before:?}"
        );
    }
    // …and no stored answer repeats it, nor a manage token, in clear.
    assert!(
        !before.iter().any(|t| t.starts_with("idempotency_keys.")),
        "idempotent answers at rest: {before:?}"
    );
    let erased = app
        .post(
            &format!("/v1/clients/{client}/erasure"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    let after = traces(&app, &EVERYTHING);
    assert!(after.is_empty(), "left after erasure: {after:?}");
    // The financial facts stay.
    let deposits = app
        .get("/v1/deposits?status=refunded,redeemed", Some(&staff))
        .await;
    assert_eq!(deposits.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn retention_reaches_every_copy_of_an_ended_booking_and_its_client() {
    let app = crate::helpers::spawn_app().await;
    let slot = first_slot(&app).await;
    let booked = book_keyed(&app, &slot, "book-r").await;
    let id = booked["id"].as_str().unwrap();
    let cancelled = app
        .send(
            app.client
                .post(app.url(&format!("/v1/consultations/{id}/cancel")))
                .bearer_auth(booked["manage_token"].as_str().unwrap())
                .header("Idempotency-Key", "cancel-r")
                .json(&json!({"reason": REASON})),
        )
        .await;
    assert_eq!(cancelled.status, 200);
    assert!(!traces(&app, &[NAME, EMAIL, REASON]).is_empty());
    // A year and a day later (idempotency records are long gone by then;
    // the booking and the client record go now).
    app.clock.advance(Duration::days(366));
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.ended_bookings_anonymised, 1);
    assert_eq!(report.clients_anonymised, 1);
    let after = traces(&app, &EVERYTHING);
    assert!(after.is_empty(), "left after retention: {after:?}");
}
