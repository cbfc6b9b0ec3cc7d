//! How consultations and their deposits are shown, per audience. Partners
//! never see health-derived flags or the date of birth.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::booking::Booking;
use crate::app::App;
use crate::domain::actor::Actor;
use crate::domain::consultation::Status;
use crate::domain::deposit::DepositStatus;
use crate::domain::money::Money;
use crate::domain::policy::{self, CancelledBy};
use crate::store::deposits::Deposit as StoredDeposit;

/// Who a view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Client,
    Partner,
    Staff,
}

impl Audience {
    pub fn of(actor: &Actor) -> Self {
        match actor {
            Actor::Client(_) => Audience::Client,
            Actor::Partner(_) => Audience::Partner,
            Actor::Staff(_) => Audience::Staff,
        }
    }
}

/// A time in the clinic's zone, as RFC 3339 with its offset.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The client's contact details (never the date of birth).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientContact {
    #[schema(example = "Alex Morgan", max_length = 200)]
    pub full_name: String,
    #[schema(example = "alex@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "+44 7700 900123", max_length = 32)]
    pub phone: String,
}

/// How the client wants to hear about a booking: e-mail and/or SMS.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": true, "sms": true}))]
pub struct NotificationPreferences {
    /// Messages by e-mail to `client.email` (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub email: bool,
    /// Text messages to `client.phone`: opt-in (default false).
    #[serde(default)]
    #[schema(default = false)]
    pub sms: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
        }
    }
}

/// A deposit as shown with its consultation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deposit {
    #[schema(format = "uuid")]
    pub id: String,
    pub status: DepositStatus,
    pub amount: Money,
    /// `manual` (paid at the desk or by phone) or `stripe`.
    #[schema(example = "manual", max_length = 16)]
    pub provider: String,
    /// For Stripe, while unpaid: confirm the PaymentIntent with this in the
    /// front end (Stripe keeps its identifiers within 255 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 255)]
    pub client_secret: Option<String>,
    /// For Stripe: the publishable key to initialise Stripe.js with
    /// (`STRIPE_PUBLISHABLE_KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 255)]
    pub publishable_key: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was redeemed, refunded, forfeited or cancelled.
    pub settled_at: Option<DateTime<Utc>>,
}

/// A consultation booking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consultation {
    #[schema(format = "uuid")]
    pub id: String,
    pub status: Status,
    #[schema(format = "uuid")]
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Start in clinic-local time with its UTC offset.
    #[schema(format = DateTime, example = "2026-12-03T10:00:00+00:00", max_length = 25)]
    pub local_starts_at: String,
    #[schema(format = DateTime, example = "2026-12-03T10:30:00+00:00", max_length = 25)]
    pub local_ends_at: String,
    /// The clinic's IANA time zone.
    #[schema(example = "Europe/London", max_length = 64)]
    pub time_zone: String,
    /// While `pending_deposit`: when the slot is released unless paid.
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// Until when the client may cancel (or move) and keep the deposit.
    pub cancellation_deadline: DateTime<Utc>,
    /// The treatment of interest, if given.
    #[schema(format = "uuid")]
    pub treatment_id: Option<String>,
    #[schema(max_length = 80)]
    pub treatment_slug: Option<String>,
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
    pub client: ClientContact,
    /// The channels the client chose for notifications.
    pub notifications: NotificationPreferences,
    /// `direct`, `partner` or `staff`.
    #[schema(example = "direct", max_length = 16)]
    pub channel: String,
    /// Staff only: the screening asked the practitioner to review.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub needs_review: Option<bool>,
    pub cancelled_by: Option<CancelledBy>,
    /// Why it ended, when expired (e.g. `hold_lapsed`).
    #[schema(max_length = 64)]
    pub end_reason: Option<String>,
    pub deposit: Deposit,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The answer to a booking: the consultation and its manage token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingCreated {
    #[serde(flatten)]
    pub consultation: Consultation,
    /// Shown once. Present it as `Authorization: Bearer mt_…` to read,
    /// cancel or reschedule this booking.
    #[schema(
        example = "mt_Z3k9Qe2Lr8Tn5Wb1Xc7Yd4Vf6Ug0Hh2Ji8Ka3Mb",
        max_length = 43
    )]
    pub manage_token: String,
}

fn deposit_view(app: &App, d: StoredDeposit) -> Deposit {
    let unpaid = d.status == DepositStatus::Pending;
    let stripe = d.provider == "stripe";
    Deposit {
        id: d.id,
        status: d.status,
        amount: d.amount,
        client_secret: d.client_secret.filter(|_| unpaid),
        publishable_key: if unpaid && stripe {
            app.payments.publishable_key()
        } else {
            None
        },
        provider: d.provider,
        paid_at: d.paid_at,
        settled_at: d.settled_at,
    }
}

/// Renders a booking for an audience.
pub fn render(app: &App, b: Booking, audience: Audience) -> Consultation {
    let tz = app.settings.clinic_timezone;
    let c = b.consultation;
    Consultation {
        local_starts_at: local(c.starts_at, tz),
        local_ends_at: local(c.ends_at, tz),
        time_zone: tz.name().to_owned(),
        cancellation_deadline: policy::cancellation_deadline(
            c.starts_at,
            app.settings.booking.cancellation_notice_hours,
        ),
        hold_expires_at: c
            .hold_expires_at
            .filter(|_| c.status == Status::PendingDeposit),
        treatment_id: c.treatment_id.clone(),
        treatment_slug: b.treatment_slug,
        client: ClientContact {
            full_name: c.client_full_name.clone(),
            email: c.client_email.clone(),
            phone: c.client_phone.clone(),
        },
        notifications: NotificationPreferences {
            email: c.notify_email,
            sms: c.notify_sms,
        },
        needs_review: (audience == Audience::Staff).then_some(c.needs_review),
        cancelled_by: c.cancelled_by.as_deref().map(|b| {
            if b == "clinic" {
                CancelledBy::Clinic
            } else {
                CancelledBy::Client
            }
        }),
        deposit: deposit_view(app, b.deposit),
        id: c.id,
        status: c.status,
        practitioner_id: c.practitioner_id,
        starts_at: c.starts_at,
        ends_at: c.ends_at,
        notes: c.notes,
        channel: c.channel,
        end_reason: c.end_reason.filter(|r| !r.is_empty()),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}
