//! Who may be treated: one pure decision from age and health answers.
//!
//! The hard contraindications come from the treatment catalogue (the same
//! codes it shows) and the minimum age from configuration, so the screening
//! and what the catalogue tells clients cannot drift apart.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::age::{age_on, check_date_of_birth};
use super::catalogue::Contraindication;

/// The rules a screening is judged by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningPolicy {
    pub minimum_age: u32,
    pub contraindications: BTreeSet<Contraindication>,
}

impl ScreeningPolicy {
    /// A policy from the catalogue's contraindications. An empty catalogue
    /// falls back to every known contraindication: screening never becomes
    /// more permissive because data is missing.
    pub fn new(minimum_age: u32, catalogue: impl IntoIterator<Item = Contraindication>) -> Self {
        let mut contraindications: BTreeSet<_> = catalogue.into_iter().collect();
        if contraindications.is_empty() {
            contraindications = Contraindication::ALL.into_iter().collect();
        }
        Self {
            minimum_age,
            contraindications,
        }
    }
}

/// A client's answers; every one is explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthAnswers {
    pub pregnant: bool,
    pub breastfeeding: bool,
    pub autoimmune_condition: bool,
    pub active_infection_at_site: bool,
    pub other_medical_conditions: bool,
}

impl HealthAnswers {
    fn has(&self, c: Contraindication) -> bool {
        match c {
            Contraindication::Pregnant => self.pregnant,
            Contraindication::Breastfeeding => self.breastfeeding,
            Contraindication::AutoimmuneCondition => self.autoimmune_condition,
            Contraindication::ActiveInfectionAtSite => self.active_infection_at_site,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// May book a consultation.
    Eligible,
    /// May book; the practitioner reviews the answers at consultation.
    NeedsReview,
    /// May not be treated; no screening token is issued.
    Ineligible,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eligible => "eligible",
            Self::NeedsReview => "needs_review",
            Self::Ineligible => "ineligible",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "eligible" => Some(Self::Eligible),
            "needs_review" => Some(Self::NeedsReview),
            "ineligible" => Some(Self::Ineligible),
            _ => None,
        }
    }
}

/// Why a screening came out as it did; stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    UnderMinimumAge,
    Pregnant,
    Breastfeeding,
    AutoimmuneCondition,
    ActiveInfectionAtSite,
    OtherMedicalCondition,
}

impl From<Contraindication> for ReasonCode {
    fn from(c: Contraindication) -> Self {
        match c {
            Contraindication::Pregnant => Self::Pregnant,
            Contraindication::Breastfeeding => Self::Breastfeeding,
            Contraindication::AutoimmuneCondition => Self::AutoimmuneCondition,
            Contraindication::ActiveInfectionAtSite => Self::ActiveInfectionAtSite,
        }
    }
}

impl ReasonCode {
    /// Whether this reason rules treatment out (rather than flagging it).
    pub fn is_hard(self) -> bool {
        self != Self::OtherMedicalCondition
    }
}

/// One reason, with a plain-language message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reason {
    pub code: ReasonCode,
    #[schema(
        example = "Treatment is not given while breastfeeding.",
        max_length = 300
    )]
    pub message: String,
}

/// The full result of a screening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub outcome: Outcome,
    pub age: u32,
    pub reasons: Vec<Reason>,
}

/// The reason a client too young on the appointment date is refused.
pub fn under_age(minimum_age: u32) -> Reason {
    Reason {
        code: ReasonCode::UnderMinimumAge,
        message: format!(
            "Treatment is only given to people aged {minimum_age} or over on the day of the appointment."
        ),
    }
}

/// Judges age alone on the clinic-local appointment date (the law is
/// about the day of treatment): every path that sets or moves an
/// appointment asks this. An unknown date of birth is refused.
pub fn judge_age(
    minimum_age: u32,
    date_of_birth: Option<NaiveDate>,
    appointment_date: NaiveDate,
) -> Result<u32, Reason> {
    match date_of_birth.and_then(|dob| age_on(dob, appointment_date)) {
        Some(age) if age >= minimum_age => Ok(age),
        _ => Err(under_age(minimum_age)),
    }
}

/// Judges a client of `age` (on the appointment date) with `answers`.
/// Every reason that applies is listed: age first, then contraindications in
/// a fixed order, then the flag for other conditions.
pub fn assess(policy: &ScreeningPolicy, age: u32, answers: &HealthAnswers) -> Assessment {
    let mut reasons = Vec::new();
    if age < policy.minimum_age {
        reasons.push(under_age(policy.minimum_age));
    }
    for c in Contraindication::ALL {
        if policy.contraindications.contains(&c) && answers.has(c) {
            reasons.push(Reason {
                code: c.into(),
                message: c.message().into(),
            });
        }
    }
    if answers.other_medical_conditions {
        reasons.push(Reason {
            code: ReasonCode::OtherMedicalCondition,
            message: "The practitioner will review your other medical conditions or medicines at the consultation.".into(),
        });
    }
    let outcome = if reasons.iter().any(|r| r.code.is_hard()) {
        Outcome::Ineligible
    } else if reasons.is_empty() {
        Outcome::Eligible
    } else {
        Outcome::NeedsReview
    };
    Assessment {
        outcome,
        age,
        reasons,
    }
}

/// A screening's inputs that failed: (field, code, message).
pub type InputError = (&'static str, &'static str, String);

/// A complete screening: checks the date of birth against today, picks the
/// date age is judged on (the appointment date, default today), and
/// assesses. Every bad input is reported.
pub fn screen(
    policy: &ScreeningPolicy,
    date_of_birth: NaiveDate,
    appointment_date: Option<NaiveDate>,
    today: NaiveDate,
    horizon_days: u32,
    answers: &HealthAnswers,
) -> Result<(NaiveDate, Assessment), Vec<InputError>> {
    let mut errors = Vec::new();
    if let Err(e) = check_date_of_birth(date_of_birth, today) {
        errors.push(("date_of_birth", e.code(), e.message()));
    }
    let judged_on = appointment_date.unwrap_or(today);
    if judged_on < today {
        errors.push((
            "appointment_date",
            "in_past",
            "must not be in the past".into(),
        ));
    }
    if judged_on > today + Duration::days(i64::from(horizon_days)) {
        errors.push((
            "appointment_date",
            "beyond_horizon",
            format!("must be within the next {horizon_days} days, the booking horizon"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let age =
        age_on(date_of_birth, judged_on).expect("a checked date of birth precedes the judged date");
    Ok((judged_on, assess(policy, age, answers)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_age_refuses_the_day_before_the_eighteenth_birthday() {
        let dob = NaiveDate::from_ymd_opt(2009, 1, 1);
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(judge_age(18, dob, on(2027, 1, 1)), Ok(18));
        assert_eq!(
            judge_age(18, dob, on(2026, 12, 31)).unwrap_err().code,
            ReasonCode::UnderMinimumAge
        );
        assert!(judge_age(18, None, on(2030, 1, 1)).is_err());
    }
    use ReasonCode::*;

    const NONE: HealthAnswers = HealthAnswers {
        pregnant: false,
        breastfeeding: false,
        autoimmune_condition: false,
        active_infection_at_site: false,
        other_medical_conditions: false,
    };

    fn policy() -> ScreeningPolicy {
        ScreeningPolicy::new(18, Contraindication::ALL)
    }

    fn codes(a: &Assessment) -> Vec<ReasonCode> {
        a.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn table_of_decisions() {
        let with = |f: fn(&mut HealthAnswers)| {
            let mut a = NONE;
            f(&mut a);
            a
        };
        let cases: Vec<(u32, HealthAnswers, Outcome, Vec<ReasonCode>)> = vec![
            (18, NONE, Outcome::Eligible, vec![]),
            (17, NONE, Outcome::Ineligible, vec![UnderMinimumAge]),
            (
                45,
                with(|a| a.pregnant = true),
                Outcome::Ineligible,
                vec![Pregnant],
            ),
            (
                45,
                with(|a| a.breastfeeding = true),
                Outcome::Ineligible,
                vec![Breastfeeding],
            ),
            (
                45,
                with(|a| a.autoimmune_condition = true),
                Outcome::Ineligible,
                vec![AutoimmuneCondition],
            ),
            (
                45,
                with(|a| a.active_infection_at_site = true),
                Outcome::Ineligible,
                vec![ActiveInfectionAtSite],
            ),
            (
                45,
                with(|a| a.other_medical_conditions = true),
                Outcome::NeedsReview,
                vec![OtherMedicalCondition],
            ),
            (
                16,
                with(|a| {
                    a.pregnant = true;
                    a.other_medical_conditions = true
                }),
                Outcome::Ineligible,
                vec![UnderMinimumAge, Pregnant, OtherMedicalCondition],
            ),
            (
                30,
                HealthAnswers {
                    pregnant: true,
                    breastfeeding: true,
                    autoimmune_condition: true,
                    active_infection_at_site: true,
                    other_medical_conditions: true,
                },
                Outcome::Ineligible,
                vec![
                    Pregnant,
                    Breastfeeding,
                    AutoimmuneCondition,
                    ActiveInfectionAtSite,
                    OtherMedicalCondition,
                ],
            ),
        ];
        for (age, answers, outcome, reasons) in cases {
            let a = assess(&policy(), age, &answers);
            assert_eq!(a.outcome, outcome, "{age} {answers:?}");
            assert_eq!(codes(&a), reasons, "{age} {answers:?}");
            assert_eq!(a.age, age);
            assert!(a.reasons.iter().all(|r| !r.message.is_empty()));
        }
    }

    #[test]
    fn minimum_age_is_configurable() {
        let p = ScreeningPolicy::new(21, Contraindication::ALL);
        assert_eq!(assess(&p, 20, &NONE).outcome, Outcome::Ineligible);
        assert_eq!(assess(&p, 21, &NONE).outcome, Outcome::Eligible);
        assert!(assess(&p, 20, &NONE).reasons[0].message.contains("21"));
    }

    #[test]
    fn contraindications_come_from_the_catalogue() {
        let p = ScreeningPolicy::new(18, [Contraindication::Pregnant]);
        let answers = HealthAnswers {
            breastfeeding: true,
            ..NONE
        };
        assert_eq!(assess(&p, 30, &answers).outcome, Outcome::Eligible);
        let answers = HealthAnswers {
            pregnant: true,
            ..NONE
        };
        assert_eq!(assess(&p, 30, &answers).outcome, Outcome::Ineligible);
    }

    #[test]
    fn an_empty_catalogue_never_relaxes_screening() {
        let p = ScreeningPolicy::new(18, []);
        assert_eq!(p.contraindications.len(), Contraindication::ALL.len());
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn age_is_judged_on_the_appointment_date() {
        let today = d("2026-11-25");
        // 18 on 2026-12-01: ineligible today, eligible for an appointment that day.
        let dob = d("2008-12-01");
        let (_, now) = screen(&policy(), dob, None, today, 60, &NONE).unwrap();
        assert_eq!((now.outcome, now.age), (Outcome::Ineligible, 17));
        let (judged, later) =
            screen(&policy(), dob, Some(d("2026-12-01")), today, 60, &NONE).unwrap();
        assert_eq!(judged, d("2026-12-01"));
        assert_eq!((later.outcome, later.age), (Outcome::Eligible, 18));
        let (_, day_before) =
            screen(&policy(), dob, Some(d("2026-11-30")), today, 60, &NONE).unwrap();
        assert_eq!(day_before.outcome, Outcome::Ineligible);
    }

    #[test]
    fn leap_day_births_come_of_age_on_1_march() {
        let today = d("2026-02-01");
        let dob = d("2008-02-29");
        let on = |date: &str| {
            screen(&policy(), dob, Some(d(date)), today, 60, &NONE)
                .unwrap()
                .1
                .outcome
        };
        assert_eq!(on("2026-02-28"), Outcome::Ineligible);
        assert_eq!(on("2026-03-01"), Outcome::Eligible);
    }

    #[test]
    fn bad_dates_are_all_reported() {
        let today = d("2026-11-25");
        type Case<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            ("2026-11-26", None, vec![("date_of_birth", "in_future")]),
            ("2026-11-25", None, vec![("date_of_birth", "is_today")]),
            ("1900-01-01", None, vec![("date_of_birth", "too_long_ago")]),
            (
                "1990-01-01",
                Some("2026-11-24"),
                vec![("appointment_date", "in_past")],
            ),
            (
                "1990-01-01",
                Some("2027-06-01"),
                vec![("appointment_date", "beyond_horizon")],
            ),
            (
                "2030-01-01",
                Some("2026-01-01"),
                vec![
                    ("date_of_birth", "in_future"),
                    ("appointment_date", "in_past"),
                ],
            ),
        ];
        for (dob, appointment, want) in cases {
            let err = screen(&policy(), d(dob), appointment.map(d), today, 60, &NONE).unwrap_err();
            let got: Vec<(&str, &str)> = err.iter().map(|(f, c, _)| (*f, *c)).collect();
            assert_eq!(got, want, "{dob} {appointment:?}");
        }
    }

    #[test]
    fn outcomes_round_trip_as_text() {
        for o in [Outcome::Eligible, Outcome::NeedsReview, Outcome::Ineligible] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("maybe"), None);
    }
}
