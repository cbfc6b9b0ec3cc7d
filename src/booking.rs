//! Booking flows: create, cancel, reschedule, attend, no-show, expire and
//! confirm. Each runs its reads and writes in one transaction; the database
//! (slot claims, conditional status updates) decides every race.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::Connection;

use crate::api::consultations::view::{self, Audience};
use crate::config::Settings;
use crate::db::{write_transaction, DbConnection, DbError};
use crate::domain::age::age_on;
use crate::domain::consultation::{Event, Status};
use crate::domain::deposit::{DepositEvent, DepositStatus};
use crate::domain::eligibility::Outcome;
use crate::domain::policy::{self, CancelledBy, DepositAction};
use crate::domain::slots::{self, Interval, SlotRules};
use crate::error::ApiError;
use crate::events::{self, Kind};
use crate::secrets::{self, SecretKind};
use crate::state::AppState;
use crate::store::clients::{self, ClientDetails};
use crate::store::consultations::{self, channel, Consultation, StatusChange};
use crate::store::deposits::{self, Deposit};
use crate::store::idempotency::{self, StoredResponse, Ticket};
use crate::store::{new_id, practitioners, screenings, treatments};

/// Who is acting on a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The client, by the hash of the manage token they presented.
    Client(String),
    /// A partner (aggregator) acting for the client, by key id.
    Partner(String),
    /// Clinic staff, by key id.
    Staff(String),
}

impl Actor {
    pub fn audience(&self) -> Audience {
        match self {
            Actor::Client(_) => Audience::Client,
            Actor::Partner(_) => Audience::Partner,
            Actor::Staff(_) => Audience::Staff,
        }
    }

    /// The audit trail's name for the actor.
    pub fn label(&self) -> String {
        match self {
            Actor::Client(_) => events::actor::CLIENT.to_owned(),
            Actor::Partner(key) | Actor::Staff(key) => events::actor::key(key),
        }
    }

    fn cancelled_by(&self) -> CancelledBy {
        match self {
            Actor::Staff(_) => CancelledBy::Clinic,
            _ => CancelledBy::Client,
        }
    }
}

/// A booking request, already decoded and validated for shape.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub client: ClientDetails,
    pub screening_token: String,
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub treatment_id: Option<String>,
    pub notes: Option<String>,
}

fn rules(settings: &Settings) -> SlotRules {
    let b = &settings.booking;
    SlotRules {
        length: Duration::minutes(i64::from(b.consultation_minutes)),
        step: Duration::minutes(i64::from(b.slot_step_minutes)),
        min_notice: Duration::hours(i64::from(b.min_notice_hours)),
        horizon: Duration::days(i64::from(b.horizon_days)),
    }
}

/// Free slots of one practitioner over clinic-local dates.
pub fn free_slots(
    conn: &mut DbConnection,
    settings: &Settings,
    practitioner_id: &str,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<slots::Slot>, DbError> {
    let tz = settings.clinic_timezone;
    let range = local_dates_range(from, to);
    let windows = practitioners::hours(conn, practitioner_id)?;
    let closures: Vec<Interval> =
        practitioners::closures_overlapping(conn, Some(practitioner_id), range)?
            .iter()
            .map(|c| c.interval())
            .collect();
    let busy = consultations::busy(conn, practitioner_id, range, now)?;
    Ok(slots::free_slots(
        tz,
        from,
        to,
        &windows,
        &closures,
        &busy,
        &rules(settings),
        now,
    ))
}

/// The UTC span of clinic-local dates `from..=to`, padded a day each side
/// (cheap, and safe around offsets and DST).
fn local_dates_range(from: NaiveDate, to: NaiveDate) -> Interval {
    let start = from.checked_sub_days(chrono::Days::new(1)).unwrap_or(from);
    let end = to.checked_add_days(chrono::Days::new(2)).unwrap_or(to);
    Interval::new(
        start.and_time(chrono::NaiveTime::MIN).and_utc(),
        end.and_time(chrono::NaiveTime::MIN).and_utc(),
    )
}

/// Checks that `starts_at` is a slot the practitioner offers (hours,
/// closures, notice, horizon, grid) — ignoring whether it is taken, which the
/// slot claims decide.
fn check_offered(
    conn: &mut DbConnection,
    settings: &Settings,
    practitioner_id: &str,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Interval, ApiError> {
    let not_offered = || {
        ApiError::unprocessable(
            "slot_not_offered",
            "That start time is not a slot this practitioner offers: see GET /v1/availability \
             (opening hours, closures, minimum notice and booking horizon apply).",
        )
    };
    if !crate::domain::dates::instant_supported(starts_at) {
        return Err(not_offered());
    }
    let tz = settings.clinic_timezone;
    let date = starts_at.with_timezone(&tz).date_naive();
    let range = local_dates_range(date, date);
    let windows = practitioners::hours(conn, practitioner_id)?;
    let closures: Vec<Interval> =
        practitioners::closures_overlapping(conn, Some(practitioner_id), range)?
            .iter()
            .map(|c| c.interval())
            .collect();
    let offered = slots::free_slots(
        tz,
        date,
        date,
        &windows,
        &closures,
        &[],
        &rules(settings),
        now,
    );
    offered
        .iter()
        .find(|s| s.starts_at == starts_at)
        .map(|s| s.interval())
        .ok_or_else(not_offered)
}

/// Ends lapsed holds that stand on any cell of `slot`, so that a lapsed
/// hold never blocks a slot even before the sweeper runs.
fn clear_lapsed_holds(
    conn: &mut DbConnection,
    practitioner_id: &str,
    slot: Interval,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for id in consultations::claim_holders(conn, practitioner_id, slot)? {
        if let Some(c) = consultations::get(conn, &id)? {
            if c.hold_lapsed(now) {
                expire_one(conn, &c, "hold_lapsed", events::actor::SYSTEM, now)?;
            }
        }
    }
    Ok(())
}

/// Expires a lapsed hold: consultation `expired`, claims released, unpaid
/// deposit cancelled. No-op when another request got there first.
pub fn expire_one(
    conn: &mut DbConnection,
    c: &Consultation,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let moved = consultations::set_status(
        conn,
        &c.id,
        Status::PendingDeposit,
        Status::Expired,
        StatusChange {
            end_reason: Some(Some(reason.to_owned())),
            ..Default::default()
        },
        now,
    )?;
    if moved {
        consultations::release_claims(conn, &c.id)?;
        events::consultation_changed(conn, actor, Kind::ConsultationExpired, &c.id, Some(c), now)?;
        if let Some(d) = deposits::by_consultation(conn, &c.id)? {
            if deposits::set_status(
                conn,
                &d.id,
                DepositStatus::Pending,
                DepositStatus::Cancelled,
                None,
                now,
            )? {
                events::deposit_changed(conn, actor, Kind::DepositCancelled, &d.id, Some(&d), now)?;
            }
        }
    }
    Ok(moved)
}

fn slot_conflict(e: DbError) -> ApiError {
    match e {
        DbError::UniqueViolation(_) => ApiError::conflict(
            "slot_unavailable",
            "That slot has just been taken; choose another from GET /v1/availability.",
        ),
        other => other.into(),
    }
}

/// Creates a booking (phase 1: everything but the provider call).
fn create_records(
    conn: &mut DbConnection,
    settings: &Settings,
    provider: &str,
    booker: &Actor,
    input: &NewBooking,
    now: DateTime<Utc>,
) -> Result<(Consultation, Deposit, String), ApiError> {
    let practitioner = practitioners::get(conn, &input.practitioner_id)?
        .filter(|p| p.active)
        .ok_or_else(|| {
            ApiError::field(
                "practitioner_id",
                "unknown",
                "names no practitioner taking bookings",
            )
        })?;
    let treatment_id = match &input.treatment_id {
        Some(id) => Some(
            treatments::by_id(conn, id)?
                .filter(|t| t.fields.active)
                .ok_or_else(|| {
                    ApiError::field(
                        "treatment_id",
                        "unknown",
                        "names no treatment in the catalogue",
                    )
                })?
                .id,
        ),
        None => None,
    };
    let screening = screenings::by_token_hash(conn, &secrets::hash(&input.screening_token))?
        .ok_or_else(|| {
            ApiError::field(
                "screening_token",
                "unknown",
                "is not a screening token this clinic issued",
            )
        })?;
    if screening.consultation_id.is_some() {
        return Err(ApiError::conflict(
            "screening_used",
            "This screening token was already used for a booking; screen again.",
        ));
    }
    if screening.expires_at.is_none_or(|t| t <= now) || screening.outcome == Outcome::Ineligible {
        return Err(ApiError::unprocessable(
            "screening_expired",
            "This screening token has expired; screen again.",
        ));
    }
    if screening.date_of_birth != Some(input.client.date_of_birth) {
        return Err(ApiError::field(
            "client.date_of_birth",
            "screening_mismatch",
            "must be the date of birth given at screening",
        ));
    }
    let slot = check_offered(conn, settings, &practitioner.id, input.starts_at, now)?;
    let appointment_date = slot
        .starts_at
        .with_timezone(&settings.clinic_timezone)
        .date_naive();
    let age = age_on(input.client.date_of_birth, appointment_date).unwrap_or(0);
    if age < settings.minimum_age {
        return Err(ApiError::unprocessable(
            "ineligible",
            format!(
                "Treatment is only given to people aged {} or over on the day of the appointment.",
                settings.minimum_age
            ),
        ));
    }

    clear_lapsed_holds(conn, &practitioner.id, slot, now)?;
    let holds =
        consultations::live_holds_for_contact(conn, &input.client.email, &input.client.phone, now)?;
    if holds >= i64::from(settings.abuse.max_holds_per_client) {
        return Err(ApiError::conflict(
            "too_many_holds",
            "This email or phone number already holds unpaid bookings; pay or cancel one first.",
        ));
    }
    let client = clients::upsert(conn, &input.client, now)?;
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
        practitioner_id: practitioner.id.clone(),
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
    };
    consultations::insert(conn, &consultation)?;
    consultations::claim(conn, &practitioner.id, slot, &consultation.id).map_err(slot_conflict)?;
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
    deposits::insert(conn, &deposit)?;
    events::consultation_recorded(
        conn,
        &booker.label(),
        Kind::ConsultationCreated,
        None,
        &consultation,
        Some(&deposit),
        now,
    )?;
    if !screenings::attach(conn, &screening.id, &consultation.id)? {
        return Err(ApiError::conflict(
            "screening_used",
            "This screening token was already used for a booking; screen again.",
        ));
    }
    Ok((consultation, deposit, token))
}

/// The 201 answer for a booking, from the records as they stand.
fn created_response(
    conn: &mut DbConnection,
    state: &AppState,
    consultation: &Consultation,
    deposit: &Deposit,
    token: &str,
    audience: Audience,
) -> Result<StoredResponse, ApiError> {
    let body = view::BookingCreated {
        consultation: view::render(conn, state, consultation.clone(), deposit.clone(), audience)?,
        manage_token: token.to_owned(),
    };
    Ok(StoredResponse {
        status: 201,
        body: serde_json::to_string(&body).map_err(ApiError::internal)?,
        location: Some(format!("/v1/consultations/{}", consultation.id)),
    })
}

/// Books a consultation. With an idempotency ticket, the response is stored
/// in the same transaction as the booking it describes; an interrupted
/// attempt (the ticket carries its consultation) is resumed, not repeated.
pub async fn create(
    state: &actix_web::web::Data<AppState>,
    booker: Actor,
    input: NewBooking,
    ticket: Option<Ticket>,
) -> Result<StoredResponse, ApiError> {
    let now = state.now();
    let provider = state.payments.name();
    let audience = booker.audience();

    // Phase 1: the records, claims and screening, in one transaction.
    let st = state.clone();
    let t = ticket.clone();
    let (consultation, deposit, token, done) = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(resumed) = resume(conn, t.as_ref(), now)? {
                    return Ok::<_, ApiError>((resumed.0, resumed.1, resumed.2, None));
                }
                let (c, d, token) =
                    create_records(conn, &st.settings, provider, &booker, &input, now)?;
                // Nothing to ask a provider: answer in this transaction.
                if provider == "manual" {
                    let response = created_response(conn, &st, &c, &d, &token, audience)?;
                    if let Some(t) = &t {
                        idempotency::complete(conn, t, &response)?;
                    }
                    return Ok((c, d, token, Some(response)));
                }
                // The provider is asked next: a retry after a crash resumes
                // this booking instead of making another.
                if let Some(t) = &t {
                    idempotency::set_resource(conn, t, &c.id)?;
                }
                Ok((c, d, token, None))
            })
        })
        .await?;
    if let Some(response) = done {
        return Ok(response);
    }

    // Phase 2: ask the provider for payment (idempotent by deposit id).
    let payment = match state
        .payments
        .create_payment(&deposit.id, &consultation.id, deposit.amount)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            // Nothing half-made: undo the booking and free the slot.
            let id = consultation.id.clone();
            state
                .db
                .run(move |conn| {
                    write_transaction(conn, |conn| {
                        screenings::detach(conn, &id)?;
                        consultations::delete_unacknowledged(conn, &id)
                    })
                })
                .await?;
            return Err(crate::payments::api_error(e));
        }
    };

    // Phase 3: record the payment and answer, atomically.
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(p) = &payment {
                    deposits::set_provider_payment(
                        conn,
                        &deposit.id,
                        &p.id,
                        p.client_secret.as_deref(),
                        now,
                    )?;
                }
                // Read back: a webhook may have moved things meanwhile.
                let c = consultations::get(conn, &consultation.id)?.ok_or(DbError::NotFound)?;
                let d = deposits::get(conn, &deposit.id)?.ok_or(DbError::NotFound)?;
                let response = created_response(conn, &st, &c, &d, &token, audience)?;
                if let Some(t) = &ticket {
                    idempotency::complete(conn, t, &response)?;
                }
                Ok(response)
            })
        })
        .await
}

/// Picks up a booking an interrupted attempt with the same key created.
fn resume(
    conn: &mut DbConnection,
    ticket: Option<&Ticket>,
    now: DateTime<Utc>,
) -> Result<Option<(Consultation, Deposit, String)>, ApiError> {
    let Some(id) = ticket.and_then(|t| t.resource_id.as_deref()) else {
        return Ok(None);
    };
    let Some(c) = consultations::get(conn, id)? else {
        return Ok(None);
    };
    let d = deposits::by_consultation(conn, id)?.ok_or(DbError::NotFound)?;
    let live = match c.status {
        Status::PendingDeposit => !c.hold_lapsed(now),
        Status::Confirmed => true,
        _ => false,
    };
    if !live {
        return Err(ApiError::Gone {
            code: "hold_expired",
            detail: "The hold on this slot lapsed before the booking was completed; book again."
                .into(),
        });
    }
    // The first attempt's manage token was never delivered: issue a new one.
    let (token, _) = secrets::generate(SecretKind::ManageToken);
    consultations::set_manage_token_hash(conn, id, &secrets::hash(&token))?;
    Ok(Some((c, d, token)))
}

/// What a cancellation does (or would do, for a dry run).
#[derive(Debug, Clone)]
pub struct CancelOutcome {
    pub deposit_action: DepositAction,
    pub late: bool,
    pub deadline: DateTime<Utc>,
    pub deposit: Deposit,
}

/// Loads a booking the actor may act on, or 404.
pub fn load(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), ApiError> {
    let c = consultations::get(conn, id)?.ok_or(ApiError::NotFound("consultation"))?;
    let allowed = match actor {
        Actor::Staff(_) => true,
        Actor::Partner(key) => {
            c.channel == channel::PARTNER && c.booked_by_key_id.as_deref() == Some(key)
        }
        Actor::Client(hash) => secrets::hashes_match(&c.manage_token_hash, hash),
    };
    if !allowed {
        return Err(ApiError::NotFound("consultation"));
    }
    let d = deposits::by_consultation(conn, id)?.ok_or(DbError::NotFound)?;
    Ok((c, d))
}

/// Like [`load`], under the consultation's and then the deposit's row locks
/// (always in that order), for a change.
pub fn load_for_update(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), ApiError> {
    consultations::lock(conn, id)?;
    if let Some(d) = deposits::by_consultation(conn, id)? {
        deposits::lock(conn, &d.id)?;
    }
    load(conn, id, actor)
}

fn illegal(c: &Consultation, event: Event) -> ApiError {
    match (c.status, event) {
        (Status::Cancelled, Event::Cancel) => ApiError::conflict(
            "already_cancelled",
            "This consultation is already cancelled.",
        ),
        (Status::Expired, _) => ApiError::Gone {
            code: "hold_expired",
            detail: "The hold on this consultation lapsed before the deposit was paid.".into(),
        },
        (from, e) => ApiError::conflict(
            "illegal_transition",
            format!(
                "A consultation that is {} cannot be {}.",
                from.as_str(),
                past(e)
            ),
        ),
    }
}

fn past(e: Event) -> &'static str {
    match e {
        Event::DepositPaid => "confirmed",
        Event::Attend => "marked as attended",
        Event::MarkNoShow => "marked as a no-show",
        Event::Cancel => "cancelled",
        Event::HoldLapsed => "expired",
        Event::Reschedule => "rescheduled",
    }
}

/// Treats a pending booking whose hold lapsed as expired, now.
fn settle_lapsed(
    conn: &mut DbConnection,
    c: &mut Consultation,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if c.hold_lapsed(now) && expire_one(conn, c, "hold_lapsed", events::actor::SYSTEM, now)? {
        c.status = Status::Expired;
    }
    Ok(())
}

/// Cancels a booking under the policy; `dry_run` only reports.
#[allow(clippy::too_many_arguments)]
pub fn cancel(
    conn: &mut DbConnection,
    settings: &Settings,
    id: &str,
    actor: &Actor,
    dry_run: bool,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CancelOutcome, ApiError> {
    let (mut c, d) = load_for_update(conn, id, actor)?;
    settle_lapsed(conn, &mut c, now)?;
    if c.status.after(Event::Cancel).is_none() {
        return Err(illegal(&c, Event::Cancel));
    }
    let notice = settings.booking.cancellation_notice_hours;
    let by = actor.cancelled_by();
    let action = policy::on_cancel(d.status, by, c.starts_at, notice, now);
    let outcome = CancelOutcome {
        deposit_action: action,
        late: policy::is_late(c.starts_at, notice, now),
        deadline: policy::cancellation_deadline(c.starts_at, notice),
        deposit: d.clone(),
    };
    if dry_run {
        return Ok(outcome);
    }
    let moved = consultations::set_status(
        conn,
        &c.id,
        c.status,
        Status::Cancelled,
        StatusChange {
            cancelled_by: Some(by.as_str()),
            end_reason: None,
        },
        now,
    )?;
    if !moved {
        return Err(ApiError::conflict(
            "concurrent_update",
            "The consultation changed meanwhile; try again.",
        ));
    }
    consultations::release_claims(conn, &c.id)?;
    let who = actor.label();
    events::consultation_changed(
        conn,
        &who,
        Kind::ConsultationCancelled,
        &c.id,
        Some(&c),
        now,
    )?;
    let settle =
        |conn: &mut DbConnection, event: DepositEvent, kind: Kind| -> Result<(), ApiError> {
            let to = d
                .status
                .after(event)
                .expect("the policy only picks legal moves");
            if deposits::set_status(conn, &d.id, d.status, to, None, now)? {
                events::deposit_changed(conn, &who, kind, &d.id, Some(&d), now)?;
            }
            Ok(())
        };
    match action {
        DepositAction::Release => settle(conn, DepositEvent::Cancel, Kind::DepositCancelled)?,
        DepositAction::Forfeit if !crate::deposits::refund_under_way(conn, &d.id)? => {
            settle(conn, DepositEvent::Forfeit, Kind::DepositForfeited)?
        }
        // The refund is reserved here, with the cancellation; the caller
        // asks the provider once this commits (and the periodic task retries).
        DepositAction::Refund => {
            crate::deposits::reserve_refund(
                conn,
                &d.id,
                reason.unwrap_or("cancellation"),
                &who,
                now,
            )?;
        }
        DepositAction::Forfeit | DepositAction::None => {}
    }
    Ok(outcome)
}

/// Moves a booking to another free slot, keeping its deposit.
pub fn reschedule(
    conn: &mut DbConnection,
    settings: &Settings,
    id: &str,
    actor: &Actor,
    practitioner_id: Option<&str>,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (mut c, _) = load_for_update(conn, id, actor)?;
    settle_lapsed(conn, &mut c, now)?;
    if c.status.after(Event::Reschedule).is_none() {
        return Err(illegal(&c, Event::Reschedule));
    }
    let notice = settings.booking.cancellation_notice_hours;
    if !matches!(actor, Actor::Staff(_)) && policy::is_late(c.starts_at, notice, now) {
        return Err(ApiError::conflict(
            "outside_cancellation_window",
            format!("Bookings can be moved up to {notice} hours before the appointment; contact the clinic."),
        ));
    }
    let practitioner_id = practitioner_id.unwrap_or(&c.practitioner_id).to_owned();
    practitioners::get(conn, &practitioner_id)?
        .filter(|p| p.active)
        .ok_or_else(|| {
            ApiError::field(
                "practitioner_id",
                "unknown",
                "names no practitioner taking bookings",
            )
        })?;
    let slot = check_offered(conn, settings, &practitioner_id, starts_at, now)?;
    if slot == c.interval() && practitioner_id == c.practitioner_id {
        return Err(ApiError::conflict(
            "same_slot",
            "The consultation is already at that time.",
        ));
    }
    clear_lapsed_holds(conn, &practitioner_id, slot, now)?;
    consultations::release_claims(conn, &c.id)?;
    consultations::claim(conn, &practitioner_id, slot, &c.id).map_err(slot_conflict)?;
    if !consultations::move_to(conn, &c, &practitioner_id, slot, now)? {
        return Err(ApiError::conflict(
            "concurrent_update",
            "The consultation changed meanwhile; try again.",
        ));
    }
    events::consultation_changed(
        conn,
        &actor.label(),
        Kind::ConsultationRescheduled,
        &c.id,
        Some(&c),
        now,
    )?;
    Ok(())
}

/// Staff mark a confirmed consultation attended or a no-show (from its
/// start time on). A no-show forfeits the deposit.
pub fn record_outcome(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
    event: Event,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (c, d) = load_for_update(conn, id, actor)?;
    let Some(to) = c.status.after(event) else {
        return Err(illegal(&c, event));
    };
    if now < c.starts_at {
        return Err(ApiError::conflict(
            "too_early",
            "An appointment can be marked attended or a no-show once it has started.",
        ));
    }
    if !consultations::set_status(conn, &c.id, c.status, to, StatusChange::default(), now)? {
        return Err(ApiError::conflict(
            "concurrent_update",
            "The consultation changed meanwhile; try again.",
        ));
    }
    let who = actor.label();
    let kind = if event == Event::Attend {
        Kind::ConsultationAttended
    } else {
        Kind::ConsultationNoShow
    };
    events::consultation_changed(conn, &who, kind, &c.id, Some(&c), now)?;
    if event == Event::MarkNoShow
        && policy::on_no_show(d.status) == DepositAction::Forfeit
        && !crate::deposits::refund_under_way(conn, &d.id)?
        && deposits::set_status(
            conn,
            &d.id,
            DepositStatus::Paid,
            DepositStatus::Forfeited,
            None,
            now,
        )?
    {
        events::deposit_changed(conn, &who, Kind::DepositForfeited, &d.id, Some(&d), now)?;
    }
    Ok(())
}

/// Expires every lapsed hold (the sweeper). Returns the consultations expired.
pub fn expire_lapsed(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<String>, DbError> {
    let mut done = Vec::new();
    for id in consultations::lapsed_holds(conn, now, 500)? {
        let expired = write_transaction(conn, |conn| match consultations::get(conn, &id)? {
            Some(c) if c.hold_lapsed(now) => {
                expire_one(conn, &c, "hold_lapsed", events::actor::SYSTEM, now)
            }
            _ => Ok(false),
        })?;
        if expired {
            done.push(id);
        }
    }
    Ok(done)
}

/// How a payment ended up, for the caller to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Deposit paid, consultation confirmed.
    Confirmed,
    /// Deposit paid, but the hold had lapsed and the slot was taken: the
    /// consultation is expired and the deposit kept as refundable credit.
    PaidAfterSlotLost,
    /// The deposit was already paid (a repeated notice).
    AlreadyPaid,
}

/// Records that a deposit was paid, and confirms its consultation. Payment
/// after the hold lapsed still confirms when the slot is free.
pub fn confirm_payment(
    conn: &mut DbConnection,
    deposit: &Deposit,
    reference: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Confirmation, ApiError> {
    // Consultation first, then deposit: the same lock order as every path.
    consultations::lock(conn, &deposit.consultation_id)?;
    deposits::lock(conn, &deposit.id)?;
    let before = deposits::get(conn, &deposit.id)?.ok_or(DbError::NotFound)?;
    if before.status != DepositStatus::Pending && before.status != DepositStatus::Cancelled {
        return Ok(Confirmation::AlreadyPaid);
    }
    // A payment can arrive after the request was withdrawn (the hold was
    // swept): the money is real, so the deposit becomes paid either way.
    if !deposits::set_status(
        conn,
        &before.id,
        before.status,
        DepositStatus::Paid,
        reference,
        now,
    )? {
        return Ok(Confirmation::AlreadyPaid);
    }
    events::deposit_changed(
        conn,
        actor,
        Kind::DepositPaid,
        &before.id,
        Some(&before),
        now,
    )?;
    let c = consultations::get(conn, &before.consultation_id)?.ok_or(DbError::NotFound)?;
    let confirm = |conn: &mut DbConnection, from: Status| -> Result<(), DbError> {
        let change = StatusChange {
            end_reason: Some(None),
            ..Default::default()
        };
        consultations::set_status(conn, &c.id, from, Status::Confirmed, change, now)?;
        events::consultation_changed(
            conn,
            actor,
            Kind::ConsultationConfirmed,
            &c.id,
            Some(&c),
            now,
        )
    };
    match c.status {
        Status::PendingDeposit if !c.hold_lapsed(now) => {
            confirm(conn, Status::PendingDeposit)?;
            Ok(Confirmation::Confirmed)
        }
        Status::PendingDeposit | Status::Expired => {
            // The hold lapsed: keep the slot if nobody else took it.
            if c.status == Status::PendingDeposit {
                expire_one(conn, &c, "hold_lapsed", events::actor::SYSTEM, now)?;
            }
            let reclaimed = conn.transaction(|conn| {
                consultations::claim(conn, &c.practitioner_id, c.interval(), &c.id)
            });
            match reclaimed {
                Ok(()) if c.starts_at > now => {
                    confirm(conn, Status::Expired)?;
                    Ok(Confirmation::Confirmed)
                }
                Ok(()) => {
                    consultations::release_claims(conn, &c.id)?;
                    mark_slot_lost(conn, &c, actor, now)?;
                    Ok(Confirmation::PaidAfterSlotLost)
                }
                Err(DbError::UniqueViolation(_)) => {
                    mark_slot_lost(conn, &c, actor, now)?;
                    Ok(Confirmation::PaidAfterSlotLost)
                }
                Err(e) => Err(e.into()),
            }
        }
        // Paid for a booking that already ended (e.g. cancelled): the
        // deposit stays as refundable credit for staff to settle.
        _ => Ok(Confirmation::PaidAfterSlotLost),
    }
}

fn mark_slot_lost(
    conn: &mut DbConnection,
    c: &Consultation,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let change = StatusChange {
        end_reason: Some(Some("paid_after_hold_lapsed_slot_taken".into())),
        ..Default::default()
    };
    consultations::set_status(conn, &c.id, Status::Expired, Status::Expired, change, now)?;
    events::consultation_changed(conn, actor, Kind::ConsultationSlotLost, &c.id, Some(c), now)
}
