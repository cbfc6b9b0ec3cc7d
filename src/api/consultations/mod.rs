//! `/v1/consultations`: booking, self-service with the manage token, and
//! the clinic's diary.

pub mod auth;
pub mod calendar;
pub mod create;
pub mod diary;
pub mod manage;
pub mod notifications;
pub mod view;

use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConsultationPath {
    /// The consultation's id.
    pub id: uuid::Uuid,
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create::create)
        .service(diary::list)
        .service(manage::get)
        .service(manage::cancel)
        .service(manage::reschedule)
        .service(calendar::calendar_ics)
        .service(diary::attended)
        .service(diary::no_show)
        .service(diary::screening)
        .service(notifications::list)
        .service(notifications::preview)
        .service(notifications::resend);
}
