//! FAQ entries, ordered by position.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{faqs, treatments};
use crate::db::{DbConnection, DbError};

use super::{from_db, new_id, to_db};

use super::lower;

/// An FAQ entry with its treatment's slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faq {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub topic: String,
    pub treatment_slug: Option<String>,
    pub position: i32,
    pub published: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What staff write.
#[derive(Debug, Clone)]
pub struct FaqFields {
    pub question: String,
    pub answer: String,
    pub topic: String,
    pub treatment_id: Option<String>,
    /// `None` on create: after the last entry.
    pub position: Option<i32>,
    pub published: bool,
}

/// Filters for listing.
#[derive(Debug, Clone, Default)]
pub struct FaqFilter {
    pub topic: Option<String>,
    pub treatment_slug: Option<String>,
    pub text: Option<String>,
    pub include_unpublished: bool,
    /// Start after this (position, id).
    pub after: Option<(i32, String)>,
    pub limit: i64,
}

type FaqTuple = (
    String,
    String,
    String,
    String,
    i32,
    bool,
    NaiveDateTime,
    NaiveDateTime,
    Option<String>,
);

/// The columns of [`FaqTuple`], from `faqs` left-joined to `treatments`.
#[allow(clippy::type_complexity)]
fn columns() -> (
    faqs::id,
    faqs::question,
    faqs::answer,
    faqs::topic,
    faqs::position,
    faqs::published,
    faqs::created_at,
    faqs::updated_at,
    diesel::dsl::Nullable<treatments::slug>,
) {
    (
        faqs::id,
        faqs::question,
        faqs::answer,
        faqs::topic,
        faqs::position,
        faqs::published,
        faqs::created_at,
        faqs::updated_at,
        treatments::slug.nullable(),
    )
}

fn to_faq(t: FaqTuple) -> Faq {
    Faq {
        id: t.0,
        question: t.1,
        answer: t.2,
        topic: t.3,
        position: t.4,
        published: t.5,
        created_at: from_db(t.6),
        updated_at: from_db(t.7),
        treatment_slug: t.8,
    }
}

/// One page of entries in (position, id) order.
pub fn list(conn: &mut DbConnection, filter: &FaqFilter) -> Result<Vec<Faq>, DbError> {
    let rows: Vec<FaqTuple> = crate::native!(conn, |db| {
        let mut query = faqs::table
            .left_join(treatments::table)
            .select(columns())
            .order((faqs::position.asc(), faqs::id.asc()))
            .limit(filter.limit)
            .into_boxed();
        if !filter.include_unpublished {
            query = query.filter(faqs::published.eq(true));
        }
        if let Some(topic) = &filter.topic {
            query = query.filter(faqs::topic.eq(topic.clone()));
        }
        if let Some(slug) = &filter.treatment_slug {
            query = query.filter(treatments::slug.eq(slug.clone()));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
            let pattern = super::like_pattern(text.trim());
            query = query.filter(
                lower(faqs::question)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(faqs::answer).like(pattern).escape('\\')),
            );
        }
        if let Some((position, id)) = &filter.after {
            query = query.filter(
                faqs::position
                    .gt(*position)
                    .or(faqs::position.eq(*position).and(faqs::id.gt(id.clone()))),
            );
        }
        query.load::<FaqTuple>(db)
    })?;
    Ok(rows.into_iter().map(to_faq).collect())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Faq>, DbError> {
    Ok(crate::native!(conn, |db| faqs::table
        .left_join(treatments::table)
        .filter(faqs::id.eq(id))
        .select(columns())
        .get_result::<FaqTuple>(db))
    .optional()?
    .map(to_faq))
}

fn next_position(conn: &mut DbConnection) -> Result<i32, DbError> {
    let max: Option<i32> = crate::native!(conn, |db| faqs::table
        .select(diesel::dsl::max(faqs::position))
        .get_result(db))?;
    Ok(max.unwrap_or(0) + 1)
}

pub fn insert(conn: &mut DbConnection, f: &FaqFields, now: DateTime<Utc>) -> Result<Faq, DbError> {
    let id = new_id();
    let position = match f.position {
        Some(p) => p,
        None => next_position(conn)?,
    };
    crate::native!(conn, |db| diesel::insert_into(faqs::table)
        .values((
            faqs::id.eq(&id),
            faqs::question.eq(&f.question),
            faqs::answer.eq(&f.answer),
            faqs::topic.eq(&f.topic),
            faqs::treatment_id.eq(&f.treatment_id),
            faqs::position.eq(position),
            faqs::published.eq(f.published),
            faqs::created_at.eq(to_db(now)),
            faqs::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    get(conn, &id)?.ok_or(DbError::NotFound)
}

/// Replaces an entry; `None` when absent. A `None` position keeps the old one.
pub fn replace(
    conn: &mut DbConnection,
    id: &str,
    f: &FaqFields,
    now: DateTime<Utc>,
) -> Result<Option<Faq>, DbError> {
    let Some(current) = get(conn, id)? else {
        return Ok(None);
    };
    crate::native!(conn, |db| diesel::update(faqs::table.find(id))
        .set((
            faqs::question.eq(&f.question),
            faqs::answer.eq(&f.answer),
            faqs::topic.eq(&f.topic),
            faqs::treatment_id.eq(&f.treatment_id),
            faqs::position.eq(f.position.unwrap_or(current.position)),
            faqs::published.eq(f.published),
            faqs::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    get(conn, id)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    Ok(crate::native!(conn, |db| diesel::delete(faqs::table.find(id)).execute(db))? > 0)
}

pub fn all_ids(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(crate::native!(conn, |db| faqs::table
        .select(faqs::id)
        .order(faqs::id.asc())
        .load(db))?)
}

/// Gives the listed entries positions 1, 2, … in the given order.
pub fn reorder(conn: &mut DbConnection, ids: &[String], now: DateTime<Utc>) -> Result<(), DbError> {
    for (i, id) in ids.iter().enumerate() {
        let position =
            i32::try_from(i + 1).map_err(|_| DbError::Other("too many FAQ entries".into()))?;
        crate::native!(conn, |db| diesel::update(faqs::table.find(id))
            .set((faqs::position.eq(position), faqs::updated_at.eq(to_db(now))))
            .execute(db))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(crate::store::like_pattern("Botox"), "%botox%");
        assert_eq!(crate::store::like_pattern("100%_x\\"), "%100\\%\\_x\\\\%");
    }
}
