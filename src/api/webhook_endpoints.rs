//! `/v1/webhook-endpoints`: subscriptions to booking events (outbound
//! webhooks), their delivery log and replay. Partners receive events about their own bookings only;
//! staff endpoints receive every booking's events.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::{AnyKey, Role};
use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::validation::{finish, reject};
use crate::api::{created, pagination, rate_limit, ProblemResponses};
use crate::app::webhook_endpoints::{self as endpoints, owned};
use crate::app::App;
use crate::domain::event_types::EventType;
use crate::store::deliveries::{self as store, Delivery, Endpoint, EndpointFields};

/// A subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(example = "https://partner.example/hooks/clinic", max_length = 2000)]
    pub url: String,
    #[schema(max_items = 11)]
    pub event_types: Vec<EventType>,
    /// False when disabled by its owner or after a day of failed deliveries.
    pub active: bool,
    #[schema(max_length = 200)]
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed, if they are failing.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpoint {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            event_types: e
                .event_types
                .iter()
                .filter_map(|t| EventType::parse(t))
                .collect(),
            active: e.active,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new subscription, with its signing secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// Verify `Clinic-Signature` with this. Shown once.
    #[schema(example = "whsec_9sK2…", max_length = 46)]
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointList {
    pub items: Vec<WebhookEndpoint>,
}

/// A subscription as its owner writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://partner.example/hooks/clinic", "event_types": ["consultation.confirmed", "consultation.cancelled"]}))]
pub struct WebhookEndpointInput {
    /// An `https://` URL.
    #[schema(format = "uri", max_length = 2000)]
    pub url: String,
    #[schema(min_items = 1, max_items = 11)]
    pub event_types: Vec<EventType>,
    /// Set true to re-enable a disabled endpoint.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Validate for WebhookEndpointInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.url.len() > 2000
            || !(self.url.starts_with("https://") || self.url.starts_with("http://"))
        {
            reject(
                &mut errors,
                "url",
                "url",
                "must be an https:// URL of at most 2000 characters".into(),
            );
        } else if reqwest::Url::parse(&self.url).is_err() {
            reject(&mut errors, "url", "url", "is not a valid URL".into());
        }
        if self.event_types.is_empty() {
            reject(
                &mut errors,
                "event_types",
                "required",
                "name at least one event type".into(),
            );
        }
        finish(errors)
    }
}

impl WebhookEndpointInput {
    fn fields(&self) -> Result<EndpointFields, ApiError> {
        let mut types: Vec<String> = self
            .event_types
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        types.sort();
        types.dedup();
        Ok(EndpointFields {
            url: self.url.clone(),
            event_types: types,
            active: self.active,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    pub id: uuid::Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    pub id: uuid::Uuid,
    pub delivery_id: uuid::Uuid,
}

/// The event catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    #[schema(max_items = 11)]
    pub items: Vec<EventTypeInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeInfo {
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[schema(max_length = 200)]
    pub description: &'static str,
}

/// List event types
#[utoipa::path(
    operation_id = "listWebhookEventTypes",
    tag = "Webhooks",
    responses((status = 200, description = "Every event type an endpoint can subscribe to", body = EventTypeList)),
    security(())
)]
#[get("/webhook-event-types")]
pub async fn event_types() -> HttpResponse {
    HttpResponse::Ok().json(EventTypeList {
        items: EventType::ALL
            .into_iter()
            .map(|t| EventTypeInfo {
                event_type: t,
                description: t.describe(),
            })
            .collect(),
    })
}

/// Subscribe to events
///
/// Registers a URL to receive booking events, signed with a secret that is
/// shown once. Each delivery is a POST of the event JSON with headers
/// `Clinic-Event-Id`, `Clinic-Event-Type` and
/// `Clinic-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// Answer 2xx within 10 seconds; anything else is retried with exponential
/// backoff for 24 hours. Partners receive events about their own bookings.
/// One key may hold at most `MAX_WEBHOOK_ENDPOINTS_PER_KEY` endpoints (10
/// by default): one more is 409 `too_many_endpoints`.
#[utoipa::path(
    operation_id = "createWebhookEndpoint",
    tag = "Webhooks",
    request_body = WebhookEndpointInput,
    responses(
        (status = 201, description = "Subscribed", body = CreatedWebhookEndpoint,
            headers(("Location" = String, description = "URL of the endpoint"))),
        ProblemResponses<400, 401, 403, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/webhook-endpoints")]
pub async fn create(
    app: web::Data<App>,
    key: AnyKey,
    body: ValidJson<WebhookEndpointInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.0.fields()?;
    let (endpoint, secret) = endpoints::create(&app, &key.identity, fields).await?;
    let location = format!("/v1/webhook-endpoints/{}", endpoint.id);
    Ok(created(
        &location,
        &CreatedWebhookEndpoint {
            endpoint: endpoint.into(),
            secret,
        },
    ))
}

/// List your endpoints
///
/// The caller's endpoints (admins: every endpoint).
#[utoipa::path(
    operation_id = "listWebhookEndpoints",
    tag = "Webhooks",
    responses(
        (status = 200, description = "Endpoints", body = WebhookEndpointList),
        ProblemResponses<401, 403>,
    ),
    security(("api_key" = []))
)]
#[get("/webhook-endpoints")]
pub async fn list(app: web::Data<App>, key: AnyKey) -> Result<HttpResponse, ApiError> {
    let owner = (key.identity.role != Role::Admin).then(|| key.identity.key_id.clone());
    let items = app
        .db
        .run(move |conn| store::endpoints(conn, owner.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointList {
        items: items.into_iter().map(WebhookEndpoint::from).collect(),
    }))
}

/// Get an endpoint
#[utoipa::path(
    operation_id = "getWebhookEndpoint",
    tag = "Webhooks",
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get(
    app: web::Data<App>,
    key: AnyKey,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let (id, who) = (path.id.to_string(), key.identity);
    let e = app.db.run(move |conn| owned(conn, &id, &who)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from(e)))
}

/// Update an endpoint
///
/// Replaces the URL and event types; `active: true` re-enables an endpoint
/// that was disabled after failures (its pending deliveries resume).
#[utoipa::path(
    operation_id = "updateWebhookEndpoint",
    tag = "Webhooks",
    params(EndpointPath),
    request_body = WebhookEndpointInput,
    responses(
        (status = 200, description = "Updated", body = WebhookEndpoint),
        ProblemResponses<400, 401, 403, 404, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/webhook-endpoints/{id}")]
pub async fn update(
    app: web::Data<App>,
    key: AnyKey,
    path: web::Path<EndpointPath>,
    body: ValidJson<WebhookEndpointInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.0.fields()?;
    let e = endpoints::update(&app, &key.identity, &path.id.to_string(), fields).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from(e)))
}

/// Delete an endpoint
#[utoipa::path(
    operation_id = "deleteWebhookEndpoint",
    tag = "Webhooks",
    params(EndpointPath),
    responses(
        (status = 204, description = "Deleted, with its delivery log"),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn remove(
    app: web::Data<App>,
    key: AnyKey,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    endpoints::delete(&app, &key.identity, &path.id.to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDelivery {
    #[schema(format = "uuid")]
    pub id: String,
    /// The event's id (the same across retries and replays: de-duplicate on it).
    #[schema(format = "uuid")]
    pub event_id: String,
    #[schema(max_length = 64)]
    pub event_type: String,
    pub event_occurred_at: DateTime<Utc>,
    /// `pending`, `succeeded` or `abandoned` (after 24 hours of failures).
    #[schema(example = "succeeded", max_length = 16)]
    pub status: String,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[schema(minimum = 100, maximum = 599)]
    pub last_status_code: Option<i32>,
    #[schema(max_length = 200)]
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The event as delivered.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<Delivery> for WebhookDelivery {
    fn from(d: Delivery) -> Self {
        Self {
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            event_occurred_at: d.event_occurred_at,
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryList {
    #[schema(max_items = 100)]
    pub items: Vec<WebhookDelivery>,
    #[schema(max_length = 4096)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `succeeded` or `abandoned`.
    #[param(pattern = "^(pending|succeeded|abandoned)$", max_length = 9)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Delivery log
///
/// The endpoint's deliveries, newest event first.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "Webhooks",
    params(EndpointPath, DeliveryQuery),
    responses(
        (status = 200, description = "Deliveries", body = WebhookDeliveryList),
        ProblemResponses<401, 403, 404, 422>,
    ),
    security(("api_key" = []))
)]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn deliveries(
    req: HttpRequest,
    app: web::Data<App>,
    key: AnyKey,
    path: web::Path<EndpointPath>,
    query: crate::api::extract::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "pending" | "succeeded" | "abandoned") {
            return Err(ApiError::field(
                "status",
                "invalid",
                "must be pending, succeeded or abandoned",
            ));
        }
    }
    let before = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let (id, who) = (path.id.to_string(), key.identity);
    let rows = app
        .db
        .run(move |conn| {
            owned(conn, &id, &who)?;
            Ok::<_, crate::app::AppError>(store::deliveries(
                conn,
                &id,
                q.status.as_deref(),
                before,
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next) = pagination::page(&req, rows, limit, |last| {
        pagination::encode_time(last.event_occurred_at, &last.id)
    });
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        items: rows.into_iter().map(WebhookDelivery::from).collect(),
        next,
    }))
}

/// Replay a delivery
///
/// Queues the delivery to be sent again now, with the same event id.
#[utoipa::path(
    operation_id = "replayWebhookDelivery",
    tag = "Webhooks",
    params(DeliveryPath),
    responses(
        (status = 202, description = "Queued", body = WebhookDelivery),
        ProblemResponses<401, 403, 404, 429>,
    ),
    security(("api_key" = []))
)]
#[post("/webhook-endpoints/{id}/deliveries/{delivery_id}/replay")]
pub async fn replay(
    app: web::Data<App>,
    key: AnyKey,
    path: web::Path<DeliveryPath>,
) -> Result<HttpResponse, ApiError> {
    let limit = app.settings.webhooks.max_replays_per_minute;
    let counted = rate_limit::check_key(&app, &key.identity.key_id, "replays", limit).await?;
    let replayed = endpoints::replay(
        &app,
        &key.identity,
        &path.id.to_string(),
        &path.delivery_id.to_string(),
    )
    .await
    .map_err(ApiError::from)
    .map(|d| HttpResponse::Accepted().json(WebhookDelivery::from(d)));
    rate_limit::answer(counted, replayed)
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(event_types)
        .service(create)
        .service(list)
        .service(get)
        .service(update)
        .service(remove)
        .service(deliveries)
        .service(replay);
}
