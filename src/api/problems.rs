//! The problem responses of the OpenAPI document: per-operation lists and
//! the shared responses in `components/responses`.

use std::collections::BTreeMap;

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr};

use super::error::{problem_type, PROBLEM_JSON};

/// The error responses an operation can give, by status code. Each refers
/// to a shared response in `components/responses`.
pub struct ProblemResponses<
    const A: u16,
    const B: u16 = 0,
    const C: u16 = 0,
    const D: u16 = 0,
    const E: u16 = 0,
    const F: u16 = 0,
    const G: u16 = 0,
    const H: u16 = 0,
>;

impl<
        const A: u16,
        const B: u16,
        const C: u16,
        const D: u16,
        const E: u16,
        const F: u16,
        const G: u16,
        const H: u16,
    > utoipa::IntoResponses for ProblemResponses<A, B, C, D, E, F, G, H>
{
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [A, B, C, D, E, F, G, H]
            .into_iter()
            .filter(|s| *s != 0)
            .map(|s| {
                (
                    s.to_string(),
                    RefOr::Ref(Ref::from_response_name(problem_response_name(s))),
                )
            })
            .collect()
    }
}

/// The shared response for a status code.
fn problem_response_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        other => panic!("no shared problem response for status {other}"),
    }
}

fn problem_response(status: u16, description: &str, code: &str, detail: &str) -> Response {
    let example = serde_json::json!({
        "type": problem_type(code),
        "title": description,
        "status": status,
        "detail": detail,
        "code": code,
    });
    let mut builder = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .example(Some(example))
            .build(),
    );
    if matches!(status, 429 | 503) {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(60)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    if status == 401 {
        builder = builder.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .enum_values(Some(["Bearer"])),
                )
                .description(Some("The scheme to authenticate with: Bearer"))
                .build(),
        );
    }
    builder.build()
}

/// Adds the shared problem responses, and the 400 (a URL with an encoded
/// control character), 500 and 503 that any operation can give, to every
/// operation; and the 408 of a body sent too slowly to every operation
/// that takes one.
pub fn add_common_responses(doc: &mut OpenApi) {
    let shared = [
        (
            400,
            "Bad request",
            "malformed_json",
            "The request body is not valid JSON: syntax error at line 1 column 9.",
        ),
        (
            401,
            "Authentication required",
            "unauthorized",
            "This route needs an API key: Authorization: Bearer ck_…",
        ),
        (
            403,
            "Forbidden",
            "forbidden",
            "Your API key does not have a role allowed here.",
        ),
        (
            404,
            "Not found",
            "not_found",
            "No treatment was found here.",
        ),
        (
            409,
            "Conflict",
            "slot_unavailable",
            "Someone else has just booked that time. Please choose another.",
        ),
        (
            408,
            "Request timeout",
            "body_timeout",
            "The request body did not arrive within 10000 ms.",
        ),
        (410, "Gone", "hold_expired", "The hold on this slot lapsed."),
        (
            413,
            "Payload too large",
            "payload_too_large",
            "The request body exceeds the limit of 65536 bytes.",
        ),
        (
            415,
            "Unsupported media type",
            "unsupported_media_type",
            "Send the request body as application/json.",
        ),
        (
            422,
            "Validation failed",
            "validation_failed",
            "One or more fields are invalid.",
        ),
        (
            429,
            "Too many requests",
            "rate_limited",
            "Too many requests; retry after 30 seconds.",
        ),
        (
            500,
            "Internal server error",
            "internal_error",
            "An unexpected error occurred. It has been logged.",
        ),
        (
            502,
            "Upstream failure",
            "payment_provider_error",
            "The payment provider failed; nothing was charged.",
        ),
        (
            503,
            "Service unavailable",
            "database_busy",
            "The database is busy; retry shortly.",
        ),
    ];
    let components = doc.components.get_or_insert_with(Default::default);
    for (status, description, code, detail) in shared {
        components.responses.insert(
            problem_response_name(status).to_owned(),
            RefOr::T(problem_response(status, description, code, detail)),
        );
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let body = op.request_body.is_some().then_some(408u16);
            for status in [400u16, 500, 503].into_iter().chain(body) {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        RefOr::Ref(Ref::from_response_name(problem_response_name(status)))
                    });
            }
        }
    }
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
