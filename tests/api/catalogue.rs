//! The treatment catalogue and the FAQ.

use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

const SLUG: &str = "facial-asymmetry-correction";

fn new_treatment(slug: &str) -> Value {
    json!({
        "slug": slug,
        "name": "Jawline balancing",
        "summary": "Filler to even out the jawline.",
        "description": "A longer description.",
        "injectables": ["dermal_filler"],
        "session_minutes": {"min": 30, "max": 40},
        "effect_duration": [{"injectable": "dermal_filler", "min_months": 6, "max_months": 18}],
        "results_onset": [{"injectable": "dermal_filler", "description": "At once."}],
        "anaesthetic": "Topical anaesthetic cream.",
        "side_effects": ["swelling"],
        "contraindications": ["pregnant", "breastfeeding"],
        "from_price": {"amount": 25000, "currency": "GBP"},
        "display_order": 5
    })
}

#[tokio::test]
async fn the_seeded_treatment_carries_every_fact() {
    let app = spawn_app().await;
    let list = app.get("/v1/treatments", None).await;
    assert_eq!(list.status, 200);
    let t = &list.body["items"][0];
    assert_eq!(t["slug"], SLUG);
    assert_eq!(t["injectables"], json!(["neuromodulator", "dermal_filler"]));
    assert_eq!(t["session_minutes"], json!({"min": 30, "max": 45}));
    assert_eq!(
        t["effect_duration"],
        json!([
            {"injectable": "neuromodulator", "min_months": 3, "max_months": 6},
            {"injectable": "dermal_filler", "min_months": 6, "max_months": 60}
        ])
    );
    assert_eq!(
        t["contraindications"],
        json!([
            "pregnant",
            "breastfeeding",
            "autoimmune_condition",
            "active_infection_at_site"
        ])
    );
    assert_eq!(t["minimum_age"], 18);
    assert!(t["anaesthetic"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("topical"));
    let one = app.get(&format!("/v1/treatments/{SLUG}"), None).await;
    assert_eq!(one.body, *t);
    app.get("/v1/treatments/no-such-thing", None)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn staff_create_replace_and_archive_treatments() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let created = app
        .post("/v1/treatments", Some(&staff), &new_treatment("jawline"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("location"), Some("/v1/treatments/jawline"));
    assert_eq!(
        created.body["from_price"],
        json!({"amount": 25000, "currency": "GBP"})
    );

    let list = app.get("/v1/treatments", None).await;
    let slugs: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec![SLUG, "jawline"], "display order");

    app.post("/v1/treatments", Some(&staff), &new_treatment("jawline"))
        .await
        .assert_problem(409, "slug_taken");

    let mut changed = new_treatment("jawline-balancing");
    changed["name"] = json!("Jawline balancing (renamed)");
    let replaced = app
        .put("/v1/treatments/jawline", Some(&staff), &changed)
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["slug"], "jawline-balancing");
    app.get("/v1/treatments/jawline", None)
        .await
        .assert_problem(404, "not_found");

    let archived = app
        .post(
            "/v1/treatments/jawline-balancing/archive",
            Some(&staff),
            &json!({}),
        )
        .await;
    assert_eq!(archived.status, 200, "{}", archived.text);
    assert_eq!(archived.body["active"], false);
    app.get("/v1/treatments/jawline-balancing", None)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/v1/treatments/jawline-balancing", Some(&staff))
            .await
            .status,
        200
    );
    let public = app.get("/v1/treatments", None).await;
    assert_eq!(public.body["items"].as_array().unwrap().len(), 1);
    let all = app
        .get("/v1/treatments?include_archived=true", Some(&staff))
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    app.get("/v1/treatments?include_archived=true", None)
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn invalid_treatments_list_every_bad_field() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let mut bad = new_treatment("Not A Slug");
    bad["session_minutes"] = json!({"min": 50, "max": 40});
    bad["injectables"] = json!([]);
    bad["name"] = json!("   ");
    let answer = app.post("/v1/treatments", Some(&staff), &bad).await;
    answer.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["slug", "session_minutes", "injectables", "name"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let mut server_owned = new_treatment("x");
    server_owned["id"] = json!("00000000-0000-0000-0000-000000000000");
    app.post("/v1/treatments", Some(&staff), &server_owned)
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn the_catalogue_honours_etags_and_sees_writes_at_once() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let first = app.get("/v1/treatments", None).await;
    let etag = first.header("etag").unwrap().to_owned();
    let not_modified = app
        .send(
            app.client
                .get(app.url("/v1/treatments"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));

    app.post("/v1/treatments", Some(&staff), &new_treatment("jawline"))
        .await;
    let after = app
        .send(
            app.client
                .get(app.url("/v1/treatments"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(after.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn faqs_filter_search_and_paginate() {
    let app = spawn_app().await;
    let all = app.get("/v1/faqs?limit=100", None).await;
    let items = all.body["items"].as_array().unwrap().clone();
    assert!(items.len() >= 12);
    let positions: Vec<i64> = items
        .iter()
        .map(|f| f["position"].as_i64().unwrap())
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);

    let booking = app.get("/v1/faqs?topic=booking", None).await;
    assert!(booking.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["topic"] == "booking"));
    assert!(!booking.body["items"].as_array().unwrap().is_empty());

    let about = app.get(&format!("/v1/faqs?treatment={SLUG}"), None).await;
    assert!(about.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["treatment_slug"] == SLUG));

    let deposit = app.get("/v1/faqs?q=DEPOSIT", None).await;
    let hits = deposit.body["items"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|f| {
        let text = format!("{} {}", f["question"], f["answer"]).to_lowercase();
        text.contains("deposit")
    }));
    let wildcard = app.get("/v1/faqs?q=%25", None).await;
    assert!(
        wildcard.body["items"].as_array().unwrap().is_empty(),
        "% is literal"
    );

    // Walk the pages: same entries, same order, no repeats.
    let mut walked = Vec::new();
    let mut next = Some("/v1/faqs?limit=5".to_owned());
    while let Some(path) = next {
        let page = app.get(&path, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        walked.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].clone()),
        );
        next = page.body["next"].as_str().map(str::to_owned);
    }
    let ids: Vec<Value> = items.iter().map(|f| f["id"].clone()).collect();
    assert_eq!(walked, ids);
    app.get("/v1/faqs?cursor=nonsense", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/faqs?limit=1000", None)
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn staff_write_faqs_and_unpublished_ones_stay_private() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let draft = app
        .post(
            "/v1/faqs",
            Some(&staff),
            &json!({"question": "Is parking available?", "answer": "Yes, on the street.", "topic": "visiting", "published": false}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let id = draft.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/faqs/{id}");
    assert_eq!(draft.header("location"), Some(path.as_str()));

    app.get(&path, None).await.assert_problem(404, "not_found");
    assert_eq!(app.get(&path, Some(&staff)).await.status, 200);
    let public = app.get("/v1/faqs?topic=visiting", None).await;
    assert_eq!(public.body["items"], json!([]));
    let staff_view = app.get("/v1/faqs?topic=visiting", Some(&staff)).await;
    assert_eq!(staff_view.body["items"].as_array().unwrap().len(), 1);

    let published = app
        .put(
            &path,
            Some(&staff),
            &json!({"question": "Is parking available?", "answer": "Yes.", "topic": "visiting", "treatment_slug": SLUG}),
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.text);
    assert_eq!(published.body["treatment_slug"], SLUG);
    assert_eq!(app.get(&path, None).await.status, 200);

    app.put(
        &path,
        Some(&staff),
        &json!({"question": "q", "answer": "a", "topic": "visiting", "treatment_slug": "nope"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let deleted = app.delete(&path, Some(&staff)).await;
    assert_eq!(deleted.status, 204);
    app.delete(&path, Some(&staff))
        .await
        .assert_problem(404, "not_found");
    app.get("/v1/faqs/not-a-uuid", None)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn staff_reorder_the_whole_faq() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let all = app.get("/v1/faqs?limit=100", Some(&staff)).await;
    let mut ids: Vec<Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    ids.reverse();
    let reordered = app
        .post("/v1/faqs/reorder", Some(&staff), &json!({"ids": ids}))
        .await;
    assert_eq!(reordered.status, 200, "{}", reordered.text);
    let now: Vec<Value> = app.get("/v1/faqs?limit=100", None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    assert_eq!(now, ids);
    let partial = app
        .post("/v1/faqs/reorder", Some(&staff), &json!({"ids": &ids[..3]}))
        .await;
    partial.assert_problem(422, "validation_failed");
    let dup = app
        .post(
            "/v1/faqs/reorder",
            Some(&staff),
            &json!({"ids": [&ids[0], &ids[0]]}),
        )
        .await;
    dup.assert_problem(422, "validation_failed");
}
