//! `/v1/faqs`: questions and answers, public when published, written by staff.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::{MaybeKey, StaffKey};
use crate::api::caching::cached_json;
use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::pagination;
use crate::api::validation::{check_text, finish, reject};
use crate::api::{created, ProblemResponses};
use crate::app::catalogue::{self, FaqDraft};
use crate::app::App;
use crate::cache::CacheKey;
use crate::domain::slug::{is_slug, is_topic};
use crate::store::faqs::{self as store, FaqFilter};

/// A question and its answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(crate::api::examples::faq()))]
pub struct Faq {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(max_length = 300)]
    pub question: String,
    #[schema(max_length = 5000)]
    pub answer: String,
    /// Topic code, e.g. `booking`, `safety`.
    #[schema(max_length = 80)]
    pub topic: String,
    /// The treatment this entry is about, if any.
    #[schema(max_length = 80)]
    pub treatment_slug: Option<String>,
    /// Display order, ascending.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub position: i32,
    /// Unpublished entries are visible to staff only.
    pub published: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Faq> for Faq {
    fn from(f: store::Faq) -> Self {
        Self {
            id: f.id,
            question: f.question,
            answer: f.answer,
            topic: f.topic,
            treatment_slug: f.treatment_slug,
            position: f.position,
            published: f.published,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// A page of FAQ entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaqList {
    #[schema(max_items = 100)]
    pub items: Vec<Faq>,
    /// URL of the next page, or null on the last.
    #[schema(max_length = 4096)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FaqQuery {
    /// Only this topic.
    #[param(
        example = "booking",
        pattern = "^[a-z0-9]+(_[a-z0-9]+)*$",
        max_length = 80
    )]
    pub topic: Option<String>,
    /// Only entries about this treatment (its slug).
    #[param(
        example = "facial-asymmetry-correction",
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 80
    )]
    pub treatment: Option<String>,
    /// Case-insensitive text to find in question or answer.
    #[param(example = "deposit", max_length = 200)]
    pub q: Option<String>,
    /// Page size (1–100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From the `next` link of the previous page.
    pub cursor: Option<String>,
}

/// An FAQ entry as staff write it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "question": "How long does a session take?",
    "answer": "Between 30 and 45 minutes.",
    "topic": "treatment",
    "treatment_slug": "facial-asymmetry-correction",
    "published": true
}))]
pub struct FaqInput {
    #[schema(min_length = 1, max_length = 300)]
    pub question: String,
    #[schema(min_length = 1, max_length = 5000)]
    pub answer: String,
    #[schema(pattern = "^[a-z0-9]+(_[a-z0-9]+)*$", min_length = 1, max_length = 80)]
    pub topic: String,
    /// The treatment this entry is about (its slug), or null.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 80)]
    pub treatment_slug: Option<String>,
    /// Display position; on create, omitted means after the last entry.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub position: Option<i32>,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub published: bool,
}

fn yes() -> bool {
    true
}

impl Validate for FaqInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "question", &self.question, 300);
        check_text(&mut errors, "answer", &self.answer, 5000);
        if !is_topic(&self.topic) {
            reject(
                &mut errors,
                "topic",
                "topic",
                "must be lower-case words joined by single underscores".into(),
            );
        }
        if self.treatment_slug.as_deref().is_some_and(|s| !is_slug(s)) {
            reject(
                &mut errors,
                "treatment_slug",
                "slug",
                "must be a treatment slug".into(),
            );
        }
        if self.position.is_some_and(|p| !(1..=100_000).contains(&p)) {
            reject(
                &mut errors,
                "position",
                "range",
                "must be between 1 and 100000".into(),
            );
        }
        finish(errors)
    }
}

/// The complete new order of the FAQ.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderInput {
    /// Every FAQ id exactly once, in the new order.
    #[schema(min_items = 1, max_items = 500)]
    pub ids: Vec<uuid::Uuid>,
}

impl Validate for ReorderInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut sorted = self.ids.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.ids.len() {
            reject(
                &mut errors,
                "ids",
                "duplicate",
                "must list each id once".into(),
            );
        }
        if self.ids.is_empty() || self.ids.len() > 500 {
            reject(
                &mut errors,
                "ids",
                "length",
                "must list 1 to 500 ids".into(),
            );
        }
        finish(errors)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FaqPath {
    /// The entry's id.
    pub id: uuid::Uuid,
}

/// List FAQ entries
///
/// Published entries in position order, filtered by topic, treatment and
/// text. Staff also see unpublished ones. Paginated with `limit` and
/// `cursor`; answers carry an `ETag`.
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) to see unpublished entries.
#[utoipa::path(
    operation_id = "listFaqs",
    tag = "FAQ",
    params(FaqQuery),
    responses(
        (status = 200, description = "A page of entries", body = FaqList,
            headers(("ETag" = String, description = "Version of this representation"))),
        (status = 304, description = "Not modified since the ETag given"),
        ProblemResponses<401, 422>,
    ),
    security(())
)]
#[get("/faqs")]
pub async fn list(
    req: HttpRequest,
    app: web::Data<App>,
    caller: MaybeKey,
    query: crate::api::extract::Query<FaqQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = pagination::limit(query.limit)?;
    let after = query
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?
        .map(|(key, id)| {
            (
                i32::try_from(key).unwrap_or(if key < 0 { i32::MIN } else { i32::MAX }),
                id,
            )
        });
    if query.topic.as_deref().is_some_and(|t| !is_topic(t)) {
        return Err(ApiError::field(
            "topic",
            "topic",
            "must be lower-case words joined by single underscores",
        ));
    }
    if query.treatment.as_deref().is_some_and(|t| !is_slug(t)) {
        return Err(ApiError::field(
            "treatment",
            "slug",
            "must be a treatment slug",
        ));
    }
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::field(
            "q",
            "length",
            "must be at most 200 characters",
        ));
    }
    let filter = FaqFilter {
        topic: query.topic,
        treatment_slug: query.treatment,
        text: query.q,
        include_unpublished: caller.is_staff(),
        after,
        limit: limit + 1,
    };
    let key = CacheKey::Faqs(format!("{}|{}", caller.is_staff(), req.query_string()));
    let req_for_link = req.clone();
    cached_json(&req, &app, key, move |app| {
        Box::pin(async move {
            let rows = app.db.run(move |c| store::list(c, &filter)).await?;
            let (rows, next) = pagination::page(&req_for_link, rows, limit, |last| {
                pagination::encode(i64::from(last.position), &last.id)
            });
            serde_json::to_vec(&FaqList {
                items: rows.into_iter().map(Faq::from).collect(),
                next,
            })
            .map_err(ApiError::internal)
        })
    })
    .await
}

/// Get an FAQ entry
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) to read an unpublished entry.
#[utoipa::path(
    operation_id = "getFaq",
    tag = "FAQ",
    params(FaqPath),
    responses(
        (status = 200, description = "The entry", body = Faq),
        ProblemResponses<401, 404>,
    ),
    security(())
)]
#[get("/faqs/{id}")]
pub async fn get(
    app: web::Data<App>,
    caller: MaybeKey,
    path: web::Path<FaqPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let found = app.db.run(move |c| store::get(c, &id)).await?;
    match found {
        Some(f) if f.published || caller.is_staff() => Ok(HttpResponse::Ok().json(Faq::from(f))),
        _ => Err(ApiError::NotFound("FAQ entry")),
    }
}

impl FaqInput {
    fn into_draft(self) -> FaqDraft {
        FaqDraft {
            question: self.question.trim().to_owned(),
            answer: self.answer.trim().to_owned(),
            topic: self.topic,
            treatment_slug: self.treatment_slug,
            position: self.position,
            published: self.published,
        }
    }
}

/// Create an FAQ entry
#[utoipa::path(
    operation_id = "createFaq",
    tag = "FAQ",
    request_body = FaqInput,
    responses(
        (status = 201, description = "Created", body = Faq,
            headers(("Location" = String, description = "URL of the new entry"))),
        ProblemResponses<400, 401, 403, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/faqs")]
pub async fn create(
    app: web::Data<App>,
    staff: StaffKey,
    body: ValidJson<FaqInput>,
) -> Result<HttpResponse, ApiError> {
    let faq = catalogue::create_faq(&app, &staff.identity.label(), body.0.into_draft()).await?;
    Ok(created(&format!("/v1/faqs/{}", faq.id), &Faq::from(faq)))
}

/// Replace an FAQ entry
///
/// Replaces every field; an omitted `position` keeps the current one.
#[utoipa::path(
    operation_id = "replaceFaq",
    tag = "FAQ",
    params(FaqPath),
    request_body = FaqInput,
    responses(
        (status = 200, description = "Updated", body = Faq),
        ProblemResponses<400, 401, 403, 404, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/faqs/{id}")]
pub async fn replace(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<FaqPath>,
    body: ValidJson<FaqInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    let faq =
        catalogue::replace_faq(&app, &staff.identity.label(), &id, body.0.into_draft()).await?;
    Ok(HttpResponse::Ok().json(Faq::from(faq)))
}

/// Delete an FAQ entry
#[utoipa::path(
    operation_id = "deleteFaq",
    tag = "FAQ",
    params(FaqPath),
    responses(
        (status = 204, description = "Deleted"),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[delete("/faqs/{id}")]
pub async fn remove(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<FaqPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.id.to_string();
    catalogue::delete_faq(&app, &staff.identity.label(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reorder the FAQ
///
/// Gives every entry a new position: the body lists every FAQ id exactly
/// once, and entries take positions 1, 2, … in that order.
#[utoipa::path(
    operation_id = "reorderFaqs",
    tag = "FAQ",
    request_body = ReorderInput,
    responses(
        (status = 200, description = "The FAQ in its new order (first page)", body = FaqList),
        ProblemResponses<400, 401, 403, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/faqs/reorder")]
pub async fn reorder(
    app: web::Data<App>,
    staff: StaffKey,
    body: ValidJson<ReorderInput>,
) -> Result<HttpResponse, ApiError> {
    let ids: Vec<String> = body.0.ids.iter().map(|u| u.to_string()).collect();
    let rows =
        catalogue::reorder_faqs(&app, &staff.identity.label(), ids, pagination::MAX_LIMIT).await?;
    Ok(HttpResponse::Ok().json(FaqList {
        items: rows.into_iter().map(Faq::from).collect(),
        next: None,
    }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(reorder)
        .service(get)
        .service(replace)
        .service(remove);
}
