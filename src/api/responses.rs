//! Small response helpers shared by the resources.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::HttpResponse;
use serde::Serialize;

use crate::app::abuse::RateLimit;

/// The rate-limit fields (draft-ietf-httpapi-ratelimit-headers, the
/// three-field form; see `api::rate_limit`).
pub const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The `RateLimit-*` fields for where a caller stands.
pub fn rate_limit_fields(state: &RateLimit) -> [(HeaderName, HeaderValue); 3] {
    [
        (RATE_LIMIT_LIMIT, HeaderValue::from(state.limit)),
        (RATE_LIMIT_REMAINING, HeaderValue::from(state.remaining)),
        (RATE_LIMIT_RESET, HeaderValue::from(state.reset_secs)),
    ]
}

/// 201 Created with a Location header.
pub fn created<T: Serialize>(location: &str, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location.to_owned()))
        .json(body)
}
