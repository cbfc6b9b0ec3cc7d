//! Seed content: loaded once into an empty database, unless turned off
//! (`SEED_CONTENT=false`). Text placeholders take the clinic's settings.

mod content;

pub use crate::domain::catalogue::{Contraindication, Injectable};

use crate::app::{App, AppError};
use crate::config::Settings;
use crate::domain::money::Money;
use crate::domain::slots::OpeningWindow;
use crate::domain::treatment::{EffectDuration, MinuteRange, ResultsOnset};
use crate::store::faqs::FaqFields;
use crate::store::treatments::TreatmentFields;
use crate::store::{faqs, meta, practitioners, treatments};

fn hm(s: &str) -> chrono::NaiveTime {
    chrono::NaiveTime::parse_from_str(s, "%H:%M").expect("seed times are HH:MM")
}

/// Marks a database whose seed content was loaded (or deliberately skipped).
const SEEDED_KEY: &str = "seed_content";

/// Values substituted into seed text.
pub struct Placeholders {
    pub clinic_name: String,
    pub deposit: String,
    pub minimum_age: String,
    pub cancellation_notice_hours: String,
}

impl Placeholders {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            clinic_name: s.clinic_name.clone(),
            deposit: s.deposit.display(),
            minimum_age: s.minimum_age.to_string(),
            cancellation_notice_hours: s.booking.cancellation_notice_hours.to_string(),
        }
    }

    pub fn render(&self, text: &str) -> String {
        text.replace("{clinic_name}", &self.clinic_name)
            .replace("{deposit}", &self.deposit)
            .replace("{minimum_age}", &self.minimum_age)
            .replace(
                "{cancellation_notice_hours}",
                &self.cancellation_notice_hours,
            )
    }
}

/// The seed treatments as stored fields.
pub fn treatment_fields(
    p: &Placeholders,
    currency: crate::domain::money::Currency,
) -> Vec<TreatmentFields> {
    content::TREATMENTS
        .iter()
        .map(|t| TreatmentFields {
            slug: t.slug.to_owned(),
            name: p.render(t.name),
            summary: p.render(t.summary),
            description: p.render(t.description),
            injectables: t.injectables.to_vec(),
            session_minutes: MinuteRange {
                min: t.session_minutes.0,
                max: t.session_minutes.1,
            },
            effect_duration: t
                .effect_duration_months
                .iter()
                .map(|(injectable, min, max)| EffectDuration {
                    injectable: *injectable,
                    min_months: *min,
                    max_months: *max,
                })
                .collect(),
            results_onset: t
                .results_onset
                .iter()
                .map(|(injectable, text)| ResultsOnset {
                    injectable: *injectable,
                    description: p.render(text),
                })
                .collect(),
            anaesthetic: p.render(t.anaesthetic),
            side_effects: t.side_effects.iter().map(|s| p.render(s)).collect(),
            contraindications: t.contraindications.to_vec(),
            from_price: t
                .from_price_pence
                .map(|amount| Money::new(amount, currency)),
            display_order: t.display_order,
            active: true,
        })
        .collect()
}

/// Loads the seed content into an empty database, once. Returns whether it
/// loaded anything. Safe when several instances start together.
pub async fn load_if_empty(app: &App) -> Result<bool, AppError> {
    let settings = app.settings.clone();
    app.write(move |tx| {
        let (conn, now) = (&mut *tx.conn, tx.now);
        if meta::get(conn, SEEDED_KEY)?.is_some() {
            return Ok(false);
        }
        let empty = treatments::list(conn, true)?.is_empty()
            && faqs::list(
                conn,
                &faqs::FaqFilter {
                    include_unpublished: true,
                    limit: 1,
                    ..Default::default()
                },
            )?
            .is_empty();
        if !meta::insert_if_absent(conn, SEEDED_KEY, "v1", now)? || !empty {
            return Ok(false);
        }
        let p = Placeholders::from_settings(&settings);
        let mut ids = std::collections::HashMap::new();
        for t in treatment_fields(&p, settings.deposit.currency) {
            let stored = treatments::insert(conn, &t, now)?;
            ids.insert(stored.slug.clone(), stored.id);
        }
        for f in content::FAQS {
            let fields = FaqFields {
                question: p.render(f.question),
                answer: p.render(f.answer),
                topic: f.topic.to_owned(),
                treatment_id: f.treatment_slug.and_then(|s| ids.get(s).cloned()),
                position: Some(f.position),
                published: true,
            };
            faqs::insert(conn, &fields, now)?;
        }
        for p in content::PRACTITIONERS {
            let row = practitioners::insert(conn, p.name, p.title, true, now)?;
            let windows: Vec<OpeningWindow> = p
                .hours
                .iter()
                .map(|(day, opens, closes)| OpeningWindow::new(*day, hm(opens), hm(closes)))
                .collect();
            practitioners::replace_hours(conn, &row.id, &windows)?;
        }
        tx.invalidates(crate::cache::Stale {
            availability: true,
            catalogue: true,
        });
        Ok(true)
    })
    .await
}

/// The seed FAQ, rendered (for examples and tests).
pub fn faq_texts(p: &Placeholders) -> Vec<(String, String, &'static str)> {
    content::FAQS
        .iter()
        .map(|f| (p.render(f.question), p.render(f.answer), f.topic))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rendered_from_settings() {
        let s = Settings::for_database(crate::db::DatabaseUrl::default_sqlite());
        let p = Placeholders::from_settings(&s);
        assert_eq!(
            p.render("{deposit} at {clinic_name}, {minimum_age}+"),
            "£25.00 at JB Cosmetic, 18+"
        );
        for (q, a, _) in faq_texts(&p) {
            assert!(!q.contains('{') && !a.contains('{'), "{q} {a}");
        }
    }

    #[test]
    fn seed_treatments_pass_the_catalogue_rules() {
        let s = Settings::for_database(crate::db::DatabaseUrl::default_sqlite());
        let p = Placeholders::from_settings(&s);
        for t in treatment_fields(&p, s.deposit.currency) {
            let content = crate::domain::treatment::TreatmentContent {
                injectables: t.injectables.clone(),
                session_minutes: t.session_minutes,
                effect_duration: t.effect_duration.clone(),
                results_onset: t.results_onset.clone(),
                contraindications: t.contraindications.clone(),
                from_price: t.from_price,
            };
            assert!(
                crate::domain::treatment::check(&content).is_empty(),
                "{}",
                t.slug
            );
        }
    }
}
