//! The use cases' error: what went wrong, with the stable code clients
//! rely on. Only `api::error` turns it into HTTP.

use crate::db::DbError;
use crate::domain::eligibility::Reason;

/// A live booking a schedule change would leave outside opening hours or
/// inside a closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrandedBooking {
    pub consultation_id: String,
    pub practitioner_id: String,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub status: crate::domain::consultation::Status,
}
use crate::payments::PaymentError;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field (`client.email`), or the parameter name.
    pub field: String,
    /// Stable code for the rule that failed.
    pub code: String,
    /// What is wrong, in plain language.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Every way a use case can fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (or the caller may not see it).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// One or more fields are invalid.
    #[error("invalid fields: {0:?}")]
    Invalid(Vec<FieldError>),
    /// A rule refuses the request as asked (ineligible, slot not offered…).
    #[error("refused {code}: {detail}")]
    Refused { code: &'static str, detail: String },
    /// The client may not be treated on that date (the reasons say why).
    #[error("ineligible")]
    Ineligible(Vec<Reason>),
    /// A schedule change would leave live bookings outside the diary; the
    /// request did not say what to do with them.
    #[error("bookings stranded")]
    Stranded(Vec<StrandedBooking>),
    /// The request conflicts with the current state.
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// What the request acts on is gone for good (a lapsed hold).
    #[error("gone {code}: {detail}")]
    Gone { code: &'static str, detail: String },
    /// Too many requests from one source (`limit` a minute).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64, limit: u32 },
    /// The payment provider refused or failed.
    #[error("payment provider: {0}")]
    Provider(#[from] PaymentError),
    /// The database failed (or is unreachable, or busy).
    #[error(transparent)]
    Database(#[from] DbError),
    /// A bug: the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn refused(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused {
            code,
            detail: detail.into(),
        }
    }

    pub fn gone(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Gone {
            code,
            detail: detail.into(),
        }
    }

    /// A single invalid field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// A short, stable name of the failure (the problem code where the
    /// use case gives one), for the metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "validation_failed",
            Self::Ineligible(_) => "ineligible",
            Self::Stranded(_) => "bookings_stranded",
            Self::Refused { code, .. } | Self::Conflict { code, .. } | Self::Gone { code, .. } => {
                code
            }
            Self::RateLimited { .. } => "rate_limited",
            Self::Provider(PaymentError::Declined(_)) => "payment_declined",
            Self::Provider(PaymentError::Unavailable(_)) => "payment_provider_unavailable",
            Self::Provider(PaymentError::Rejected(_)) => "payment_provider_error",
            Self::Database(DbError::StorageFull(_)) => "storage_full",
            Self::Database(DbError::Timeout(_)) => "database_timeout",
            Self::Database(DbError::Busy) => "database_busy",
            Self::Database(DbError::Unavailable(_)) => "database_unavailable",
            Self::Database(_) | Self::Internal(_) => "internal_error",
        }
    }

    /// Whether the failure is on the server's side (a retry may succeed
    /// and must run the request anew): never stored as an idempotent answer.
    pub fn is_server_side(&self) -> bool {
        match self {
            Self::Provider(p) => !matches!(p, PaymentError::Declined(_)),
            Self::Database(_) | Self::Internal(_) => true,
            _ => false,
        }
    }

    /// Maps a unique violation to a conflict with `code`; other errors pass.
    pub fn conflict_on_unique(e: DbError, code: &'static str, detail: &str) -> Self {
        match e {
            DbError::UniqueViolation(_) => Self::conflict(code, detail),
            other => other.into(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        DbError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_failures_are_told_apart() {
        assert!(AppError::Database(DbError::Busy).is_server_side());
        assert!(AppError::Provider(PaymentError::Unavailable("x".into())).is_server_side());
        assert!(!AppError::Provider(PaymentError::Declined("card".into())).is_server_side());
        assert!(!AppError::conflict("slot_unavailable", "taken").is_server_side());
        assert!(!AppError::NotFound("consultation").is_server_side());
    }
}
