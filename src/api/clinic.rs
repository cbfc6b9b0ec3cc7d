//! `/v1/clinic`: the clinic's public settings, for front ends (the booking
//! page reads them first): who the clinic is, the booking rules a client is
//! told about, how the deposit is paid and the branding.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::caching::json_with_etag;
use crate::app::App;
use crate::cache::etag_of;
use crate::domain::money::Money;

/// The clinic's public settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(crate::api::examples::clinic_settings()))]
pub struct ClinicSettings {
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(required = true, max_length = 300)]
    pub address: Option<String>,
    #[schema(required = true, max_length = 32)]
    pub phone: Option<String>,
    #[schema(required = true, max_length = 254)]
    pub email: Option<String>,
    /// IANA time zone of the clinic; slot times are local to it.
    #[schema(example = "Europe/London", max_length = 64)]
    pub timezone: String,
    /// Minimum age on the day of the appointment.
    #[schema(minimum = 1, maximum = 120)]
    pub minimum_age: u32,
    /// The deposit taken at booking (credit against any treatment).
    pub deposit: Money,
    /// Cancel or move at least this many hours before the start to keep the deposit.
    #[schema(minimum = 0, maximum = 8760)]
    pub cancellation_notice_hours: u32,
    /// How long an unpaid booking holds its slot.
    #[schema(minimum = 1, maximum = 1440)]
    pub hold_minutes: u32,
    #[schema(minimum = 5, maximum = 1440)]
    pub consultation_minutes: u32,
    pub payment: PaymentSettings,
    pub branding: Branding,
}

/// How the deposit is paid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentSettings {
    /// `manual` (taken by the clinic) or `stripe` (paid by card on the page).
    #[schema(example = "manual", max_length = 16)]
    pub provider: String,
    /// Stripe's publishable key, for Stripe.js (provider `stripe` only).
    #[schema(required = true, max_length = 255)]
    pub stripe_publishable_key: Option<String>,
    /// How the clinic takes the deposit (provider `manual` only).
    #[schema(required = true, max_length = 1000)]
    pub manual_instructions: Option<String>,
}

/// The clinic's colours and logo; null keeps the page's own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Branding {
    /// `#rgb` or `#rrggbb`.
    #[schema(required = true)]
    #[schema(
        example = "#5b3a70",
        pattern = "^#([0-9a-f]{3}|[0-9a-f]{6})$",
        max_length = 7
    )]
    pub primary_colour: Option<String>,
    #[schema(required = true)]
    #[schema(
        example = "#c9a227",
        pattern = "^#([0-9a-f]{3}|[0-9a-f]{6})$",
        max_length = 7
    )]
    pub accent_colour: Option<String>,
    /// An absolute URL, or a path on this server.
    #[schema(required = true, max_length = 2000)]
    pub logo_url: Option<String>,
}

impl ClinicSettings {
    pub fn of(app: &App) -> Self {
        let s = &app.settings;
        let stripe = app.payments.name() == "stripe";
        Self {
            name: s.clinic_name.clone(),
            address: s.clinic_contact.address.clone(),
            phone: s.clinic_contact.phone.clone(),
            email: s.clinic_contact.email.clone(),
            timezone: s.clinic_timezone.name().to_owned(),
            minimum_age: s.minimum_age,
            deposit: s.deposit,
            cancellation_notice_hours: s.booking.cancellation_notice_hours,
            hold_minutes: s.booking.hold_minutes,
            consultation_minutes: s.booking.consultation_minutes,
            payment: PaymentSettings {
                provider: app.payments.name().to_owned(),
                stripe_publishable_key: if stripe {
                    app.payments.publishable_key()
                } else {
                    None
                },
                manual_instructions: (!stripe).then(|| s.page.manual_deposit_instructions.clone()),
            },
            branding: Branding {
                primary_colour: s.page.primary_colour.clone(),
                accent_colour: s.page.accent_colour.clone(),
                logo_url: s.page.logo_url.clone(),
            },
        }
    }
}

/// The clinic's settings
///
/// Public: what a front end needs before it shows anything (the clinic's
/// name and contact details, time zone, minimum age, deposit, cancellation
/// notice, hold length, how the deposit is paid, and the branding). The
/// answer changes only when the server's configuration does; it carries an
/// `ETag`: send it back in `If-None-Match` to get `304`.
#[utoipa::path(
    operation_id = "getClinic",
    tag = "Clinic",
    responses(
        (status = 200, description = "The clinic's public settings", body = ClinicSettings,
            headers(("ETag" = String, description = "Version of this representation"))),
        (status = 304, description = "Not modified since the ETag given"),
    ),
    security(())
)]
#[get("/clinic")]
pub async fn get(req: HttpRequest, app: web::Data<App>) -> HttpResponse {
    let body = serde_json::to_vec(&ClinicSettings::of(&app)).expect("settings serialise");
    let etag = etag_of(&body);
    json_with_etag(&req, body.into(), &etag)
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get);
}
