//! `POST /v1/consultations`: booking a consultation.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors};

use super::auth::BookingAuth;
use super::view::{self, Audience, BookingCreated, NotificationPreferences};
use crate::api::error::ApiError;
use crate::api::extract::{calendar_date, ValidJson};
use crate::api::validation::{check_optional_text, check_text, finish, is_email, is_phone, reject};
use crate::api::{idempotency, rate_limit, ProblemResponses};
use crate::app::booking::{self, NewBooking, NotifyChoice};
use crate::app::App;
use crate::domain::actor::Actor;
use crate::secrets;
use crate::store::clients::ClientDetails;

/// The client a booking is for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    #[schema(min_length = 1, max_length = 200, example = "Alex Morgan")]
    pub full_name: String,
    #[schema(format = "email", max_length = 254, example = "alex@example.com")]
    pub email: String,
    /// A phone number: an optional `+`, then digits, spaces, `-`, `(` and
    /// `)`, starting and ending with a digit; 7 to 32 characters.
    #[schema(
        min_length = 7,
        max_length = 32,
        pattern = r"^\+?[0-9][0-9 ()-]{5,29}[0-9]$",
        example = "+44 7700 900123"
    )]
    pub phone: String,
    /// The date of birth given at screening.
    #[serde(deserialize_with = "calendar_date")]
    #[schema(value_type = String, format = Date, example = "1990-04-12")]
    pub date_of_birth: NaiveDate,
}

/// A booking request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client": {"full_name": "Alex Morgan", "email": "alex@example.com", "phone": "+44 7700 900123", "date_of_birth": "1990-04-12"},
    "screening_token": "st_Q2x4mVb9TgR7kLp3Hs8WnY1cZ6dF0aJe5uXoPiKq",
    "practitioner_id": "5a0c6f1e-2d3b-4c4d-8e9f-0a1b2c3d4e5f",
    "starts_at": "2026-12-03T10:00:00Z",
    "notes": "Left side of the jaw.",
    "accept_cancellation_policy": true,
    "notifications": {"email": true, "sms": true}
}))]
pub struct BookingRequest {
    pub client: ClientInput,
    /// From `POST /v1/screenings`; single use, not ineligible, not expired.
    #[schema(min_length = 1, max_length = 100)]
    pub screening_token: String,
    pub practitioner_id: uuid::Uuid,
    /// A slot start from `GET /v1/availability`.
    pub starts_at: DateTime<Utc>,
    /// The treatment of interest, if any.
    #[serde(default)]
    pub treatment_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
    /// Must be true: the client accepts the cancellation policy.
    pub accept_cancellation_policy: bool,
    /// How the client wants to hear about the booking (default: e-mail
    /// only; SMS is opt-in).
    #[serde(default)]
    pub notifications: Option<NotificationPreferences>,
}

impl Validate for BookingRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "client.full_name", &self.client.full_name, 200);
        if !is_email(self.client.email.trim()) {
            reject(
                &mut errors,
                "client.email",
                "email",
                "must be an email address".into(),
            );
        }
        if !is_phone(&self.client.phone) {
            reject(
                &mut errors,
                "client.phone",
                "phone",
                "must be a phone number of 7 to 32 characters".into(),
            );
        }
        if self.screening_token.is_empty() || self.screening_token.len() > 100 {
            reject(
                &mut errors,
                "screening_token",
                "length",
                "must be 1 to 100 characters".into(),
            );
        }
        check_optional_text(&mut errors, "notes", self.notes.as_deref(), 1000);
        if !self.accept_cancellation_policy {
            reject(
                &mut errors,
                "accept_cancellation_policy",
                "required",
                "the cancellation policy must be accepted".into(),
            );
        }
        finish(errors)
    }
}

/// Book a consultation
///
/// Creates a consultation `pending_deposit` that holds the slot until
/// `hold_expires_at`, with its pending deposit, and answers with a manage
/// token (shown once). The age is checked again on the appointment date.
/// Partners (API key) book on a client's behalf; the booking records which
/// partner made it. Send an `Idempotency-Key` to retry safely.
///
/// Public: no key is needed; a partner sends its key (`Authorization: Bearer ck_…`) to book on a client's behalf.
#[utoipa::path(
    operation_id = "createConsultation",
    tag = "Consultations",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body replay the first answer for 24 hours.")),
    request_body = BookingRequest,
    responses(
        (status = 201, description = "Booked; pay the deposit before the hold lapses", body = BookingCreated,
            headers(("Location" = String, description = "URL of the consultation"))),
        ProblemResponses<400, 401, 409, 410, 413, 415, 422, 429>,
        ProblemResponses<502>,
    ),
    security(())
)]
#[post("/consultations")]
pub async fn create(
    req: HttpRequest,
    app: web::Data<App>,
    auth: BookingAuth,
    body: ValidJson<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let counted = if matches!(auth, BookingAuth::None | BookingAuth::ManageToken(_)) {
        rate_limit::check(&app, &req, "bookings").await?
    } else {
        None
    };
    rate_limit::answer(counted, book(req, app, auth, body.0, body.1).await)
}

async fn book(
    req: HttpRequest,
    app: web::Data<App>,
    auth: BookingAuth,
    input: BookingRequest,
    digest: crate::api::extract::BodyDigest,
) -> Result<HttpResponse, ApiError> {
    let booker = match &auth {
        BookingAuth::Key(identity) => identity.actor(),
        _ => Actor::Client(String::new()),
    };
    let booking = NewBooking {
        client: ClientDetails {
            full_name: input.client.full_name.trim().to_owned(),
            email: input.client.email.trim().to_owned(),
            phone: input.client.phone.trim().to_owned(),
            date_of_birth: input.client.date_of_birth,
        },
        screening_token: input.screening_token,
        practitioner_id: input.practitioner_id.to_string(),
        starts_at: input.starts_at,
        treatment_id: input.treatment_id.map(|t| t.to_string()),
        notes: input
            .notes
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        source: Some(crate::api::rate_limit::client_address(
            &req,
            app.settings.abuse.trust_forwarded_for,
        )),
        notify: {
            let p = input.notifications.unwrap_or_default();
            NotifyChoice {
                email: p.email,
                sms: p.sms,
            }
        },
    };
    // Anonymous callers are told apart by their single-use screening token,
    // so two clients' keys can never meet.
    let caller = match &auth {
        BookingAuth::Key(identity) => format!("key:{}", identity.key_id),
        _ => format!("anon:{}", &secrets::hash(&booking.screening_token)[..16]),
    };
    let request = idempotency::request(&req, &caller, &digest)?;
    let audience = Audience::of(&booker);
    let a = app.clone();
    let render = idempotency::render(201, move |b: &booking::Booked| {
        let body = BookingCreated {
            consultation: view::render(&a, b.booking.clone(), audience),
            manage_token: b.manage_token.clone(),
        };
        let location = format!("/v1/consultations/{}", b.booking.consultation.id);
        (body, Some(location))
    });
    let reply = booking::create(&app, booker, booking, request, render).await?;
    Ok(idempotency::respond(&reply))
}
