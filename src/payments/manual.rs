//! The manual provider: deposits are taken by phone or at the desk and
//! recorded by staff; refunds are paid back the same way and recorded.

use futures_util::future::{ready, BoxFuture};
use futures_util::FutureExt;

use super::{PaymentError, PaymentProvider, PaymentState, ProviderPayment, ProviderRefund};
use crate::domain::money::Money;

#[derive(Debug, Default)]
pub struct Manual;

impl PaymentProvider for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn publishable_key(&self) -> Option<String> {
        None
    }

    fn create_payment<'a>(
        &'a self,
        _deposit_id: &'a str,
        _consultation_id: &'a str,
        _amount: Money,
    ) -> BoxFuture<'a, Result<Option<ProviderPayment>, PaymentError>> {
        ready(Ok(None)).boxed()
    }

    fn payment<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<PaymentState, PaymentError>> {
        ready(Err(PaymentError::Rejected(format!(
            "manual deposits have no provider payment ({payment_id})"
        ))))
        .boxed()
    }

    fn cancel_payment<'a>(
        &'a self,
        _payment_id: &'a str,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        ready(Ok(())).boxed()
    }

    fn refund<'a>(
        &'a self,
        _payment_id: &'a str,
        amount: Money,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<ProviderRefund, PaymentError>> {
        // Paid back by the clinic in person; the record is the refund.
        ready(Ok(ProviderRefund {
            id: format!("manual-{idempotency_key}"),
            amount,
        }))
        .boxed()
    }
}
