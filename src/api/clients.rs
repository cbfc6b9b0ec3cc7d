//! `/v1/clients` (staff; export and erasure for admins) and
//! `/v1/audit-events` (admins).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::consultations::view::{self, Audience, Consultation};
use crate::api::consultations::ScreeningRecord;
use crate::api::deposits::{self as deposit_api, DepositRecord};
use crate::api::extract::supported_date;
use crate::api::{pagination, ProblemResponses};
use crate::auth::{AdminKey, StaffKey};
use crate::db::{write_transaction, DbConnection, DbError};
use crate::error::ApiError;
use crate::events;
use crate::state::AppState;
use crate::store::clients::{self as store, ClientRow};
use crate::store::consultations::{self, ListFilter};
use crate::store::{audit, deposits, from_db, screenings};

/// A client as staff see them in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    #[schema(format = "uuid")]
    pub id: String,
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the client's personal data was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

impl From<&ClientRow> for Client {
    fn from(c: &ClientRow) -> Self {
        Self {
            id: c.id.clone(),
            full_name: c.full_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            created_at: from_db(c.created_at),
            updated_at: from_db(c.updated_at),
            erased_at: c.erased_at.map(from_db),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    pub items: Vec<Client>,
    pub next: Option<String>,
}

/// Everything about one client a member of staff needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientRecord {
    #[serde(flatten)]
    pub client: Client,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<NaiveDate>,
    pub consultations: Vec<Consultation>,
    pub screenings: Vec<ScreeningRecord>,
    pub deposits: Vec<DepositRecord>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    #[schema(format = "uuid")]
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// `key:<api key id>`, `client` (manage token), `stripe` or `system`.
    #[schema(example = "key:3f0c…")]
    pub actor: String,
    #[schema(example = "consultation.cancelled")]
    pub action: String,
    #[schema(example = "consultation")]
    pub subject_type: String,
    pub subject_id: String,
    /// The state before (no health data).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<audit::AuditEvent> for AuditEvent {
    fn from(e: audit::AuditEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at,
            actor: e.actor,
            action: e.action,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            before: e.before,
            after: e.after,
        }
    }
}

/// Everything held about a client, as one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientExport {
    pub exported_at: DateTime<Utc>,
    pub client: ClientRecord,
    /// The audit trail of the client, their bookings and deposits.
    pub audit_events: Vec<AuditEvent>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Text to find in the name, email or phone.
    #[param(max_length = 200, example = "morgan")]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientPath {
    pub id: uuid::Uuid,
}

fn cursor_after(cursor: &Option<String>) -> Result<Option<(DateTime<Utc>, String)>, ApiError> {
    cursor.as_deref().map(pagination::decode_time).transpose()
}

/// Find clients
#[utoipa::path(
    operation_id = "listClients",
    tag = "Clients",
    params(ClientQuery),
    responses(
        (status = 200, description = "A page of clients", body = ClientList),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/clients")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _staff: StaffKey,
    query: web::Query<ClientQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    if q.q.as_deref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::field(
            "q",
            "length",
            "must be at most 200 characters",
        ));
    }
    let after = cursor_after(&q.cursor)?;
    let text = q.q.clone();
    let mut rows = state
        .db
        .run(move |conn| store::search(conn, text.as_deref(), after, limit + 1))
        .await?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page has a last row");
        let cursor = pagination::encode_time(from_db(last.created_at), &last.id);
        pagination::next_link(&req, &cursor)
    });
    Ok(HttpResponse::Ok().json(ClientList {
        items: rows.iter().map(Client::from).collect(),
        next,
    }))
}

fn record(conn: &mut DbConnection, state: &AppState, id: &str) -> Result<ClientRecord, ApiError> {
    let client = store::get(conn, id)?.ok_or(ApiError::NotFound("client"))?;
    let rows = consultations::list(
        conn,
        &ListFilter {
            client_id: Some(id.to_owned()),
            limit: 10_000,
            ..Default::default()
        },
    )?;
    let mut views = Vec::new();
    let mut screening_records = Vec::new();
    let mut deposit_records = Vec::new();
    for c in rows {
        let cid = c.id.clone();
        let d = deposits::by_consultation(conn, &cid)?.ok_or(DbError::NotFound)?;
        deposit_records.push(deposit_api::record(conn, d.clone())?);
        if let Some(s) = screenings::by_consultation(conn, &cid)? {
            screening_records.push(ScreeningRecord::from(s));
        }
        views.push(view::render(conn, state, c, d, Audience::Staff)?);
    }
    Ok(ClientRecord {
        client: Client::from(&client),
        date_of_birth: client.date_of_birth,
        consultations: views,
        screenings: screening_records,
        deposits: deposit_records,
    })
}

/// Get a client
///
/// The client with their consultations, screenings and deposits.
#[utoipa::path(
    operation_id = "getClient",
    tag = "Clients",
    params(ClientPath),
    responses(
        (status = 200, description = "The client", body = ClientRecord),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[get("/clients/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    _staff: StaffKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let st = state.clone();
    let r = state.db.run(move |conn| record(conn, &st, &id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Export a client's data
///
/// Admins: everything held about the client (personal data, bookings,
/// screenings, deposits and their audit trail) as one JSON document, for
/// a subject access request. The export itself is audited.
#[utoipa::path(
    operation_id = "exportClient",
    tag = "Clients",
    params(ClientPath),
    responses(
        (status = 200, description = "The export", body = ClientExport),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[get("/clients/{id}/export")]
pub async fn export(
    state: web::Data<AppState>,
    admin: AdminKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let now = state.now();
    let st = state.clone();
    let who = events::actor::key(&admin.identity.key_id);
    let doc = state
        .db
        .run(move |conn| {
            let client = record(conn, &st, &id)?;
            let mut subjects = vec![id.clone()];
            subjects.extend(client.consultations.iter().map(|c| c.id.clone()));
            subjects.extend(client.deposits.iter().map(|d| d.id.clone()));
            let trail = audit::list(
                conn,
                &audit::Filter {
                    subject_ids: subjects,
                    limit: 100_000,
                    ..Default::default()
                },
            )?;
            write_transaction(conn, |conn| {
                events::audit(
                    conn,
                    &who,
                    "client.exported",
                    "client",
                    &id,
                    None,
                    None,
                    now,
                )
            })?;
            Ok::<_, ApiError>(ClientExport {
                exported_at: now,
                client,
                audit_events: trail.into_iter().map(AuditEvent::from).collect(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(doc))
}

/// Erase a client
///
/// Admins: irreversibly removes the client's personal and health data
/// (name, contact details, date of birth, screenings, booking notes) while
/// keeping the financial facts the clinic must keep (deposit amounts, dates,
/// Stripe references). Refused with 409 while the client has a confirmed
/// consultation to come, a booking being paid, a paid deposit not yet
/// settled, or a refund still being made.
#[utoipa::path(
    operation_id = "eraseClient",
    tag = "Clients",
    params(ClientPath),
    responses(
        (status = 200, description = "Erased; the client as it now stands", body = Client),
        ProblemResponses<401, 403, 404, 409>,
    ),
    security(("api_key" = []))
)]
#[post("/clients/{id}/erasure")]
pub async fn erase(
    state: web::Data<AppState>,
    admin: AdminKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let now = state.now();
    let who = events::actor::key(&admin.identity.key_id);
    let client = state
        .db
        .run(move |conn| {
            crate::privacy::erase(conn, &id, &who, now)?;
            Ok::<_, ApiError>(store::get(conn, &id)?.ok_or(DbError::NotFound)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Client::from(&client)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `key:<id>`, `client`, `stripe` or `system`.
    pub actor: Option<String>,
    #[param(example = "consultation.cancelled")]
    pub action: Option<String>,
    #[param(example = "consultation")]
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    /// From this date (clinic-local, inclusive).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Up to this date (clinic-local, inclusive).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    pub items: Vec<AuditEvent>,
    pub next: Option<String>,
}

/// List audit events
///
/// Admins: who did what and when — every staff or partner action and every
/// state change of a consultation or deposit — oldest first.
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "Clients",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        ProblemResponses<401, 403, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/audit-events")]
pub async fn audit_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: AdminKey,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    supported_date("from", q.from)?;
    supported_date("to", q.to)?;
    let tz = state.settings.clinic_timezone;
    let midnight = |d: NaiveDate| crate::domain::slots::local_midnight(tz, d);
    let filter = audit::Filter {
        actor: q.actor,
        action: q.action,
        subject_type: q.subject_type,
        subject_ids: q.subject_id.into_iter().collect(),
        from: q.from.map(midnight),
        to: q.to.map(|d| midnight(d + chrono::Duration::days(1))),
        after: cursor_after(&q.cursor)?,
        limit: limit + 1,
    };
    let mut rows = state.db.run(move |conn| audit::list(conn, &filter)).await?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page has a last row");
        let cursor = pagination::encode_time(last.occurred_at, &last.id);
        pagination::next_link(&req, &cursor)
    });
    Ok(HttpResponse::Ok().json(AuditEventList {
        items: rows.into_iter().map(AuditEvent::from).collect(),
        next,
    }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get)
        .service(export)
        .service(erase)
        .service(audit_events);
}
