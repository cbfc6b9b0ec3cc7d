//! The diary's shape and what it leaves free: practitioners and their
//! opening hours, closures, and free slots.

pub mod availability;
pub mod closures;
pub mod practitioners;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(availability::routes)
        .configure(practitioners::routes)
        .configure(closures::routes);
}
