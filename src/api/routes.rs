//! Every route, for the server and for the OpenAPI document alike.

use utoipa_actix_web::scope;

use super::{
    audit_events, clients, clinic, consultations, deposits, faqs, health, schedule, screenings,
    stripe_webhook, treatments, webhook_endpoints,
};

/// Registers every route.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health::live).service(health::ready).service(
        scope::scope("/v1")
            .configure(clinic::routes)
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
