//! The audit trail: appended by `app::audit` inside each unit of work, read
//! by admins and by the client export.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::{DbConnection, DbError};

use super::{from_db, ordered_id, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct Row {
    id: String,
    occurred_at: NaiveDateTime,
    actor: String,
    action: String,
    subject_type: String,
    subject_id: String,
    before_state: Option<String>,
    after_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> Self {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Self {
            id: r.id,
            occurred_at: from_db(r.occurred_at),
            actor: r.actor,
            action: r.action,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            before: parse(r.before_state),
            after: parse(r.after_state),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject_type: Option<String>,
    /// Any of these subject ids.
    pub subject_ids: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

pub fn insert(
    conn: &mut DbConnection,
    e: &NewEvent<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(ordered_id()),
            audit_events::occurred_at.eq(to_db(now)),
            audit_events::actor.eq(e.actor),
            audit_events::action.eq(e.action),
            audit_events::subject_type.eq(e.subject_type),
            audit_events::subject_id.eq(e.subject_id),
            audit_events::before_state.eq(&e.before),
            audit_events::after_state.eq(&e.after),
        ))
        .execute(db))?;
    Ok(())
}

/// Events in (occurred_at, id) order.
pub fn list(conn: &mut DbConnection, f: &Filter) -> Result<Vec<AuditEvent>, DbError> {
    let rows: Vec<Row> = crate::native!(conn, |db| {
        let mut q = audit_events::table
            .select(Row::as_select())
            .order((audit_events::occurred_at.asc(), audit_events::id.asc()))
            .limit(f.limit)
            .into_boxed();
        if let Some(a) = &f.actor {
            q = q.filter(audit_events::actor.eq(a.clone()));
        }
        if let Some(a) = &f.action {
            q = q.filter(audit_events::action.eq(a.clone()));
        }
        if let Some(t) = &f.subject_type {
            q = q.filter(audit_events::subject_type.eq(t.clone()));
        }
        if !f.subject_ids.is_empty() {
            q = q.filter(audit_events::subject_id.eq_any(f.subject_ids.clone()));
        }
        if let Some(from) = f.from {
            q = q.filter(audit_events::occurred_at.ge(to_db(from)));
        }
        if let Some(to) = f.to {
            q = q.filter(audit_events::occurred_at.lt(to_db(to)));
        }
        if let Some((at, id)) = &f.after {
            let at = to_db(*at);
            q = q.filter(
                audit_events::occurred_at
                    .gt(at)
                    .or(audit_events::occurred_at
                        .eq(at)
                        .and(audit_events::id.gt(id.clone()))),
            );
        }
        q.load(db)
    })?;
    Ok(rows.into_iter().map(AuditEvent::from).collect())
}
