//! Example values for the OpenAPI document, drawn from the seed content so
//! the examples are what a fresh server really serves.

use serde_json::{json, Value};

use crate::config::Settings;
use crate::db::DatabaseUrl;
use crate::seed::{treatment_fields, Placeholders};

fn defaults() -> Settings {
    Settings::for_database(DatabaseUrl::default_sqlite())
}

/// A treatment as the catalogue shows it.
pub fn treatment() -> Value {
    let mut v = treatment_input();
    let obj = v.as_object_mut().expect("an object");
    obj.insert("id".into(), json!("6f1c2a4e-8d2b-4c55-9a43-0b7e5c1d9f20"));
    obj.insert("minimum_age".into(), json!(defaults().minimum_age));
    obj.insert("created_at".into(), json!("2026-11-25T09:00:00Z"));
    obj.insert("updated_at".into(), json!("2026-11-25T09:00:00Z"));
    v
}

/// A treatment as staff write it.
pub fn treatment_input() -> Value {
    let s = defaults();
    let p = Placeholders::from_settings(&s);
    let t = treatment_fields(&p, s.deposit.currency)
        .into_iter()
        .next()
        .expect("seed content has a treatment");
    json!({
        "slug": t.slug,
        "name": t.name,
        "summary": t.summary,
        "description": t.description,
        "injectables": t.injectables,
        "session_minutes": t.session_minutes,
        "effect_duration": t.effect_duration,
        "results_onset": t.results_onset,
        "anaesthetic": t.anaesthetic,
        "side_effects": t.side_effects,
        "contraindications": t.contraindications,
        "from_price": t.from_price,
        "display_order": t.display_order,
        "active": t.active,
    })
}

/// An FAQ entry.
pub fn faq() -> Value {
    let p = Placeholders::from_settings(&defaults());
    let (question, answer, topic) = crate::seed::faq_texts(&p)
        .into_iter()
        .find(|(_, _, topic)| *topic == "booking")
        .expect("seed content has a booking question");
    json!({
        "id": "0d6f7a52-3b1e-4f0a-8c9d-2e4b6a8c0f13",
        "question": question,
        "answer": answer,
        "topic": topic,
        "treatment_slug": null,
        "position": 18,
        "published": true,
        "created_at": "2026-11-25T09:00:00Z",
        "updated_at": "2026-11-25T09:00:00Z",
    })
}

/// The clinic's public settings as a fresh server gives them.
pub fn clinic_settings() -> Value {
    let s = defaults();
    json!({
        "name": s.clinic_name,
        "address": "12 High Street, Bath BA1 1AA",
        "phone": "+44 1225 000000",
        "email": "hello@clinic.example",
        "timezone": s.clinic_timezone.name(),
        "minimum_age": s.minimum_age,
        "deposit": s.deposit,
        "cancellation_notice_hours": s.booking.cancellation_notice_hours,
        "hold_minutes": s.booking.hold_minutes,
        "consultation_minutes": s.booking.consultation_minutes,
        "payment": {
            "provider": "manual",
            "stripe_publishable_key": null,
            "manual_instructions": s.page.manual_deposit_instructions,
        },
        "branding": {"primary_colour": "#5b3a70", "accent_colour": "#c9a227", "logo_url": null},
    })
}
