//! The OpenAPI document: the paths collected from the handlers, the shared
//! parts, and the refinements of `contract`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};
use utoipa_actix_web::AppExt;

use super::{contract, problems, routes};

/// The OpenAPI document: paths collected from the handlers, plus the
/// shared parts.
pub fn openapi() -> OpenApi {
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::routes)
        .split_for_parts();
    let mut doc = doc;
    problems::add_common_responses(&mut doc);
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
        (name = "Clinic", description = "The clinic's public settings, for front ends."),
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
    components(schemas(super::error::Problem, super::error::FieldError)),
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
