//! HTTP only. Each resource module holds its handlers and its wire types
//! (request and response bodies); a handler parses, authorises, calls one
//! `app::` function (plain reads may go to the store) and renders.
//! `error` is the one place a use case's error becomes RFC 9457.

pub mod audit_events;
pub mod auth;
pub mod caching;
pub mod clients;
pub mod consultations;
pub mod contract;
pub mod deposits;
pub mod error;
pub mod examples;
pub mod extract;
pub mod fallback;
pub mod faqs;
pub mod health;
pub mod idempotency;
pub mod pagination;
pub mod rate_limit;
pub mod schedule;
pub mod screenings;
pub mod stripe_webhook;
pub mod treatments;
pub mod validation;
pub mod webhook_endpoints;

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr};
use utoipa::{Modify, OpenApi as _};
use utoipa_actix_web::{scope, AppExt};

use self::error::{problem_type, PROBLEM_JSON};

/// 201 Created with a Location header.
pub fn created<T: Serialize>(location: &str, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location.to_owned()))
        .json(body)
}

/// Every route, for the server and for the OpenAPI document alike.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health::live).service(health::ready).service(
        scope::scope("/v1")
            .configure(treatments::routes)
            .configure(faqs::routes)
            .configure(screenings::routes)
            .configure(schedule::routes)
            .configure(consultations::routes)
            .configure(deposits::routes)
            .configure(clients::routes)
            .configure(audit_events::routes)
            .configure(stripe_webhook::routes)
            .configure(webhook_endpoints::routes),
    );
}

/// The OpenAPI document: paths collected from the handlers, plus the
/// shared parts.
pub fn openapi() -> OpenApi {
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    let mut doc = doc;
    add_common_responses(&mut doc);
    let mut json = serde_json::to_value(&doc).expect("the OpenAPI document serialises");
    contract::refine(&mut json);
    serde_json::from_value(json).expect("the refined document is still an OpenAPI document")
}

/// The document as committed and served: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut json = openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "clinic-api",
        description = "Booking API of an aesthetic clinic: treatment catalogue, FAQ, eligibility screening, consultation booking and deposits.\n\nErrors are RFC 9457 `application/problem+json` documents with a stable `code`. Staff and partner routes take an API key as `Authorization: Bearer ck_…`; a booking's holder uses the manage token returned when it was made.",
        license(name = "MIT", identifier = "MIT"),
        contact(name = "Clinic API team")
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "Treatments", description = "The treatment catalogue."),
        (name = "FAQ", description = "Questions and answers."),
        (name = "Screening", description = "Who may be treated: date of birth and health answers."),
        (name = "Schedule", description = "Practitioners, opening hours, closures and free slots."),
        (name = "Consultations", description = "Booking, self-service with the manage token, and the clinic's diary."),
        (name = "Deposits", description = "Deposits: credit redeemable against any treatment, refunded or forfeited under the cancellation policy."),
        (name = "Clients", description = "Client records, export, erasure and the audit trail."),
        (name = "Webhooks", description = "Events out (subscriptions for partners and staff, signed deliveries, replay) and in (from Stripe)."),
        (name = "Health", description = "Liveness and readiness probes.")
    ),
    components(schemas(self::error::Problem, self::error::FieldError)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ck_…")
                    .description(Some("A staff, admin or partner API key, created with `clinic-api api-key create`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "manage_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mt_…")
                    .description(Some(
                        "The manage token returned once when a consultation is booked.",
                    ))
                    .build(),
            ),
        );
    }
}

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
                        .schema_type(utoipa::openapi::schema::Type::Integer),
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
                        .schema_type(utoipa::openapi::schema::Type::String),
                )
                .description(Some("The scheme to authenticate with: Bearer"))
                .build(),
        );
    }
    builder.build()
}

/// Adds the shared problem responses, and the 400 (a URL with an encoded
/// control character), 500 and 503 that any operation can give, to every
/// operation.
fn add_common_responses(doc: &mut OpenApi) {
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
            "That slot has just been taken; choose another.",
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
            for status in [400u16, 500, 503] {
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
