//! `Idempotency-Key` semantics (IETF httpapi draft), kept in the database
//! so that they hold across instances:
//!
//! - first use: the request runs and its answer is stored, in the same
//!   transaction as the change it describes, for `IDEMPOTENCY_RETENTION_HOURS`;
//! - the same key and the same request again: the stored answer is replayed;
//! - the same key with a different request: 422 `idempotency_key_reused`;
//! - the same key while the first request is still running: 409
//!   `idempotency_key_in_flight`.
//!
//! Server-side failures are not stored, so a retry runs anew. A request
//! that calls the payment provider between two transactions leaves its
//! record in flight, naming the resource it made, so that a retry after a
//! crash resumes that resource instead of making another.

use chrono::Duration;

use super::{AppError, Tx};
pub use crate::store::idempotency::StoredResponse;
use crate::store::idempotency::{self as store, Begin};

/// An idempotent request as the caller identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// Who is calling and what they call (method and path): keys of
    /// different callers or routes never meet.
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// A fingerprint of the request body.
    pub fingerprint: String,
}

impl IdempotentRequest {
    /// The key as stored: a hash, from which the answer's key cannot be had.
    fn stored_key(&self) -> String {
        hex::encode(crate::secrets::derive_key(
            "clinic-api idempotency record",
            &[&self.scope, &self.key],
        ))
    }

    /// The key the stored answer is encrypted with.
    fn answer_key(&self) -> [u8; 32] {
        crate::secrets::derive_key("clinic-api idempotency answer", &[&self.scope, &self.key])
    }
}

/// A request that may proceed under its key.
#[derive(Clone)]
pub struct Ticket {
    record: store::Ticket,
    answer_key: [u8; 32],
}

impl Ticket {
    /// The resource an interrupted attempt made, to resume.
    pub fn resource_id(&self) -> Option<&str> {
        self.record.resource_id.as_deref()
    }

    fn seal(&self, response: &StoredResponse) -> StoredResponse {
        StoredResponse {
            body: crate::secrets::seal(&self.answer_key, &response.body),
            ..response.clone()
        }
    }
}

/// What an outcome is about: the consultation its stored answer concerns
/// (erasure of the consultation's client removes the answer too).
pub trait Subject {
    fn subject_id(&self) -> Option<&str>;
}

/// Renders a use case's successful outcome as its answer.
pub type RenderOk<T> = Box<dyn Fn(&T) -> Result<StoredResponse, AppError> + Send + Sync>;

/// How the caller renders a use case's outcome for replay: its success,
/// and its failure (`None` for a failure that must not be stored).
pub struct Render<T> {
    pub ok: RenderOk<T>,
    pub err: fn(&AppError) -> Option<StoredResponse>,
}

/// The answer of an idempotent use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub response: StoredResponse,
    /// True when this is the stored answer of an earlier request.
    pub replayed: bool,
}

/// How a claim on a key turned out.
pub enum Claim {
    /// Go ahead (resuming the resource of an interrupted attempt, if the
    /// ticket names one).
    Proceed(Ticket),
    /// Answer as before.
    Replay(StoredResponse),
}

/// How long idempotency records live and are leased.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    /// How long an answer is kept for replay.
    pub ttl: Duration,
    /// How long an attempt in flight across an outside call holds its key
    /// before a retry may take it over.
    pub lease: Duration,
}

/// Claims the key of `request` inside the unit of work.
pub fn claim(
    tx: &mut Tx<'_>,
    request: &IdempotentRequest,
    terms: Terms,
) -> Result<Claim, AppError> {
    let begun = store::begin(
        tx.conn,
        &request.scope,
        &request.stored_key(),
        &request.fingerprint,
        tx.now,
        terms.lease,
        terms.ttl,
    )?;
    match begun {
        Begin::Proceed(record) => Ok(Claim::Proceed(Ticket {
            record,
            answer_key: request.answer_key(),
        })),
        Begin::Replay(stored) => {
            let body = crate::secrets::open(&request.answer_key(), &stored.body)
                .ok_or_else(|| AppError::internal("a stored idempotent answer does not open"))?;
            Ok(Claim::Replay(StoredResponse { body, ..stored }))
        }
        Begin::InFlight => Err(AppError::conflict(
            "idempotency_key_in_flight",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )),
        Begin::Mismatch => Err(AppError::refused(
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request.",
        )),
    }
}

/// How a unit of work for an idempotent request starts.
pub enum Start {
    /// Run the request (with its key's ticket, if it has a key).
    Fresh(Option<Ticket>),
    /// The key's earlier answer, to send again.
    Replay(Reply),
}

/// Claims the key of `request`, if there is one.
pub fn start(
    tx: &mut Tx<'_>,
    request: Option<&IdempotentRequest>,
    terms: Terms,
) -> Result<Start, AppError> {
    let Some(request) = request else {
        return Ok(Start::Fresh(None));
    };
    Ok(match claim(tx, request, terms)? {
        Claim::Proceed(ticket) => Start::Fresh(Some(ticket)),
        Claim::Replay(response) => Start::Replay(Reply {
            response,
            replayed: true,
        }),
    })
}

/// Renders a successful outcome and stores it under the key, if any.
pub fn answer<T: Subject>(
    tx: &mut Tx<'_>,
    ticket: Option<&Ticket>,
    render: &Render<T>,
    value: &T,
) -> Result<Reply, AppError> {
    let response = (render.ok)(value)?;
    if let Some(t) = ticket {
        complete(tx, t, &response, value.subject_id())?;
    }
    Ok(Reply {
        response,
        replayed: false,
    })
}

/// A failed request: `Ok(error)` when its answer was stored under the key
/// (the unit of work commits, so a replay repeats it), `Err(error)` when it
/// was not (a server-side failure, or no key: the unit of work rolls back).
pub fn settle_failure<T>(
    tx: &mut Tx<'_>,
    ticket: Option<&Ticket>,
    render: &Render<T>,
    error: AppError,
) -> Result<AppError, AppError> {
    match ticket {
        Some(t) if complete_failure(tx, t, render, &error)? => Ok(error),
        _ => Err(error),
    }
}

/// A request that failed after its first transaction committed (the
/// provider refused or failed): its answer is stored when it may be, and
/// otherwise the key is released so that a retry runs anew. Returns the
/// error, for the compensating unit of work to commit and report.
pub fn abandon<T>(
    tx: &mut Tx<'_>,
    ticket: Option<&Ticket>,
    render: &Render<T>,
    error: AppError,
) -> Result<AppError, AppError> {
    match settle_failure(tx, ticket, render, error) {
        Ok(stored) => Ok(stored),
        Err(error) => {
            if let Some(t) = ticket {
                release(tx, t)?;
            }
            Ok(error)
        }
    }
}

/// Stores the answer (encrypted) with the change it describes.
fn complete(
    tx: &mut Tx<'_>,
    ticket: &Ticket,
    response: &StoredResponse,
    subject_id: Option<&str>,
) -> Result<(), AppError> {
    Ok(store::complete(
        tx.conn,
        &ticket.record,
        &ticket.seal(response),
        subject_id,
    )?)
}

/// Brings a stored answer up to date after work that followed its commit
/// (a refund the provider made once the cancellation was stored).
pub fn amend(tx: &mut Tx<'_>, ticket: &Ticket, response: &StoredResponse) -> Result<(), AppError> {
    Ok(store::amend(
        tx.conn,
        &ticket.record,
        &ticket.seal(response),
    )?)
}

/// Stores the answer to a failed request, unless it failed on the server's
/// side; returns whether it was stored.
fn complete_failure<T>(
    tx: &mut Tx<'_>,
    ticket: &Ticket,
    render: &Render<T>,
    error: &AppError,
) -> Result<bool, AppError> {
    if error.is_server_side() {
        return Ok(false);
    }
    match (render.err)(error) {
        Some(response) => {
            complete(tx, ticket, &response, None)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Keeps the record in flight across an outside call, naming the resource
/// made so far (a retry after a crash resumes it).
pub fn hold(tx: &mut Tx<'_>, ticket: &Ticket, resource_id: &str) -> Result<(), AppError> {
    Ok(store::set_resource(tx.conn, &ticket.record, resource_id)?)
}

/// Lets a retry run after an attempt failed on the server's side between
/// its transactions.
pub fn release(tx: &mut Tx<'_>, ticket: &Ticket) -> Result<(), AppError> {
    Ok(store::release(tx.conn, &ticket.record)?)
}
