//! `/v1/clients`: client records for staff; export and erasure for admins.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::audit_events::AuditEvent;
use crate::api::auth::{AdminKey, StaffKey};
use crate::api::consultations::diary::ScreeningRecord;
use crate::api::consultations::notifications::NotificationEntry;
use crate::api::consultations::view::{self, Audience, Consultation};
use crate::api::deposits::DepositRecord;
use crate::api::error::ApiError;
use crate::api::{pagination, ProblemResponses};
use crate::app::privacy::{self, ClientRecord as Stored};
use crate::app::App;
use crate::store::clients::{self as store, ClientRow};
use crate::store::from_db;

/// A client as staff see them in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(max_length = 200)]
    pub full_name: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 32)]
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
    #[schema(max_items = 100)]
    pub items: Vec<Client>,
    #[schema(max_length = 4096)]
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

/// Everything held about a client, as one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientExport {
    pub exported_at: DateTime<Utc>,
    pub client: ClientRecord,
    /// The audit trail of the client, their bookings and deposits.
    pub audit_events: Vec<AuditEvent>,
    /// The messages planned and sent about their bookings (recipients
    /// masked; no message bodies are kept).
    pub notifications: Vec<NotificationEntry>,
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
    app: web::Data<App>,
    _staff: StaffKey,
    query: crate::api::extract::Query<ClientQuery>,
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
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let text = q.q.clone();
    let rows = app
        .db
        .run(move |conn| store::search(conn, text.as_deref(), after, limit + 1))
        .await?;
    let (rows, next) = pagination::page(&req, rows, limit, |last| {
        pagination::encode_time(from_db(last.created_at), &last.id)
    });
    Ok(HttpResponse::Ok().json(ClientList {
        items: rows.iter().map(Client::from).collect(),
        next,
    }))
}

impl ClientRecord {
    fn render(app: &App, r: Stored) -> Self {
        Self {
            client: Client::from(&r.client),
            date_of_birth: r.client.date_of_birth,
            consultations: r
                .bookings
                .into_iter()
                .map(|b| view::render(app, b, Audience::Staff))
                .collect(),
            screenings: r
                .screenings
                .into_iter()
                .map(ScreeningRecord::from)
                .collect(),
            deposits: r.deposits.into_iter().map(DepositRecord::from).collect(),
        }
    }
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
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let r = privacy::client_record(&app, &path.id.to_string(), &staff.identity.label()).await?;
    Ok(HttpResponse::Ok().json(ClientRecord::render(&app, r)))
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
    app: web::Data<App>,
    admin: AdminKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let export = privacy::export(&app, &path.id.to_string(), &admin.identity.label()).await?;
    let doc = ClientExport {
        exported_at: export.exported_at,
        client: ClientRecord::render(&app, export.record),
        audit_events: export
            .audit_events
            .into_iter()
            .map(AuditEvent::from)
            .collect(),
        notifications: export
            .notifications
            .into_iter()
            .map(NotificationEntry::from)
            .collect(),
    };
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
    app: web::Data<App>,
    admin: AdminKey,
    path: web::Path<ClientPath>,
) -> Result<HttpResponse, ApiError> {
    let client = privacy::erase(&app, &path.id.to_string(), &admin.identity.label()).await?;
    Ok(HttpResponse::Ok().json(Client::from(&client)))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get)
        .service(export)
        .service(erase);
}
