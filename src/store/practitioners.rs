//! Practitioners, their weekly opening hours and closures.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday};
use diesel::prelude::*;

use crate::db::schema::{closures, opening_hours, practitioners};
use crate::db::{DbConnection, DbError};
use crate::domain::slots::{Interval, OpeningWindow};

use super::{from_db, new_id, to_db};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = practitioners)]
pub struct PractitionerRow {
    pub id: String,
    pub name: String,
    pub title: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn list(
    conn: &mut DbConnection,
    include_inactive: bool,
) -> Result<Vec<PractitionerRow>, DbError> {
    let rows: Vec<PractitionerRow> = crate::native!(conn, |db| {
        let mut q = practitioners::table
            .select(PractitionerRow::as_select())
            .order((practitioners::name.asc(), practitioners::id.asc()))
            .into_boxed();
        if !include_inactive {
            q = q.filter(practitioners::active.eq(true));
        }
        q.load(db)
    })?;
    Ok(rows)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<PractitionerRow>, DbError> {
    Ok(crate::native!(conn, |db| practitioners::table
        .find(id)
        .select(PractitionerRow::as_select())
        .get_result(db)
        .optional())?)
}

pub fn insert(
    conn: &mut DbConnection,
    name: &str,
    title: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<PractitionerRow, DbError> {
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(practitioners::table)
        .values((
            practitioners::id.eq(&id),
            practitioners::name.eq(name),
            practitioners::title.eq(title),
            practitioners::active.eq(active),
            practitioners::created_at.eq(to_db(now)),
            practitioners::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    get(conn, &id)?.ok_or(DbError::NotFound)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    title: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<Option<PractitionerRow>, DbError> {
    crate::native!(conn, |db| diesel::update(practitioners::table.find(id))
        .set((
            practitioners::name.eq(name),
            practitioners::title.eq(title),
            practitioners::active.eq(active),
            practitioners::updated_at.eq(to_db(now)),
        ))
        .execute(db))?;
    get(conn, id)
}

fn weekday_number(d: Weekday) -> i32 {
    d.number_from_monday() as i32
}

fn weekday_from(n: i32) -> Option<Weekday> {
    match n {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    }
}

fn minute_of(t: NaiveTime) -> i32 {
    (t.hour() * 60 + t.minute()) as i32
}

fn time_of(minute: i32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(
        u32::try_from(minute / 60).ok()?,
        u32::try_from(minute % 60).ok()?,
        0,
    )
}

/// The weekly opening windows, ordered by weekday and time.
/// The opening hours of a practitioner taking bookings (active), read
/// with the practitioner in one query; `None` for an unknown or inactive
/// practitioner.
pub fn hours_if_active(
    conn: &mut DbConnection,
    practitioner_id: &str,
) -> Result<Option<Vec<OpeningWindow>>, DbError> {
    type Row = (bool, Option<i32>, Option<i32>, Option<i32>);
    let rows: Vec<Row> = crate::native!(conn, |db| practitioners::table
        .left_join(opening_hours::table.on(opening_hours::practitioner_id.eq(practitioners::id)),)
        .filter(practitioners::id.eq(practitioner_id))
        .select((
            practitioners::active,
            opening_hours::weekday.nullable(),
            opening_hours::opens_minute.nullable(),
            opening_hours::closes_minute.nullable(),
        ))
        .order((
            opening_hours::weekday.asc(),
            opening_hours::opens_minute.asc(),
        ))
        .load(db))?;
    if !rows.first().is_some_and(|(active, ..)| *active) {
        return Ok(None);
    }
    rows.into_iter()
        .filter_map(|(_, d, o, c)| Some((d?, o?, c?)))
        .map(window)
        .collect::<Result<_, _>>()
        .map(Some)
}

fn window((d, o, c): (i32, i32, i32)) -> Result<OpeningWindow, DbError> {
    Ok(OpeningWindow::new(
        weekday_from(d).ok_or_else(|| DbError::Other(format!("bad weekday {d}")))?,
        time_of(o).ok_or_else(|| DbError::Other(format!("bad minute {o}")))?,
        time_of(c).ok_or_else(|| DbError::Other(format!("bad minute {c}")))?,
    ))
}

pub fn hours(
    conn: &mut DbConnection,
    practitioner_id: &str,
) -> Result<Vec<OpeningWindow>, DbError> {
    let rows: Vec<(i32, i32, i32)> = crate::native!(conn, |db| opening_hours::table
        .filter(opening_hours::practitioner_id.eq(practitioner_id))
        .select((
            opening_hours::weekday,
            opening_hours::opens_minute,
            opening_hours::closes_minute,
        ))
        .order((
            opening_hours::weekday.asc(),
            opening_hours::opens_minute.asc(),
        ))
        .load(db))?;
    rows.into_iter().map(window).collect()
}

/// Replaces every opening window of a practitioner.
pub fn replace_hours(
    conn: &mut DbConnection,
    practitioner_id: &str,
    windows: &[OpeningWindow],
) -> Result<(), DbError> {
    crate::native!(conn, |db| diesel::delete(
        opening_hours::table.filter(opening_hours::practitioner_id.eq(practitioner_id))
    )
    .execute(db))?;
    for w in windows {
        crate::native!(conn, |db| diesel::insert_into(opening_hours::table)
            .values((
                opening_hours::id.eq(new_id()),
                opening_hours::practitioner_id.eq(practitioner_id),
                opening_hours::weekday.eq(weekday_number(w.weekday)),
                opening_hours::opens_minute.eq(minute_of(w.opens)),
                opening_hours::closes_minute.eq(minute_of(w.closes)),
            ))
            .execute(db))?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = closures)]
pub struct ClosureRow {
    pub id: String,
    pub practitioner_id: Option<String>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

impl ClosureRow {
    pub fn interval(&self) -> Interval {
        Interval::new(from_db(self.starts_at), from_db(self.ends_at))
    }
}

pub fn insert_closure(
    conn: &mut DbConnection,
    practitioner_id: Option<&str>,
    period: Interval,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ClosureRow, DbError> {
    let id = new_id();
    crate::native!(conn, |db| diesel::insert_into(closures::table)
        .values((
            closures::id.eq(&id),
            closures::practitioner_id.eq(practitioner_id),
            closures::starts_at.eq(to_db(period.starts_at)),
            closures::ends_at.eq(to_db(period.ends_at)),
            closures::reason.eq(reason),
            closures::created_at.eq(to_db(now)),
        ))
        .execute(db))?;
    Ok(crate::native!(conn, |db| closures::table
        .find(&id)
        .select(ClosureRow::as_select())
        .get_result(db))?)
}

/// Closures overlapping `range` that apply to the practitioner (its own
/// and the clinic-wide ones); all closures when no practitioner is given.
pub fn closures_overlapping(
    conn: &mut DbConnection,
    practitioner_id: Option<&str>,
    range: Interval,
) -> Result<Vec<ClosureRow>, DbError> {
    let rows: Vec<ClosureRow> = crate::native!(conn, |db| {
        let mut q = closures::table
            .filter(closures::starts_at.lt(to_db(range.ends_at)))
            .filter(closures::ends_at.gt(to_db(range.starts_at)))
            .select(ClosureRow::as_select())
            .order((closures::starts_at.asc(), closures::id.asc()))
            .into_boxed();
        if let Some(pid) = practitioner_id {
            q = q.filter(
                closures::practitioner_id
                    .eq(pid)
                    .or(closures::practitioner_id.is_null()),
            );
        }
        q.load(db)
    })?;
    Ok(rows)
}

pub fn delete_closure(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    Ok(
        crate::native!(conn, |db| diesel::delete(closures::table.find(id))
            .execute(db))?
            > 0,
    )
}
