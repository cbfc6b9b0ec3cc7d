//! The HTTP error: every failure a request can meet, rendered as RFC 9457
//! `application/problem+json` with a stable machine `code`. This is the one
//! place the use cases' [`AppError`] becomes HTTP.
//!
//! Internal details (database text, panics, upstream bodies) are logged with
//! the request id and never reach the client.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::stranded::StrandedBooking;
use crate::app::abuse::RateLimit;
use crate::app::idempotency::StoredResponse;
use crate::app::AppError;
use crate::db::DbError;
use crate::domain::eligibility::Reason;
use crate::payments::PaymentError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`client.email`), or the parameter name.
    #[schema(example = "date_of_birth", max_length = 200)]
    pub field: String,
    /// Stable code for the rule that failed.
    #[schema(example = "invalid", max_length = 64)]
    pub code: String,
    /// What is wrong, in plain language.
    #[schema(
        example = "must be a real date in the form YYYY-MM-DD",
        max_length = 300
    )]
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<crate::app::FieldError> for FieldError {
    fn from(e: crate::app::FieldError) -> Self {
        Self {
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

/// RFC 9457 problem details, as every error is sent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "tag:clinic-api,2026:problem:validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "One or more fields are invalid.",
    "code": "validation_failed",
    "errors": [{"field": "date_of_birth", "code": "required", "message": "is required"}]
}))]
pub struct Problem {
    /// A URI naming the problem type; stable per `code`.
    #[serde(rename = "type")]
    #[schema(example = "tag:clinic-api,2026:problem:not_found", max_length = 100)]
    pub problem_type: String,
    /// Short summary of the problem type.
    #[schema(example = "Not found", max_length = 100)]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 404, minimum = 100, maximum = 599)]
    pub status: u16,
    /// What went wrong in this occurrence.
    #[schema(example = "No treatment with that slug.", max_length = 1000)]
    pub detail: String,
    /// Stable machine-readable code.
    #[schema(example = "not_found", max_length = 64)]
    pub code: String,
    /// Per-field errors, when the request had invalid fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false, max_items = 100)]
    pub errors: Vec<FieldError>,
    /// Why the client may not be treated, when the code is `ineligible`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false, max_items = 10)]
    pub reasons: Vec<Reason>,
    /// The live bookings a schedule change would strand, when the code is
    /// `bookings_stranded`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub stranded_bookings: Vec<StrandedBooking>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("bad request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("gone {code}: {detail}")]
    Gone { code: &'static str, detail: String },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// The client did not send its request body in time; the connection
    /// is closed after this answer.
    #[error("request body timeout")]
    BodyTimeout { limit_ms: u128 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("not acceptable")]
    NotAcceptable,
    #[error("unprocessable {code}: {detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("ineligible")]
    Ineligible(Vec<Reason>),
    #[error("bookings stranded")]
    Stranded(Vec<StrandedBooking>),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64, limit: u32 },
    #[error("upstream failure {code}: {detail}")]
    BadGateway { code: &'static str, detail: String },
    #[error("unavailable {code}: {detail}")]
    Unavailable {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    /// A bug or an infrastructure fault; the message is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// A single invalid field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BadRequest { code, .. } => code,
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict { code, .. } => code,
            Self::Gone { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotAcceptable => "not_acceptable",
            Self::Unprocessable { code, .. } => code,
            Self::Ineligible(_) => "ineligible",
            Self::Stranded(_) => "bookings_stranded",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::BadGateway { code, .. } => code,
            Self::Unavailable { code, .. } => code,
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "Malformed JSON",
            Self::BadRequest { .. } => "Bad request",
            Self::Validation(_) => "Validation failed",
            Self::Unauthorized(_) => "Authentication required",
            Self::Forbidden => "Forbidden",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::Gone { .. } => "Gone",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::BodyTimeout { .. } => "Request timeout",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::NotAcceptable => "Not acceptable",
            Self::Unprocessable { .. } => "Unprocessable request",
            Self::Ineligible(_) => "Not eligible for treatment",
            Self::Stranded(_) => "Bookings would be stranded",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::BadGateway { .. } => "Upstream failure",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::MalformedJson(msg) => format!("The request body is not valid JSON: {msg}."),
            Self::Validation(_) => "One or more fields are invalid.".into(),
            Self::Unauthorized(why) => (*why).into(),
            Self::Forbidden => "Your API key does not have a role allowed here.".into(),
            Self::NotFound(what) => format!("No {what} was found here."),
            Self::MethodNotAllowed => "This method is not allowed on this resource.".into(),
            Self::PayloadTooLarge { limit } => {
                format!("The request body exceeds the limit of {limit} bytes.")
            }
            Self::BodyTimeout { limit_ms } => {
                format!("The request body did not arrive within {limit_ms} ms.")
            }
            Self::UnsupportedMediaType => "Send the request body as application/json.".into(),
            Self::NotAcceptable => "This resource is available as application/json.".into(),
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                format!("Too many requests; retry after {retry_after_secs} seconds.")
            }
            Self::Stranded(b) => format!(
                "{} live booking(s) would be left outside the diary; say on_stranded_bookings: keep or cancel, or move them first.",
                b.len()
            ),
            Self::Ineligible(reasons) => reasons
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            Self::BadRequest { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::Gone { detail, .. }
            | Self::Unprocessable { detail, .. }
            | Self::BadGateway { detail, .. }
            | Self::Unavailable { detail, .. } => detail.clone(),
            Self::Internal(_) => "An unexpected error occurred. It has been logged.".into(),
        }
    }

    /// The problem document sent to the client, within the bounds its
    /// schema states: at most [`MAX_FIELD_ERRORS`] field errors (the first,
    /// by field), and text cut to its length (a field's path or a decoder's
    /// message can repeat what the client sent).
    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            problem_type: problem_type(code),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: clip(&self.detail(), 1000),
            code: code.into(),
            errors: match self {
                Self::Validation(errors) => errors
                    .iter()
                    .take(MAX_FIELD_ERRORS)
                    .map(|e| FieldError {
                        field: clip(&e.field, 200),
                        code: clip(&e.code, 64),
                        message: clip(&e.message, 300),
                    })
                    .collect(),
                _ => Vec::new(),
            },
            reasons: match self {
                Self::Ineligible(reasons) => reasons.clone(),
                _ => Vec::new(),
            },
            stranded_bookings: match self {
                Self::Stranded(b) => b.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// The most field errors one problem lists (`maxItems` of `errors`).
pub const MAX_FIELD_ERRORS: usize = 100;

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The `type` URI for a problem code: a tag URI, stable and not dereferenced.
pub fn problem_type(code: &str) -> String {
    format!("tag:clinic-api,2026:problem:{code}")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::Unprocessable { .. } | Self::Ineligible(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::Stranded(_) => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(msg) => tracing::error!(error = %msg, "internal error"),
            Self::BadGateway { detail, .. } | Self::Unavailable { detail, .. } => {
                tracing::warn!(code = self.code(), detail = %detail, "dependency failure")
            }
            _ => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            Self::TooManyRequests {
                retry_after_secs,
                limit,
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                for (name, value) in crate::api::responses::rate_limit_fields(&RateLimit {
                    limit: *limit,
                    remaining: 0,
                    reset_secs: *retry_after_secs,
                }) {
                    builder.insert_header((name, value));
                }
            }
            Self::Unavailable {
                retry_after_secs, ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized(_) => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::BodyTimeout { .. } => {
                builder.force_close();
            }
            Self::MethodNotAllowed => {}
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = builder.body(body);
        // For the request metrics: what a 503 was about.
        resp.extensions_mut().insert(ProblemCode(self.code()));
        resp
    }
}

/// The `code` of the problem a response carries (a response extension,
/// read by the request metrics).
#[derive(Debug, Clone, Copy)]
pub struct ProblemCode(pub &'static str);

impl From<DbError> for ApiError {
    /// Every way of losing the database is a 503 with `Retry-After`: the
    /// request changed nothing (or, for a commit the database did not
    /// confirm in time, says it may have) and can be retried.
    fn from(err: DbError) -> Self {
        match err {
            DbError::Busy => Self::Unavailable {
                code: "database_busy",
                detail: "The database is busy; retry shortly.".into(),
                retry_after_secs: 1,
            },
            DbError::Unavailable(msg) => {
                tracing::error!(error = %msg, "database unavailable");
                Self::Unavailable {
                    code: "database_unavailable",
                    detail: "The database is not reachable; retry shortly.".into(),
                    retry_after_secs: 5,
                }
            }
            DbError::Timeout(msg) => {
                tracing::error!(error = %msg, "database timeout");
                let detail = if msg.contains("may have been saved") {
                    "The database did not confirm the change in time; it may have been saved. Retry with the same Idempotency-Key to find out."
                } else {
                    "The database did not answer in time; nothing was changed. Retry shortly."
                };
                Self::Unavailable {
                    code: "database_timeout",
                    detail: detail.into(),
                    retry_after_secs: 2,
                }
            }
            DbError::StorageFull(msg) => {
                tracing::error!(error = %msg, "database storage full");
                Self::Unavailable {
                    code: "storage_full",
                    detail: "The database has no room for this change; nothing was changed. Retry later.".into(),
                    retry_after_secs: 30,
                }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<PaymentError> for ApiError {
    /// A failed provider call: nothing was charged.
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Declined(msg) => Self::Unprocessable {
                code: "payment_declined",
                detail: format!("The payment was declined: {msg}"),
            },
            PaymentError::Unavailable(msg) => Self::Unavailable {
                code: "payment_provider_unavailable",
                detail: format!("The payment provider did not answer in time; nothing was charged and the slot was released. Retry with the same Idempotency-Key. ({msg})"),
                retry_after_secs: 5,
            },
            PaymentError::Rejected(msg) => Self::BadGateway {
                code: "payment_provider_error",
                detail: format!("The payment provider refused the request; nothing was charged. ({msg})"),
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(what) => Self::NotFound(what),
            AppError::Invalid(errors) => {
                Self::Validation(errors.into_iter().map(FieldError::from).collect())
            }
            AppError::Refused { code, detail } => Self::Unprocessable { code, detail },
            AppError::Ineligible(reasons) => Self::Ineligible(reasons),
            AppError::Stranded(b) => Self::Stranded(b.into_iter().map(Into::into).collect()),
            AppError::Conflict { code, detail } => Self::Conflict { code, detail },
            AppError::Gone { code, detail } => Self::Gone { code, detail },
            AppError::RateLimited {
                retry_after_secs,
                limit,
            } => Self::TooManyRequests {
                retry_after_secs,
                limit,
            },
            AppError::Provider(p) => p.into(),
            AppError::Database(d) => d.into(),
            AppError::Internal(msg) => Self::Internal(msg),
        }
    }
}

/// The problem a use case's failure is answered with, in storable form for
/// an idempotent replay; `None` for failures on the server's side, which
/// are not stored (a retry runs anew).
pub fn stored_problem(e: &AppError) -> Option<StoredResponse> {
    if e.is_server_side() {
        return None;
    }
    let api = ApiError::from(e.clone());
    Some(StoredResponse {
        status: api.status_code().as_u16(),
        body: serde_json::to_string(&api.problem()).unwrap_or_default(),
        location: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_problem_shape() {
        let err =
            ApiError::Validation(vec![FieldError::new("pregnant", "required", "is required")]);
        let p = err.problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.errors.len(), 1);
        assert!(p.problem_type.ends_with(":validation_failed"));
    }

    #[test]
    fn internal_details_are_not_sent() {
        let err = ApiError::internal("UNIQUE constraint failed: secret_table.col");
        let body = serde_json::to_string(&err.problem()).unwrap();
        assert!(!body.contains("secret_table"), "{body}");
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn losing_the_database_is_a_retryable_503_never_a_500() {
        let cases = [
            (
                DbError::Unavailable("no connection to the server".into()),
                "database_unavailable",
            ),
            (
                DbError::Timeout("canceling statement due to statement timeout".into()),
                "database_timeout",
            ),
            (
                DbError::StorageFull("database or disk is full".into()),
                "storage_full",
            ),
            (DbError::Busy, "database_busy"),
        ];
        for (e, code) in cases {
            let resp = ApiError::from(e).error_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{code}");
            assert!(resp.headers().get(header::RETRY_AFTER).is_some(), "{code}");
            assert_eq!(resp.extensions().get::<ProblemCode>().unwrap().0, code);
        }
    }

    #[test]
    fn problems_stay_within_their_documented_bounds() {
        let long = "x".repeat(5000);
        let errors = (0..150)
            .map(|i| FieldError::new(format!("{i:03}{long}"), "invalid", long.clone()))
            .collect();
        let p = ApiError::Validation(errors).problem();
        assert_eq!(p.errors.len(), MAX_FIELD_ERRORS);
        assert_eq!(p.errors[0].field.chars().count(), 200);
        assert!(p.errors[0].field.starts_with("000") && p.errors[0].field.ends_with('…'));
        assert_eq!(p.errors[0].message.chars().count(), 300);
        let p = ApiError::MalformedJson(long).problem();
        assert_eq!(p.detail.chars().count(), 1000);
    }

    #[test]
    fn retry_after_is_sent_when_rate_limited() {
        let resp = ApiError::TooManyRequests {
            retry_after_secs: 7,
            limit: 30,
        }
        .error_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "7");
        assert_eq!(resp.headers().get("ratelimit-limit").unwrap(), "30");
        assert_eq!(resp.headers().get("ratelimit-remaining").unwrap(), "0");
        assert_eq!(resp.headers().get("ratelimit-reset").unwrap(), "7");
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
    }
}
