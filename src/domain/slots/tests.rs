//! Tests of free-slot generation and grid cells: table-driven cases, DST days
//! in several zones, and properties.

use super::*;
use chrono::{Offset, TimeDelta};
use chrono_tz::America::{New_York, Santiago};
use chrono_tz::Asia::Kolkata;
use chrono_tz::Australia::Lord_Howe;
use chrono_tz::Europe::London;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

fn window_on(day: NaiveDate, opens: (u32, u32), closes: (u32, u32)) -> OpeningWindow {
    OpeningWindow::new(day.weekday(), hm(opens.0, opens.1), hm(closes.0, closes.1))
}

/// Rules with no practical notice/horizon limit relative to `long_ago()`.
fn open_rules(length: i64, step: i64) -> SlotRules {
    SlotRules {
        length: mins(length),
        step: mins(step),
        min_notice: Duration::zero(),
        horizon: Duration::days(3650),
    }
}

fn long_ago() -> DateTime<Utc> {
    at("2025-01-01T00:00:00Z")
}

/// Slot starts as "YYYY-MM-DDTHH:MMZ".
fn starts(slots: &[Slot]) -> Vec<String> {
    slots
        .iter()
        .map(|s| s.starts_at.format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

/// `HH:MM` times on `day` (a UTC date) as "YYYY-MM-DDTHH:MMZ".
fn on(day: &str, times: &[&str]) -> Vec<String> {
    times.iter().map(|t| format!("{day}T{t}Z")).collect()
}

struct DayCase {
    name: &'static str,
    tz: Tz,
    day: NaiveDate,
    opens: (u32, u32),
    closes: (u32, u32),
    length: i64,
    step: i64,
    expected: Vec<String>,
}

fn day_cases() -> Vec<DayCase> {
    let case = |name, tz, day, opens, closes, length, step, expected| DayCase {
        name,
        tz,
        day,
        opens,
        closes,
        length,
        step,
        expected,
    };
    let spring26 = date(2026, 3, 29);
    let autumn26 = date(2026, 10, 25);
    let spring27 = date(2027, 3, 28);
    let autumn27 = date(2027, 10, 31);
    let ny_spring = date(2026, 3, 8);
    let ny_autumn = date(2026, 11, 1);
    let ordinary = date(2026, 1, 14);
    vec![
        // Ordinary days.
        case(
            "winter day",
            London,
            ordinary,
            (9, 0),
            (12, 0),
            30,
            30,
            on(
                "2026-01-14",
                &["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"],
            ),
        ),
        case(
            "summer day is BST",
            London,
            date(2026, 7, 15),
            (9, 0),
            (11, 0),
            30,
            30,
            on("2026-07-15", &["08:00", "08:30", "09:00", "09:30"]),
        ),
        case(
            "last slot must end by closing",
            London,
            ordinary,
            (9, 0),
            (10, 40),
            30,
            30,
            on("2026-01-14", &["09:00", "09:30", "10:00"]),
        ),
        case(
            "step longer than length",
            London,
            ordinary,
            (9, 0),
            (11, 0),
            30,
            45,
            on("2026-01-14", &["09:00", "09:45", "10:30"]),
        ),
        case(
            "step shorter than length overlaps",
            London,
            ordinary,
            (9, 0),
            (10, 0),
            30,
            15,
            on("2026-01-14", &["09:00", "09:15", "09:30"]),
        ),
        case(
            "window shorter than length",
            London,
            ordinary,
            (9, 0),
            (9, 20),
            30,
            30,
            vec![],
        ),
        // London spring forward 2026-03-29: 01:00 GMT -> 02:00 BST.
        case(
            "spring 2026 night 30/30",
            London,
            spring26,
            (0, 0),
            (4, 0),
            30,
            30,
            on(
                "2026-03-29",
                &["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"],
            ),
        ),
        case(
            "spring 2026 night 60/60",
            London,
            spring26,
            (0, 0),
            (4, 0),
            60,
            60,
            on("2026-03-29", &["00:00", "01:00", "02:00"]),
        ),
        case(
            "spring 2026 45/45: 02:15 BST (01:15Z) would overlap 00:45 GMT",
            London,
            spring26,
            (0, 0),
            (4, 0),
            45,
            45,
            on("2026-03-29", &["00:00", "00:45", "02:00"]),
        ),
        case(
            "spring 2026 afternoon",
            London,
            spring26,
            (13, 0),
            (15, 0),
            30,
            30,
            on("2026-03-29", &["12:00", "12:30", "13:00", "13:30"]),
        ),
        case(
            "spring 2026 opening in the gap",
            London,
            spring26,
            (1, 30),
            (3, 0),
            30,
            30,
            on("2026-03-29", &["01:00", "01:30"]),
        ),
        case(
            "spring 2026 closing in the gap",
            London,
            spring26,
            (0, 0),
            (1, 30),
            30,
            30,
            on("2026-03-29", &["00:00", "00:30"]),
        ),
        case(
            "spring 2026 window entirely in the gap",
            London,
            spring26,
            (1, 10),
            (1, 50),
            5,
            5,
            vec![],
        ),
        // London fall back 2026-10-25: 02:00 BST -> 01:00 GMT.
        case(
            "autumn 2026 night 30/30",
            London,
            autumn26,
            (0, 0),
            (4, 0),
            30,
            30,
            [
                on("2026-10-24", &["23:00", "23:30"]),
                on(
                    "2026-10-25",
                    &["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"],
                ),
            ]
            .concat(),
        ),
        case(
            "autumn 2026 night 60/60",
            London,
            autumn26,
            (0, 0),
            (4, 0),
            60,
            60,
            [
                on("2026-10-24", &["23:00"]),
                on("2026-10-25", &["00:00", "02:00", "03:00"]),
            ]
            .concat(),
        ),
        case(
            "autumn 2026 45/45",
            London,
            autumn26,
            (0, 0),
            (3, 0),
            45,
            45,
            [
                on("2026-10-24", &["23:00", "23:45"]),
                on("2026-10-25", &["00:30", "02:15"]),
            ]
            .concat(),
        ),
        case(
            "autumn 2026 step 15 < length 30 through the fold",
            London,
            autumn26,
            (0, 30),
            (2, 30),
            30,
            15,
            [
                on("2026-10-24", &["23:30", "23:45"]),
                on("2026-10-25", &["00:00", "00:15", "00:30", "00:45", "02:00"]),
            ]
            .concat(),
        ),
        case(
            "autumn 2026 afternoon",
            London,
            autumn26,
            (13, 0),
            (15, 0),
            30,
            30,
            on("2026-10-25", &["13:00", "13:30", "14:00", "14:30"]),
        ),
        case(
            "autumn 2026 opening in the fold uses the earlier 01:30",
            London,
            autumn26,
            (1, 30),
            (3, 0),
            30,
            30,
            on("2026-10-25", &["00:30", "02:00", "02:30"]),
        ),
        case(
            "autumn 2026 closing at the start of the fold uses the first 01:00",
            London,
            autumn26,
            (0, 0),
            (1, 0),
            90,
            90,
            vec![],
        ),
        case(
            "autumn 2026 closing in the fold uses the later 01:30",
            London,
            autumn26,
            (0, 0),
            (1, 30),
            60,
            60,
            [on("2026-10-24", &["23:00"]), on("2026-10-25", &["00:00"])].concat(),
        ),
        // London 2027.
        case(
            "spring 2027 night",
            London,
            spring27,
            (0, 0),
            (4, 0),
            30,
            30,
            on(
                "2027-03-28",
                &["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"],
            ),
        ),
        case(
            "spring 2027 afternoon",
            London,
            spring27,
            (14, 0),
            (15, 0),
            30,
            30,
            on("2027-03-28", &["13:00", "13:30"]),
        ),
        case(
            "autumn 2027 night",
            London,
            autumn27,
            (0, 0),
            (4, 0),
            30,
            30,
            [
                on("2027-10-30", &["23:00", "23:30"]),
                on(
                    "2027-10-31",
                    &["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"],
                ),
            ]
            .concat(),
        ),
        case(
            "autumn 2027 afternoon",
            London,
            autumn27,
            (14, 0),
            (15, 0),
            30,
            30,
            on("2027-10-31", &["14:00", "14:30"]),
        ),
        // New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
        case(
            "New York ordinary day",
            New_York,
            date(2026, 6, 10),
            (9, 0),
            (10, 0),
            30,
            30,
            on("2026-06-10", &["13:00", "13:30"]),
        ),
        case(
            "New York spring night",
            New_York,
            ny_spring,
            (0, 0),
            (5, 0),
            60,
            60,
            on("2026-03-08", &["05:00", "06:00", "07:00", "08:00"]),
        ),
        case(
            "New York spring afternoon",
            New_York,
            ny_spring,
            (14, 0),
            (15, 0),
            30,
            30,
            on("2026-03-08", &["18:00", "18:30"]),
        ),
        case(
            "New York autumn night",
            New_York,
            ny_autumn,
            (0, 0),
            (3, 0),
            60,
            60,
            on("2026-11-01", &["04:00", "05:00", "07:00"]),
        ),
        case(
            "New York autumn afternoon",
            New_York,
            ny_autumn,
            (14, 0),
            (15, 0),
            30,
            30,
            on("2026-11-01", &["19:00", "19:30"]),
        ),
        // Santiago: 2026-04-05 00:00 (-03) -> 2026-04-04 23:00 (-04); 23:00 is the
        // start of the repeated hour, so a window closing at 23:00 ends at 02:00Z.
        case(
            "Santiago closing at the start of the fold",
            Santiago,
            date(2026, 4, 4),
            (21, 0),
            (23, 0),
            90,
            90,
            on("2026-04-05", &["00:00"]),
        ),
        // Lord Howe: 30-minute DST, 2026-04-05 02:00 (+11) -> 01:30 (+10:30).
        case(
            "Lord Howe half-hour fall back",
            Lord_Howe,
            date(2026, 4, 5),
            (1, 0),
            (3, 0),
            30,
            30,
            on("2026-04-04", &["14:00", "14:30", "15:30", "16:00"]),
        ),
    ]
}

#[test]
fn single_day_table() {
    for c in day_cases() {
        let got = free_slots(
            c.tz,
            c.day,
            c.day,
            &[window_on(c.day, c.opens, c.closes)],
            &[],
            &[],
            &open_rules(c.length, c.step),
            long_ago(),
        );
        assert_eq!(starts(&got), c.expected, "case: {}", c.name);
        for s in &got {
            assert_eq!(s.ends_at - s.starts_at, mins(c.length), "case: {}", c.name);
            assert_eq!(
                local(s.starts_at, c.tz).date_naive(),
                c.day,
                "case: {}",
                c.name
            );
        }
    }
}

#[test]
fn dst_local_start_times_are_unique_and_right() {
    let day = date(2026, 10, 25);
    let got = free_slots(
        London,
        day,
        day,
        &[window_on(day, (0, 0), (4, 0))],
        &[],
        &[],
        &open_rules(30, 30),
        long_ago(),
    );
    let local_times: Vec<String> = got
        .iter()
        .map(|s| local(s.starts_at, London).format("%H:%M %Z").to_string())
        .collect();
    assert_eq!(
        local_times,
        [
            "00:00 BST",
            "00:30 BST",
            "01:00 BST",
            "01:30 BST",
            "02:00 GMT",
            "02:30 GMT",
            "03:00 GMT",
            "03:30 GMT"
        ]
    );
    // 01:30 BST ends at 01:00 GMT; nothing starts before that.
    assert_eq!(got[3].ends_at, at("2026-10-25T01:00:00Z"));
    assert!(got[4].starts_at >= got[3].ends_at);

    let day = date(2026, 3, 29);
    let got = free_slots(
        London,
        day,
        day,
        &[window_on(day, (14, 0), (14, 30))],
        &[],
        &[],
        &open_rules(30, 30),
        long_ago(),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].starts_at, at("2026-03-29T13:00:00Z"));
    assert_eq!(
        local(got[0].starts_at, London)
            .format("%H:%M %Z")
            .to_string(),
        "14:00 BST"
    );
}

struct BlockCase {
    name: &'static str,
    closures: &'static [(&'static str, &'static str)],
    busy: &'static [(&'static str, &'static str)],
    expected: &'static [&'static str],
}

#[test]
fn closures_and_busy_table() {
    // 2026-01-14 is GMT, so local == UTC. Slots 09:00..11:30 by default.
    let all: &[&str] = &["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"];
    let cases = [
        BlockCase {
            name: "nothing blocked",
            closures: &[],
            busy: &[],
            expected: all,
        },
        BlockCase {
            name: "full-day closure",
            closures: &[("2026-01-14T00:00", "2026-01-15T00:00")],
            busy: &[],
            expected: &[],
        },
        BlockCase {
            name: "partial closure",
            closures: &[("2026-01-14T10:00", "2026-01-14T11:00")],
            busy: &[],
            expected: &["09:00", "09:30", "11:00", "11:30"],
        },
        BlockCase {
            name: "closure exactly one slot",
            closures: &[("2026-01-14T09:30", "2026-01-14T10:00")],
            busy: &[],
            expected: &["09:00", "10:00", "10:30", "11:00", "11:30"],
        },
        BlockCase {
            name: "busy straddling two slots",
            closures: &[],
            busy: &[("2026-01-14T09:45", "2026-01-14T10:15")],
            expected: &["09:00", "10:30", "11:00", "11:30"],
        },
        BlockCase {
            name: "busy inside one slot",
            closures: &[],
            busy: &[("2026-01-14T10:10", "2026-01-14T10:20")],
            expected: &["09:00", "09:30", "10:30", "11:00", "11:30"],
        },
        BlockCase {
            name: "busy ending exactly at the first start",
            closures: &[],
            busy: &[("2026-01-14T08:00", "2026-01-14T09:00")],
            expected: all,
        },
        BlockCase {
            name: "closure starting exactly at the last end",
            closures: &[("2026-01-14T12:00", "2026-01-14T13:00")],
            busy: &[],
            expected: all,
        },
        BlockCase {
            name: "empty and inverted intervals block nothing",
            closures: &[("2026-01-14T10:00", "2026-01-14T10:00")],
            busy: &[("2026-01-14T11:00", "2026-01-14T10:00")],
            expected: all,
        },
        BlockCase {
            name: "adjacent closure and busy",
            closures: &[("2026-01-14T09:00", "2026-01-14T09:30")],
            busy: &[("2026-01-14T09:30", "2026-01-14T10:00")],
            expected: &["10:00", "10:30", "11:00", "11:30"],
        },
        BlockCase {
            name: "unsorted overlapping busy",
            closures: &[],
            busy: &[
                ("2026-01-14T11:00", "2026-01-14T11:10"),
                ("2026-01-14T09:00", "2026-01-14T09:40"),
                ("2026-01-14T09:20", "2026-01-14T09:50"),
            ],
            expected: &["10:00", "10:30", "11:30"],
        },
        BlockCase {
            name: "closure on another day",
            closures: &[("2026-01-13T00:00", "2026-01-14T00:00")],
            busy: &[],
            expected: all,
        },
    ];
    let day = date(2026, 1, 14);
    let to_intervals = |raw: &[(&str, &str)]| -> Vec<Interval> {
        raw.iter()
            .map(|(a, b)| Interval::new(at(&format!("{a}:00Z")), at(&format!("{b}:00Z"))))
            .collect()
    };
    for c in &cases {
        let got = free_slots(
            London,
            day,
            day,
            &[window_on(day, (9, 0), (12, 0))],
            &to_intervals(c.closures),
            &to_intervals(c.busy),
            &open_rules(30, 30),
            long_ago(),
        );
        assert_eq!(
            starts(&got),
            on("2026-01-14", c.expected),
            "case: {}",
            c.name
        );
    }
}

#[test]
fn notice_and_horizon_table() {
    let day = date(2026, 1, 14);
    let rules = |notice: Duration, horizon: Duration| SlotRules {
        min_notice: notice,
        horizon,
        ..SlotRules::default()
    };
    let cases: Vec<(&str, &str, SlotRules, Vec<&str>)> = vec![
        (
            "notice boundary exactly at the first start",
            "2026-01-13T09:00:00Z",
            rules(Duration::hours(24), Duration::days(60)),
            vec!["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"],
        ),
        (
            "one minute late drops the first slot",
            "2026-01-13T09:01:00Z",
            rules(Duration::hours(24), Duration::days(60)),
            vec!["09:30", "10:00", "10:30", "11:00", "11:30"],
        ),
        (
            "default rules",
            "2026-01-13T10:00:00Z",
            SlotRules::default(),
            vec!["10:00", "10:30", "11:00", "11:30"],
        ),
        (
            "horizon boundary exactly at a start",
            "2026-01-13T09:00:00Z",
            rules(Duration::zero(), Duration::hours(26)),
            vec!["09:00", "09:30", "10:00", "10:30", "11:00"],
        ),
        (
            "horizon one minute short",
            "2026-01-13T09:00:00Z",
            rules(Duration::zero(), Duration::hours(26) - mins(1)),
            vec!["09:00", "09:30", "10:00", "10:30"],
        ),
        (
            "notice and horizon both on one start",
            "2026-01-13T10:00:00Z",
            rules(Duration::hours(24), Duration::hours(24)),
            vec!["10:00"],
        ),
        (
            "notice after horizon",
            "2026-01-13T09:00:00Z",
            rules(Duration::hours(25), Duration::hours(24)),
            vec![],
        ),
        (
            "beyond the default 60-day horizon",
            "2025-11-01T00:00:00Z",
            SlotRules::default(),
            vec![],
        ),
        (
            "now after the day",
            "2026-01-15T00:00:00Z",
            rules(Duration::zero(), Duration::days(60)),
            vec![],
        ),
    ];
    for (name, now, rules, expected) in cases {
        let got = free_slots(
            London,
            day,
            day,
            &[window_on(day, (9, 0), (12, 0))],
            &[],
            &[],
            &rules,
            at(now),
        );
        assert_eq!(starts(&got), on("2026-01-14", &expected), "case: {name}");
    }
}

#[test]
fn default_rules() {
    let r = SlotRules::default();
    assert_eq!(r.length, mins(30));
    assert_eq!(r.step, r.length);
    assert_eq!(r.min_notice, Duration::hours(24));
    assert_eq!(r.horizon, Duration::days(60));
}

#[test]
fn multi_day_range_and_windows() {
    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let windows: Vec<OpeningWindow> = weekdays
        .iter()
        .flat_map(|&wd| {
            [
                OpeningWindow::new(wd, hm(13, 0), hm(14, 0)),
                OpeningWindow::new(wd, hm(9, 0), hm(10, 0)),
            ]
        })
        .collect();
    // Monday 2026-01-12 to Sunday 2026-01-18.
    let got = free_slots(
        London,
        date(2026, 1, 12),
        date(2026, 1, 18),
        &windows,
        &[],
        &[],
        &open_rules(60, 60),
        long_ago(),
    );
    let expected: Vec<String> = (12..=16)
        .flat_map(|d| on(&format!("2026-01-{d}"), &["09:00", "13:00"]))
        .collect();
    assert_eq!(starts(&got), expected);
}

#[test]
fn overlapping_windows_merge_touching_windows_do_not() {
    let day = date(2026, 1, 14);
    let overlapping = [
        window_on(day, (9, 0), (10, 30)),
        window_on(day, (10, 15), (11, 0)),
    ];
    let got = free_slots(
        London,
        day,
        day,
        &overlapping,
        &[],
        &[],
        &open_rules(50, 50),
        long_ago(),
    );
    assert_eq!(starts(&got), on("2026-01-14", &["09:00", "09:50"]));

    let duplicated = [
        window_on(day, (9, 0), (10, 0)),
        window_on(day, (9, 0), (10, 0)),
    ];
    let got = free_slots(
        London,
        day,
        day,
        &duplicated,
        &[],
        &[],
        &open_rules(30, 30),
        long_ago(),
    );
    assert_eq!(starts(&got), on("2026-01-14", &["09:00", "09:30"]));

    let touching = [
        window_on(day, (9, 0), (10, 15)),
        window_on(day, (10, 15), (11, 0)),
    ];
    let got = free_slots(
        London,
        day,
        day,
        &touching,
        &[],
        &[],
        &open_rules(30, 30),
        long_ago(),
    );
    assert_eq!(starts(&got), on("2026-01-14", &["09:00", "09:30", "10:15"]));
}

#[test]
fn windows_straddling_the_fold_do_not_overlap() {
    // 00:00-01:30 closes at 01:30 GMT (later), 01:45-03:00 opens at 01:45 BST (earlier):
    // the two windows overlap in real time, the slots must not.
    let day = date(2026, 10, 25);
    let windows = [
        window_on(day, (0, 0), (1, 30)),
        window_on(day, (1, 45), (3, 0)),
    ];
    let got = free_slots(
        London,
        day,
        day,
        &windows,
        &[],
        &[],
        &open_rules(60, 60),
        long_ago(),
    );
    // 01:00 BST (00:00Z-01:00Z) from the first window is kept; 01:45 BST (00:45Z)
    // from the second would overlap it and is dropped; 02:45 GMT does not fit.
    assert_eq!(
        starts(&got),
        [on("2026-10-24", &["23:00"]), on("2026-10-25", &["00:00"])].concat()
    );
    assert!(got.windows(2).all(|p| p[0].ends_at <= p[1].starts_at));
}

#[test]
fn nonsense_input_is_harmless() {
    let day = date(2026, 1, 14);
    let good = window_on(day, (9, 0), (10, 0));
    let run = |windows: &[OpeningWindow], rules: SlotRules, from, to, now| {
        free_slots(London, from, to, windows, &[], &[], &rules, now)
    };
    let inverted = window_on(day, (12, 0), (11, 0));
    let empty = window_on(day, (12, 0), (12, 0));
    assert_eq!(
        starts(&run(
            &[inverted, good, empty],
            open_rules(30, 30),
            day,
            day,
            long_ago()
        )),
        on("2026-01-14", &["09:00", "09:30"])
    );
    for (length, step) in [(0, 30), (30, 0), (-30, 30), (30, -30)] {
        assert!(run(&[good], open_rules(length, step), day, day, long_ago()).is_empty());
    }
    assert!(run(
        &[good],
        open_rules(30, 30),
        day,
        date(2026, 1, 13),
        long_ago()
    )
    .is_empty());

    let extreme = |length, step, min_notice, horizon| SlotRules {
        length,
        step,
        min_notice,
        horizon,
    };
    let (max, min) = (TimeDelta::MAX, TimeDelta::MIN);
    assert!(run(
        &[good],
        extreme(max, mins(30), mins(0), max),
        day,
        day,
        long_ago()
    )
    .is_empty());
    assert_eq!(
        run(
            &[good],
            extreme(mins(30), max, mins(0), max),
            day,
            day,
            long_ago()
        )
        .len(),
        1
    );
    assert!(run(
        &[good],
        extreme(mins(30), mins(30), max, max),
        day,
        day,
        long_ago()
    )
    .is_empty());
    assert_eq!(
        run(
            &[good],
            extreme(mins(30), mins(30), min, max),
            day,
            day,
            long_ago()
        )
        .len(),
        2
    );
    assert!(run(
        &[good],
        extreme(mins(30), mins(30), min, min),
        day,
        day,
        long_ago()
    )
    .is_empty());
    assert!(run(
        &[good],
        open_rules(30, 30),
        day,
        day,
        DateTime::<Utc>::MAX_UTC
    )
    .is_empty());
    assert_eq!(
        run(
            &[good],
            extreme(mins(30), mins(30), min, max),
            day,
            day,
            DateTime::<Utc>::MIN_UTC
        )
        .len(),
        2
    );

    // Dates at the ends of chrono's range, every weekday open all day.
    let all_day: Vec<OpeningWindow> = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .iter()
    .map(|&wd| OpeningWindow::new(wd, NaiveTime::MIN, hm(23, 59)))
    .collect();
    let lenient = extreme(mins(60), mins(60), min, max);
    for (from, to) in [
        (NaiveDate::MIN, NaiveDate::MIN + chrono::Days::new(2)),
        (NaiveDate::MAX - chrono::Days::new(2), NaiveDate::MAX),
    ] {
        for tz in [London, Lord_Howe, New_York] {
            let got = free_slots(tz, from, to, &all_day, &[], &[], &lenient, long_ago());
            assert!(got.windows(2).all(|p| p[0].ends_at <= p[1].starts_at));
        }
    }
    // A huge date range is clamped to the horizon.
    let got = run(
        &all_day,
        SlotRules::default(),
        NaiveDate::MIN,
        NaiveDate::MAX,
        at("2026-01-01T12:00:00Z"),
    );
    assert_eq!(got.first().unwrap().starts_at, at("2026-01-02T12:00:00Z"));
    assert_eq!(got.last().unwrap().starts_at, at("2026-03-02T12:00:00Z"));
}

#[test]
fn overlaps_is_half_open() {
    let iv = |a: &str, b: &str| Interval::new(at(a), at(b));
    let base = iv("2026-01-14T09:00:00Z", "2026-01-14T10:00:00Z");
    let cases = [
        (iv("2026-01-14T10:00:00Z", "2026-01-14T11:00:00Z"), false),
        (iv("2026-01-14T08:00:00Z", "2026-01-14T09:00:00Z"), false),
        (iv("2026-01-14T09:59:00Z", "2026-01-14T11:00:00Z"), true),
        (iv("2026-01-14T08:00:00Z", "2026-01-14T09:01:00Z"), true),
        (iv("2026-01-14T09:10:00Z", "2026-01-14T09:20:00Z"), true),
        (iv("2026-01-14T08:00:00Z", "2026-01-14T11:00:00Z"), true),
        (iv("2026-01-14T09:30:00Z", "2026-01-14T09:30:00Z"), false),
        (iv("2026-01-14T09:40:00Z", "2026-01-14T09:20:00Z"), false),
    ];
    for (other, expected) in cases {
        assert_eq!(overlaps(&base, &other), expected, "{other:?}");
        assert_eq!(overlaps(&other, &base), expected, "{other:?}");
    }
    let slot = Slot {
        starts_at: at("2026-01-14T09:00:00Z"),
        ends_at: at("2026-01-14T09:30:00Z"),
    };
    assert_eq!(slot.interval(), Interval::new(slot.starts_at, slot.ends_at));
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

const ZONES: [Tz; 5] = [London, New_York, Lord_Howe, Santiago, Kolkata];

/// DST days of the zones above, plus an ordinary day.
const ANCHORS: [(i32, u32, u32); 11] = [
    (2026, 3, 29),
    (2026, 10, 25),
    (2027, 3, 28),
    (2027, 10, 31),
    (2026, 3, 8),
    (2026, 11, 1),
    (2026, 4, 5),
    (2026, 10, 4),
    (2026, 4, 4),
    (2026, 9, 6),
    (2026, 6, 15),
];

const GRID: i64 = 5; // minutes

#[derive(Debug, Clone)]
struct Scenario {
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    windows: Vec<OpeningWindow>,
    closures: Vec<Interval>,
    busy: Vec<Interval>,
    rules: SlotRules,
    now: DateTime<Utc>,
}

fn grid_time(units: u32) -> NaiveTime {
    hm(units * GRID as u32 / 60, units * GRID as u32 % 60)
}

fn weekday_from(n: u32) -> Weekday {
    Weekday::try_from(n as u8).unwrap()
}

fn intervals(base: DateTime<Utc>) -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((-576i64..=1728, -12i64..=96), 0..4).prop_map(move |raw| {
        raw.into_iter()
            .map(|(start, len)| {
                let starts_at = base + mins(start * GRID);
                Interval::new(starts_at, starts_at + mins(len * GRID))
            })
            .collect()
    })
}

/// Arbitrary scenarios on a 5-minute grid around DST days; `step >= length` when
/// `spaced`.
fn scenario(spaced: bool) -> impl Strategy<Value = Scenario> {
    (0..ZONES.len(), 0..ANCHORS.len(), -2i64..=1, 0u64..=3).prop_flat_map(
        move |(zone, anchor, shift, span)| {
            let (y, m, d) = ANCHORS[anchor];
            let from = date(y, m, d) + Duration::days(shift);
            let to = from + chrono::Days::new(span);
            let base = from.and_time(NaiveTime::MIN).and_utc();
            // weekday >= 7 means every day; some windows come out inverted or empty.
            let windows = prop::collection::vec((0u32..10, 0u32..288, -24i32..=144), 1..5)
                .prop_map(|raw| {
                    raw.into_iter()
                        .flat_map(|(wd, opens, len)| {
                            let closes = (opens as i32 + len).clamp(0, 287) as u32;
                            let days = if wd >= 7 { 0..7 } else { wd..wd + 1 };
                            days.map(move |wd| {
                                OpeningWindow::new(
                                    weekday_from(wd),
                                    grid_time(opens),
                                    grid_time(closes),
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                });
            let rules = (1i64..=24, 1i64..=24, 0i64..=288, 0i64..=2304).prop_map(
                move |(length, step, notice, horizon)| SlotRules {
                    length: mins(length * GRID),
                    step: mins(if spaced { length + step - 1 } else { step } * GRID),
                    min_notice: mins(notice * GRID),
                    horizon: mins(horizon * GRID),
                },
            );
            let now = (-864i64..=288).prop_map(move |n| base + mins(n * GRID));
            (windows, intervals(base), intervals(base), rules, now).prop_map(
                move |(windows, closures, busy, rules, now)| Scenario {
                    tz: ZONES[zone],
                    from,
                    to,
                    windows,
                    closures,
                    busy,
                    rules,
                    now,
                },
            )
        },
    )
}

fn offset_at(tz: Tz, instant: DateTime<Utc>) -> Duration {
    Duration::seconds(
        tz.offset_from_utc_datetime(&instant.naive_utc())
            .fix()
            .local_minus_utc()
            .into(),
    )
}

/// Brute force (minute scan): the earliest instant whose local time is >= `wall`.
fn oracle_open(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let guess = wall.and_utc() - offset_at(tz, wall.and_utc() - Duration::days(1));
    let mut x = guess - Duration::hours(3);
    assert!(local(x, tz).naive_local() < wall);
    while local(x, tz).naive_local() < wall {
        x += mins(1);
    }
    x
}

/// Brute force (minute scan): the end of the last run of instants whose local time
/// is < `wall`, i.e. the window's closing instant.
fn oracle_close(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let guess = wall.and_utc() - offset_at(tz, wall.and_utc() + Duration::days(1));
    let mut y = guess + Duration::hours(3);
    assert!(local(y - mins(1), tz).naive_local() >= wall);
    while local(y - mins(1), tz).naive_local() >= wall {
        y -= mins(1);
    }
    y
}

fn check_invariants(sc: &Scenario, slots: &[Slot]) -> Result<(), TestCaseError> {
    let tz = sc.tz;
    let earliest = sc.now + sc.rules.min_notice;
    let latest = sc.now + sc.rules.horizon;
    let mut open_cache: HashMap<NaiveDateTime, DateTime<Utc>> = HashMap::new();
    let mut close_cache: HashMap<NaiveDateTime, DateTime<Utc>> = HashMap::new();
    let mut local_starts = HashSet::new();

    for s in slots {
        prop_assert_eq!(s.ends_at - s.starts_at, sc.rules.length);
        prop_assert!(s.starts_at >= earliest, "before notice: {:?}", s);
        prop_assert!(s.starts_at <= latest, "after horizon: {:?}", s);
        for block in sc.closures.iter().chain(&sc.busy) {
            prop_assert!(!overlaps(&s.interval(), block), "{:?} hits {:?}", s, block);
        }
        let start_local = local(s.starts_at, tz).naive_local();
        prop_assert!(
            local_starts.insert(start_local),
            "local start twice: {}",
            start_local
        );
        let day = start_local.date();
        prop_assert!(sc.from <= day && day <= sc.to, "outside dates: {}", day);

        // On the wall-clock grid of a window of that weekday.
        let time = start_local.time();
        let step_secs = sc.rules.step.num_seconds();
        prop_assert!(
            sc.windows.iter().any(|w| {
                w.weekday == day.weekday()
                    && w.opens < w.closes
                    && w.opens <= time
                    && (time - w.opens).num_seconds() % step_secs == 0
            }),
            "off grid: {}",
            start_local
        );

        // Inside the union of the real-time intervals of that date's windows.
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = sc
            .windows
            .iter()
            .filter(|w| w.weekday == day.weekday() && w.opens < w.closes)
            .map(|w| {
                let (o, c) = (day.and_time(w.opens), day.and_time(w.closes));
                let opens = *open_cache.entry(o).or_insert_with(|| oracle_open(tz, o));
                let closes = *close_cache.entry(c).or_insert_with(|| oracle_close(tz, c));
                (opens, closes)
            })
            .collect();
        spans.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (o, c) in spans {
            match merged.last_mut() {
                Some(prev) if o <= prev.1 => prev.1 = prev.1.max(c),
                _ => merged.push((o, c)),
            }
        }
        prop_assert!(
            merged
                .iter()
                .any(|&(o, c)| o <= s.starts_at && s.ends_at <= c),
            "{:?} outside windows {:?}",
            s,
            merged
        );
    }
    for pair in slots.windows(2) {
        prop_assert!(
            pair[0].starts_at < pair[1].starts_at,
            "not sorted: {:?}",
            pair
        );
        if sc.rules.step >= sc.rules.length {
            prop_assert!(pair[0].ends_at <= pair[1].starts_at, "overlap: {:?}", pair);
        } else {
            prop_assert!(pair[1].starts_at - pair[0].starts_at >= sc.rules.step);
        }
    }
    Ok(())
}

fn run(sc: &Scenario) -> Vec<Slot> {
    free_slots(
        sc.tz,
        sc.from,
        sc.to,
        &sc.windows,
        &sc.closures,
        &sc.busy,
        &sc.rules,
        sc.now,
    )
}

proptest! {
    // No regression files: the module lives in a shared source tree. Minimal
    // failing inputs worth keeping belong in the tables above.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_invariants_step_at_least_length(sc in scenario(true)) {
        let slots = run(&sc);
        check_invariants(&sc, &slots)?;
    }

    #[test]
    fn prop_invariants_any_step(sc in scenario(false)) {
        let slots = run(&sc);
        check_invariants(&sc, &slots)?;
    }

    /// Closures, busy time, notice and horizon only remove candidates.
    #[test]
    fn prop_filters_only_remove(sc in scenario(false)) {
        let unfiltered = free_slots(
            sc.tz,
            sc.from,
            sc.to,
            &sc.windows,
            &[],
            &[],
            &SlotRules { min_notice: TimeDelta::MIN, horizon: TimeDelta::MAX, ..sc.rules },
            sc.now,
        );
        let earliest = sc.now + sc.rules.min_notice;
        let latest = sc.now + sc.rules.horizon;
        let expected: Vec<Slot> = unfiltered
            .into_iter()
            .filter(|s| {
                s.starts_at >= earliest
                    && s.starts_at <= latest
                    && !sc.closures.iter().chain(&sc.busy).any(|b| overlaps(&s.interval(), b))
            })
            .collect();
        prop_assert_eq!(run(&sc), expected);
    }
}

// Grid cells.

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn a_half_hour_covers_six_cells() {
    let cells = grid_cells(&Interval::new(
        t("2026-12-01T10:00:00Z"),
        t("2026-12-01T10:30:00Z"),
    ));
    assert_eq!(cells.len(), 6);
    assert_eq!(cells[0], t("2026-12-01T10:00:00Z"));
    assert_eq!(cells[5], t("2026-12-01T10:25:00Z"));
}

#[test]
fn overlapping_intervals_share_a_cell_and_touching_ones_do_not() {
    let a = grid_cells(&Interval::new(
        t("2026-12-01T10:00:00Z"),
        t("2026-12-01T10:30:00Z"),
    ));
    let b = grid_cells(&Interval::new(
        t("2026-12-01T10:25:00Z"),
        t("2026-12-01T10:55:00Z"),
    ));
    let c = grid_cells(&Interval::new(
        t("2026-12-01T10:30:00Z"),
        t("2026-12-01T11:00:00Z"),
    ));
    assert!(a.iter().any(|x| b.contains(x)));
    assert!(!a.iter().any(|x| c.contains(x)));
}

proptest::proptest! {
    #[test]
    fn overlap_iff_shared_cell(a in 0i64..500, al in 1i64..30, b in 0i64..500, bl in 1i64..30) {
        let base = t("2026-12-01T00:00:00Z");
        let ia = Interval::new(base + Duration::minutes(a * 5), base + Duration::minutes((a + al) * 5));
        let ib = Interval::new(base + Duration::minutes(b * 5), base + Duration::minutes((b + bl) * 5));
        let ca = grid_cells(&ia);
        let shared = grid_cells(&ib).iter().any(|x| ca.contains(x));
        proptest::prop_assert_eq!(shared, overlaps(&ia, &ib));
    }
}

#[test]
fn bookings_are_within_hours_only_inside_a_window_of_their_day() {
    let windows = [
        OpeningWindow::new(Weekday::Tue, hm(9, 0), hm(12, 0)),
        OpeningWindow::new(Weekday::Tue, hm(12, 0), hm(17, 0)),
    ];
    let at = |d: u32, h: u32, m: u32| {
        London
            .with_ymd_and_hms(2026, 12, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    // Tuesday 1 December 2026.
    let inside = Interval::new(at(1, 10, 0), at(1, 10, 30));
    let across_meeting_windows = Interval::new(at(1, 11, 45), at(1, 12, 15));
    let after = Interval::new(at(1, 16, 45), at(1, 17, 15));
    let wednesday = Interval::new(at(2, 10, 0), at(2, 10, 30));
    assert!(within_hours(London, &windows, &inside));
    assert!(within_hours(London, &windows, &across_meeting_windows));
    assert!(!within_hours(London, &windows, &after));
    assert!(!within_hours(London, &windows, &wednesday));
    assert!(!within_hours(London, &[], &inside));
}
