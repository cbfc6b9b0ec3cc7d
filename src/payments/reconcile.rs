//! Applying what the provider says about a payment — from a webhook, or by
//! asking (reconciliation), so a lost webhook never leaves a paid booking
//! pending.

use crate::booking::{self, Confirmation};
use crate::db::{write_transaction, DbConnection};
use crate::domain::deposit::DepositStatus;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deposits::{self, Deposit};

use super::{PaymentState, PaymentStatus};

/// Why a provider's payment does not match our deposit.
fn mismatch(d: &Deposit, p: &PaymentState) -> Option<String> {
    if p.amount != d.amount {
        return Some(format!(
            "amount {} {} differs from the deposit's {} {}",
            p.amount.amount,
            p.amount.currency.code(),
            d.amount.amount,
            d.amount.currency.code()
        ));
    }
    if p.deposit_id.as_deref() != Some(d.id.as_str())
        || p.consultation_id.as_deref() != Some(d.consultation_id.as_str())
    {
        return Some("metadata names another deposit or consultation".into());
    }
    None
}

/// Applies a succeeded payment to its deposit (checking amount, currency
/// and metadata first). Call inside a write transaction.
pub fn apply_success(
    conn: &mut DbConnection,
    payment: &PaymentState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Confirmation>, ApiError> {
    let Some(d) = deposits::by_provider_payment_id(conn, &payment.id)? else {
        tracing::warn!(payment = %payment.id, "payment for no known deposit");
        return Ok(None);
    };
    if let Some(why) = mismatch(&d, payment) {
        tracing::error!(payment = %payment.id, deposit = %d.id, %why, "payment does not match its deposit; not applied");
        return Ok(None);
    }
    let reference = payment.charge_id.as_deref().unwrap_or(&payment.id);
    booking::confirm_payment(conn, &d, Some(reference), crate::events::actor::STRIPE, now).map(Some)
}

/// Asks the provider about the pending deposit of one consultation and
/// applies a success. Errors are logged: reading must not fail because the
/// provider is slow.
pub async fn consultation(state: &AppState, consultation_id: &str) {
    if state.payments.name() == "manual" {
        return;
    }
    let id = consultation_id.to_owned();
    let deposit = state
        .db
        .run(move |conn| deposits::by_consultation(conn, &id))
        .await;
    if let Ok(Some(d)) = deposit {
        if d.status == DepositStatus::Pending && d.provider_payment_id.is_some() {
            reconcile(state, &d).await;
        }
    }
}

/// Reconciles every unpaid deposit that has a provider payment — pending,
/// or cancelled in the last day (a payment can land as a hold lapses) —
/// (the periodic task). Returns how many were paid.
pub async fn pending(state: &AppState) -> usize {
    if state.payments.name() == "manual" {
        return 0;
    }
    let since = state.now() - chrono::Duration::days(1);
    let Ok(pending) = state
        .db
        .run(move |conn| deposits::unpaid_with_provider_payment(conn, since, 200))
        .await
    else {
        return 0;
    };
    let mut confirmed = 0;
    for d in pending {
        confirmed += usize::from(reconcile(state, &d).await);
    }
    confirmed
}

async fn reconcile(state: &AppState, d: &Deposit) -> bool {
    let Some(payment_id) = d.provider_payment_id.as_deref() else {
        return false;
    };
    let payment = match state.payments.payment(payment_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(deposit = %d.id, error = %e, "could not reconcile a deposit");
            return false;
        }
    };
    if payment.status != PaymentStatus::Succeeded {
        return false;
    }
    let now = state.now();
    let applied = state
        .db
        .run(move |conn| write_transaction(conn, |conn| apply_success(conn, &payment, now)))
        .await;
    match applied {
        Ok(Some(_)) => true,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(deposit = %d.id, error = %e, "could not apply a reconciled payment");
            false
        }
    }
}
