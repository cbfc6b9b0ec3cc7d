//! A treatment in the catalogue, and the rules a valid one follows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalogue::{Contraindication, Injectable};
use super::money::Money;

/// Session length range in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinuteRange {
    #[schema(minimum = 5, maximum = 480, example = 30)]
    pub min: u16,
    #[schema(minimum = 5, maximum = 480, example = 45)]
    pub max: u16,
}

/// How long the effect of one injectable lasts, in months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EffectDuration {
    pub injectable: Injectable,
    #[schema(minimum = 1, maximum = 120, example = 3)]
    pub min_months: u16,
    #[schema(minimum = 1, maximum = 120, example = 6)]
    pub max_months: u16,
}

/// When the results of one injectable show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsOnset {
    pub injectable: Injectable,
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Within a few days to a week."
    )]
    pub description: String,
}

/// The clinical content of a treatment, as staff write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentContent {
    pub injectables: Vec<Injectable>,
    pub session_minutes: MinuteRange,
    pub effect_duration: Vec<EffectDuration>,
    pub results_onset: Vec<ResultsOnset>,
    pub contraindications: Vec<Contraindication>,
    pub from_price: Option<Money>,
}

/// A rule a treatment breaks: (field, code, message).
pub type Violation = (&'static str, &'static str, String);

/// Checks the rules that span fields; each broken rule is reported.
pub fn check(content: &TreatmentContent) -> Vec<Violation> {
    let mut out = Vec::new();
    if content.injectables.is_empty() {
        out.push((
            "injectables",
            "required",
            "must name at least one injectable".into(),
        ));
    }
    if has_duplicates(&content.injectables) {
        out.push((
            "injectables",
            "duplicate",
            "must not repeat an injectable".into(),
        ));
    }
    let range = content.session_minutes;
    if !(5..=480).contains(&range.min) || !(5..=480).contains(&range.max) {
        out.push((
            "session_minutes",
            "range",
            "minutes must be between 5 and 480".into(),
        ));
    }
    if range.min > range.max {
        out.push(("session_minutes", "order", "min must not exceed max".into()));
    }
    for d in &content.effect_duration {
        if !content.injectables.contains(&d.injectable) {
            out.push((
                "effect_duration",
                "unknown_injectable",
                "names an injectable the treatment does not use".into(),
            ));
        }
        if d.min_months == 0 || d.min_months > d.max_months || d.max_months > 120 {
            out.push((
                "effect_duration",
                "range",
                "months must satisfy 1 <= min_months <= max_months <= 120".into(),
            ));
        }
    }
    if has_duplicates(
        &content
            .effect_duration
            .iter()
            .map(|d| d.injectable)
            .collect::<Vec<_>>(),
    ) {
        out.push((
            "effect_duration",
            "duplicate",
            "must give each injectable once".into(),
        ));
    }
    for r in &content.results_onset {
        if !content.injectables.contains(&r.injectable) {
            out.push((
                "results_onset",
                "unknown_injectable",
                "names an injectable the treatment does not use".into(),
            ));
        }
        if r.description.trim().is_empty() || r.description.chars().count() > 500 {
            out.push((
                "results_onset",
                "length",
                "descriptions must be 1 to 500 characters".into(),
            ));
        }
    }
    if has_duplicates(
        &content
            .results_onset
            .iter()
            .map(|r| r.injectable)
            .collect::<Vec<_>>(),
    ) {
        out.push((
            "results_onset",
            "duplicate",
            "must give each injectable once".into(),
        ));
    }
    if has_duplicates(&content.contraindications) {
        out.push((
            "contraindications",
            "duplicate",
            "must not repeat a contraindication".into(),
        ));
    }
    if let Some(price) = content.from_price {
        if price.amount < 0 {
            out.push(("from_price.amount", "range", "must not be negative".into()));
        }
    }
    out
}

fn has_duplicates<T: Ord + Copy>(items: &[T]) -> bool {
    let mut sorted = items.to_vec();
    sorted.sort();
    sorted.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn valid() -> TreatmentContent {
        TreatmentContent {
            injectables: vec![Injectable::Neuromodulator, Injectable::DermalFiller],
            session_minutes: MinuteRange { min: 30, max: 45 },
            effect_duration: vec![
                EffectDuration {
                    injectable: Injectable::Neuromodulator,
                    min_months: 3,
                    max_months: 6,
                },
                EffectDuration {
                    injectable: Injectable::DermalFiller,
                    min_months: 6,
                    max_months: 60,
                },
            ],
            results_onset: vec![ResultsOnset {
                injectable: Injectable::DermalFiller,
                description: "At once.".into(),
            }],
            contraindications: Contraindication::ALL.to_vec(),
            from_price: Some(Money::new(20000, Currency::GBP)),
        }
    }

    #[test]
    fn a_valid_treatment_passes() {
        assert!(check(&valid()).is_empty());
    }

    #[test]
    fn each_broken_rule_is_reported() {
        type Case = (fn(&mut TreatmentContent), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (|t| t.injectables.clear(), "injectables", "required"),
            (
                |t| t.injectables.push(Injectable::Neuromodulator),
                "injectables",
                "duplicate",
            ),
            (
                |t| t.session_minutes = MinuteRange { min: 50, max: 40 },
                "session_minutes",
                "order",
            ),
            (
                |t| t.session_minutes = MinuteRange { min: 0, max: 40 },
                "session_minutes",
                "range",
            ),
            (
                |t| t.effect_duration[0].min_months = 9,
                "effect_duration",
                "range",
            ),
            (
                |t| t.injectables = vec![Injectable::DermalFiller],
                "effect_duration",
                "unknown_injectable",
            ),
            (
                |t| t.results_onset[0].description = " ".into(),
                "results_onset",
                "length",
            ),
            (
                |t| t.contraindications.push(Contraindication::Pregnant),
                "contraindications",
                "duplicate",
            ),
            (
                |t| t.from_price = Some(Money::new(-1, Currency::GBP)),
                "from_price.amount",
                "range",
            ),
        ];
        for (mutate, field, code) in cases {
            let mut t = valid();
            mutate(&mut t);
            let v = check(&t);
            assert!(
                v.iter().any(|(f, c, _)| *f == field && *c == code),
                "{field}/{code}: {v:?}"
            );
        }
    }
}
