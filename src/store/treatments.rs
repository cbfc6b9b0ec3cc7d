//! The treatment catalogue. List-valued fields are JSON text columns.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::treatments;
use crate::db::{DbConnection, DbError};
use crate::domain::catalogue::{Contraindication, Injectable};
use crate::domain::money::{Currency, Money};
use crate::domain::treatment::{EffectDuration, MinuteRange, ResultsOnset};

use super::{from_db, new_id, to_db};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = treatments)]
pub struct TreatmentRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub description: String,
    pub injectables: String,
    pub session_min_minutes: i32,
    pub session_max_minutes: i32,
    pub effect_durations: String,
    pub results_onset: String,
    pub anaesthetic: String,
    pub side_effects: String,
    pub contraindications: String,
    pub from_price_amount: Option<i64>,
    pub from_price_currency: Option<String>,
    pub display_order: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A treatment as the rest of the code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Treatment {
    pub id: String,
    pub slug: String,
    pub fields: TreatmentFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything staff can write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentFields {
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub description: String,
    pub injectables: Vec<Injectable>,
    pub session_minutes: MinuteRange,
    pub effect_duration: Vec<EffectDuration>,
    pub results_onset: Vec<ResultsOnset>,
    pub anaesthetic: String,
    pub side_effects: Vec<String>,
    pub contraindications: Vec<Contraindication>,
    pub from_price: Option<Money>,
    pub display_order: i32,
    pub active: bool,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("catalogue values serialise")
}

fn parse<T: serde::de::DeserializeOwned>(column: &str, raw: &str) -> Result<T, DbError> {
    serde_json::from_str(raw)
        .map_err(|e| DbError::Other(format!("treatments.{column} holds invalid JSON: {e}")))
}

impl TryFrom<TreatmentRow> for Treatment {
    type Error = DbError;

    fn try_from(r: TreatmentRow) -> Result<Self, DbError> {
        let from_price = match (r.from_price_amount, r.from_price_currency.as_deref()) {
            (Some(amount), Some(code)) => Some(Money::new(
                amount,
                Currency::parse(code).map_err(|e| DbError::Other(e.into()))?,
            )),
            _ => None,
        };
        Ok(Treatment {
            id: r.id,
            slug: r.slug.clone(),
            fields: TreatmentFields {
                slug: r.slug,
                name: r.name,
                summary: r.summary,
                description: r.description,
                injectables: parse("injectables", &r.injectables)?,
                session_minutes: MinuteRange {
                    min: u16::try_from(r.session_min_minutes).unwrap_or(0),
                    max: u16::try_from(r.session_max_minutes).unwrap_or(0),
                },
                effect_duration: parse("effect_durations", &r.effect_durations)?,
                results_onset: parse("results_onset", &r.results_onset)?,
                anaesthetic: r.anaesthetic,
                side_effects: parse("side_effects", &r.side_effects)?,
                contraindications: parse("contraindications", &r.contraindications)?,
                from_price,
                display_order: r.display_order,
                active: r.active,
            },
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

fn rows_to_treatments(rows: Vec<TreatmentRow>) -> Result<Vec<Treatment>, DbError> {
    rows.into_iter().map(Treatment::try_from).collect()
}

/// Treatments in display order; archived ones only when asked.
pub fn list(conn: &mut DbConnection, include_archived: bool) -> Result<Vec<Treatment>, DbError> {
    let rows: Vec<TreatmentRow> = crate::native!(conn, |db| {
        let mut query = treatments::table
            .select(TreatmentRow::as_select())
            .order((treatments::display_order.asc(), treatments::slug.asc()))
            .into_boxed();
        if !include_archived {
            query = query.filter(treatments::active.eq(true));
        }
        query.load(db)
    })?;
    rows_to_treatments(rows)
}

pub fn by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Treatment>, DbError> {
    crate::native!(conn, |db| treatments::table
        .filter(treatments::slug.eq(slug))
        .select(TreatmentRow::as_select())
        .get_result(db))
    .optional()?
    .map(Treatment::try_from)
    .transpose()
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Treatment>, DbError> {
    crate::native!(conn, |db| treatments::table
        .find(id)
        .select(TreatmentRow::as_select())
        .get_result(db))
    .optional()?
    .map(Treatment::try_from)
    .transpose()
}

/// The contraindications of every active treatment (the screening policy).
pub fn active_contraindications(conn: &mut DbConnection) -> Result<Vec<Contraindication>, DbError> {
    let lists: Vec<String> = crate::native!(conn, |db| treatments::table
        .filter(treatments::active.eq(true))
        .select(treatments::contraindications)
        .load(db))?;
    let mut all = Vec::new();
    for raw in lists {
        all.extend(parse::<Vec<Contraindication>>("contraindications", &raw)?);
    }
    Ok(all)
}

/// Inserts a treatment; a taken slug is a `UniqueViolation`.
pub fn insert(
    conn: &mut DbConnection,
    f: &TreatmentFields,
    now: DateTime<Utc>,
) -> Result<Treatment, DbError> {
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(treatments::table)
        .values((
            treatments::id.eq(&id),
            treatments::created_at.eq(to_db(now)),
            changes(f, now),
        ))
        .execute(db))?;
    by_id(conn, &id)?.ok_or(DbError::NotFound)
}

/// Replaces the fields of the treatment with `slug`; `None` when absent.
pub fn replace(
    conn: &mut DbConnection,
    slug: &str,
    f: &TreatmentFields,
    now: DateTime<Utc>,
) -> Result<Option<Treatment>, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        treatments::table.filter(treatments::slug.eq(slug))
    )
    .set(changes(f, now))
    .execute(db))?;
    if n == 0 {
        return Ok(None);
    }
    by_slug(conn, &f.slug)
}

/// Sets `active`; `None` when absent.
pub fn set_active(
    conn: &mut DbConnection,
    slug: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<Option<Treatment>, DbError> {
    let n = crate::native!(conn, |db| diesel::update(
        treatments::table.filter(treatments::slug.eq(slug))
    )
    .set((
        treatments::active.eq(active),
        treatments::updated_at.eq(to_db(now)),
    ))
    .execute(db))?;
    if n == 0 {
        return Ok(None);
    }
    by_slug(conn, slug)
}

/// The written columns of a treatment, for insert and update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = treatments, treat_none_as_null = true)]
struct Changes {
    slug: String,
    name: String,
    summary: String,
    description: String,
    injectables: String,
    session_min_minutes: i32,
    session_max_minutes: i32,
    effect_durations: String,
    results_onset: String,
    anaesthetic: String,
    side_effects: String,
    contraindications: String,
    from_price_amount: Option<i64>,
    from_price_currency: Option<String>,
    display_order: i32,
    active: bool,
    updated_at: NaiveDateTime,
}

fn changes(f: &TreatmentFields, now: DateTime<Utc>) -> Changes {
    Changes {
        slug: f.slug.clone(),
        name: f.name.clone(),
        summary: f.summary.clone(),
        description: f.description.clone(),
        injectables: json(&f.injectables),
        session_min_minutes: i32::from(f.session_minutes.min),
        session_max_minutes: i32::from(f.session_minutes.max),
        effect_durations: json(&f.effect_duration),
        results_onset: json(&f.results_onset),
        anaesthetic: f.anaesthetic.clone(),
        side_effects: json(&f.side_effects),
        contraindications: json(&f.contraindications),
        from_price_amount: f.from_price.map(|m| m.amount),
        from_price_currency: f.from_price.map(|m| m.currency.code().to_owned()),
        display_order: f.display_order,
        active: f.active,
        updated_at: to_db(now),
    }
}
