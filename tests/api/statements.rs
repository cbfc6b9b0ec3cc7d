//! The statement budget of the booking path: how many statements (each a
//! round trip to PostgreSQL) one screening and one booking with an
//! `Idempotency-Key` send, counted on the server's own connections. A
//! count, not a timing: it fails when a change adds round trips to the
//! path every booking takes.

use crate::fixtures::{booking_body, first_slot, screening_token, DOB};
use crate::helpers::{spawn_app, TestApp};

/// The most the path may send, per backend; lower it when the path gets
/// leaner. SQLite's count includes the savepoint group commit puts around
/// each request (its `BEGIN` and `COMMIT` are shared by a batch under
/// load). The goal is 12; BENCHMARKS.md says what stands in the way.
const BUDGET_SQLITE: u64 = 26;
const BUDGET_POSTGRES: u64 = 22;

fn sent(app: &TestApp) -> u64 {
    app.app.db.stats().statements
}

/// Statements one screening and one booking send (the slot found before).
async fn screening_and_booking(app: &TestApp, email: &str, key: &str) -> (u64, u64) {
    let slot = first_slot(app).await;
    let before = sent(app);
    let token = screening_token(app, DOB).await;
    let screened = sent(app);
    let req = app
        .client
        .post(app.url("/v1/consultations"))
        .header("Idempotency-Key", key)
        .json(&booking_body(&slot, &token, email));
    let booked = app.send(req).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let after = sent(app);
    // The booking is stored with its deposit, audit and outbox rows.
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let stored = app
        .app
        .db
        .run(move |conn| clinic_api::store::consultations::get(conn, &id))
        .await
        .unwrap();
    assert!(stored.is_some(), "the booking is stored");
    (screened - before, after - screened)
}

#[actix_web::test]
async fn a_screening_and_a_booking_stay_within_the_statement_budget() {
    let app = spawn_app().await;
    // The first booking warms what is loaded once (settings rows, caches).
    screening_and_booking(&app, "first@example.com", "key-warm-up-0001").await;
    let (screening, booking) =
        screening_and_booking(&app, "second@example.com", "key-measured-0002").await;
    println!("statements: screening {screening}, booking {booking}");
    let budget = if app.app.db.url().is_sqlite() {
        BUDGET_SQLITE
    } else {
        BUDGET_POSTGRES
    };
    assert!(
        screening + booking <= budget,
        "a screening and a booking sent {screening} + {booking} statements; the budget is {budget} \
         (RUST_LOG=clinic_api::db::sql=trace lists them)"
    );
}
