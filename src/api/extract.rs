//! Request decoding with problem+json errors: JSON bodies (size limit,
//! syntax, every missing field at once, unknown fields, validation rules),
//! query strings and path parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::api::bounds::Bounds;
use crate::api::error::{ApiError, FieldError};
use crate::app::App;

/// A JSON body decoded into `T` and checked by its validation rules, with
/// the digest of the exact bytes received (the request's fingerprint for
/// idempotency).
pub struct ValidJson<T>(pub T, pub BodyDigest);

/// SHA-256 of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest(pub [u8; 32]);

impl BodyDigest {
    pub fn of(body: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(body).into())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + utoipa::PartialSchema + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body::<T>(req, payload, None);
        Box::pin(async move { body.await.map(|(v, digest)| ValidJson(v, digest)) })
    }
}

/// Like [`ValidJson`], for a body that may be left out: an empty body
/// (whatever its `Content-Type`), or JSON `null`, means `T::default()`,
/// with the digest of `{}` so that they are the same request for
/// idempotency.
pub struct OptionalJson<T>(pub T, pub BodyDigest);

impl<T> FromRequest for OptionalJson<T>
where
    T: DeserializeOwned + Validate + Default + utoipa::PartialSchema + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body::<T>(req, payload, Some(T::default));
        Box::pin(async move { body.await.map(|(v, digest)| OptionalJson(v, digest)) })
    }
}

/// Reads and decodes a JSON body (within `MAX_BODY_BYTES`). With `default`,
/// a missing body (empty, or `null`) is `default()`.
fn json_body<T>(
    req: &HttpRequest,
    payload: &mut Payload,
    default: Option<fn() -> T>,
) -> impl Future<Output = Result<(T, BodyDigest), ApiError>> + 'static
where
    T: DeserializeOwned + Validate + utoipa::PartialSchema + 'static,
{
    let limit = req
        .app_data::<web::Data<App>>()
        .map(|s| s.settings.max_body_bytes)
        .unwrap_or(65_536);
    let content_type_ok = is_json_content_type(req);
    let bounds = req.app_data::<web::Data<Bounds>>().cloned();
    let req = req.clone();
    let mut payload = payload.take();
    async move {
        if !content_type_ok && default.is_none() {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = read_body(&mut payload, limit).await?;
        if let Some(default) = default {
            let empty = body.iter().all(u8::is_ascii_whitespace);
            if !empty && !content_type_ok {
                return Err(ApiError::UnsupportedMediaType);
            }
            if empty || body.trim_ascii() == b"null" {
                return Ok((default(), BodyDigest::of(b"{}")));
            }
        }
        let digest = BodyDigest::of(&body);
        let check = |value: &serde_json::Value| match &bounds {
            Some(b) => b.check_body(&req, value),
            None => Vec::new(),
        };
        decode_json_with::<T>(&body, check).map(|v| (v, digest))
    }
}

/// Reads a whole body, refusing more than `limit` bytes; a body that did
/// not arrive by its deadline ([`body_deadline`]) is a 408, after which
/// the connection is closed.
pub async fn read_body<S>(payload: &mut S, limit: usize) -> Result<BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>> + Unpin,
{
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match BodyTimedOut::of(&e) {
            Some(t) => ApiError::BodyTimeout {
                limit_ms: t.0.as_millis(),
            },
            None => ApiError::bad_request("unreadable_body", "The request body could not be read."),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Middleware: a request body must arrive whole within
/// `CLIENT_BODY_TIMEOUT_MS` of the request reaching the application (the
/// server itself closes connections whose headers are not in after 5 s).
/// A client that trickles its body, or stops half-way, gets a 408 when
/// the handler reads it, and its connection is closed; one whose body no
/// handler reads is closed after the answer.
pub async fn body_deadline(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let limit = req
        .app_data::<web::Data<App>>()
        .map(|a| a.settings.client_body_timeout);
    if let (true, Some(limit)) = (has_body, limit) {
        let payload = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(Deadline {
                inner: payload,
                sleep: Box::pin(tokio::time::sleep(limit)),
                limit,
                expired: false,
            }),
        });
    }
    next.call(req).await
}

/// A request body with a deadline.
struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: std::time::Duration,
    expired: bool,
}

/// The error a body past its deadline ends with.
#[derive(Debug)]
struct BodyTimedOut(std::time::Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for BodyTimedOut {}

impl BodyTimedOut {
    fn of(e: &PayloadError) -> Option<&BodyTimedOut> {
        match e {
            PayloadError::Io(io) => io.get_ref()?.downcast_ref::<BodyTimedOut>(),
            _ => None,
        }
    }
}

impl<S> futures_util::Stream for Deadline<S>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>> + Unpin,
{
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.expired = true;
                    let err =
                        std::io::Error::new(std::io::ErrorKind::TimedOut, BodyTimedOut(self.limit));
                    Poll::Ready(Some(Err(PayloadError::Io(err))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON value read strictly: an object that names a key twice is
/// refused (a parser that keeps the last of `"pregnant": true,
/// "pregnant": false` would let a client say two things at once).
struct Strict(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(object.into())
    }
}

/// Decodes and validates a JSON document (also used by tests and tools).
pub fn decode_json<T>(body: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate + utoipa::PartialSchema,
{
    decode_json_with(body, |_| Vec::new())
}

/// Like [`decode_json`], with `bounds` naming the fields that break the
/// document's bounds (`api::bounds`), reported with any missing field.
fn decode_json_with<T>(
    body: &[u8],
    bounds: impl FnOnce(&serde_json::Value) -> Vec<FieldError>,
) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate + utoipa::PartialSchema,
{
    let Strict(value) =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(syntax_message(&e)))?;
    let value = integral_numbers(value);
    if let Some(path) = unclean_string(&value, "") {
        return Err(ApiError::field(
            &path,
            "invalid_character",
            "must not contain NUL or other control characters (tab and line breaks are fine)",
        ));
    }
    let mut errors = Vec::new();
    match &value {
        serde_json::Value::Object(map) => {
            // Name every missing required field at once, not just the first.
            for field in required_fields::<T>() {
                if !map.contains_key(&field) {
                    errors.push(FieldError::new(field, "required", "is required"));
                }
            }
        }
        _ => {
            return Err(ApiError::field(
                "",
                "invalid_type",
                "the body must be a JSON object",
            ));
        }
    }
    for broken in bounds(&value) {
        if !errors.iter().any(|f| f.field == broken.field) {
            errors.push(broken);
        }
    }
    let decoded = serde_path_to_error::deserialize::<_, T>(value);
    let decoded = match decoded {
        Ok(v) => v,
        Err(e) => {
            let field = field_error(&e);
            if !errors.iter().any(|f| f.field == field.field) {
                errors.push(field);
            }
            return Err(ApiError::Validation(errors));
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    decoded
        .validate()
        .map_err(|e| ApiError::Validation(flatten(&e)))?;
    Ok(decoded)
}

/// JSON Schema counts `309.0` as an integer; serde does not. Numbers with
/// no fractional part become integers before decoding.
fn integral_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The path of the first string (or key) holding a control character.
fn unclean_string(value: &serde_json::Value, path: &str) -> Option<String> {
    use crate::domain::dates::is_clean_text;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        serde_json::Value::String(s) if !is_clean_text(s) => Some(path.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| unclean_string(v, &format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if is_clean_text(k) {
                unclean_string(v, &join(k))
            } else {
                Some(join("?"))
            }
        }),
        _ => None,
    }
}

/// Middleware: a URL with a percent-encoded control character (`%00`…`%1F`,
/// `%7F`) is refused before any handler sees it.
pub async fn reject_control_characters(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    use actix_web::ResponseError;
    let uri = req.uri().to_string();
    let bytes = uri.as_bytes();
    let encoded_control = bytes.windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1].to_ascii_uppercase(), w[2].to_ascii_uppercase()),
                (b'0' | b'1', b'0'..=b'9' | b'A'..=b'F') | (b'7', b'F')
            )
    });
    if encoded_control {
        let resp = ApiError::bad_request(
            "invalid_characters",
            "The URL contains an encoded control character.",
        )
        .error_response();
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req).await.map(|r| r.map_into_left_body())
}

fn syntax_message(e: &serde_json::Error) -> String {
    // A duplicate key is the one data error raised while reading a value;
    // its message names the key (never a value).
    let what = match e.classify() {
        serde_json::error::Category::Data if e.to_string().starts_with("duplicate key") => e
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or("duplicate key")
            .to_owned(),
        _ => classify(e).to_owned(),
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Io => "unreadable input",
        serde_json::error::Category::Data => "invalid data",
    }
}

/// The top-level required properties of `T`'s OpenAPI schema.
fn required_fields<T: utoipa::PartialSchema>() -> Vec<String> {
    match T::schema() {
        utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(obj)) => obj.required,
        _ => Vec::new(),
    }
}

/// Fields of read shapes that the server owns.
const SERVER_OWNED: &[&str] = &["id", "created_at", "updated_at", "minimum_age"];

/// Turns a serde error into a field error with a JSON path.
fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let base = if path == "." { String::new() } else { path };
    let message = e.inner().to_string();
    let join = |name: &str| {
        if base == name || base.ends_with(&format!(".{name}")) {
            base.clone()
        } else if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}.{name}")
        }
    };
    if let Some(name) = backticked(&message, "unknown field `") {
        // Fields every read shape has and no write shape takes: say why, for
        // a client that sends back what it read.
        let why = if SERVER_OWNED.contains(&name) {
            "is set by the server, not by a request: leave it out when sending back what GET showed"
        } else {
            "is not a field of this request"
        };
        return FieldError::new(join(name), "unknown_field", why);
    }
    if let Some(name) = backticked(&message, "missing field `") {
        return FieldError::new(join(name), "required", "is required");
    }
    let code = if message.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid"
    };
    FieldError::new(base, code, message)
}

fn backticked<'a>(message: &'a str, lead: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(lead)?;
    rest.split('`').next()
}

/// Flattens nested validator errors into `a.b[2].c` paths, sorted.
pub fn flatten(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    walk(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn walk(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in &errors.0 {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| default_message(&e.code));
                    out.push(FieldError::new(path.clone(), e.code.to_string(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => walk(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    walk(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn default_message(code: &str) -> String {
    match code {
        "length" => "has the wrong length".into(),
        "range" => "is out of range".into(),
        "email" => "must be an email address".into(),
        "url" => "must be a URL".into(),
        other => format!("is invalid ({other})"),
    }
}

/// A query string decoded into `T`; a bad value is a 422 naming the
/// parameter (`?limit=abc` → `limit`: must be a whole number).
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let broken = req
            .app_data::<web::Data<Bounds>>()
            .map(|b| b.check_query(req))
            .unwrap_or_default();
        if !broken.is_empty() {
            return std::future::ready(Err(ApiError::Validation(broken)));
        }
        std::future::ready(decode_query(req.query_string()).map(Query))
    }
}

/// Decodes a query string, naming the parameter that does not fit.
pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let (field, code, message) = if let Some(name) = backticked(&message, "unknown field `") {
            (
                name.to_owned(),
                "unknown_parameter",
                "is not a parameter of this route".to_owned(),
            )
        } else if let Some(name) = backticked(&message, "missing field `") {
            (name.to_owned(), "required", "is required".to_owned())
        } else {
            let field = if path == "." { String::new() } else { path };
            (field, "invalid", plain_query_message(&message))
        };
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    })
}

/// serde's wording of a bad query value, in plain words where it is known.
fn plain_query_message(message: &str) -> String {
    if message.contains("invalid digit") || message.contains("cannot parse integer") {
        "must be a whole number".to_owned()
    } else if message.contains("too large") || message.contains("too small") {
        "is out of range".to_owned()
    } else if message.contains("`true` or `false`") {
        "must be true or false".to_owned()
    } else {
        message.to_owned()
    }
}

/// Query strings: a bad value is a 422 naming the parameter.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = err.to_string();
    let field = backticked(
        message.trim_start_matches("Query deserialize error: "),
        "unknown field `",
    )
    .or_else(|| {
        backticked(
            message.trim_start_matches("Query deserialize error: "),
            "missing field `",
        )
    })
    .unwrap_or("")
    .to_owned();
    let detail = message
        .trim_start_matches("Query deserialize error: ")
        .to_owned();
    ApiError::Validation(vec![FieldError::new(field, "invalid_query", detail)]).into()
}

/// Path parameters that cannot be parsed name nothing that exists — unless
/// the path is another route's, under another method (405).
pub fn path_error(_: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    match crate::api::fallback::method_not_allowed(req) {
        Some(resp) => {
            actix_web::error::InternalError::from_response("method not allowed", resp).into()
        }
        None => ApiError::NotFound("resource").into(),
    }
}

/// A JSON body given to actix's own extractor (not used by our handlers,
/// but kept consistent).
pub fn json_error(err: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit }.into()
        }
        E::ContentType => ApiError::UnsupportedMediaType.into(),
        other => ApiError::MalformedJson(other.to_string()).into(),
    }
}

/// Refuses a date outside the span the API works with (422 naming the field).
/// A comma-separated list of values (`confirmed,pending_deposit`), each
/// parsed by `parse`; a bad one is a 422 naming `field`.
pub fn comma_list<T>(
    field: &str,
    raw: Option<&str>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    raw.map(|s| {
        s.split(',')
            .map(|p| {
                parse(p).ok_or_else(|| {
                    ApiError::field(field, "invalid", format!("{p:?} is not {what}"))
                })
            })
            .collect()
    })
    .unwrap_or(Ok(Vec::new()))
}

/// The UTC span of clinic-local dates `from..=to` (either end open): from
/// the first instant of `from` to the first instant after `to`.
pub fn local_days(
    tz: chrono_tz::Tz,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    use crate::domain::slots::local_midnight;
    (
        from.map(|d| local_midnight(tz, d)),
        to.map(|d| local_midnight(tz, d + chrono::Duration::days(1))),
    )
}

pub fn supported_date(field: &str, date: Option<chrono::NaiveDate>) -> Result<(), ApiError> {
    match date {
        Some(d) if !crate::domain::dates::date_supported(d) => Err(ApiError::field(
            field,
            "range",
            crate::domain::dates::unsupported_message(),
        )),
        _ => Ok(()),
    }
}

/// Deserialises a `YYYY-MM-DD` date that must exist in the calendar.
pub fn calendar_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<chrono::NaiveDate, D::Error> {
    let raw = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    parse_calendar_date(&raw).map_err(serde::de::Error::custom)
}

/// Like [`calendar_date`], for an optional field.
pub fn optional_calendar_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono::NaiveDate>, D::Error> {
    let raw = <Option<std::borrow::Cow<'de, str>> as serde::Deserialize>::deserialize(d)?;
    raw.map(|r| parse_calendar_date(&r).map_err(serde::de::Error::custom))
        .transpose()
}

fn parse_calendar_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    let well_formed = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(format!("{raw:?} is not a date in the form YYYY-MM-DD"));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{raw} is not a real calendar date"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use utoipa::ToSchema;

    #[derive(Debug, Deserialize, Validate, ToSchema)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[validate(email)]
        email: String,
    }

    #[derive(Debug, Deserialize, Validate, ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[validate(length(min = 1, max = 5))]
        name: String,
        flag: bool,
        #[validate(nested)]
        inner: Inner,
        note: Option<String>,
    }

    fn codes(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Validation(list) => list.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_400() {
        let err = decode_json::<Outer>(b"{\"name\": ").unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }

    #[test]
    fn every_missing_field_is_named() {
        let err = decode_json::<Outer>(b"{}").unwrap_err();
        let got = codes(err);
        assert!(got.contains(&("name".into(), "required".into())), "{got:?}");
        assert!(got.contains(&("flag".into(), "required".into())), "{got:?}");
        assert!(
            got.contains(&("inner".into(), "required".into())),
            "{got:?}"
        );
        assert!(!got.iter().any(|(f, _)| f == "note"), "{got:?}");
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let err = decode_json::<Outer>(
            br#"{"name":"a","flag":true,"inner":{"email":"a@b.c"},"status":"paid"}"#,
        )
        .unwrap_err();
        assert_eq!(codes(err), vec![("status".into(), "unknown_field".into())]);
        let err =
            decode_json::<Outer>(br#"{"id":"x","name":"a","flag":true,"inner":{"email":"a@b.c"}}"#)
                .unwrap_err();
        match err {
            ApiError::Validation(list) => {
                assert_eq!(list[0].code, "unknown_field");
                assert!(list[0].message.contains("set by the server"), "{list:?}");
            }
            other => panic!("{other:?}"),
        }
        let err = decode_json::<Outer>(br#"{"name":"a","flag":"yes","inner":{"email":"a@b.c"}}"#)
            .unwrap_err();
        assert_eq!(codes(err), vec![("flag".into(), "invalid_type".into())]);
    }

    #[test]
    fn validation_rules_list_nested_paths() {
        let err =
            decode_json::<Outer>(br#"{"name":"toolong","flag":true,"inner":{"email":"nope"}}"#)
                .unwrap_err();
        assert_eq!(
            codes(err),
            vec![
                ("inner.email".into(), "email".into()),
                ("name".into(), "length".into())
            ]
        );
    }

    #[test]
    fn calendar_dates_must_exist() {
        assert!(parse_calendar_date("2024-02-29").is_ok());
        for bad in [
            "2023-02-30",
            "2023-13-01",
            "2023-1-01",
            "01/02/2023",
            "2023-02-3x",
            "",
        ] {
            assert!(parse_calendar_date(bad).is_err(), "{bad}");
        }
        assert!(parse_calendar_date("2023-02-30")
            .unwrap_err()
            .contains("real calendar date"));
    }

    #[test]
    fn whole_number_floats_count_as_integers() {
        let ok = decode_json::<Outer>(
            br#"{"name":"a","flag":true,"inner":{"email":"a@b.c"},"note":null}"#,
        );
        assert!(ok.is_ok());
        #[derive(Debug, Deserialize, Validate, ToSchema)]
        struct N {
            n: u16,
        }
        assert_eq!(decode_json::<N>(br#"{"n": 309.0}"#).unwrap().n, 309);
        assert!(decode_json::<N>(br#"{"n": 309.5}"#).is_err());
    }

    #[test]
    fn control_characters_in_any_string_are_named() {
        let err =
            decode_json::<Outer>(br#"{"name":"a","flag":true,"inner":{"email":"a\u0000@b.c"}}"#)
                .unwrap_err();
        assert_eq!(
            codes(err),
            vec![("inner.email".into(), "invalid_character".into())]
        );
    }

    #[test]
    fn query_errors_name_the_parameter() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<u32>,
            archived: Option<bool>,
            from: chrono::NaiveDate,
        }
        let err = |q: &str| match decode_query::<Q>(q).unwrap_err() {
            ApiError::Validation(list) => (
                list[0].field.clone(),
                list[0].code.clone(),
                list[0].message.clone(),
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err("from=2026-12-01&limit=abc"),
            (
                "limit".into(),
                "invalid".into(),
                "must be a whole number".into()
            )
        );
        assert_eq!(err("from=2026-12-01&archived=maybe").0, "archived");
        assert_eq!(
            err("from=2026-12-01&limt=5"),
            (
                "limt".into(),
                "unknown_parameter".into(),
                "is not a parameter of this route".into()
            )
        );
        assert_eq!(err("limit=5").0, "from");
        assert_eq!(err("from=tomorrow").0, "from");
        assert!(decode_query::<Q>("from=2026-12-01&limit=5").is_ok());
    }

    #[test]
    fn non_objects_are_rejected() {
        assert!(matches!(
            decode_json::<Outer>(b"[1]"),
            Err(ApiError::Validation(_))
        ));
    }
}
