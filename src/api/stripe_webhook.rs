//! `POST /v1/webhooks/stripe`: Stripe's events (inbound), verified on the
//! raw body.

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::api::extract::read_body;
use crate::api::ProblemResponses;
use crate::app::stripe::{apply_event, Applied};
use crate::app::App;
use crate::payments::stripe_events::{self, VerifyError};

/// Largest event accepted.
const MAX_EVENT_BYTES: usize = 512 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// `processed`, `duplicate` (seen before) or `ignored` (a type not acted on).
    #[schema(example = "processed", max_length = 32)]
    pub result: &'static str,
}

/// The longest `Stripe-Signature` header taken (a timestamp and a few
/// signatures are far shorter; the document states the bound).
const MAX_SIGNATURE_CHARS: usize = 1024;

/// Receive a Stripe event
///
/// Point a Stripe webhook endpoint here (events `payment_intent.succeeded`,
/// `payment_intent.payment_failed`, `payment_intent.canceled`,
/// `charge.refunded`). The `Stripe-Signature` header is verified on the raw
/// body with the signing secret (`STRIPE_WEBHOOK_SECRET`), with 300 seconds'
/// tolerance; anything unsigned, tampered, signed with another secret or
/// stale is rejected with 400 and changes nothing. A redelivered event is
/// acknowledged and ignored.
#[utoipa::path(
    operation_id = "receiveStripeWebhook",
    tag = "Webhooks",
    params(("Stripe-Signature" = String, Header, max_length = 1024, description = "Stripe's signature: t=…,v1=… (at most 1024 characters)")),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event"),
    responses(
        (status = 200, description = "Accepted", body = WebhookReceipt),
        ProblemResponses<400, 404, 413>,
    ),
    security(())
)]
#[post("/webhooks/stripe")]
pub async fn stripe(
    req: HttpRequest,
    app: web::Data<App>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_signature",
                "The Stripe-Signature header is missing.",
            )
        })?
        .to_owned();
    if signature.chars().count() > MAX_SIGNATURE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_signature",
            "The Stripe-Signature header is longer than any signature.",
        ));
    }
    let Some(settings) = app.settings.stripe.as_ref() else {
        return Err(ApiError::NotFound(
            "Stripe endpoint (Stripe is not configured)",
        ));
    };
    let body = read_body(&mut payload, MAX_EVENT_BYTES).await?;
    let payload = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("malformed_event", "The event is not UTF-8 text."))?;
    let event = stripe_events::verify(
        payload,
        &signature,
        &settings.webhook_secret,
        app.now().timestamp(),
    )
    .map_err(|e| match e {
        VerifyError::Stale => ApiError::bad_request(
            "stale_signature",
            "The signature's timestamp is outside the 300-second tolerance.",
        ),
        VerifyError::Malformed => {
            ApiError::bad_request("malformed_event", "The signed event could not be parsed.")
        }
        VerifyError::BadSignature => ApiError::bad_request(
            "invalid_signature",
            "The Stripe-Signature header does not verify.",
        ),
    })?;
    let applied = apply_event(&app, event).await?;
    let result = match applied {
        Applied::Processed => "processed",
        Applied::Duplicate => "duplicate",
        Applied::Ignored => "ignored",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookReceipt {
            received: true,
            result,
        }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(stripe);
}
