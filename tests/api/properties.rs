//! Property tests against the running server: arbitrary JSON (and valid
//! bodies with one field mangled) sent to every write route gets a 2xx or a
//! 4xx problem document — never a 5xx, a panic or a dropped connection.

use clinic_api::domain::actor::Role;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

use crate::fixtures::*;
use crate::helpers::{spawn_app, TestApp};

/// Field names the API knows, so generated objects hit real decoders.
const FIELDS: &[&str] = &[
    "date_of_birth",
    "pregnant",
    "breastfeeding",
    "autoimmune_condition",
    "active_infection_at_site",
    "other_medical_conditions",
    "appointment_date",
    "client",
    "full_name",
    "email",
    "phone",
    "screening_token",
    "practitioner_id",
    "starts_at",
    "ends_at",
    "treatment_id",
    "notes",
    "accept_cancellation_policy",
    "dry_run",
    "reason",
    "slug",
    "name",
    "summary",
    "description",
    "injectables",
    "session_minutes",
    "min",
    "max",
    "effect_duration",
    "results_onset",
    "anaesthetic",
    "side_effects",
    "contraindications",
    "from_price",
    "amount",
    "currency",
    "question",
    "answer",
    "topic",
    "treatment_slug",
    "position",
    "published",
    "ids",
    "title",
    "active",
    "windows",
    "weekday",
    "opens",
    "closes",
    "from_date",
    "to_date",
    "reference",
    "note",
    "url",
    "event_types",
    "status",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Value::from),
        "[0-9+]{4,7}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z".prop_map(Value::from),
        Just(json!("00000000-0000-0000-0000-000000000000")),
        Just(json!("\u{0}")),
        Just(json!(i64::MAX)),
        Just(json!(-1)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A valid body with one field replaced, removed, or a stranger added.
fn mangled(valid: Value) -> impl Strategy<Value = Value> {
    let keys: Vec<String> = valid
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    (prop::sample::select(keys), value(), 0..3u8).prop_map(move |(key, v, how)| {
        let mut body = valid.clone();
        let map = body.as_object_mut().expect("an object");
        match how {
            0 => {
                map.insert(key, v);
            }
            1 => {
                map.remove(&key);
            }
            _ => {
                map.insert("unexpected_field".into(), v);
            }
        }
        body
    })
}

fn body() -> impl Strategy<Value = Value> {
    prop_oneof![value(), value().prop_map(|v| json!({ "client": v }))]
}

struct Route {
    method: reqwest::Method,
    path: String,
    token: Option<String>,
    valid: Value,
}

async fn routes(app: &TestApp) -> Vec<Route> {
    let staff = app.key(Role::Staff).await;
    let (cid, token, booking) = book_first(app).await;
    let deposit = booking["deposit"]["id"].as_str().unwrap().to_owned();
    let pid = practitioner_id(app).await;
    let slot = first_slot(app).await;
    let faq = app.get("/v1/faqs?limit=1", None).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let treatment = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body;
    let mut treatment_input = treatment.clone();
    for f in ["id", "minimum_age", "created_at", "updated_at"] {
        treatment_input.as_object_mut().unwrap().remove(f);
    }
    let screening = json!({
        "date_of_birth": DOB, "pregnant": false, "breastfeeding": false,
        "autoimmune_condition": false, "active_infection_at_site": false, "other_medical_conditions": false
    });
    let s = |m: reqwest::Method, path: String, token: Option<&str>, valid: Value| Route {
        method: m,
        path,
        token: token.map(str::to_owned),
        valid,
    };
    use reqwest::Method as M;
    vec![
        s(M::POST, "/v1/screenings".into(), None, screening),
        s(
            M::POST,
            "/v1/consultations".into(),
            None,
            booking_body(&slot, "st_x", "p@example.com"),
        ),
        s(
            M::POST,
            format!("/v1/consultations/{cid}/cancel"),
            Some(&token),
            json!({"dry_run": true}),
        ),
        s(
            M::POST,
            format!("/v1/consultations/{cid}/reschedule"),
            Some(&token),
            json!({"starts_at": slot["starts_at"]}),
        ),
        s(
            M::POST,
            "/v1/treatments".into(),
            Some(&staff),
            treatment_input.clone(),
        ),
        s(
            M::PUT,
            "/v1/treatments/facial-asymmetry-correction".into(),
            Some(&staff),
            treatment_input,
        ),
        s(
            M::POST,
            "/v1/faqs".into(),
            Some(&staff),
            json!({"question": "q", "answer": "a", "topic": "t"}),
        ),
        s(
            M::PUT,
            format!("/v1/faqs/{faq}"),
            Some(&staff),
            json!({"question": "q", "answer": "a", "topic": "t"}),
        ),
        s(
            M::POST,
            "/v1/faqs/reorder".into(),
            Some(&staff),
            json!({"ids": [faq]}),
        ),
        s(
            M::POST,
            "/v1/practitioners".into(),
            Some(&staff),
            json!({"name": "N", "title": "T"}),
        ),
        s(
            M::PUT,
            format!("/v1/practitioners/{pid}"),
            Some(&staff),
            json!({"name": "N", "title": "T"}),
        ),
        s(
            M::PUT,
            format!("/v1/practitioners/{pid}/opening-hours"),
            Some(&staff),
            json!({"windows": [{"weekday": "monday", "opens": "09:00", "closes": "17:00"}]}),
        ),
        s(
            M::POST,
            "/v1/closures".into(),
            Some(&staff),
            json!({"from_date": "2026-12-25", "to_date": "2026-12-26", "reason": "x"}),
        ),
        s(
            M::POST,
            format!("/v1/deposits/{deposit}/payments"),
            Some(&staff),
            json!({"reference": "r"}),
        ),
        s(
            M::POST,
            format!("/v1/deposits/{deposit}/redemptions"),
            Some(&staff),
            json!({"treatment_id": treatment["id"]}),
        ),
        s(
            M::POST,
            format!("/v1/deposits/{deposit}/refund"),
            Some(&staff),
            json!({"reason": "r"}),
        ),
        s(
            M::POST,
            "/v1/webhook-endpoints".into(),
            Some(&staff),
            json!({"url": "https://partner.example/h", "event_types": ["consultation.created"]}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bodies_never_break_a_write_route() {
    let app = spawn_app().await;
    let routes = routes(&app).await;
    let handle = tokio::runtime::Handle::current();
    for route in routes {
        let mut runner = TestRunner::new(Config {
            cases: 40,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = prop_oneof![body(), mangled(route.valid.clone())];
        let result = tokio::task::block_in_place(|| {
            runner.run(&strategy, |b| {
                let answer = handle.block_on(async {
                    let mut req = app
                        .client
                        .request(route.method.clone(), app.url(&route.path))
                        .json(&b);
                    if let Some(t) = &route.token {
                        req = req.bearer_auth(t);
                    }
                    app.send(req).await
                });
                prop_assert!(
                    answer.status < 500,
                    "{} {} {b}: {}",
                    route.method,
                    route.path,
                    answer.text
                );
                if answer.status >= 400 {
                    prop_assert_eq!(
                        answer.header("content-type"),
                        Some("application/problem+json")
                    );
                    prop_assert!(answer.body["code"].is_string(), "{}", answer.text);
                }
                Ok(())
            })
        });
        result.unwrap_or_else(|e| panic!("{} {}: {e}", route.method, route.path));
    }
    // The service is still healthy and consistent.
    assert_eq!(app.get("/health/ready", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bytes_are_refused_cleanly() {
    let app = spawn_app().await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 60,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..300),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
        ]),
    );
    tokio::task::block_in_place(|| {
        runner.run(&strategy, |(bytes, content_type)| {
            let answer = handle.block_on(async {
                app.send(
                    app.client
                        .post(app.url("/v1/screenings"))
                        .header("content-type", content_type)
                        .body(bytes.clone()),
                )
                .await
            });
            prop_assert!((400..500).contains(&answer.status), "{}", answer.text);
            prop_assert_eq!(
                answer.header("content-type"),
                Some("application/problem+json")
            );
            Ok(())
        })
    })
    .unwrap();
}
