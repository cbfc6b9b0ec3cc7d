//! Events Stripe sends to `POST /v1/webhooks/stripe`: the signature checked
//! on the raw body, and the event turned into what the flows act on.

use stripe_webhook::{Event, EventObject, Webhook, WebhookError};

use super::stripe::payment_state;
use super::PaymentState;

/// A verified Stripe event.
#[derive(Debug, Clone)]
pub struct StripeEvent {
    /// Stripe's event id (`evt_…`): applied once.
    pub id: String,
    /// Stripe's event type, e.g. `payment_intent.succeeded`.
    pub type_name: String,
    pub what: StripeEventKind,
}

/// What an event says, for the types this service acts on.
#[derive(Debug, Clone)]
pub enum StripeEventKind {
    PaymentSucceeded(PaymentState),
    /// An attempt failed; the client may retry with the same PaymentIntent.
    PaymentFailed {
        payment_id: String,
    },
    /// The payment request was withdrawn (by us or in the dashboard).
    PaymentCanceled {
        payment_id: String,
    },
    /// A charge was refunded (fully when `refunded`).
    ChargeRefunded {
        payment_id: Option<String>,
        charge_id: String,
        refunded: bool,
    },
    /// A type this service does not act on.
    Other,
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// Signed, but outside the 300-second tolerance.
    Stale,
    /// Signed, but not an event we can read.
    Malformed,
    /// Unsigned, tampered, or signed with another secret.
    BadSignature,
}

/// Verifies `payload` (the raw body) against its `Stripe-Signature` header
/// with the endpoint's signing secret, at `now` (unix seconds).
pub fn verify(
    payload: &str,
    signature: &str,
    secret: &str,
    now: i64,
) -> Result<StripeEvent, VerifyError> {
    let event =
        Webhook::construct_event_with_timestamp(payload, signature, secret, now).map_err(|e| {
            match e {
                WebhookError::BadTimestamp(_) => VerifyError::Stale,
                WebhookError::BadParse(_) => VerifyError::Malformed,
                _ => VerifyError::BadSignature,
            }
        })?;
    Ok(read(&event))
}

fn read(event: &Event) -> StripeEvent {
    let what = match &event.data.object {
        EventObject::PaymentIntentSucceeded(pi) => {
            StripeEventKind::PaymentSucceeded(payment_state(pi))
        }
        EventObject::PaymentIntentPaymentFailed(pi) => StripeEventKind::PaymentFailed {
            payment_id: pi.id.as_str().to_owned(),
        },
        EventObject::PaymentIntentCanceled(pi) => StripeEventKind::PaymentCanceled {
            payment_id: pi.id.as_str().to_owned(),
        },
        EventObject::ChargeRefunded(charge) => StripeEventKind::ChargeRefunded {
            payment_id: charge
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned()),
            charge_id: charge.id.as_str().to_owned(),
            refunded: charge.refunded,
        },
        _ => StripeEventKind::Other,
    };
    StripeEvent {
        id: event.id.as_str().to_owned(),
        type_name: event.type_.as_str().to_owned(),
        what,
    }
}
