//! Rules the server enforces on every request, written into the OpenAPI
//! document so that the contract states exactly what is accepted: text
//! without control characters, bounded dates, cursors, idempotency keys.
//! Applied once to the generated document (see [`super::openapi`]).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// Text in a JSON body: no control characters but tab and line breaks
/// (`decode_json` refuses them anywhere in a body).
pub const BODY_TEXT: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
/// Required text: as [`BODY_TEXT`], with at least one character that is
/// not white space (Unicode White_Space, as the server's `trim` counts it).
pub const REQUIRED_TEXT: &str = r"^[ \t\n\r\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^ \t\n\r\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
/// Text in a URL: no encoded control characters (refused before routing).
pub const URL_TEXT: &str = r"^[^\u0000-\u001F\u007F]*$";
/// Instants between the years 1900 and 2200.
pub const SUPPORTED_YEARS: &str = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-";
/// A date between the years 1900 and 2200, `YYYY-MM-DD` (the server also
/// checks that the day exists). Spelled out in full, so that a generator
/// can draw valid dates from it.
pub const DATE: &str =
    r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// The longest RFC 3339 instant accepted or sent, in characters:
/// `2026-11-25T10:00:00.123456789+05:30` (nanoseconds and an offset).
pub const DATE_TIME_MAX: u64 = 35;
/// A list cursor: a sort key (at most 16 digits: microseconds between the
/// years 1900 and 2200 need 16) and an id (see `pagination`).
pub const CURSOR: &str =
    r"^-?[0-9]{1,16}~[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// The longest cursor: a sign, 16 digits, `~` and a UUID.
pub const CURSOR_MAX: u64 = 54;
/// A treatment slug.
pub const SLUG: &str = r"^[a-z0-9]+(-[a-z0-9]+)*$";
/// An `Idempotency-Key`.
pub const IDEMPOTENCY_KEY: &str = r"^[!-~]+$";

/// Fields checked as required, non-blank text, with their largest length.
const REQUIRED_TEXT_FIELDS: &[(&str, &str, u64)] = &[
    ("TreatmentInput", "name", 120),
    ("TreatmentInput", "summary", 500),
    ("TreatmentInput", "description", 20_000),
    ("TreatmentInput", "anaesthetic", 500),
    ("ResultsOnset", "description", 500),
    ("FaqInput", "question", 300),
    ("FaqInput", "answer", 5000),
    ("PractitionerInput", "name", 120),
    ("PractitionerInput", "title", 120),
    ("ClosureInput", "reason", 200),
    ("ManualPayment", "reference", 200),
    ("RefundRequest", "reason", 500),
    ("ClientInput", "full_name", 200),
];

/// Arrays whose items must be distinct.
const UNIQUE_ITEMS: &[(&str, &str)] = &[
    ("TreatmentInput", "injectables"),
    ("TreatmentInput", "contraindications"),
    ("ReorderInput", "ids"),
];

/// Dates and instants in bodies that are held to the supported years.
const BODY_DATES: &[(&str, &str)] = &[
    ("ClosureInput", "starts_at"),
    ("ClosureInput", "ends_at"),
    ("ClosureInput", "from_date"),
    ("ClosureInput", "to_date"),
];

/// The operations counted against a rate limit: their answers carry the
/// `RateLimit-*` fields (see `api::rate_limit`) and may be 429.
pub const RATE_LIMITED: &[&str] = &[
    "createScreening",
    "createConsultation",
    "replayWebhookDelivery",
];

fn is_string(schema: &Value) -> bool {
    names_string(schema.get("type"))
}

/// Whether a `type` keyword admits strings.
fn names_string(ty: Option<&Value>) -> bool {
    match ty {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

fn is_free_text(schema: &Value) -> bool {
    is_string(schema)
        && schema.get("pattern").is_none()
        && schema.get("enum").is_none()
        && schema.get("format").is_none()
        && schema.get("const").is_none()
}

/// Every component named by a `$ref` inside `value`.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    out.insert(name.to_owned());
                }
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Components reachable from request bodies.
fn request_components(doc: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(body) = op.get("requestBody") {
                refs(body, &mut found);
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    loop {
        let mut more = BTreeSet::new();
        for name in &found {
            refs(&schemas[name], &mut more);
        }
        let before = found.len();
        found.extend(more);
        if found.len() == before {
            return found;
        }
    }
}

/// Adds the body-text pattern to every free-text string in a schema.
fn pattern_body_text(schema: &mut Value) {
    if is_free_text(schema) {
        schema["pattern"] = json!(BODY_TEXT);
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(pattern_body_text);
    }
    if let Some(items) = schema.get_mut("items") {
        pattern_body_text(items);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(parts)) = schema.get_mut(key) {
            parts.iter_mut().for_each(pattern_body_text);
        }
    }
}

fn property<'a>(
    doc: &'a mut Value,
    schema: &str,
    prop: &str,
) -> Option<&'a mut Map<String, Value>> {
    doc["components"]["schemas"][schema]["properties"][prop].as_object_mut()
}

fn refine_parameter(param: &mut Value) {
    let name = param["name"].as_str().unwrap_or_default().to_owned();
    let location = param["in"].as_str().unwrap_or_default().to_owned();
    let schema = &mut param["schema"];
    if name == "Idempotency-Key" {
        *schema =
            json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY});
        return;
    }
    if name == "cursor" {
        schema["pattern"] = json!(CURSOR);
        schema["maxLength"] = json!(CURSOR_MAX);
        return;
    }
    if location == "path" && name == "slug" {
        schema["pattern"] = json!(SLUG);
        schema["maxLength"] = json!(80);
        return;
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("date") => schema["pattern"] = json!(DATE),
        Some("date-time") => schema["pattern"] = json!(SUPPORTED_YEARS),
        _ if is_free_text(schema) => schema["pattern"] = json!(URL_TEXT),
        _ => {}
    }
}

/// Gives every date and instant its length: a date is `YYYY-MM-DD`; an
/// instant at most [`DATE_TIME_MAX`] characters (what the server accepts,
/// see `api::bounds`, and more than it ever sends). Walks schemas only,
/// never examples.
fn bound_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if names_string(map.get("type")) && !map.contains_key("maxLength") {
                match map.get("format").and_then(Value::as_str) {
                    Some("date") => {
                        map.insert("maxLength".into(), json!(10));
                    }
                    Some("date-time") => {
                        map.insert("maxLength".into(), json!(DATE_TIME_MAX));
                    }
                    _ => {}
                }
            }
            for (key, v) in map.iter_mut() {
                if key != "example" && key != "examples" && key != "default" {
                    bound_formats(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(bound_formats),
        _ => {}
    }
}

/// The `RateLimit-*` fields a rate-limited answer carries
/// (draft-ietf-httpapi-ratelimit-headers, the three-field form).
pub fn rate_limit_headers() -> Map<String, Value> {
    let field = |description: &str, minimum: u64, maximum: u64| {
        json!({
            "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}
        })
    };
    let mut headers = Map::new();
    headers.insert(
        "RateLimit-Limit".into(),
        field(
            "Requests allowed in each window of 60 seconds (`RATE_LIMIT_PER_MINUTE`, or `WEBHOOK_REPLAYS_PER_MINUTE` for replays).",
            1,
            u64::from(u32::MAX),
        ),
    );
    headers.insert(
        "RateLimit-Remaining".into(),
        field(
            "Requests left in the current window (0 on a 429).",
            0,
            u64::from(u32::MAX),
        ),
    );
    headers.insert(
        "RateLimit-Reset".into(),
        field("Seconds until the current window ends.", 1, 60),
    );
    headers
}

/// Documents the `RateLimit-*` fields on every answer of the rate-limited
/// operations that counted the request: their successes and their 429.
fn document_rate_limits(doc: &mut Value) {
    let headers = rate_limit_headers();
    for op in operations_mut(doc) {
        let limited = op["operationId"]
            .as_str()
            .is_some_and(|id| RATE_LIMITED.contains(&id));
        if !limited {
            continue;
        }
        for (status, response) in op["responses"].as_object_mut().into_iter().flatten() {
            if status.starts_with('2') {
                let fields = response
                    .as_object_mut()
                    .map(|r| r.entry("headers").or_insert_with(|| json!({})));
                if let Some(Value::Object(fields)) = fields {
                    fields.extend(headers.clone());
                }
            }
        }
    }
    if let Some(Value::Object(fields)) =
        doc.pointer_mut("/components/responses/TooManyRequests/headers")
    {
        fields.extend(headers);
    }
}

/// Writes the server's request rules into the document (as JSON).
pub fn refine(doc: &mut Value) {
    for op in operations_mut(doc) {
        if let Some(Value::Array(params)) = op.get_mut("parameters") {
            params.iter_mut().for_each(refine_parameter);
        }
    }
    for name in request_components(doc) {
        pattern_body_text(&mut doc["components"]["schemas"][&name]);
    }
    for (schema, prop, max) in REQUIRED_TEXT_FIELDS {
        if let Some(p) = property(doc, schema, prop) {
            p.insert("pattern".into(), json!(REQUIRED_TEXT));
            p.insert("maxLength".into(), json!(max));
        }
    }
    if let Some(items) = doc["components"]["schemas"]["TreatmentInput"]["properties"]
        ["side_effects"]
        .get_mut("items")
        .and_then(Value::as_object_mut)
    {
        items.insert("pattern".into(), json!(REQUIRED_TEXT));
        items.insert("maxLength".into(), json!(200));
    }
    if let Some(items) = doc["components"]["schemas"]["Treatment"]["properties"]["side_effects"]
        .get_mut("items")
        .and_then(Value::as_object_mut)
    {
        items.insert("maxLength".into(), json!(200));
    }
    for (schema, prop) in UNIQUE_ITEMS {
        if let Some(p) = property(doc, schema, prop) {
            p.insert("uniqueItems".into(), json!(true));
        }
    }
    for (schema, prop) in BODY_DATES {
        if let Some(p) = property(doc, schema, prop) {
            let date = p.get("format").and_then(Value::as_str) == Some("date");
            p.insert(
                "pattern".into(),
                json!(if date { DATE } else { SUPPORTED_YEARS }),
            );
        }
    }
    // `enum: [true]` rather than `const: true`, which the document's
    // round trip through utoipa's types would drop.
    if let Some(p) = property(doc, "BookingRequest", "accept_cancellation_policy") {
        p.insert("enum".into(), json!([true]));
    }
    bound_formats(doc);
    bound_response_headers(doc);
    document_rate_limits(doc);
}

/// The headers and bodies of answers whose length the server fixes: an
/// `ETag` is a quoted 32-digit hex digest (`cache::etag_of`); a `Location`
/// is a path on this server (the longest, `/v1/treatments/{slug}`, is 95
/// characters); an iCalendar document holds one event (a few kilobytes at
/// most, with the clinic's name of at most 120 characters).
fn bound_response_headers(doc: &mut Value) {
    for op in operations_mut(doc) {
        for response in op["responses"]
            .as_object_mut()
            .into_iter()
            .flat_map(|r| r.values_mut())
        {
            if let Some(Value::Object(headers)) = response.get_mut("headers") {
                for (name, header) in headers.iter_mut() {
                    let schema = &mut header["schema"];
                    match name.as_str() {
                        "ETag" => {
                            schema["pattern"] = json!(r#"^"[0-9a-f]{32}"$"#);
                            schema["maxLength"] = json!(34);
                        }
                        "Location" => schema["maxLength"] = json!(100),
                        _ => {}
                    }
                }
            }
            if let Some(schema) = response.pointer_mut("/content/text~1calendar/schema") {
                schema["maxLength"] = json!(8192);
            }
        }
    }
}

/// Every operation of the document.
fn operations_mut(doc: &mut Value) -> impl Iterator<Item = &mut Value> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
        .flat_map(|item| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_gets_the_body_pattern_and_formats_do_not() {
        let mut s = json!({"type": "object", "properties": {
            "a": {"type": "string"},
            "b": {"type": ["string", "null"]},
            "c": {"type": "string", "format": "uuid"},
            "d": {"type": "array", "items": {"type": "string"}}
        }});
        pattern_body_text(&mut s);
        assert_eq!(s["properties"]["a"]["pattern"], BODY_TEXT);
        assert_eq!(s["properties"]["b"]["pattern"], BODY_TEXT);
        assert!(s["properties"]["c"].get("pattern").is_none());
        assert_eq!(s["properties"]["d"]["items"]["pattern"], BODY_TEXT);
    }

    #[test]
    fn dates_and_instants_get_their_lengths_but_examples_do_not() {
        let mut doc = json!({"components": {"schemas": {"A": {
            "type": "object",
            "properties": {
                "on": {"type": "string", "format": "date"},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "local": {"type": "string", "format": "date-time", "maxLength": 25}
            },
            "example": {"format": "date-time", "type": "string"}
        }}}});
        bound_formats(&mut doc);
        let a = &doc["components"]["schemas"]["A"];
        assert_eq!(a["properties"]["on"]["maxLength"], 10);
        assert_eq!(a["properties"]["at"]["maxLength"], DATE_TIME_MAX);
        assert_eq!(a["properties"]["local"]["maxLength"], 25);
        assert!(a["example"].get("maxLength").is_none());
    }

    #[test]
    fn the_longest_instant_and_cursor_fit_their_bounds() {
        assert_eq!(
            "2026-11-25T10:00:00.123456789+05:30".len() as u64,
            DATE_TIME_MAX
        );
        assert_eq!(
            "-1234567890123456~0d6f7a52-3b1e-4f0a-8c9d-2e4b6a8c0f13".len() as u64,
            CURSOR_MAX
        );
    }

    #[test]
    fn rate_limited_operations_document_their_fields() {
        let mut doc = json!({
            "paths": {"/x": {"post": {"operationId": "createScreening", "responses": {
                "201": {"description": "ok"},
                "429": {"$ref": "#/components/responses/TooManyRequests"}
            }}}},
            "components": {"responses": {"TooManyRequests": {"headers": {"Retry-After": {}}}}}
        });
        document_rate_limits(&mut doc);
        let ok = &doc["paths"]["/x"]["post"]["responses"]["201"]["headers"];
        let limited = &doc["components"]["responses"]["TooManyRequests"]["headers"];
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            assert!(ok[name]["schema"]["maximum"].is_number(), "{name}");
            assert!(limited[name].is_object(), "{name}");
        }
        assert_eq!(ok["RateLimit-Reset"]["schema"]["maximum"], 60);
    }

    #[test]
    fn the_patterns_agree_with_the_servers_checks() {
        // Spot checks of the character classes against is_clean_text.
        use crate::domain::dates::is_clean_text;
        for (text, clean) in [
            ("tab\there", true),
            ("line\nbreak", true),
            ("nul\u{0}", false),
            ("c1\u{85}", false),
        ] {
            assert_eq!(is_clean_text(text), clean, "{text:?}");
        }
        assert!(BODY_TEXT.contains(r"\u007F-\u009F"));
    }
}
