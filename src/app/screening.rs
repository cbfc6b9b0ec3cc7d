//! Screening: who may be treated, judged from the date of birth and
//! explicit health answers. Special category data: the answers are never
//! stored; an eligible or needs-review screening keeps the date of birth and
//! the reason codes, an ineligible one only its outcome.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{App, AppError, FieldError};
use crate::domain::eligibility::{self, HealthAnswers, Outcome, Reason, ScreeningPolicy};
use crate::secrets::{self, SecretKind};
use crate::store::screenings::{self, Screening};
use crate::store::{new_id, treatments};

/// The answers given.
#[derive(Debug, Clone)]
pub struct ScreeningAnswers {
    pub date_of_birth: NaiveDate,
    pub health: HealthAnswers,
    /// The intended appointment date (clinic-local); default today.
    pub appointment_date: Option<NaiveDate>,
}

/// The decision.
#[derive(Debug, Clone)]
pub struct ScreeningDecision {
    pub id: String,
    pub outcome: Outcome,
    pub age: u32,
    pub judged_on: NaiveDate,
    pub reasons: Vec<Reason>,
    /// Absent when ineligible. Single use.
    pub screening_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Screens a client against the minimum age and the contraindications the
/// catalogue shows.
pub async fn screen(app: &App, answers: ScreeningAnswers) -> Result<ScreeningDecision, AppError> {
    let today = app.today();
    let settings = app.settings.clone();
    app.write(move |tx| {
        let policy = ScreeningPolicy::new(
            settings.minimum_age,
            treatments::active_contraindications(tx.conn)?,
        );
        let (judged_on, assessment) = eligibility::screen(
            &policy,
            answers.date_of_birth,
            answers.appointment_date,
            today,
            settings.booking.horizon_days,
            &answers.health,
        )
        .map_err(|errors| {
            AppError::Invalid(
                errors
                    .into_iter()
                    .map(|(f, c, m)| FieldError::new(f, c, m))
                    .collect(),
            )
        })?;
        let eligible = assessment.outcome != Outcome::Ineligible;
        let token = eligible.then(|| secrets::generate(SecretKind::ScreeningToken).0);
        let expires_at =
            eligible.then(|| tx.now + Duration::hours(i64::from(settings.screening_token_hours)));
        let id = new_id();
        let screening = Screening {
            id: id.clone(),
            outcome: assessment.outcome,
            reason_codes: if eligible {
                assessment.reasons.iter().map(|r| r.code).collect()
            } else {
                Vec::new()
            },
            date_of_birth: eligible.then_some(answers.date_of_birth),
            judged_on,
            age: eligible.then_some(assessment.age),
            token_hash: token.as_deref().map(secrets::hash),
            expires_at,
            consultation_id: None,
            created_at: tx.now,
        };
        screenings::insert(tx.conn, &screening)?;
        Ok(ScreeningDecision {
            id,
            outcome: assessment.outcome,
            age: assessment.age,
            judged_on,
            reasons: assessment.reasons,
            screening_token: token,
            expires_at,
        })
    })
    .await
}
