//! `/v1/audit-events`: who did what and when (admins).

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::AdminKey;
use crate::api::error::ApiError;
use crate::api::extract::{local_days, optional_calendar_date, supported_date};
use crate::api::{pagination, ProblemResponses};
use crate::app::App;
use crate::store::audit;

/// One audit event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    #[schema(format = "uuid")]
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// `key:<api key id>`, `client` (manage token), `stripe` or `system`.
    #[schema(example = "key:3f0c…", max_length = 64)]
    pub actor: String,
    #[schema(example = "consultation.cancelled", max_length = 64)]
    pub action: String,
    #[schema(example = "consultation", max_length = 32)]
    pub subject_type: String,
    /// The subject's id (`*` for an action on many).
    #[schema(max_length = 64)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `key:<id>`, `client`, `stripe` or `system`.
    #[param(max_length = 64)]
    pub actor: Option<String>,
    #[param(example = "consultation.cancelled", max_length = 64)]
    pub action: Option<String>,
    #[param(example = "consultation", max_length = 32)]
    pub subject_type: Option<String>,
    #[param(max_length = 64)]
    pub subject_id: Option<String>,
    /// From this date (clinic-local, inclusive).
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Up to this date (clinic-local, inclusive).
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    #[schema(max_items = 100)]
    pub items: Vec<AuditEvent>,
    /// The next page, when there is one.
    #[schema(max_length = 4096)]
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
    app: web::Data<App>,
    _admin: AdminKey,
    query: crate::api::extract::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    supported_date("from", q.from)?;
    supported_date("to", q.to)?;
    let (from, to) = local_days(app.settings.clinic_timezone, q.from, q.to);
    let filter = audit::Filter {
        actor: q.actor,
        action: q.action,
        subject_type: q.subject_type,
        subject_ids: q.subject_id.into_iter().collect(),
        from,
        to,
        after: q
            .cursor
            .as_deref()
            .map(pagination::decode_time)
            .transpose()?,
        limit: limit + 1,
    };
    let rows = app.db.run(move |conn| audit::list(conn, &filter)).await?;
    let (rows, next) = pagination::page(&req, rows, limit, |last| {
        pagination::encode_time(last.occurred_at, &last.id)
    });
    Ok(HttpResponse::Ok().json(AuditEventList {
        items: rows.into_iter().map(AuditEvent::from).collect(),
        next,
    }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(audit_events);
}
