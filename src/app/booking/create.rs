//! Booking a consultation: records, slot claims and the screening in one
//! transaction, then (for Stripe) the payment request, then the answer.

use chrono::{DateTime, Duration, Utc};

use super::record::Booking;
use super::rules::{claim_slot, place};
use crate::app::idempotency::{self, IdempotentRequest, Render, Reply, Start, Ticket};
use crate::app::{App, AppError, Tx};
use crate::config::Settings;
use crate::db::DbError;
use crate::domain::actor::Actor;
use crate::domain::consultation::Status;
use crate::domain::contact;
use crate::domain::deposit::DepositStatus;
use crate::domain::eligibility::Outcome;
use crate::domain::event_types::EventType;
use crate::secrets::{self, SecretKind};
use crate::store::clients::{self, ClientDetails};
use crate::store::consultations::{self, channel, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::{new_id, screenings, treatments};

/// A booking request, already decoded and validated for shape.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub client: ClientDetails,
    pub screening_token: String,
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub treatment_id: Option<String>,
    pub notes: Option<String>,
    /// Where an anonymous booking comes from (the client's address), for
    /// the holds cap.
    pub source: Option<String>,
    /// How the client wants to hear about the booking.
    pub notify: NotifyChoice,
}

/// The client's channels for notifications about a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyChoice {
    pub email: bool,
    /// Opt-in.
    pub sms: bool,
}

impl Default for NotifyChoice {
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
        }
    }
}

/// A new booking and its manage token (shown once).
#[derive(Debug, Clone)]
pub struct Booked {
    pub booking: Booking,
    pub manage_token: String,
}

impl idempotency::Subject for Booked {
    fn subject_id(&self) -> Option<&str> {
        Some(&self.booking.consultation.id)
    }
}

/// Creates the records of a booking (everything but the provider call).
fn create_records(
    tx: &mut Tx<'_>,
    settings: &Settings,
    provider: &str,
    booker: &Actor,
    input: &NewBooking,
) -> Result<(Consultation, Deposit, String), AppError> {
    let now = tx.now;
    let treatment_id = match &input.treatment_id {
        Some(id) => Some(
            treatments::by_id(tx.conn, id)?
                .filter(|t| t.fields.active)
                .ok_or_else(|| {
                    AppError::field(
                        "treatment_id",
                        "unknown",
                        "names no treatment in the catalogue",
                    )
                })?
                .id,
        ),
        None => None,
    };
    let screening = screenings::by_token_hash(tx.conn, &secrets::hash(&input.screening_token))?
        .ok_or_else(|| {
            AppError::field(
                "screening_token",
                "unknown",
                "is not a screening token this clinic issued",
            )
        })?;
    if screening.consultation_id.is_some() {
        return Err(screening_used());
    }
    if screening.expires_at.is_none_or(|t| t <= now) || screening.outcome == Outcome::Ineligible {
        return Err(AppError::refused(
            "screening_expired",
            "This screening token has expired; screen again.",
        ));
    }
    if screening.date_of_birth != Some(input.client.date_of_birth) {
        return Err(AppError::field(
            "client.date_of_birth",
            "screening_mismatch",
            "must be the date of birth given at screening",
        ));
    }
    let slot = place(
        tx,
        settings,
        &input.practitioner_id,
        input.starts_at,
        Some(input.client.date_of_birth),
    )?;

    let email_key = contact::email_key(&input.client.email);
    let phone_key = contact::phone_key(&input.client.phone, &settings.abuse.phone_country_code);
    let source_key = match (booker, &input.source) {
        (Actor::Client(_), Some(address)) => secrets::hash(&format!("source:{address}")),
        _ => String::new(),
    };
    check_hold_caps(tx, settings, booker, &email_key, &phone_key, &source_key)?;
    let identity = contact::identity(
        &input.client.email,
        input.client.date_of_birth,
        &input.client.full_name,
    );
    let client = clients::find_or_create(tx.conn, &input.client, &secrets::hash(&identity), now)?;
    let (token, _) = secrets::generate(SecretKind::ManageToken);
    let (channel, booked_by) = match booker {
        Actor::Client(_) => (channel::DIRECT, None),
        Actor::Partner(key) => (channel::PARTNER, Some(key.clone())),
        Actor::Staff(key) => (channel::STAFF, Some(key.clone())),
    };
    let consultation = Consultation {
        id: new_id(),
        client_id: client.id,
        client_full_name: input.client.full_name.clone(),
        client_email: input.client.email.clone(),
        client_phone: input.client.phone.clone(),
        practitioner_id: input.practitioner_id.clone(),
        treatment_id,
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        status: Status::PendingDeposit,
        hold_expires_at: Some(now + Duration::minutes(i64::from(settings.booking.hold_minutes))),
        notes: input.notes.clone(),
        needs_review: screening.outcome == Outcome::NeedsReview,
        manage_token_hash: secrets::hash(&token),
        channel: channel.to_owned(),
        booked_by_key_id: booked_by,
        policy_accepted_at: now,
        cancelled_by: None,
        end_reason: None,
        sequence: 0,
        created_at: now,
        updated_at: now,
        client_email_key: email_key,
        client_phone_key: phone_key,
        source_key,
        cancellation_reason: None,
        notify_email: input.notify.email,
        notify_sms: input.notify.sms,
    };
    consultations::insert(tx.conn, &consultation)?;
    claim_slot(tx, &input.practitioner_id, slot, &consultation.id)?;
    let deposit = Deposit {
        id: new_id(),
        consultation_id: consultation.id.clone(),
        amount: settings.deposit,
        status: DepositStatus::Pending,
        provider: provider.to_owned(),
        provider_payment_id: None,
        client_secret: None,
        payment_reference: None,
        paid_at: None,
        settled_at: None,
        created_at: now,
        updated_at: now,
    };
    deposits::insert(tx.conn, &deposit)?;
    tx.consultation_recorded(
        &booker.label(),
        EventType::ConsultationCreated,
        None,
        &consultation,
        Some(&deposit),
    )?;
    if !screenings::attach(tx.conn, &screening.id, &consultation.id)? {
        return Err(screening_used());
    }
    Ok((consultation, deposit, token))
}

/// No one source holds the diary: live unpaid holds are capped per contact
/// (email or phone, however written), per client address for anonymous
/// bookings, and per partner key.
fn check_hold_caps(
    tx: &mut Tx<'_>,
    settings: &Settings,
    booker: &Actor,
    email_key: &str,
    phone_key: &str,
    source_key: &str,
) -> Result<(), AppError> {
    let caps = &settings.abuse;
    let refuse = |detail: &str| Err(AppError::conflict("too_many_holds", detail));
    let key = match booker {
        Actor::Partner(key) => Some(key.as_str()),
        _ => None,
    };
    let source = (!source_key.is_empty()).then_some(source_key);
    let held = consultations::live_holds_of(tx.conn, email_key, phone_key, source, key, tx.now)?;
    if held.contact >= i64::from(caps.max_holds_per_client) {
        return refuse(
            "This email or phone number already holds unpaid bookings; pay or cancel one first.",
        );
    }
    if source.is_some() && held.source >= i64::from(caps.max_holds_per_address) {
        return refuse(
            "Too many unpaid bookings were made from this address; pay or cancel one first.",
        );
    }
    if key.is_some() && held.key >= i64::from(caps.max_holds_per_partner) {
        return refuse(
            "This partner holds too many unpaid bookings; let some be paid or lapse first.",
        );
    }
    Ok(())
}

fn screening_used() -> AppError {
    AppError::conflict(
        "screening_used",
        "This screening token was already used for a booking; screen again.",
    )
}

/// What the first transaction of a booking did.
enum Began {
    /// An earlier request with the same key answered: replay it.
    Replayed(Reply),
    /// The booking is answered (nothing to ask a provider).
    Answered(Reply),
    /// The records are made; the provider is asked next.
    Made(Box<Made>),
    /// Failed; the answer was stored for replay.
    Failed(AppError),
}

/// A booking whose records are made, for the provider to be asked.
struct Made {
    consultation: Consultation,
    deposit: Deposit,
    token: String,
    ticket: Option<Ticket>,
}

/// Books a consultation. With an `Idempotency-Key`, the answer is stored in
/// the same transaction as the booking it describes; an attempt
/// interrupted while the provider was asked (the key's record names its
/// consultation) is resumed, not repeated.
pub async fn create(
    app: &App,
    booker: Actor,
    input: NewBooking,
    request: Option<IdempotentRequest>,
    render: Render<Booked>,
) -> Result<Reply, AppError> {
    let result = book(app, booker, input, request, render).await;
    app.metrics.booking_attempt(match &result {
        Ok(reply) if reply.replayed => "replayed",
        Ok(_) => "created",
        Err(e) => e.code(),
    });
    result
}

async fn book(
    app: &App,
    booker: Actor,
    input: NewBooking,
    request: Option<IdempotentRequest>,
    render: Render<Booked>,
) -> Result<Reply, AppError> {
    let provider = app.payments.name();
    let settings = app.settings.clone();
    let terms = app.idempotency_terms();
    let render = std::sync::Arc::new(render);
    let r = render.clone();

    // Phase 1: the records, claims and screening, in one transaction.
    let began = app
        .write(move |tx| {
            let ticket = match idempotency::start(tx, request.as_ref(), terms)? {
                Start::Replay(reply) => return Ok(Began::Replayed(reply)),
                Start::Fresh(ticket) => ticket,
            };
            let made = match resume(tx, ticket.as_ref()) {
                Ok(Some(resumed)) => Ok(resumed),
                Ok(None) => {
                    tx.savepoint(|tx| create_records(tx, &settings, provider, &booker, &input))
                }
                Err(e) => Err(e),
            };
            let (consultation, deposit, token) = match made {
                Ok(made) => made,
                Err(e) => {
                    return idempotency::settle_failure(tx, ticket.as_ref(), &r, e)
                        .map(Began::Failed)
                }
            };
            if provider == "manual" {
                // Nothing to ask a provider: answer in this transaction.
                let booked = Booked {
                    booking: Booking::with_deposit(tx.conn, consultation, deposit)?,
                    manage_token: token,
                };
                return idempotency::answer(tx, ticket.as_ref(), &r, &booked).map(Began::Answered);
            }
            // A retry after a crash resumes this booking.
            if let Some(t) = &ticket {
                idempotency::hold(tx, t, &consultation.id)?;
            }
            Ok(Began::Made(Box::new(Made {
                consultation,
                deposit,
                token,
                ticket,
            })))
        })
        .await?;
    let Made {
        consultation,
        deposit,
        token,
        ticket,
    } = match began {
        Began::Replayed(reply) | Began::Answered(reply) => return Ok(reply),
        Began::Failed(e) => return Err(e),
        Began::Made(made) => *made,
    };

    // Phase 2: ask the provider for payment (idempotent by deposit id).
    let payment = match app
        .payments
        .create_payment(&deposit.id, &consultation.id, deposit.amount)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            // Nothing half-made: undo the booking and free the slot.
            let error = AppError::Provider(e);
            let id = consultation.id.clone();
            let r = render.clone();
            return app
                .write(move |tx| {
                    screenings::detach(tx.conn, &id)?;
                    consultations::delete_unacknowledged(tx.conn, &id)?;
                    idempotency::abandon(tx, ticket.as_ref(), &r, error)
                })
                .await
                .and_then(Err);
        }
    };

    // Phase 3: record the payment and answer, atomically.
    app.write(move |tx| {
        if let Some(p) = &payment {
            deposits::set_provider_payment(
                tx.conn,
                &deposit.id,
                &p.id,
                p.client_secret.as_deref(),
                tx.now,
            )?;
        }
        // Read back: a webhook may have moved things meanwhile.
        let booking = Booking::load(tx.conn, &consultation.id)?.ok_or(DbError::NotFound)?;
        let booked = Booked {
            booking,
            manage_token: token,
        };
        idempotency::answer(tx, ticket.as_ref(), &render, &booked)
    })
    .await
}

/// Picks up a booking an interrupted attempt with the same key created.
fn resume(
    tx: &mut Tx<'_>,
    ticket: Option<&Ticket>,
) -> Result<Option<(Consultation, Deposit, String)>, AppError> {
    let Some(id) = ticket.and_then(|t| t.resource_id()) else {
        return Ok(None);
    };
    let Some(c) = consultations::get(tx.conn, id)? else {
        return Ok(None);
    };
    let d = deposits::by_consultation(tx.conn, id)?.ok_or(DbError::NotFound)?;
    let live = match c.status {
        Status::PendingDeposit => !c.hold_lapsed(tx.now),
        Status::Confirmed => true,
        _ => false,
    };
    if !live {
        return Err(AppError::gone(
            "hold_expired",
            "The hold on this slot lapsed before the booking was completed; book again.",
        ));
    }
    // The first attempt's manage token was never delivered: issue a new one.
    let (token, _) = secrets::generate(SecretKind::ManageToken);
    consultations::set_manage_token_hash(tx.conn, id, &secrets::hash(&token))?;
    Ok(Some((c, d, token)))
}
