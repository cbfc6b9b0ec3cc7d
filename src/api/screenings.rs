//! `/v1/screenings`: who may be treated, judged from the date of birth and
//! explicit health answers. Special category data: answers are never logged
//! and never returned; only the decision and its reason codes are kept.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors};

use crate::api::error::ApiError;
use crate::api::extract::{calendar_date, optional_calendar_date, ValidJson};
use crate::api::{rate_limit, ProblemResponses};
use crate::app::screening::{self, ScreeningAnswers, ScreeningDecision};
use crate::app::App;
use crate::domain::eligibility::{HealthAnswers, Outcome, Reason};

/// The screening questions. Every answer is required and explicit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "date_of_birth": "1990-04-12",
    "pregnant": false,
    "breastfeeding": false,
    "autoimmune_condition": false,
    "active_infection_at_site": false,
    "other_medical_conditions": false,
    "appointment_date": "2026-12-03"
}))]
pub struct ScreeningRequest {
    /// Date of birth, `YYYY-MM-DD`; must be a real date, before today and
    /// within the last 120 years.
    #[serde(deserialize_with = "calendar_date")]
    #[schema(value_type = String, format = Date, example = "1990-04-12")]
    pub date_of_birth: NaiveDate,
    /// Currently pregnant?
    pub pregnant: bool,
    /// Currently breastfeeding?
    pub breastfeeding: bool,
    /// Any autoimmune condition?
    pub autoimmune_condition: bool,
    /// An active infection where the injections would go?
    pub active_infection_at_site: bool,
    /// Any other medical condition or medicine the practitioner should know of?
    pub other_medical_conditions: bool,
    /// The intended appointment date (clinic-local); age is judged on it.
    /// Defaults to today.
    #[serde(default, deserialize_with = "optional_calendar_date")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-03")]
    pub appointment_date: Option<NaiveDate>,
}

impl Validate for ScreeningRequest {
    /// Date rules depend on today's date; they are checked in the handler.
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

impl ScreeningRequest {
    fn answers(&self) -> HealthAnswers {
        HealthAnswers {
            pregnant: self.pregnant,
            breastfeeding: self.breastfeeding,
            autoimmune_condition: self.autoimmune_condition,
            active_infection_at_site: self.active_infection_at_site,
            other_medical_conditions: self.other_medical_conditions,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreeningResult {
    #[schema(format = "uuid")]
    pub id: String,
    pub outcome: Outcome,
    /// Age in whole years on `judged_on`.
    #[schema(example = 36, minimum = 0, maximum = 130)]
    pub age: u32,
    /// The date the age was judged on (the appointment date, or today).
    #[schema(value_type = String, format = Date)]
    pub judged_on: NaiveDate,
    /// Every reason that applies; empty when eligible.
    #[schema(max_items = 6)]
    pub reasons: Vec<Reason>,
    /// Required to book a consultation; absent when ineligible. Single use.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "st_…", max_length = 43)]
    pub screening_token: Option<String>,
    /// When the screening token stops being accepted; absent when ineligible.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Screen a client
///
/// Judges whether a client may book a consultation: `eligible`,
/// `needs_review` (may book; the practitioner reviews at consultation) or
/// `ineligible`, with every reason that applies. Age is judged on the
/// appointment date (default today, clinic-local); the minimum age and the
/// contraindications are the ones the treatment catalogue shows. Unless
/// ineligible, the answer carries a single-use screening token that booking
/// requires.
#[utoipa::path(
    operation_id = "createScreening",
    tag = "Screening",
    request_body = ScreeningRequest,
    responses(
        (status = 201, description = "The decision", body = ScreeningResult, examples(
            ("eligible" = (summary = "Eligible", value = json!({
                "id": "2b1f0e8a-61c4-4a37-9a0e-6f2d4c8b7e11",
                "outcome": "eligible",
                "age": 36,
                "judged_on": "2026-12-03",
                "reasons": [],
                "screening_token": "st_Q2x4mVb9TgR7kLp3Hs8WnY1cZ6dF0aJe5uXoPiKq",
                "expires_at": "2026-11-26T10:00:00Z"
            }))),
            ("needs_review" = (summary = "Needs review", value = json!({
                "id": "7c3d9e21-0b4a-4f6e-8d15-2a9c7e4b3f60",
                "outcome": "needs_review",
                "age": 52,
                "judged_on": "2026-11-25",
                "reasons": [{"code": "other_medical_condition", "message": "The practitioner will review your other medical conditions or medicines at the consultation."}],
                "screening_token": "st_a8Jk2LmN4oP6qR8sT0uV2wX4yZ6bC8dE0fG2hI4j",
                "expires_at": "2026-11-26T10:00:00Z"
            }))),
            ("ineligible" = (summary = "Ineligible", value = json!({
                "id": "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
                "outcome": "ineligible",
                "age": 17,
                "judged_on": "2026-11-25",
                "reasons": [
                    {"code": "under_minimum_age", "message": "Treatment is only given to people aged 18 or over on the day of the appointment."},
                    {"code": "breastfeeding", "message": "Treatment is not given while breastfeeding."}
                ]
            })))
        )),
        ProblemResponses<400, 413, 415, 422, 429>,
    ),
    security(())
)]
#[post("/screenings")]
pub async fn create(
    req: actix_web::HttpRequest,
    app: web::Data<App>,
    body: ValidJson<ScreeningRequest>,
) -> Result<HttpResponse, ApiError> {
    let counted = rate_limit::check(&app, &req, "screenings").await?;
    let request = body.0;
    let decision = screening::screen(
        &app,
        ScreeningAnswers {
            date_of_birth: request.date_of_birth,
            health: request.answers(),
            appointment_date: request.appointment_date,
        },
    )
    .await
    .map_err(ApiError::from)
    .map(|d| HttpResponse::Created().json(ScreeningResult::from(d)));
    rate_limit::answer(counted, decision)
}

impl From<ScreeningDecision> for ScreeningResult {
    fn from(d: ScreeningDecision) -> Self {
        Self {
            id: d.id,
            outcome: d.outcome,
            age: d.age,
            judged_on: d.judged_on,
            reasons: d.reasons,
            screening_token: d.screening_token,
            expires_at: d.expires_at,
        }
    }
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create);
}
