//! Payment providers behind one trait: `manual` (the embedded default: staff
//! record deposits taken by phone or at the desk) and `stripe`. Adapters
//! only: the flows that use them live in `app`.

pub mod manual;
pub mod stripe;
pub mod stripe_events;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::Settings;

use crate::domain::money::Money;

/// What the provider created for a deposit, for the front end to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    pub id: String,
    pub client_secret: Option<String>,
}

/// The provider's view of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentState {
    pub id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    /// The deposit id the payment was made for (from metadata).
    pub deposit_id: Option<String>,
    pub consultation_id: Option<String>,
    /// The charge that took the money, when there is one.
    pub charge_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Not paid yet (any state on the way).
    Open,
    Succeeded,
    Canceled,
}

/// A refund the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub id: String,
    pub amount: Money,
}

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PaymentError {
    /// The provider refused (e.g. card declined); retrying will not help.
    #[error("declined: {0}")]
    Declined(String),
    /// The provider failed or did not answer in time; a retry may work.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The request was wrong (a bug or a mismatch with the provider's state).
    #[error("provider rejected the request: {0}")]
    Rejected(String),
}

/// Everything the booking and deposit flows need from a provider.
pub trait PaymentProvider: Send + Sync + 'static {
    /// `manual` or `stripe`, as stored on each deposit.
    fn name(&self) -> &'static str;

    /// The key the front end initialises its payment form with.
    fn publishable_key(&self) -> Option<String>;

    /// Asks for payment of a deposit. `None` when payment is taken outside
    /// the system (manual). Must be safe to retry: the same deposit gives
    /// the same payment.
    fn create_payment<'a>(
        &'a self,
        deposit_id: &'a str,
        consultation_id: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Option<ProviderPayment>, PaymentError>>;

    /// The provider's current view of a payment.
    fn payment<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<PaymentState, PaymentError>>;

    /// Withdraws an unpaid payment request.
    fn cancel_payment<'a>(&'a self, payment_id: &'a str)
        -> BoxFuture<'a, Result<(), PaymentError>>;

    /// Refunds a payment in full; safe to retry with the same key.
    fn refund<'a>(
        &'a self,
        payment_id: &'a str,
        amount: Money,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<ProviderRefund, PaymentError>>;
}

/// The provider the settings call for: Stripe when its keys are set,
/// manual otherwise.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn PaymentProvider>, String> {
    Ok(match &settings.stripe {
        Some(stripe) => Arc::new(stripe::Stripe::new(stripe)?),
        None => Arc::new(manual::Manual),
    })
}
