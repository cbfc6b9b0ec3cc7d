//! The bounds the OpenAPI document states — `maxLength`, `maxItems`,
//! `minimum`, `maximum` — enforced on every JSON request body and query
//! string from the served document itself, so that what the contract
//! promises and what the server refuses cannot drift apart. A value beyond
//! a bound is a 422 naming the field (or the parameter), before the request
//! is decoded any further.
//!
//! Built once from the document at start-up (`startup`) and found by the
//! extractors (`extract`) through the app data.

use actix_web::HttpRequest;
use serde_json::Value;

use crate::api::error::FieldError;

/// The refined OpenAPI document, as JSON, for looking bounds up.
pub struct Bounds {
    doc: Value,
}

impl Bounds {
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        Self {
            doc: serde_json::to_value(doc).unwrap_or(Value::Null),
        }
    }

    /// The operation a request was routed to, by its route pattern and method.
    fn operation(&self, req: &HttpRequest) -> Option<&Value> {
        let pattern = req.match_pattern()?;
        let method = req.method().as_str().to_ascii_lowercase();
        self.doc.get("paths")?.get(pattern.as_str())?.get(method)
    }

    /// The bounds a JSON body breaks, by the operation's request schema.
    pub fn check_body(&self, req: &HttpRequest, body: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let schema = self
            .operation(req)
            .and_then(|op| op.pointer("/requestBody/content/application~1json/schema"));
        if let Some(schema) = schema {
            self.check(schema, body, "", &mut out, 0);
        }
        out.sort_by(|a, b| a.field.cmp(&b.field));
        out
    }

    /// The bounds a query string breaks, by the operation's query parameters.
    pub fn check_query(&self, req: &HttpRequest) -> Vec<FieldError> {
        let Some(params) = self
            .operation(req)
            .and_then(|op| op.get("parameters"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, raw) in form_urlencoded::parse(req.query_string().as_bytes()) {
            let schema = params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == *name)
                .map(|p| &p["schema"]);
            let Some(schema) = schema else { continue };
            let value = if schema["type"] == "integer" {
                match raw.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    // Not a number: the decoder says so.
                    Err(_) => continue,
                }
            } else {
                Value::from(raw.as_ref())
            };
            if !out.iter().any(|e: &FieldError| e.field == name) {
                self.check(schema, &value, &name, &mut out, 0);
            }
        }
        out
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix('#')
                .and_then(|pointer| self.doc.pointer(pointer))
                .unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        out: &mut Vec<FieldError>,
        depth: u8,
    ) {
        // Request schemas nest a few levels; a cycle would stop here.
        if depth > 16 {
            return;
        }
        let schema = self.resolve(schema);
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(part, value, path, out, depth + 1);
        }
        for key in ["oneOf", "anyOf"] {
            for branch in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if admits_type(self.resolve(branch), value) {
                    self.check(branch, value, path, out, depth + 1);
                }
            }
        }
        let name = if path.is_empty() { "(body)" } else { path };
        match value {
            Value::String(s) => {
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                    if s.chars().count() as u64 > max {
                        out.push(FieldError::new(
                            name,
                            "length",
                            format!("must be at most {max} characters"),
                        ));
                    }
                }
            }
            Value::Number(n) => {
                let low = schema.get("minimum").and_then(Value::as_f64);
                let high = schema.get("maximum").and_then(Value::as_f64);
                let x = n.as_f64().unwrap_or_default();
                if low.is_some_and(|l| x < l) || high.is_some_and(|h| x > h) {
                    let message = match (
                        schema.get("minimum").filter(|_| low.is_some()),
                        schema.get("maximum").filter(|_| high.is_some()),
                    ) {
                        (Some(l), Some(h)) => format!("must be between {l} and {h}"),
                        (Some(l), None) => format!("must be at least {l}"),
                        (None, Some(h)) => format!("must be at most {h}"),
                        (None, None) => "is out of range".to_owned(),
                    };
                    out.push(FieldError::new(name, "range", message));
                }
            }
            Value::Array(items) => {
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                    if items.len() as u64 > max {
                        out.push(FieldError::new(
                            name,
                            "length",
                            format!("must have at most {max} items"),
                        ));
                        return;
                    }
                }
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{path}[{i}]"), out, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                for (key, v) in map {
                    let field = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    match props.and_then(|p| p.get(key)) {
                        Some(prop) => self.check(prop, v, &field, out, depth + 1),
                        None => {
                            if let Some(extra) =
                                schema.get("additionalProperties").filter(|s| s.is_object())
                            {
                                self.check(extra, v, &field, out, depth + 1);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether a schema's `type` (if it names one) admits the value's type.
fn admits_type(schema: &Value, value: &Value) -> bool {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let names = |t: &Value| t == kind || (kind == "integer" && t == "number");
    match schema.get("type") {
        None => true,
        Some(Value::Array(types)) => types.iter().any(names),
        Some(t) => names(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bounds() -> Bounds {
        Bounds {
            doc: json!({
                "paths": {},
                "components": {"schemas": {
                    "Money": {"type": "object", "properties": {
                        "amount": {"type": "integer", "minimum": 0, "maximum": 100}
                    }},
                    "Input": {"type": "object", "properties": {
                        "name": {"type": ["string", "null"], "maxLength": 3},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 2}},
                        "price": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Money"}]}
                    }}
                }}
            }),
        }
    }

    fn fields(body: Value) -> Vec<(String, String)> {
        let b = bounds();
        let mut out = Vec::new();
        b.check(
            &json!({"$ref": "#/components/schemas/Input"}),
            &body,
            "",
            &mut out,
            0,
        );
        let mut got: Vec<_> = out.into_iter().map(|e| (e.field, e.code)).collect();
        got.sort();
        got
    }

    #[test]
    fn lengths_items_and_ranges_are_checked_where_the_schema_says() {
        assert!(
            fields(json!({"name": "abc", "tags": ["ab"], "price": {"amount": 100}})).is_empty()
        );
        assert!(fields(json!({"name": null, "price": null})).is_empty());
        assert_eq!(
            fields(json!({"name": "abcd", "tags": ["abc"], "price": {"amount": 101}})),
            vec![
                ("name".to_owned(), "length".to_owned()),
                ("price.amount".to_owned(), "range".to_owned()),
                ("tags[0]".to_owned(), "length".to_owned()),
            ]
        );
        assert_eq!(
            fields(json!({"tags": ["a", "b", "c"], "price": {"amount": -1}})),
            vec![
                ("price.amount".to_owned(), "range".to_owned()),
                ("tags".to_owned(), "length".to_owned()),
            ]
        );
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        assert!(fields(json!({"name": "ééé"})).is_empty());
    }
}
