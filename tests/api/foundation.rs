//! Health, errors, authentication, the OpenAPI contract and the CLI.

use std::process::Command;

use clinic_api::domain::actor::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, TestDatabase};

#[tokio::test]
async fn health_probes_answer() {
    let app = spawn_app().await;
    let live = app.get("/health/live", None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["status"], "ok");
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, 200);
    assert!(ready.header("x-request-id").is_some());
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = spawn_app().await;
    app.get("/v1/nothing-here", None)
        .await
        .assert_problem(404, "not_found");
    let wrong = app.delete("/v1/treatments", None).await;
    wrong.assert_problem(405, "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn staff_routes_need_a_key_with_the_role() {
    let app = spawn_app().await;
    let body = json!({"ids": [uuid::Uuid::new_v4()]});
    let none = app.post("/v1/faqs/reorder", None, &body).await;
    none.assert_problem(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    let bogus = app
        .post(
            "/v1/faqs/reorder",
            Some("ck_abcdefgh_0123456789012345678901234567890123456789"),
            &body,
        )
        .await;
    bogus.assert_problem(401, "unauthorized");

    let partner = app.key(Role::Partner).await;
    app.post("/v1/faqs/reorder", Some(&partner), &body)
        .await
        .assert_problem(403, "forbidden");

    let staff = app.key(Role::Staff).await;
    // Authenticated and allowed: the body is now what is judged.
    app.post("/v1/faqs/reorder", Some(&staff), &body)
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn revoked_keys_stop_working_at_once() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let path = "/v1/treatments?include_archived=true";
    assert_eq!(app.get(path, Some(&staff)).await.status, 200);
    let prefix = staff[..11].to_owned();
    let revoked = clinic_api::app::api_keys::revoke(&app.app, &prefix)
        .await
        .unwrap();
    assert!(revoked);
    app.get(path, Some(&staff))
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn bad_bodies_are_problems_and_change_nothing() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let before = app.get("/v1/faqs?limit=100", Some(&staff)).await.body;

    let malformed = app
        .send(
            app.client
                .post(app.url("/v1/faqs"))
                .bearer_auth(&staff)
                .header("content-type", "application/json")
                .body("{\"question\": "),
        )
        .await;
    malformed.assert_problem(400, "malformed_json");

    let missing = app.post("/v1/faqs", Some(&staff), &json!({})).await;
    missing.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = missing.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["question", "answer", "topic"] {
        assert!(fields.contains(&f), "{fields:?}");
    }

    let unknown = app
        .post(
            "/v1/faqs",
            Some(&staff),
            &json!({"question": "q", "answer": "a", "topic": "booking", "id": "x"}),
        )
        .await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(unknown.body["errors"][0]["field"], "id");
    assert_eq!(unknown.body["errors"][0]["code"], "unknown_field");

    let not_json = app
        .send(
            app.client
                .post(app.url("/v1/faqs"))
                .bearer_auth(&staff)
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    not_json.assert_problem(415, "unsupported_media_type");

    let huge = "x".repeat(70_000);
    let too_big = app
        .post(
            "/v1/faqs",
            Some(&staff),
            &json!({"question": huge, "answer": "a", "topic": "booking"}),
        )
        .await;
    too_big.assert_problem(413, "payload_too_large");

    let bad_query = app.get("/v1/faqs?limit=abc", None).await;
    bad_query.assert_problem(422, "validation_failed");

    let after = app.get("/v1/faqs?limit=100", Some(&staff)).await.body;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let generated = clinic_api::api::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`"
    );

    let app = spawn_app().await;
    let served = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(served.status, 200);
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(served.body, committed);
}

#[tokio::test]
async fn every_operation_is_documented_completely() {
    let doc: serde_json::Value = serde_json::from_str(&clinic_api::api::openapi_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id}: tags"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: summary"
            );
            assert!(op.get("security").is_some(), "{id}: security");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{id}: 500");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{id}: a success response"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_offline() {
    let app = spawn_app().await;
    let page = app.get("/swagger-ui/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("swagger-ui"),
        "{}",
        &page.text[..200.min(page.text.len())]
    );
    let init = app.get("/swagger-ui/swagger-initializer.js", None).await;
    assert!(init.text.contains("/api-docs/openapi.json"));
}

#[tokio::test]
async fn seed_content_loads_once_and_can_be_turned_off() {
    let app = spawn_app().await;
    let faqs = app.get("/v1/faqs?limit=100", None).await;
    let n = faqs.body["items"].as_array().unwrap().len();
    assert!(n >= 12, "{n} FAQ entries");
    // A second start on the same database adds nothing.
    assert!(!clinic_api::seed::load_if_empty(&app.app).await.unwrap());
    let again = app.get("/v1/faqs?limit=100", None).await;
    assert_eq!(again.body["items"].as_array().unwrap().len(), n);

    let off = spawn_app_with(|s| s.seed_content = false).await;
    let treatments = off.get("/v1/treatments", None).await;
    assert_eq!(treatments.body["items"], json!([]));
}

#[tokio::test]
async fn requests_carry_a_request_id() {
    let app = spawn_app().await;
    let echoed = app
        .send(
            app.client
                .get(app.url("/health/live"))
                .header("x-request-id", "abc-123"),
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));
    let made = app
        .send(
            app.client
                .get(app.url("/health/live"))
                .header("x-request-id", "bad id with spaces"),
        )
        .await;
    assert_ne!(made.header("x-request-id"), Some("bad id with spaces"));
    let m = app.request(Method::GET, "/v1/treatments", None, None).await;
    assert_eq!(m.header("x-content-type-options"), Some("nosniff"));
}

fn cli(db: &TestDatabase, args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
    let url = match &db.url {
        clinic_api::db::DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        clinic_api::db::DatabaseUrl::Postgres(u) => u.clone(),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinic-api"));
    cmd.args(args)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the binary")
}

#[tokio::test]
async fn cli_creates_and_revokes_keys() {
    let db = TestDatabase::create();
    assert!(cli(&db, &["migrate"], &[]).status.success());
    let created = cli(
        &db,
        &[
            "api-key",
            "create",
            "--role",
            "staff",
            "--name",
            "Front desk",
        ],
        &[],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8(created.stdout).unwrap();
    let key = key.trim();
    assert!(
        key.starts_with("ck_") && !key.contains(char::is_whitespace),
        "only the key on stdout: {key:?}"
    );

    let listed = cli(&db, &["api-key", "list"], &[]);
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(listing.contains("Front desk") && !listing.contains(key));

    let revoked = cli(&db, &["api-key", "revoke", &key[..11]], &[]);
    assert!(revoked.status.success());
    let again = cli(&db, &["api-key", "revoke", &key[..11]], &[]);
    assert!(!again.status.success());

    let bad_role = cli(
        &db,
        &["api-key", "create", "--role", "owner", "--name", "x"],
        &[],
    );
    assert!(!bad_role.status.success());
}

#[tokio::test]
async fn bad_configuration_stops_with_one_line() {
    let db = TestDatabase::create();
    for (name, value) in [
        ("BIND_ADDR", "not-an-address"),
        ("CLINIC_TIMEZONE", "Europe/Atlantis"),
        ("DATABASE_URL", "mysql://root:hunter2@localhost/x"),
        ("LOG_FORMAT", "yaml"),
    ] {
        let out = cli(&db, &["migrate"], &[(name, value)]);
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(name), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    let unreachable = cli(
        &db,
        &["migrate"],
        &[("DATABASE_URL", "postgres://app:s3cret@127.0.0.1:1/none")],
    );
    assert!(!unreachable.status.success());
    let stderr = String::from_utf8(unreachable.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres://app:***@127.0.0.1:1/none"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_openapi_subcommand_prints_the_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_clinic-api"))
        .arg("openapi")
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        clinic_api::api::openapi_json()
    );
}

#[tokio::test]
async fn the_healthcheck_subcommand_asks_the_server() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let run = |addr: String| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_clinic-api"))
                .arg("healthcheck")
                .env_clear()
                .env("BIND_ADDR", addr)
                .output()
                .unwrap()
        })
    };
    assert!(run(format!("0.0.0.0:{port}"))
        .await
        .unwrap()
        .status
        .success());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert!(!run(format!("127.0.0.1:{closed_port}"))
        .await
        .unwrap()
        .status
        .success());
}
