//! A booking as its readers see it, and who may see and act on it.

use crate::app::{App, AppError};
use crate::db::{DbConnection, DbError};
use crate::domain::actor::Actor;
use crate::secrets;
use crate::store::consultations::{self, channel, Consultation};
use crate::store::deposits::{self, Deposit};
use crate::store::treatments;

/// A booking as its readers see it: the consultation, its deposit, and the
/// slug of the treatment of interest.
#[derive(Debug, Clone)]
pub struct Booking {
    pub consultation: Consultation,
    pub deposit: Deposit,
    pub treatment_slug: Option<String>,
}

impl Booking {
    /// Loads a consultation's booking by id, whoever asks (callers authorise).
    pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Booking>, DbError> {
        let Some(c) = consultations::get(conn, id)? else {
            return Ok(None);
        };
        Self::of(conn, c).map(Some)
    }

    /// The booking of a consultation in hand.
    pub fn of(conn: &mut DbConnection, consultation: Consultation) -> Result<Booking, DbError> {
        let deposit =
            deposits::by_consultation(conn, &consultation.id)?.ok_or(DbError::NotFound)?;
        Self::with_deposit(conn, consultation, deposit)
    }

    /// A consultation's booking, its deposit already at hand.
    pub fn with_deposit(
        conn: &mut DbConnection,
        consultation: Consultation,
        deposit: Deposit,
    ) -> Result<Booking, DbError> {
        let treatment_slug = match &consultation.treatment_id {
            Some(id) => treatments::by_id(conn, id)?.map(|t| t.slug),
            None => None,
        };
        Ok(Booking {
            consultation,
            deposit,
            treatment_slug,
        })
    }
}

impl crate::app::idempotency::Subject for Booking {
    fn subject_id(&self) -> Option<&str> {
        Some(&self.consultation.id)
    }
}

/// Whether `actor` may see and act on the consultation.
pub fn may_act_on(c: &Consultation, actor: &Actor) -> bool {
    match actor {
        Actor::Staff(_) => true,
        Actor::Partner(key) => {
            c.channel == channel::PARTNER && c.booked_by_key_id.as_deref() == Some(key)
        }
        Actor::Client(hash) => secrets::hashes_match(&c.manage_token_hash, hash),
    }
}

/// Loads a booking the actor may act on, or 404.
pub fn load(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), AppError> {
    let c = consultations::get(conn, id)?
        .filter(|c| may_act_on(c, actor))
        .ok_or(AppError::NotFound("consultation"))?;
    let d = deposits::by_consultation(conn, id)?.ok_or(DbError::NotFound)?;
    Ok((c, d))
}

/// Like [`load`], under the consultation's and then the deposit's row locks
/// (always in that order), for a change.
pub fn load_for_update(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
) -> Result<(Consultation, Deposit), AppError> {
    consultations::lock(conn, id)?;
    if let Some(d) = deposits::by_consultation(conn, id)? {
        deposits::lock(conn, &d.id)?;
    }
    load(conn, id, actor)
}

/// Reads a booking for an actor allowed to see it. A pending Stripe
/// deposit is reconciled with Stripe first (authorised first, so another
/// booking's token never causes an outside call).
pub async fn get(app: &App, id: &str, actor: &Actor) -> Result<Booking, AppError> {
    let (i, a) = (id.to_owned(), actor.clone());
    let deposit = app
        .db
        .run(move |conn| load(conn, &i, &a).map(|(_, d)| d))
        .await?;
    crate::app::stripe::reconcile_on_read(app, &deposit).await;
    let i = id.to_owned();
    app.db
        .run(move |conn| Booking::load(conn, &i)?.ok_or(AppError::NotFound("consultation")))
        .await
}

/// Reads a booking for an actor allowed to see it, as stored.
pub async fn find(app: &App, id: &str, actor: &Actor) -> Result<Booking, AppError> {
    let (i, a) = (id.to_owned(), actor.clone());
    app.db
        .run(move |conn| {
            let (c, _) = load(conn, &i, &a)?;
            Ok::<_, AppError>(Booking::of(conn, c)?)
        })
        .await
}
