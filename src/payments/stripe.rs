//! The Stripe provider: PaymentIntents through the async-stripe client, with
//! idempotency keys derived from our ids and every call bounded in time.
//! Only ids travel in metadata — never health data or dates of birth.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use stripe::{
    ApiErrorsType, Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError,
    StripeRequest,
};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::{PaymentIntent, PaymentIntentStatus};

use super::{
    PaymentError, PaymentProvider, PaymentState, PaymentStatus, ProviderPayment, ProviderRefund,
};
use crate::config::StripeSettings;
use crate::domain::money::{Currency, Money};

pub struct Stripe {
    client: Client,
    publishable_key: Option<String>,
    timeout: Duration,
}

impl Stripe {
    pub fn new(settings: &StripeSettings) -> Result<Self, String> {
        let mut builder = ClientBuilder::new(settings.secret_key.clone())
            .timeout(settings.timeout)
            .request_strategy(RequestStrategy::Once);
        if let Some(base) = &settings.api_base {
            builder = builder.url(base.clone());
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot configure the Stripe client: {}", describe(&e)))?;
        Ok(Self {
            client,
            publishable_key: settings.publishable_key.clone(),
            timeout: settings.timeout,
        })
    }

    /// Bounds a call: the client's per-attempt timeout, and this as a backstop.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StripeError>>,
    ) -> Result<T, PaymentError> {
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), call).await {
            Ok(result) => result.map_err(classify),
            Err(_) => Err(PaymentError::Unavailable(
                "Stripe did not answer in time".into(),
            )),
        }
    }
}

/// A short description of a Stripe error without its payload (which can
/// carry a client secret).
fn describe(e: &StripeError) -> String {
    match e {
        StripeError::Stripe(api, status) => format!(
            "HTTP {status} {:?}{}",
            api.type_,
            api.code
                .as_ref()
                .map(|c| format!(" {c:?}"))
                .unwrap_or_default()
        ),
        StripeError::JSONDeserialize(_) => "an unexpected response".into(),
        StripeError::ClientError(msg) => format!("transport error: {msg}"),
        StripeError::ConfigError(msg) => format!("configuration: {msg}"),
        StripeError::Timeout => "timed out".into(),
    }
}

fn classify(e: StripeError) -> PaymentError {
    let what = describe(&e);
    match e {
        StripeError::Stripe(api, status)
            if status == 402 || api.type_ == ApiErrorsType::CardError =>
        {
            PaymentError::Declined(api.message.clone().unwrap_or(what))
        }
        StripeError::Stripe(_, status) if status >= 500 || status == 429 || status == 409 => {
            PaymentError::Unavailable(what)
        }
        StripeError::Timeout | StripeError::ClientError(_) => PaymentError::Unavailable(what),
        _ => PaymentError::Rejected(what),
    }
}

fn key(k: &str) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(k)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| PaymentError::Rejected(format!("bad idempotency key: {e:?}")))
}

fn stripe_currency(c: Currency) -> stripe_types::Currency {
    c.code()
        .to_ascii_lowercase()
        .parse()
        .unwrap_or(stripe_types::Currency::GBP)
}

/// Our view of a PaymentIntent.
pub fn payment_state(pi: &PaymentIntent) -> PaymentState {
    let status = match pi.status {
        PaymentIntentStatus::Succeeded => PaymentStatus::Succeeded,
        PaymentIntentStatus::Canceled => PaymentStatus::Canceled,
        _ => PaymentStatus::Open,
    };
    let currency = Currency::parse(&pi.currency.to_string()).unwrap_or(Currency::GBP);
    PaymentState {
        id: pi.id.as_str().to_owned(),
        status,
        amount: Money::new(pi.amount, currency),
        deposit_id: pi.metadata.get("deposit_id").cloned(),
        consultation_id: pi.metadata.get("consultation_id").cloned(),
        charge_id: pi
            .latest_charge
            .as_ref()
            .map(|c| c.id().as_str().to_owned()),
    }
}

impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn publishable_key(&self) -> Option<String> {
        self.publishable_key.clone()
    }

    fn create_payment<'a>(
        &'a self,
        deposit_id: &'a str,
        consultation_id: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Option<ProviderPayment>, PaymentError>> {
        async move {
            let metadata = HashMap::from([
                ("deposit_id".to_owned(), deposit_id.to_owned()),
                ("consultation_id".to_owned(), consultation_id.to_owned()),
            ]);
            let request = CreatePaymentIntent::new(amount.amount, stripe_currency(amount.currency))
                .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
                .metadata(metadata)
                .customize()
                .request_strategy(key(&format!("deposit-{deposit_id}"))?);
            let pi = self.bounded(request.send(&self.client)).await?;
            Ok(Some(ProviderPayment {
                id: pi.id.as_str().to_owned(),
                client_secret: pi.client_secret.clone(),
            }))
        }
        .boxed()
    }

    fn payment<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<PaymentState, PaymentError>> {
        async move {
            let pi = self
                .bounded(RetrievePaymentIntent::new(payment_id).send(&self.client))
                .await?;
            Ok(payment_state(&pi))
        }
        .boxed()
    }

    fn cancel_payment<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        async move {
            self.bounded(CancelPaymentIntent::new(payment_id).send(&self.client))
                .await
                .map(|_| ())
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        payment_id: &'a str,
        amount: Money,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<ProviderRefund, PaymentError>> {
        async move {
            let request = CreateRefund::new()
                .payment_intent(payment_id)
                .amount(amount.amount)
                .customize()
                .request_strategy(key(idempotency_key)?);
            let refund = self.bounded(request.send(&self.client)).await?;
            Ok(ProviderRefund {
                id: refund.id.as_str().to_owned(),
                amount: Money::new(refund.amount, amount.currency),
            })
        }
        .boxed()
    }
}
