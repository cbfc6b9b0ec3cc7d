//! `/v1/treatments`: the public catalogue, written by staff.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationErrors};

use crate::api::auth::{MaybeKey, StaffKey};
use crate::api::caching::cached_json;
use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::validation::{check_text, finish, reject};
use crate::api::{created, ProblemResponses};
use crate::app::{catalogue, App};
use crate::cache::CacheKey;
use crate::domain::catalogue::{Contraindication, Injectable};
use crate::domain::money::Money;
use crate::domain::slug::is_slug;
use crate::domain::treatment::{self, EffectDuration, MinuteRange, ResultsOnset, TreatmentContent};
use crate::store::treatments::{self as store, Treatment as Stored, TreatmentFields};

/// A treatment the clinic offers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(crate::api::examples::treatment()))]
pub struct Treatment {
    #[schema(format = "uuid")]
    pub id: String,
    /// Stable URL name.
    #[schema(example = "facial-asymmetry-correction", max_length = 80)]
    pub slug: String,
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(max_length = 500)]
    pub summary: String,
    #[schema(max_length = 20000)]
    pub description: String,
    /// The injectables the treatment uses, alone or together.
    #[schema(max_items = 2)]
    pub injectables: Vec<Injectable>,
    /// How long a treatment session takes.
    pub session_minutes: MinuteRange,
    /// How long the effect of each injectable lasts.
    #[schema(max_items = 2)]
    pub effect_duration: Vec<EffectDuration>,
    /// When the results of each injectable show.
    #[schema(max_items = 2)]
    pub results_onset: Vec<ResultsOnset>,
    /// How the area is numbed first.
    #[schema(max_length = 500)]
    pub anaesthetic: String,
    /// Common, usually mild side effects.
    #[schema(max_items = 30)]
    pub side_effects: Vec<String>,
    /// Conditions that rule treatment out; screening uses the same codes.
    #[schema(max_items = 4)]
    pub contraindications: Vec<Contraindication>,
    /// Minimum age on the day of the appointment.
    #[schema(example = 18, minimum = 1, maximum = 120)]
    pub minimum_age: u32,
    /// Lowest price, when the clinic publishes one.
    pub from_price: Option<Money>,
    #[schema(minimum = 0, maximum = 10000)]
    pub display_order: i32,
    /// False once archived: hidden from the public catalogue.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Treatment {
    pub fn from_stored(t: Stored, minimum_age: u32) -> Self {
        let f = t.fields;
        Self {
            id: t.id,
            slug: f.slug,
            name: f.name,
            summary: f.summary,
            description: f.description,
            injectables: f.injectables,
            session_minutes: f.session_minutes,
            effect_duration: f.effect_duration,
            results_onset: f.results_onset,
            anaesthetic: f.anaesthetic,
            side_effects: f.side_effects,
            contraindications: f.contraindications,
            minimum_age,
            from_price: f.from_price,
            display_order: f.display_order,
            active: f.active,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// The catalogue, in display order.
#[derive(Debug, Serialize, ToSchema)]
pub struct TreatmentList {
    pub items: Vec<Treatment>,
}

/// A treatment as staff write it (create, or replace in full).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!(crate::api::examples::treatment_input()))]
pub struct TreatmentInput {
    /// Lower-case words joined by single hyphens.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 80)]
    pub slug: String,
    #[schema(min_length = 1, max_length = 120)]
    pub name: String,
    #[schema(min_length = 1, max_length = 500)]
    pub summary: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub description: String,
    #[schema(min_items = 1, max_items = 2)]
    pub injectables: Vec<Injectable>,
    pub session_minutes: MinuteRange,
    #[schema(max_items = 2)]
    pub effect_duration: Vec<EffectDuration>,
    #[schema(max_items = 2)]
    pub results_onset: Vec<ResultsOnset>,
    #[schema(min_length = 1, max_length = 500)]
    pub anaesthetic: String,
    #[schema(max_items = 30)]
    pub side_effects: Vec<String>,
    #[schema(max_items = 4)]
    pub contraindications: Vec<Contraindication>,
    #[serde(default)]
    pub from_price: Option<Money>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000, default = 0)]
    pub display_order: i32,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Validate for TreatmentInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !is_slug(&self.slug) {
            reject(
                &mut errors,
                "slug",
                "slug",
                "must be lower-case words joined by single hyphens, at most 80 characters".into(),
            );
        }
        check_text(&mut errors, "name", &self.name, 120);
        check_text(&mut errors, "summary", &self.summary, 500);
        check_text(&mut errors, "description", &self.description, 20_000);
        check_text(&mut errors, "anaesthetic", &self.anaesthetic, 500);
        if self.side_effects.len() > 30
            || self
                .side_effects
                .iter()
                .any(|s| s.trim().is_empty() || s.chars().count() > 200)
        {
            reject(
                &mut errors,
                "side_effects",
                "length",
                "at most 30 entries of 1 to 200 characters".into(),
            );
        }
        if !(0..=10_000).contains(&self.display_order) {
            reject(
                &mut errors,
                "display_order",
                "range",
                "must be between 0 and 10000".into(),
            );
        }
        for (field, code, message) in treatment::check(&self.content()) {
            reject(&mut errors, field, code, message);
        }
        finish(errors)
    }
}

impl TreatmentInput {
    fn content(&self) -> TreatmentContent {
        TreatmentContent {
            injectables: self.injectables.clone(),
            session_minutes: self.session_minutes,
            effect_duration: self.effect_duration.clone(),
            results_onset: self.results_onset.clone(),
            contraindications: self.contraindications.clone(),
            from_price: self.from_price,
        }
    }

    fn into_fields(self) -> TreatmentFields {
        TreatmentFields {
            slug: self.slug,
            name: self.name.trim().to_owned(),
            summary: self.summary.trim().to_owned(),
            description: self.description.trim().to_owned(),
            injectables: self.injectables,
            session_minutes: self.session_minutes,
            effect_duration: self.effect_duration,
            results_onset: self.results_onset,
            anaesthetic: self.anaesthetic.trim().to_owned(),
            side_effects: self
                .side_effects
                .into_iter()
                .map(|s| s.trim().to_owned())
                .collect(),
            contraindications: self.contraindications,
            from_price: self.from_price,
            display_order: self.display_order,
            active: self.active,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Staff only: include archived treatments.
    #[serde(default)]
    pub include_archived: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SlugPath {
    /// The treatment's slug.
    #[param(example = "facial-asymmetry-correction")]
    pub slug: String,
}

/// List treatments
///
/// The active treatments in display order. Staff may add
/// `include_archived=true`. Answers carry an `ETag`; send it back in
/// `If-None-Match` to get `304 Not Modified` when nothing changed.
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) with `include_archived=true`.
#[utoipa::path(
    operation_id = "listTreatments",
    tag = "Treatments",
    params(ListQuery),
    responses(
        (status = 200, description = "The catalogue", body = TreatmentList,
            headers(("ETag" = String, description = "Version of this representation"))),
        (status = 304, description = "Not modified since the ETag given"),
        ProblemResponses<401, 403, 422>,
    ),
    security(())
)]
#[get("/treatments")]
pub async fn list(
    req: HttpRequest,
    app: web::Data<App>,
    caller: MaybeKey,
    query: crate::api::extract::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let include_archived = query.include_archived;
    if include_archived && !caller.is_staff() {
        return Err(if caller.0.is_some() {
            ApiError::Forbidden
        } else {
            ApiError::Unauthorized("include_archived needs a staff API key.")
        });
    }
    let key = CacheKey::Treatments { include_archived };
    cached_json(&req, &app, key, move |app| {
        let minimum_age = app.settings.minimum_age;
        Box::pin(async move {
            let rows = app
                .db
                .run(move |c| store::list(c, include_archived))
                .await?;
            serde_json::to_vec(&TreatmentList {
                items: rows
                    .into_iter()
                    .map(|t| Treatment::from_stored(t, minimum_age))
                    .collect(),
            })
            .map_err(ApiError::internal)
        })
    })
    .await
}

/// Get a treatment
///
/// One treatment by slug. Archived treatments are visible to staff only.
///
/// Public: no key is needed; staff send theirs (`Authorization: Bearer ck_…`) to read an archived treatment.
#[utoipa::path(
    operation_id = "getTreatment",
    tag = "Treatments",
    params(SlugPath),
    responses(
        (status = 200, description = "The treatment", body = Treatment),
        ProblemResponses<401, 404>,
    ),
    security(())
)]
#[get("/treatments/{slug}")]
pub async fn get(
    app: web::Data<App>,
    caller: MaybeKey,
    path: web::Path<SlugPath>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().slug;
    let found = app.db.run(move |c| store::by_slug(c, &slug)).await?;
    match found {
        Some(t) if t.fields.active || caller.is_staff() => {
            Ok(HttpResponse::Ok().json(Treatment::from_stored(t, app.settings.minimum_age)))
        }
        _ => Err(ApiError::NotFound("treatment")),
    }
}

/// Create a treatment
#[utoipa::path(
    operation_id = "createTreatment",
    tag = "Treatments",
    request_body = TreatmentInput,
    responses(
        (status = 201, description = "Created", body = Treatment,
            headers(("Location" = String, description = "URL of the new treatment"))),
        ProblemResponses<400, 401, 403, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[post("/treatments")]
pub async fn create(
    app: web::Data<App>,
    staff: StaffKey,
    body: ValidJson<TreatmentInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = body.0.into_fields();
    let stored = catalogue::create_treatment(&app, &staff.identity.label(), fields).await?;
    let location = format!("/v1/treatments/{}", stored.slug);
    Ok(created(
        &location,
        &Treatment::from_stored(stored, app.settings.minimum_age),
    ))
}

/// Replace a treatment
///
/// Replaces every field. Changing `slug` moves the treatment to a new URL.
#[utoipa::path(
    operation_id = "replaceTreatment",
    tag = "Treatments",
    params(SlugPath),
    request_body = TreatmentInput,
    responses(
        (status = 200, description = "Updated", body = Treatment),
        ProblemResponses<400, 401, 403, 404, 409, 413, 415, 422>,
    ),
    security(("api_key" = []))
)]
#[put("/treatments/{slug}")]
pub async fn replace(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<SlugPath>,
    body: ValidJson<TreatmentInput>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().slug;
    let fields = body.0.into_fields();
    let stored = catalogue::replace_treatment(&app, &staff.identity.label(), &slug, fields).await?;
    Ok(HttpResponse::Ok().json(Treatment::from_stored(stored, app.settings.minimum_age)))
}

/// Archive a treatment
///
/// Hides it from the public catalogue; bookings and FAQ entries that refer
/// to it are kept. Replace it with `active: true` to restore it.
#[utoipa::path(
    operation_id = "archiveTreatment",
    tag = "Treatments",
    params(SlugPath),
    responses(
        (status = 200, description = "Archived", body = Treatment),
        ProblemResponses<401, 403, 404>,
    ),
    security(("api_key" = []))
)]
#[post("/treatments/{slug}/archive")]
pub async fn archive(
    app: web::Data<App>,
    staff: StaffKey,
    path: web::Path<SlugPath>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().slug;
    let stored = catalogue::archive_treatment(&app, &staff.identity.label(), &slug).await?;
    Ok(HttpResponse::Ok().json(Treatment::from_stored(stored, app.settings.minimum_age)))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get)
        .service(replace)
        .service(archive);
}
