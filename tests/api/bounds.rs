//! OWASP API4: every string, array and integer the OpenAPI document
//! describes — requests and responses, parameters and headers — states a
//! bound, and every bound on an input is refused beyond it (422 naming the
//! field), so a future field cannot be added unbounded or unenforced.

use serde_json::{json, Value};

use clinic_api::domain::actor::Role;

use crate::helpers::spawn_app;

/// Where a bound cannot be stated: what the array holds grows with data the
/// server keeps, not with anything one request sends, and no cap or page
/// applies. Each entry is `Schema.property` with the reason.
const UNBOUNDED: &[(&str, &str)] = &[
    (
        "ClientRecord.allOf1.consultations",
        "everything held about one client: the record (and the subject-access export that contains it) must be complete, and grows with the client's history",
    ),
    (
        "ClientRecord.allOf1.screenings",
        "everything held about one client (as consultations)",
    ),
    (
        "ClientRecord.allOf1.deposits",
        "everything held about one client (as consultations)",
    ),
    (
        "ClientExport.audit_events",
        "the subject-access export is complete by law: every audit event about the client",
    ),
    (
        "ClientExport.notifications",
        "the subject-access export is complete by law: every message planned or sent about the client's bookings",
    ),
    (
        "Availability.slots",
        "free slots of every practitioner over the dates asked (at most 288 a practitioner a day, 31 days, or the booking horizon for the feed): grows with the number of practitioners, which nothing caps yet",
    ),
    (
        "PractitionerList.items",
        "every practitioner: nothing caps how many staff may create (a cap belongs in app::schedule)",
    ),
    (
        "TreatmentList.items",
        "the whole catalogue: nothing caps how many treatments staff may create (a cap belongs in app::catalogue)",
    ),
    (
        "ClosureList.items",
        "every closure over the dates asked: nothing caps how many staff may create (a cap belongs in app::schedule)",
    ),
    (
        "WebhookEndpointList.items",
        "at most MAX_WEBHOOK_ENDPOINTS_PER_KEY for one key, but an admin sees every key's, and keys are not capped",
    ),
    (
        "ClosureImpact.stranded_bookings",
        "the live bookings a closure would strand: as many as the diary holds in the dates closed",
    ),
    (
        "CreatedClosure.allOf1.stranded_bookings",
        "as ClosureImpact.stranded_bookings",
    ),
    (
        "OpeningHoursChange.stranded_bookings",
        "the live bookings new opening hours would strand: as many as the diary holds",
    ),
    (
        "Problem.stranded_bookings",
        "as ClosureImpact.stranded_bookings, when a schedule change is refused",
    ),
];

/// Formats whose values have a fixed length.
const FIXED_LENGTH_FORMATS: &[&str] = &["uuid", "date"];

fn doc() -> Value {
    serde_json::from_str(&clinic_api::api::openapi_json()).unwrap()
}

/// Every string, array and integer without a bound, by where it is.
fn unbounded(schema: &Value, at: &str, out: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    if map.contains_key("$ref") {
        return;
    }
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let listed = map.contains_key("enum") || map.contains_key("const");
    if types.contains(&"string") && !listed && !map.contains_key("maxLength") {
        let fixed = map
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| FIXED_LENGTH_FORMATS.contains(&f));
        if !fixed {
            out.push(format!("{at}: string without maxLength"));
        }
    }
    if types.contains(&"array") && !map.contains_key("maxItems") {
        out.push(format!("{at}: array without maxItems"));
    }
    if (types.contains(&"integer") || types.contains(&"number"))
        && !listed
        && !(map.contains_key("minimum") && map.contains_key("maximum"))
    {
        out.push(format!("{at}: number without minimum and maximum"));
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            unbounded(prop, &format!("{at}.{name}"), out);
        }
    }
    if let Some(items) = map.get("items") {
        unbounded(items, &format!("{at}[]"), out);
    }
    if let Some(extra) = map.get("additionalProperties") {
        unbounded(extra, &format!("{at}{{}}"), out);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, part) in map
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            unbounded(part, &format!("{at}.{key}{i}"), out);
        }
    }
}

fn headers(responses: &Value, at: &str, out: &mut Vec<String>) {
    for (status, response) in responses.as_object().into_iter().flatten() {
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            unbounded(
                &header["schema"],
                &format!("{at} {status} header {name}"),
                out,
            );
        }
        for (media, content) in response["content"].as_object().into_iter().flatten() {
            unbounded(&content["schema"], &format!("{at} {status} {media}"), out);
        }
    }
}

#[test]
fn every_string_array_and_integer_in_the_document_has_a_bound() {
    let doc = doc();
    let mut found = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        unbounded(schema, name, &mut found);
    }
    headers(&doc["components"]["responses"], "components", &mut found);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                unbounded(
                    &p["schema"],
                    &format!(
                        "{at} {} {}",
                        p["in"].as_str().unwrap(),
                        p["name"].as_str().unwrap()
                    ),
                    &mut found,
                );
            }
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                unbounded(
                    &content["schema"],
                    &format!("{at} body {media}"),
                    &mut found,
                );
            }
            headers(&op["responses"], &at, &mut found);
        }
    }
    let allowed: Vec<String> = UNBOUNDED
        .iter()
        .map(|(at, _)| format!("{at}: array without maxItems"))
        .collect();
    let unexplained: Vec<&String> = found.iter().filter(|f| !allowed.contains(f)).collect();
    assert!(
        unexplained.is_empty(),
        "{} without a bound (add maxLength, maxItems or minimum and maximum where the type is declared):\n{}",
        unexplained.len(),
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for entry in &allowed {
        assert!(found.contains(entry), "stale allow-list entry: {entry}");
    }
}

/// One step into a JSON value: a property, or the first item of an array.
#[derive(Clone)]
enum Step {
    Key(String),
    First,
}

/// The field name a problem gives for a path (`client.full_name`, `windows[0].opens`).
fn field_name(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k)
            }
            Step::First => out.push_str("[0]"),
        }
    }
    out
}

/// A body holding `value` at `path`, and nothing else.
fn body_at(path: &[Step], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, step| match step {
        Step::Key(k) => json!({ k.clone(): inner }),
        Step::First => json!([inner]),
    })
}

/// Every value that breaks one bound of `schema`, with where it goes.
fn violations(
    doc: &Value,
    schema: &Value,
    path: Vec<Step>,
    out: &mut Vec<(Vec<Step>, Value)>,
    depth: u8,
) {
    if depth > 12 {
        return;
    }
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(&r[1..]).unwrap(),
        None => schema,
    };
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        out.push((path.clone(), json!("x".repeat(max as usize + 1))));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        out.push((
            path.clone(),
            Value::Array(vec![Value::Null; max as usize + 1]),
        ));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
        out.push((path.clone(), json!(max + 1)));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
        out.push((path.clone(), json!(min - 1)));
    }
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        let mut next = path.clone();
        next.push(Step::Key(name.clone()));
        violations(doc, prop, next, out, depth + 1);
    }
    if let Some(items) = schema.get("items") {
        let mut next = path.clone();
        next.push(Step::First);
        violations(doc, items, next, out, depth + 1);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            violations(doc, part, path.clone(), out, depth + 1);
        }
    }
}

/// A body that passes an operation's body checks: its example.
fn valid_body(doc: &Value, id: &str, op: &Value) -> Value {
    let content = &op["requestBody"]["content"]["application/json"];
    let example = content.get("example").cloned().or_else(|| {
        let name = content["schema"]["$ref"].as_str()?.rsplit('/').next()?;
        doc["components"]["schemas"][name].get("example").cloned()
    });
    match (example, id) {
        (Some(e), _) => e,
        (None, "rescheduleConsultation") => json!({"starts_at": "2026-12-03T10:00:00Z"}),
        (None, "redeemDeposit") => json!({"treatment_id": "7a1d9b6e-0c4f-4e2a-9d3b-5f6e7a8b9c0d"}),
        (None, _) => json!({}),
    }
}

#[tokio::test]
async fn every_documented_input_bound_is_refused_beyond_it() {
    let app = spawn_app().await;
    let admin = app.key(Role::Admin).await;
    let doc = doc();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{slug}", "facial-asymmetry-correction")
            .replace("{id}", "7a1d9b6e-0c4f-4e2a-9d3b-5f6e7a8b9c0d")
            .replace("{delivery_id}", "0b9a8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d");
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let request = |url: String| {
                app.client
                    .request(method.clone(), url)
                    .header("Authorization", format!("Bearer {admin}"))
            };
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                let mut found = Vec::new();
                violations(&doc, schema, Vec::new(), &mut found, 0);
                for (at, value) in found {
                    let field = field_name(&at);
                    let body = body_at(&at, value);
                    let answer = app.send(request(app.url(&path)).json(&body)).await;
                    answer.assert_problem(422, "validation_failed");
                    let named = answer.body["errors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e["field"] == field.as_str());
                    assert!(
                        named,
                        "{id}: {field} beyond its bound is not named: {}",
                        answer.text
                    );
                    checked += 1;
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                let mut found = Vec::new();
                violations(&doc, &p["schema"], Vec::new(), &mut found, 0);
                for (_, value) in found {
                    let text = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    match place {
                        "query" => {
                            let url = format!("{}?{name}={text}", app.url(&path));
                            let answer = app.send(request(url)).await;
                            answer.assert_problem(422, "validation_failed");
                            assert_eq!(
                                answer.body["errors"][0]["field"], name,
                                "{id}: {}",
                                answer.text
                            );
                        }
                        "header" => {
                            // Request metadata: a header beyond its bound is
                            // a 400 problem, before anything else happens (a
                            // valid body first gets past the body's checks).
                            let body = valid_body(&doc, id, op);
                            let answer = app
                                .send(request(app.url(&path)).header(name, text).json(&body))
                                .await;
                            assert_eq!(answer.status, 400, "{id} {name}: {}", answer.text);
                            assert_eq!(
                                answer.header("content-type"),
                                Some("application/problem+json")
                            );
                        }
                        _ => continue,
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} bounds checked");
}

#[test]
fn every_time_zone_name_fits_the_documented_length() {
    let doc = doc();
    let max = doc["components"]["schemas"]["Availability"]["properties"]["time_zone"]["maxLength"]
        .as_u64()
        .unwrap() as usize;
    let longest = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name().len())
        .max()
        .unwrap();
    assert!(longest <= max, "{longest}");
}
