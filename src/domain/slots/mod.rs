//! Free consultation slots of one practitioner over a range of clinic-local dates.
//!
//! Everything here is pure: no I/O and no clock reads (`now` is a parameter).
//! Opening hours are weekly wall-clock windows in the clinic's time zone; closures
//! and busy time are half-open UTC intervals; slots come out as UTC instants.
//!
//! # How slots are generated
//!
//! For every local date in `[from, to]` and every opening window of that weekday,
//! candidate starts step through *wall-clock* time from `opens` by `rules.step`
//! while the wall-clock time is before `closes`. Each candidate is mapped to a real
//! instant and kept only if the whole slot `[start, start + length)` (real elapsed
//! time) lies inside the window's real-time interval `[opening instant, closing
//! instant)`. Then candidates are dropped if they overlap a closure or busy interval,
//! start before `now + min_notice`, or start after `now + horizon` (both bounds are
//! inclusive). The result is sorted strictly ascending by `starts_at`.
//!
//! Closures, busy time, notice and horizon only *remove* candidates; they never move
//! the grid, so a booking does not shift the other slots of the day.
//!
//! Windows of the same weekday that overlap each other are merged into one window
//! (whose grid starts at the earliest `opens`). Windows that merely touch
//! (`09:00–12:00` and `12:00–17:00`) stay separate, so each keeps its own grid.
//!
//! # Daylight saving time
//!
//! * A candidate whose wall-clock time does not exist (spring-forward gap) yields no
//!   slot.
//! * A candidate whose wall-clock time occurs twice (fall-back fold) is taken once, at
//!   its **earlier** occurrence, so no local start time appears twice on a date. The
//!   repeated hour is therefore not offered a second time.
//! * A window's opening time inside a gap opens at the first instant after the gap;
//!   an ambiguous opening time uses the earlier occurrence.
//! * A window's closing time inside a gap closes at the first instant after the gap
//!   (the transition instant); an ambiguous closing time uses the **later** occurrence,
//!   so the window is not shortened. The one exception is a closing time exactly at
//!   the start of the repeated period (01:00 on the London autumn day): the window
//!   then contains none of the repeated hour and closes at the first 01:00, so it is
//!   not lengthened by an hour either. In general the closing instant is the moment
//!   after which the clock never again reads a time before `closes`, and the opening
//!   instant is the first moment the clock reads `opens` or later.
//! * Consecutive slots are never closer than `min(step, length)` in real time. On a
//!   normal day this holds by construction; across a spring-forward gap wall-clock
//!   stepping can put two real starts closer together (e.g. 45-minute slots at 00:45
//!   GMT and 02:15 BST are only 30 minutes apart), and the later candidate is dropped.
//!   Consequently, **when `step >= length`, slots never overlap each other** in real
//!   time. When `step < length` the output is the list of bookable starts and slots
//!   *do* overlap each other by design (but starts are still at least `step` apart).
//!
//! # Nonsense input
//!
//! Windows with `opens >= closes` are ignored, non-positive `length` or `step` gives
//! an empty result, and so does `from > to`. Empty or inverted closure/busy intervals
//! block nothing. Arithmetic overflow never panics: an unreachable notice bound gives
//! an empty result and an unreachable horizon is treated as "no limit". The work done
//! is proportional to the number of candidates, i.e. to the number of dates (clamped
//! to the notice/horizon range) times the window lengths divided by `step`.

use chrono::{
    DateTime, Datelike, Duration, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One weekly opening window in clinic-local wall-clock time (`opens < closes`, same
/// day). Windows with `opens >= closes` are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpeningWindow {
    pub weekday: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl OpeningWindow {
    pub fn new(weekday: Weekday, opens: NaiveTime, closes: NaiveTime) -> Self {
        OpeningWindow {
            weekday,
            opens,
            closes,
        }
    }

    /// Whether the window is usable (`opens < closes`).
    pub fn is_valid(&self) -> bool {
        self.opens < self.closes
    }

    /// The real-time interval this window covers on the local `date`, using the DST
    /// rules of the module docs. `None` if the weekday does not match, the window is
    /// invalid, or the times cannot be resolved in `tz`.
    pub fn interval_on(&self, tz: Tz, date: NaiveDate) -> Option<Interval> {
        if date.weekday() != self.weekday || !self.is_valid() {
            return None;
        }
        Some(Interval {
            starts_at: opening_instant(tz, date.and_time(self.opens))?,
            ends_at: closing_instant(tz, date.and_time(self.closes))?,
        })
    }
}

/// Weekday names as the API writes them.
pub const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// The API's name of a weekday (`monday` …).
pub fn weekday_name(d: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, w)| *w == d)
        .map(|(n, _)| *n)
        .unwrap_or("monday")
}

/// The weekday an API name (`monday` …) stands for.
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
}

/// A half-open UTC interval `[starts_at, ends_at)`. Used for closures (holidays,
/// blocked periods) and busy time (existing bookings/holds). An interval with
/// `ends_at <= starts_at` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Interval {
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Self {
        Interval { starts_at, ends_at }
    }

    /// Whether the interval contains no instant at all.
    pub fn is_empty(&self) -> bool {
        self.ends_at <= self.starts_at
    }
}

/// Slot generation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotRules {
    /// Consultation length (real elapsed time). Default 30 minutes.
    pub length: Duration,
    /// Wall-clock distance between candidate slot starts. Default = `length`.
    /// With `step < length` the returned slots overlap each other.
    pub step: Duration,
    /// A slot must start at or after `now + min_notice`. Default 24 hours.
    pub min_notice: Duration,
    /// A slot must start at or before `now + horizon`. Default 60 days.
    pub horizon: Duration,
}

impl Default for SlotRules {
    fn default() -> Self {
        SlotRules {
            length: Duration::minutes(30),
            step: Duration::minutes(30),
            min_notice: Duration::hours(24),
            horizon: Duration::days(60),
        }
    }
}

/// A bookable slot. `ends_at = starts_at + length` in real elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Slot {
    /// The slot as a half-open interval.
    pub fn interval(&self) -> Interval {
        Interval {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }
}

/// Whether two half-open intervals share at least one instant. Touching intervals
/// (`a.ends_at == b.starts_at`) and empty intervals never overlap.
pub fn overlaps(a: &Interval, b: &Interval) -> bool {
    a.starts_at.max(b.starts_at) < a.ends_at.min(b.ends_at)
}

/// Whether opening hours cover `booking` on its clinic-local date: it lies
/// inside one window, or inside windows of that day that meet or overlap
/// (after the DST rules of the module docs).
pub fn within_hours(tz: Tz, windows: &[OpeningWindow], booking: &Interval) -> bool {
    let date = booking.starts_at.with_timezone(&tz).date_naive();
    let day = date.weekday();
    let mut open: Vec<Interval> = windows
        .iter()
        .filter(|w| w.weekday == day)
        .filter_map(|w| w.interval_on(tz, date))
        .collect();
    open.sort_by_key(|i| i.starts_at);
    let mut covered_until = booking.starts_at;
    for i in open {
        if i.starts_at <= covered_until && i.ends_at > covered_until {
            covered_until = i.ends_at;
        }
        if covered_until >= booking.ends_at {
            return true;
        }
    }
    false
}

/// A UTC instant shown in the clinic's time zone.
pub fn local(slot_time: DateTime<Utc>, tz: Tz) -> DateTime<Tz> {
    slot_time.with_timezone(&tz)
}

/// The free slots of one practitioner on the clinic-local dates `from..=to`.
///
/// See the module docs for the exact rules, including DST handling. The result is
/// sorted strictly ascending by `starts_at`; when `rules.step >= rules.length` no two
/// slots overlap.
#[allow(clippy::too_many_arguments)]
pub fn free_slots(
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    windows: &[OpeningWindow],
    closures: &[Interval],
    busy: &[Interval],
    rules: &SlotRules,
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let zero = Duration::zero();
    if rules.length <= zero || rules.step <= zero || from > to {
        return Vec::new();
    }

    // Notice and horizon bounds; `None` means unbounded on that side.
    let earliest = match now.checked_add_signed(rules.min_notice) {
        Some(t) => Some(t),
        None if rules.min_notice > zero => return Vec::new(),
        None => None,
    };
    let latest = match now.checked_add_signed(rules.horizon) {
        Some(t) => Some(t),
        None if rules.horizon < zero => return Vec::new(),
        None => None,
    };
    if let (Some(e), Some(l)) = (earliest, latest) {
        if e > l {
            return Vec::new();
        }
    }

    // Only dates near the notice/horizon range can hold slots. The two-day margin
    // keeps the result independent of the clamp (offset changes are under a day and
    // the spacing rule only looks at the previous candidate).
    let margin = chrono::Days::new(2);
    let first = earliest
        .and_then(|e| local(e, tz).date_naive().checked_sub_days(margin))
        .map_or(from, |d| d.max(from));
    let last = latest
        .and_then(|l| local(l, tz).date_naive().checked_add_days(margin))
        .map_or(to, |d| d.min(to));
    if first > last {
        return Vec::new();
    }

    let by_weekday = merged_windows(windows);
    let mut slots = Vec::new();
    let mut date = first;
    loop {
        for &(opens, closes) in &by_weekday[date.weekday().num_days_from_monday() as usize] {
            window_candidates(
                tz,
                date,
                opens,
                closes,
                rules.length,
                rules.step,
                &mut slots,
            );
        }
        if date >= last {
            break;
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }

    slots.sort_unstable();
    slots.dedup_by_key(|s| s.starts_at);
    enforce_spacing(&mut slots, rules.step.min(rules.length));

    let blocked = merged_blocking(closures, busy);
    slots.retain(|s| {
        earliest.is_none_or(|e| s.starts_at >= e)
            && latest.is_none_or(|l| s.starts_at <= l)
            && !is_blocked(&blocked, &s.interval())
    });
    slots
}

/// Valid windows grouped by weekday (Monday first), sorted by `opens`, with
/// overlapping windows merged. Touching windows are kept apart.
fn merged_windows(windows: &[OpeningWindow]) -> [Vec<(NaiveTime, NaiveTime)>; 7] {
    let mut out: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
    for w in windows.iter().filter(|w| w.is_valid()) {
        out[w.weekday.num_days_from_monday() as usize].push((w.opens, w.closes));
    }
    for day in &mut out {
        day.sort_unstable();
        let mut merged: Vec<(NaiveTime, NaiveTime)> = Vec::with_capacity(day.len());
        for &(opens, closes) in day.iter() {
            match merged.last_mut() {
                Some(prev) if opens < prev.1 => prev.1 = prev.1.max(closes),
                _ => merged.push((opens, closes)),
            }
        }
        *day = merged;
    }
    out
}

/// Pushes the candidates of one window on one date (before availability filters).
fn window_candidates(
    tz: Tz,
    date: NaiveDate,
    opens: NaiveTime,
    closes: NaiveTime,
    length: Duration,
    step: Duration,
    out: &mut Vec<Slot>,
) {
    let open_wall = date.and_time(opens);
    let close_wall = date.and_time(closes);
    let (Some(open_at), Some(close_at)) = (
        opening_instant(tz, open_wall),
        closing_instant(tz, close_wall),
    ) else {
        return;
    };
    let mut wall = open_wall;
    while wall < close_wall {
        if let Some(starts_at) = candidate_instant(tz, wall) {
            if let Some(ends_at) = starts_at.checked_add_signed(length) {
                if starts_at >= open_at && ends_at <= close_at {
                    out.push(Slot { starts_at, ends_at });
                }
            }
        }
        match wall.checked_add_signed(step) {
            Some(next) => wall = next,
            None => break,
        }
    }
}

/// Drops every candidate that starts less than `min_gap` after the previous kept one.
/// `slots` must be sorted by `starts_at`.
fn enforce_spacing(slots: &mut Vec<Slot>, min_gap: Duration) {
    let mut next_allowed: Option<DateTime<Utc>> = None;
    slots.retain(|s| {
        if next_allowed.is_some_and(|n| s.starts_at < n) {
            return false;
        }
        next_allowed = Some(
            s.starts_at
                .checked_add_signed(min_gap)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        true
    });
}

/// Closures and busy time as sorted, disjoint, non-empty intervals.
fn merged_blocking(closures: &[Interval], busy: &[Interval]) -> Vec<Interval> {
    let mut all: Vec<Interval> = closures
        .iter()
        .chain(busy)
        .filter(|i| !i.is_empty())
        .copied()
        .collect();
    all.sort_unstable_by_key(|i| i.starts_at);
    let mut merged: Vec<Interval> = Vec::with_capacity(all.len());
    for i in all {
        match merged.last_mut() {
            Some(prev) if i.starts_at <= prev.ends_at => prev.ends_at = prev.ends_at.max(i.ends_at),
            _ => merged.push(i),
        }
    }
    merged
}

/// Whether `slot` overlaps any of the sorted, disjoint `blocked` intervals.
fn is_blocked(blocked: &[Interval], slot: &Interval) -> bool {
    let idx = blocked.partition_point(|b| b.ends_at <= slot.starts_at);
    blocked.get(idx).is_some_and(|b| overlaps(b, slot))
}

/// The instant of a candidate start: nonexistent times give `None`, ambiguous times
/// their earlier occurrence.
fn candidate_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        MappedLocalTime::Single(t) => Some(t.with_timezone(&Utc)),
        MappedLocalTime::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        MappedLocalTime::None => None,
    }
}

/// The instant a window opens: in a gap, the first instant after it; if ambiguous,
/// the earlier occurrence.
fn opening_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        MappedLocalTime::Single(t) => Some(t.with_timezone(&Utc)),
        MappedLocalTime::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        MappedLocalTime::None => end_of_gap(tz, wall),
    }
}

/// The instant a window closes: the moment after which the clock never again reads
/// a time before `wall`. In a gap that is the first instant after the gap; if `wall`
/// is ambiguous it is the later occurrence (so the window is not shortened), except
/// when `wall` is exactly where the repeated period begins: then the window does not
/// reach into the repeat and closes at the first occurrence (not lengthened either).
fn closing_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        MappedLocalTime::Single(t) => Some(t.with_timezone(&Utc)),
        MappedLocalTime::Ambiguous(a, b) => {
            let earlier = a.min(b).with_timezone(&Utc);
            let later = a.max(b).with_timezone(&Utc);
            let just_before = later.checked_sub_signed(Duration::nanoseconds(1))?;
            if local(just_before, tz).naive_local() < wall {
                Some(later)
            } else {
                Some(earlier)
            }
        }
        MappedLocalTime::None => end_of_gap(tz, wall),
    }
}

/// For a wall-clock time inside a spring-forward gap: the transition instant, i.e.
/// the first instant whose local time is at or after `wall`. Found by binary search
/// over whole seconds (tz transitions are on whole seconds) within ±30 h.
fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    const SEARCH_SECS: i64 = 30 * 3600;
    let reached = |secs: i64| -> Option<bool> {
        Some(local(DateTime::from_timestamp(secs, 0)?, tz).naive_local() >= wall)
    };
    let base = wall.and_utc().timestamp();
    let mut lo = base.checked_sub(SEARCH_SECS)?;
    let mut hi = base.checked_add(SEARCH_SECS)?;
    if reached(lo)? || !reached(hi)? {
        return None;
    }
    // Invariant: local(lo) < wall <= local(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The five-minute cells (their UTC start instants) that an interval
/// covers, aligned to the UTC grid so that any two overlapping intervals
/// share at least one cell. The database claims these cells.
pub fn grid_cells(interval: &Interval) -> Vec<DateTime<Utc>> {
    let grid = i64::from(crate::domain::GRID_MINUTES) * 60;
    let start = interval.starts_at.timestamp().div_euclid(grid) * grid;
    let end = interval.ends_at.timestamp();
    (0..)
        .map(|i| start + i * grid)
        .take_while(|t| *t < end)
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .collect()
}

/// The first instant of a clinic-local date (midnight, or the first time
/// after midnight where a DST gap swallows it).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

#[cfg(test)]
mod tests;
