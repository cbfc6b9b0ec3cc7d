//! The diary's shape: practitioners, their weekly opening hours and
//! closures. Each change is audited; the unit of work drops the cached free
//! slots after commit.

use serde_json::json;

use super::{App, AppError, Tx};
use crate::db::{DbConnection, DbError};
use crate::domain::slots::{weekday_name, Interval, OpeningWindow};
use crate::store::practitioners::{self, ClosureRow, PractitionerRow};

/// A window for the audit trail, as the API writes it.
fn window_state(w: &OpeningWindow) -> serde_json::Value {
    json!({
        "weekday": weekday_name(w.weekday),
        "opens": w.opens.format("%H:%M").to_string(),
        "closes": w.closes.format("%H:%M").to_string(),
    })
}

/// A practitioner with their weekly opening hours.
#[derive(Debug, Clone)]
pub struct Practitioner {
    pub row: PractitionerRow,
    pub hours: Vec<OpeningWindow>,
}

impl Practitioner {
    pub fn of(conn: &mut DbConnection, row: PractitionerRow) -> Result<Practitioner, DbError> {
        let hours = practitioners::hours(conn, &row.id)?;
        Ok(Practitioner { row, hours })
    }
}

/// What staff write about a practitioner.
#[derive(Debug, Clone)]
pub struct PractitionerDraft {
    pub name: String,
    pub title: String,
    pub active: bool,
}

fn audit_practitioner(
    tx: &mut Tx<'_>,
    actor: &str,
    action: &str,
    p: &PractitionerRow,
) -> Result<(), DbError> {
    let after = json!({"name": p.name, "title": p.title, "active": p.active});
    tx.audit(actor, action, "practitioner", &p.id, None, Some(after))
}

pub async fn create_practitioner(
    app: &App,
    actor: &str,
    draft: PractitionerDraft,
) -> Result<Practitioner, AppError> {
    let actor = actor.to_owned();
    app.write(move |tx| {
        let row = practitioners::insert(tx.conn, &draft.name, &draft.title, draft.active, tx.now)?;
        audit_practitioner(tx, &actor, "practitioner.created", &row)?;
        Ok(Practitioner::of(tx.conn, row)?)
    })
    .await
}

pub async fn update_practitioner(
    app: &App,
    actor: &str,
    id: &str,
    draft: PractitionerDraft,
) -> Result<Practitioner, AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        let row = practitioners::update(
            tx.conn,
            &id,
            &draft.name,
            &draft.title,
            draft.active,
            tx.now,
        )?
        .ok_or(AppError::NotFound("practitioner"))?;
        audit_practitioner(tx, &actor, "practitioner.updated", &row)?;
        Ok(Practitioner::of(tx.conn, row)?)
    })
    .await
}

/// Replaces a practitioner's whole weekly schedule; returns it as stored.
pub async fn set_opening_hours(
    app: &App,
    actor: &str,
    id: &str,
    windows: Vec<OpeningWindow>,
) -> Result<Vec<OpeningWindow>, AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        practitioners::get(tx.conn, &id)?.ok_or(AppError::NotFound("practitioner"))?;
        practitioners::replace_hours(tx.conn, &id, &windows)?;
        let hours = practitioners::hours(tx.conn, &id)?;
        let after = json!({ "windows": hours.iter().map(window_state).collect::<Vec<_>>() });
        tx.audit(
            &actor,
            "practitioner.hours_set",
            "practitioner",
            &id,
            None,
            Some(after),
        )?;
        Ok(hours)
    })
    .await
}

/// Closes the clinic (or one practitioner) for a period.
pub async fn create_closure(
    app: &App,
    actor: &str,
    practitioner_id: Option<String>,
    period: Interval,
    reason: &str,
) -> Result<ClosureRow, AppError> {
    let (actor, reason) = (actor.to_owned(), reason.to_owned());
    app.write(move |tx| {
        if let Some(p) = &practitioner_id {
            practitioners::get(tx.conn, p)?.ok_or_else(|| {
                AppError::field("practitioner_id", "unknown", "names no practitioner")
            })?;
        }
        let row = practitioners::insert_closure(tx.conn, practitioner_id.as_deref(), period, &reason, tx.now)?;
        let after = json!({"practitioner_id": row.practitioner_id, "starts_at": period.starts_at, "ends_at": period.ends_at});
        tx.audit(&actor, "closure.created", "closure", &row.id, None, Some(after))?;
        Ok(row)
    })
    .await
}

pub async fn delete_closure(app: &App, actor: &str, id: &str) -> Result<(), AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        if !practitioners::delete_closure(tx.conn, &id)? {
            return Err(AppError::NotFound("closure"));
        }
        tx.audit(&actor, "closure.deleted", "closure", &id, None, None)?;
        Ok(())
    })
    .await
}
