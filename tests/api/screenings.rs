//! Eligibility screening over HTTP, and the retention purge.

use chrono::Duration;
use clinic_api::domain::actor::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

pub fn answers(dob: &str) -> Value {
    json!({
        "date_of_birth": dob,
        "pregnant": false,
        "breastfeeding": false,
        "autoimmune_condition": false,
        "active_infection_at_site": false,
        "other_medical_conditions": false
    })
}

async fn screen(app: &TestApp, body: &Value) -> crate::helpers::Answer {
    app.post("/v1/screenings", None, body).await
}

fn codes(answer: &crate::helpers::Answer) -> Vec<String> {
    answer.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_adult_with_no_contraindications_is_eligible() {
    let app = spawn_app().await;
    let answer = screen(&app, &answers("1990-04-12")).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.body["outcome"], "eligible");
    assert_eq!(answer.body["age"], 36);
    assert_eq!(answer.body["judged_on"], "2026-11-25");
    assert_eq!(answer.body["reasons"], json!([]));
    assert!(answer.body["screening_token"]
        .as_str()
        .unwrap()
        .starts_with("st_"));
    assert_eq!(answer.body["expires_at"], "2026-11-26T10:00:00Z");
    // Answers are never echoed back.
    assert!(answer.body.get("pregnant").is_none());
    assert!(answer.body.get("date_of_birth").is_none());
}

#[tokio::test]
async fn each_contraindication_makes_a_client_ineligible_with_its_code() {
    let app = spawn_app().await;
    for field in [
        "pregnant",
        "breastfeeding",
        "autoimmune_condition",
        "active_infection_at_site",
    ] {
        let mut body = answers("1990-04-12");
        body[field] = json!(true);
        let answer = screen(&app, &body).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        assert_eq!(answer.body["outcome"], "ineligible", "{field}");
        assert_eq!(codes(&answer), vec![field.to_owned()]);
        assert!(answer.body.get("screening_token").is_none(), "{field}");
        assert!(!answer.body["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn other_conditions_flag_for_review_and_every_reason_is_listed() {
    let app = spawn_app().await;
    let mut body = answers("1990-04-12");
    body["other_medical_conditions"] = json!(true);
    let review = screen(&app, &body).await;
    assert_eq!(review.body["outcome"], "needs_review");
    assert_eq!(codes(&review), vec!["other_medical_condition"]);
    assert!(review.body["screening_token"].is_string());

    let mut everything = answers("2010-01-01");
    for f in [
        "pregnant",
        "breastfeeding",
        "autoimmune_condition",
        "active_infection_at_site",
        "other_medical_conditions",
    ] {
        everything[f] = json!(true);
    }
    let all = screen(&app, &everything).await;
    assert_eq!(all.body["outcome"], "ineligible");
    assert_eq!(
        codes(&all),
        vec![
            "under_minimum_age",
            "pregnant",
            "breastfeeding",
            "autoimmune_condition",
            "active_infection_at_site",
            "other_medical_condition"
        ]
    );
}

#[tokio::test]
async fn age_is_judged_on_the_appointment_date_in_the_clinic_zone() {
    let app = spawn_app().await;
    // 18th birthday on 2026-11-28.
    let mut body = answers("2008-11-28");
    let today = screen(&app, &body).await;
    assert_eq!(
        (today.body["outcome"].clone(), today.body["age"].clone()),
        (json!("ineligible"), json!(17))
    );
    body["appointment_date"] = json!("2026-11-27");
    assert_eq!(screen(&app, &body).await.body["outcome"], "ineligible");
    body["appointment_date"] = json!("2026-11-28");
    let on_birthday = screen(&app, &body).await;
    assert_eq!(on_birthday.body["outcome"], "eligible");
    assert_eq!(on_birthday.body["age"], 18);
    body["appointment_date"] = json!("2026-11-29");
    assert_eq!(screen(&app, &body).await.body["outcome"], "eligible");

    // 00:30 on 2026-06-15 in London is still 2026-06-14 in UTC: the clinic
    // date decides, so someone born 2008-06-15 is 18 "today".
    app.clock.set("2026-06-14T23:30:00Z".parse().unwrap());
    let local = screen(&app, &answers("2008-06-15")).await;
    assert_eq!(local.body["judged_on"], "2026-06-15");
    assert_eq!(local.body["outcome"], "eligible");
}

#[tokio::test]
async fn leap_day_births_turn_18_on_1_march_in_common_years() {
    let app = spawn_app().await;
    app.clock.set("2026-02-20T12:00:00Z".parse().unwrap());
    let mut body = answers("2008-02-29");
    body["appointment_date"] = json!("2026-02-28");
    assert_eq!(screen(&app, &body).await.body["outcome"], "ineligible");
    body["appointment_date"] = json!("2026-03-01");
    assert_eq!(screen(&app, &body).await.body["outcome"], "eligible");
}

#[tokio::test]
async fn bad_dates_and_missing_answers_are_422s_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        ("2026-11-26", "in_future"),
        ("2026-11-25", "is_today"),
        ("1900-05-05", "too_long_ago"),
        ("2023-02-30", "invalid"),
        ("12/04/1990", "invalid"),
    ];
    for (dob, code) in cases {
        let answer = screen(&app, &answers(dob)).await;
        answer.assert_problem(422, "validation_failed");
        assert_eq!(answer.body["errors"][0]["field"], "date_of_birth", "{dob}");
        assert_eq!(
            answer.body["errors"][0]["code"], code,
            "{dob}: {}",
            answer.text
        );
    }
    let leap = screen(&app, &answers("2023-02-30")).await;
    assert!(leap.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("real calendar date"));

    let mut missing = answers("1990-04-12");
    missing.as_object_mut().unwrap().remove("pregnant");
    missing
        .as_object_mut()
        .unwrap()
        .remove("active_infection_at_site");
    let answer = screen(&app, &missing).await;
    answer.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"pregnant") && fields.contains(&"active_infection_at_site"),
        "{fields:?}"
    );

    let mut null = answers("1990-04-12");
    null["breastfeeding"] = Value::Null;
    let answer = screen(&app, &null).await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(answer.body["errors"][0]["field"], "breastfeeding");

    let mut past = answers("1990-04-12");
    past["appointment_date"] = json!("2026-11-01");
    screen(&app, &past)
        .await
        .assert_problem(422, "validation_failed");
    let mut far = answers("1990-04-12");
    far["appointment_date"] = json!("2027-11-01");
    screen(&app, &far)
        .await
        .assert_problem(422, "validation_failed");

    let mut server_owned = answers("1990-04-12");
    server_owned["outcome"] = json!("eligible");
    screen(&app, &server_owned)
        .await
        .assert_problem(422, "validation_failed");

    let count = app
        .app
        .db
        .run(clinic_api::store::screenings::count)
        .await
        .unwrap();
    assert_eq!(count, 0, "rejected screenings store nothing");
}

#[tokio::test]
async fn contraindications_follow_the_catalogue() {
    let app = spawn_app().await;
    let staff = app.key(Role::Staff).await;
    let mut t = app
        .get("/v1/treatments/facial-asymmetry-correction", None)
        .await
        .body;
    for f in ["id", "minimum_age", "created_at", "updated_at"] {
        t.as_object_mut().unwrap().remove(f);
    }
    t["contraindications"] = json!([
        "pregnant",
        "autoimmune_condition",
        "active_infection_at_site"
    ]);
    let replaced = app
        .put(
            "/v1/treatments/facial-asymmetry-correction",
            Some(&staff),
            &t,
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let mut body = answers("1990-04-12");
    body["breastfeeding"] = json!(true);
    assert_eq!(screen(&app, &body).await.body["outcome"], "eligible");
    body["pregnant"] = json!(true);
    assert_eq!(screen(&app, &body).await.body["outcome"], "ineligible");
}

#[tokio::test]
async fn ineligible_screenings_keep_no_health_data() {
    let app = spawn_app().await;
    let mut body = answers("1990-04-12");
    body["pregnant"] = json!(true);
    let answer = screen(&app, &body).await;
    let id = answer.body["id"].as_str().unwrap().to_owned();
    let stored = app
        .app
        .db
        .run(move |c| {
            use clinic_api::db::schema::screenings;
            use diesel::prelude::*;
            screenings::table
                .find(id)
                .select((
                    screenings::reason_codes,
                    screenings::date_of_birth,
                    screenings::age,
                ))
                .first::<(String, Option<chrono::NaiveDate>, Option<i32>)>(c)
                .map_err(clinic_api::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(stored, ("[]".to_owned(), None, None));
}

#[tokio::test]
async fn unattached_screenings_are_purged_after_the_retention_period() {
    let app = spawn_app().await;
    screen(&app, &answers("1990-04-12")).await;
    app.clock.advance(Duration::days(10));
    screen(&app, &answers("1985-01-01")).await;
    let count = || async {
        app.app
            .db
            .run(clinic_api::store::screenings::count)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 2);

    app.clock.advance(Duration::days(21)); // first is 31 days old, second 21
    let report = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(report.screenings_purged, 1);
    assert_eq!(count().await, 1);
    let again = clinic_api::app::maintenance::run_once(&app.app)
        .await
        .unwrap();
    assert_eq!(again.screenings_purged, 0);
}
