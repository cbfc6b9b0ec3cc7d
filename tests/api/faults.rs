//! Database faults under the running server: what a client sees while the
//! database is lost, stalled or full, and that the service recovers by
//! itself.
//!
//! - PostgreSQL restarts and stalls use a throwaway cluster that the test
//!   starts on a spare port (`pg_cluster`), never the shared server; they
//!   run on every pass of the suite, whatever `TEST_DATABASE_URL` says. A
//!   stall is the whole server frozen with SIGSTOP (nothing answers, yet
//!   every connection stays open — the hardest case, where only this side's
//!   deadline helps), or a table lock held by another session (where the
//!   server's `lock_timeout` does).
//! - SQLite's stall is its write lock held by another connection.
//! - A full disk on SQLite is made with SQLite's own cap on the database
//!   size (`max_page_count`, through `SQLITE_MAX_SIZE_MB`): mounting a tiny
//!   file system needs privileges a CI container may not have, and SQLite
//!   fails a write past its cap with the very error of a full disk
//!   (SQLITE_FULL, "database or disk is full"), so the server takes the
//!   same path. Space is freed by deleting the filler, without a restart.
//!
//! A fault that cannot be made here fails its test with a message; none is
//! skipped. Timings are printed (`--nocapture`) and only checked against
//! the configured bounds, with slack for a busy machine.

use std::time::{Duration, Instant};

use clinic_api::db::DatabaseUrl;
use clinic_api::domain::actor::Role;
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixtures::{booking_body, slots, DOB};
use crate::helpers::{spawn_app_on, spawn_app_with, Answer, TestApp};
use crate::pg_cluster::Cluster;

/// Slack on top of a configured bound, for a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(2);

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn pg_count(url: &str, table: &str) -> i64 {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

fn sqlite_count(path: &std::path::Path, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut sqlite(path))
        .unwrap()
        .n
}

async fn timed(f: impl std::future::Future<Output = Answer>) -> (Answer, Duration) {
    let t = Instant::now();
    let a = f.await;
    (a, t.elapsed())
}

pub fn screening() -> Value {
    json!({
        "date_of_birth": DOB,
        "pregnant": false,
        "breastfeeding": false,
        "autoimmune_condition": false,
        "active_infection_at_site": false,
        "other_medical_conditions": false
    })
}

/// Free slots over the next fortnight.
async fn fortnight(app: &TestApp) -> Vec<Value> {
    let today = app.now().date_naive();
    slots(
        app,
        &today.to_string(),
        &(today + chrono::Duration::days(14)).to_string(),
    )
    .await
}

/// One client's visit: screen, book `slot`, read the booking back as staff.
/// Every answer, in order.
async fn visit(app: &TestApp, staff: &str, slot: &Value, n: usize) -> Vec<Answer> {
    let mut answers = Vec::new();
    let screened = app.post("/v1/screenings", None, &screening()).await;
    let token = screened.body["screening_token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    answers.push(screened);
    if token.is_empty() {
        return answers;
    }
    let email = format!("client{n}@example.com");
    let booked = app
        .post(
            "/v1/consultations",
            None,
            &booking_body(slot, &token, &email),
        )
        .await;
    let id = booked.body["id"].as_str().unwrap_or("").to_owned();
    answers.push(booked);
    if !id.is_empty() {
        answers.push(
            app.get(&format!("/v1/consultations/{id}"), Some(staff))
                .await,
        );
    }
    answers
}

/// Visits on `slots` at once; every answer.
async fn visits(app: &TestApp, staff: &str, slots: &[Value], first: usize) -> Vec<Answer> {
    futures_util::future::join_all(
        slots
            .iter()
            .enumerate()
            .map(|(i, s)| visit(app, staff, s, first + i)),
    )
    .await
    .into_iter()
    .flatten()
    .collect()
}

fn failures(answers: &[Answer]) -> Vec<String> {
    answers
        .iter()
        .filter(|a| !(200..300).contains(&a.status))
        .map(|a| format!("{} {}", a.status, a.text))
        .collect()
}

/// A 503 problem with `Retry-After` and one of `codes`.
#[track_caller]
fn assert_retryable(a: &Answer, codes: &[&str]) {
    assert_eq!(a.status, 503, "{}", a.text);
    assert!(a.header("retry-after").is_some(), "{}", a.text);
    let code = a.body["code"].as_str().unwrap_or("");
    assert!(codes.contains(&code), "{code}: {}", a.text);
}

#[tokio::test]
async fn a_postgresql_restart_fails_no_request_once_it_is_back() {
    let cluster = Cluster::start();
    let app = spawn_app_on(DatabaseUrl::parse(&cluster.url()).unwrap(), |s| {
        s.database_pool_size = 4;
        s.database_checkout_timeout = Duration::from_millis(1000);
    })
    .await;
    let staff = app.key(Role::Staff).await;
    let slots = fortnight(&app).await;
    assert!(slots.len() >= 40, "{} free slots", slots.len());

    // Every pooled connection in use at least once.
    let warm = visits(&app, &staff, &slots[0..8], 0).await;
    assert_eq!(failures(&warm), Vec::<String>::new());
    let mut booked = 8;
    for cycle in 0..3 {
        cluster.stop_server();
        // The first moments of the outage: 503 with Retry-After, never 500.
        let started = Instant::now();
        let outage = futures_util::future::join_all([
            app.post("/v1/screenings", None, &screening()),
            app.post("/v1/screenings", None, &screening()),
        ])
        .await;
        let during = started.elapsed();
        for a in &outage {
            assert_retryable(a, &["database_unavailable", "database_timeout"]);
        }
        cluster.start_server();
        assert!(cluster.answers(), "the cluster answers psql again");

        // Back: every request succeeds, though every pooled connection died.
        let started = Instant::now();
        let range = &slots[booked..booked + 8];
        let after = visits(&app, &staff, range, booked).await;
        let took = started.elapsed();
        assert_eq!(
            failures(&after),
            Vec::<String>::new(),
            "cycle {cycle}: requests failed after the database was back"
        );
        booked += 8;
        eprintln!(
            "restart cycle {cycle}: outage answers {:?} after {during:?}; after restart {} requests, 0 failed, in {took:?}; {:?}",
            outage.iter().map(|a| a.status).collect::<Vec<_>>(),
            after.len(),
            app.app.db.stats()
        );
    }
    // What was answered 201 is stored.
    assert_eq!(pg_count(&cluster.url(), "consultations"), booked as i64);
    assert!(
        app.app.db.stats().broken_discarded >= 4,
        "the dead connections were found and dropped: {:?}",
        app.app.db.stats()
    );
}

#[tokio::test]
async fn a_frozen_postgresql_gives_503_within_the_bound_and_commits_nothing() {
    let cluster = Cluster::start();
    let app = spawn_app_on(DatabaseUrl::parse(&cluster.url()).unwrap(), |s| {
        s.database_pool_size = 4;
        s.database_checkout_timeout = Duration::from_millis(500);
        s.database_limits.statement_timeout = Duration::from_millis(1000);
        s.database_limits.lock_timeout = Duration::from_millis(500);
    })
    .await;
    let bound = app.app.settings.db_options().run_bound();
    let staff = app.key(Role::Staff).await;
    let body = booking_request(&app, "frozen@example.com").await;
    let before = pg_count(&cluster.url(), "consultations");

    cluster.freeze();
    let started = Instant::now();
    let (booking, read, ready) = tokio::join!(
        timed(app.post("/v1/consultations", None, &body)),
        timed(app.get("/v1/consultations?limit=5", Some(&staff))),
        timed(app.get("/health/ready", None)),
    );
    // Keep it frozen past the deadline, so the stuck work must notice it.
    tokio::time::sleep((bound + Duration::from_millis(500)).saturating_sub(started.elapsed()))
        .await;
    cluster.thaw();

    for (what, (a, took)) in [("booking", &booking), ("read", &read)] {
        assert_retryable(a, &["database_timeout", "database_unavailable"]);
        assert!(
            *took <= bound + SLACK,
            "{what} answered after {took:?}, bound {bound:?}"
        );
    }
    assert_retryable(&ready.0, &["not_ready"]);
    assert!(
        ready.1 < Duration::from_millis(800) + SLACK,
        "readiness took {:?}",
        ready.1
    );
    eprintln!(
        "frozen PostgreSQL: booking {} {:?}, read {} {:?}, ready {} {:?} (bound {bound:?}); {:?}",
        booking.0.status,
        booking.1,
        read.0.status,
        read.1,
        ready.0.status,
        ready.1,
        app.app.db.stats()
    );

    // Thawed: the stuck work rolled back, and the same request succeeds.
    let retried = app.post("/v1/consultations", None, &body).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
    assert_eq!(pg_count(&cluster.url(), "consultations"), before + 1);
}

#[tokio::test]
async fn a_lock_held_elsewhere_on_postgresql_gives_503_and_rolls_the_booking_back() {
    let cluster = Cluster::start();
    let app = spawn_app_on(DatabaseUrl::parse(&cluster.url()).unwrap(), |s| {
        s.database_limits.lock_timeout = Duration::from_millis(500);
    })
    .await;
    let locker = || {
        let mut c = diesel::PgConnection::establish(&cluster.url()).unwrap();
        c.batch_execute("BEGIN; LOCK TABLE slot_claims IN ACCESS EXCLUSIVE MODE;")
            .unwrap();
        c
    };
    book_while_locked(&app, "PostgreSQL", &["database_timeout"], locker).await;
    assert_eq!(pg_count(&cluster.url(), "consultations"), 1);
}

/// A booking request for the first free slot, with a fresh screening token.
async fn booking_request(app: &TestApp, email: &str) -> Value {
    let slot = fortnight(app).await.remove(0);
    let token = app.post("/v1/screenings", None, &screening()).await.body["screening_token"]
        .as_str()
        .unwrap()
        .to_owned();
    booking_body(&slot, &token, email)
}

/// Books while another connection (from `lock`) holds a lock for longer
/// than the lock timeout: a retryable 503 within the bound; then, the lock
/// released, the very same request (its single-use screening token
/// included) books — the refused attempt was rolled back whole.
async fn book_while_locked<C: SimpleConnection>(
    app: &TestApp,
    backend: &str,
    codes: &[&str],
    lock: impl FnOnce() -> C,
) {
    let body = booking_request(app, "locked@example.com").await;
    let mut locker = lock();
    let started = Instant::now();
    let refused = app.post("/v1/consultations", None, &body).await;
    let took = started.elapsed();
    locker.batch_execute("ROLLBACK").unwrap();
    assert_retryable(&refused, codes);
    assert!(took < Duration::from_millis(500) + SLACK, "{took:?}");
    eprintln!(
        "{backend}: lock held elsewhere: {} after {took:?}",
        refused.status
    );
    let booked = app.post("/v1/consultations", None, &body).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
}

fn sqlite_path(app: &TestApp) -> std::path::PathBuf {
    match app.app.db.url() {
        DatabaseUrl::Sqlite(p) => p.clone(),
        other => panic!("an SQLite test on {other:?}"),
    }
}

fn sqlite(path: &std::path::Path) -> diesel::SqliteConnection {
    let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    c.batch_execute("PRAGMA busy_timeout = 5000;").unwrap();
    c
}

fn temp_sqlite() -> (tempfile::TempDir, DatabaseUrl) {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("clinic.db"));
    (dir, url)
}

#[tokio::test]
async fn sqlites_write_lock_held_elsewhere_gives_503_and_rolls_the_booking_back() {
    let (_dir, url) = temp_sqlite();
    let app = spawn_app_on(url, |s| {
        s.database_limits.lock_timeout = Duration::from_millis(500);
    })
    .await;
    let path = sqlite_path(&app);
    let locker = || {
        let mut c = sqlite(&path);
        c.batch_execute("BEGIN IMMEDIATE;").unwrap();
        c
    };
    book_while_locked(
        &app,
        "SQLite",
        &["database_busy", "database_timeout"],
        locker,
    )
    .await;
    assert_eq!(sqlite_count(&path, "consultations"), 1);
}

#[tokio::test]
async fn a_full_sqlite_database_answers_storage_full_and_recovers_when_space_is_freed() {
    const CAP: u64 = 2 << 20;
    let (_dir, url) = temp_sqlite();
    let app = spawn_app_on(url, |s| s.database_limits.sqlite_max_bytes = Some(CAP)).await;
    let staff = app.key(Role::Staff).await;
    let slots = fortnight(&app).await;
    assert_eq!(app.get("/health/ready", None).await.status, 200);

    // Fill the file up to the cap from another connection.
    let path = sqlite_path(&app);
    let mut filler = sqlite(&path);
    filler
        .batch_execute(&format!(
            "PRAGMA max_page_count = {}; CREATE TABLE filler (b BLOB NOT NULL);",
            CAP / 4096
        ))
        .unwrap();
    let mut rows = 0;
    loop {
        match filler.batch_execute("INSERT INTO filler (b) VALUES (zeroblob(16384))") {
            Ok(()) => rows += 1,
            Err(e) => {
                assert!(e.to_string().contains("full"), "{e}");
                break;
            }
        }
        assert!(rows < 10_000, "the cap never bit");
    }
    // Fill the last pages too.
    while filler
        .batch_execute("INSERT INTO filler (b) VALUES (zeroblob(512))")
        .is_ok()
    {}

    // Bookings now fail as retryable problems, never a 500; none stored
    // that was not answered 201.
    let mut created = 0;
    let mut full = None;
    for (i, slot) in slots.iter().take(20).enumerate() {
        let answers = visit(&app, &staff, slot, i).await;
        for a in &answers {
            if a.status == 503 {
                assert_retryable(a, &["storage_full"]);
                full = Some(a.text.clone());
            } else {
                assert!((200..300).contains(&a.status), "{} {}", a.status, a.text);
            }
        }
        created += answers
            .iter()
            .filter(|a| a.status == 201 && a.body["manage_token"].is_string())
            .count();
        if full.is_some() {
            break;
        }
    }
    let full = full.expect("a write failed for lack of space");
    eprintln!("full SQLite: {created} bookings fitted, then {full}");
    assert_retryable(&app.get("/health/ready", None).await, &["not_ready"]);
    assert_eq!(
        app.get("/v1/treatments", None).await.status,
        200,
        "reads go on"
    );

    // Space freed: ready again and booking again, without a restart.
    filler.batch_execute("DELETE FROM filler").unwrap();
    assert_eq!(app.get("/health/ready", None).await.status, 200);
    let answers = visit(&app, &staff, &slots[30], 99).await;
    assert_eq!(failures(&answers), Vec::<String>::new());
    assert_eq!(sqlite_count(&path, "consultations"), created as i64 + 1);
}

/// Sends a request head with a body that never (fully) arrives; returns
/// what the server answered and whether it then closed the connection,
/// within `wait`.
async fn half_sent_body(port: u16, trickle: bool, wait: Duration) -> (String, bool) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        b"POST /v1/screenings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"date_of_birth\": ",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        let step = if trickle {
            Duration::from_millis(200)
        } else {
            left
        };
        match tokio::time::timeout(step, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {
                if trickle {
                    // One more byte, as a slow client would.
                    if s.write_all(b" ").await.is_err() {
                        return (String::from_utf8_lossy(&got).into_owned(), true);
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn half_sent_bodies_are_timed_out_and_their_connections_closed() {
    let app = spawn_app_with(|s| s.client_body_timeout = Duration::from_millis(1000)).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let started = Instant::now();
    let sockets = (0..20).map(|i| half_sent_body(port, i % 2 == 0, Duration::from_secs(10)));
    let (results, live) = tokio::join!(futures_util::future::join_all(sockets), async {
        // Meanwhile a well-behaved client is served.
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.get("/health/live", None).await.status
    });
    let took = started.elapsed();
    assert_eq!(live, 200);
    for (i, (answer, closed)) in results.iter().enumerate() {
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "socket {i} (trickling: {}): {answer:?}",
            i % 2 == 0
        );
        assert!(answer.contains("body_timeout"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
        assert!(closed, "socket {i} was left open: {answer:?}");
    }
    eprintln!("20 half-sent bodies (10 trickling, 10 idle): all 408 and closed within {took:?}");
}
