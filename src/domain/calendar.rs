//! One appointment as an RFC 5545 iCalendar document (`text/calendar`).
//!
//! Everything here is pure: no I/O and no clock reads. [`render`] turns a
//! [`Appointment`] into a complete `VCALENDAR` holding one `VTIMEZONE` and one
//! `VEVENT`.
//!
//! # Output format
//!
//! * Every line ends in CRLF, the last one included. Content lines longer than 75
//!   octets are folded (RFC 5545 3.1) by inserting CRLF and one space; a fold never
//!   splits a UTF-8 character, nor a TEXT escape sequence such as `\n` or `\,`
//!   (unfolding gives back the same line either way, but some readers are naive).
//! * TEXT values (UID, SUMMARY, DESCRIPTION, LOCATION, TZNAME) are escaped:
//!   backslash, semicolon, comma and newline become `\\`, `\;`, `\,` and `\n`
//!   (CRLF and a lone CR count as one newline). Other control characters except TAB
//!   are not allowed in TEXT and are dropped.
//! * The calendar's `METHOD` is the caller's [`Method`]. `PUBLISH` is a file to
//!   import (the download): a cancelled appointment stays `PUBLISH` with
//!   `STATUS:CANCELLED`. `REQUEST` and `CANCEL` are iTIP messages (RFC 5546), sent
//!   by the clinic to the client with the booking's notifications: a `REQUEST`
//!   puts the event in the client's calendar (or moves it: same UID, higher
//!   SEQUENCE), a `CANCEL` takes it out (`STATUS:CANCELLED`, no alarm). Both need
//!   an ORGANIZER and an ATTENDEE with `mailto:` calendar addresses, which the
//!   caller gives as [`Party`]s; the attendee is written as having accepted, with
//!   no reply asked (`PARTSTAT=ACCEPTED;RSVP=FALSE`): the client booked it. Clients
//!   tell revisions apart by `SEQUENCE`, which the caller bumps.
//! * `DTSTAMP` and `CREATED` are `created_at`, `LAST-MODIFIED` is `updated_at`, all in
//!   UTC form (`…Z`). For `REQUEST` and `CANCEL`, `DTSTAMP` is `updated_at`
//!   instead: in an iTIP message it is when that revision of the event was made
//!   (RFC 5546 2.1.5), which receivers use to order messages of one SEQUENCE.
//!   Sub-second parts of every instant are truncated.
//! * `DTSTART`/`DTEND` are clinic-local wall-clock times with `TZID=<IANA name>`.
//!   An instant whose local time occurs twice (the repeated hour when clocks go
//!   back) and is the *second* occurrence is written in UTC form instead, because a
//!   reader resolves an ambiguous local time to its first occurrence (RFC 5545
//!   3.3.5). `DTEND` is left out when `ends_at <= starts_at` (RFC 5545 requires it to
//!   be later than `DTSTART`; without it the event ends when it starts).
//! * `ORGANIZER` and `ATTENDEE` are written when given (`;CN=<name>:mailto:<email>`,
//!   the name quoted, with any `"` dropped since a parameter value cannot hold
//!   one). When an `organizer_name` is given (and not blank), it is appended to
//!   DESCRIPTION as a last paragraph `Organiser: <name>`. An empty DESCRIPTION is left out; so is an empty
//!   LOCATION.
//! * `STATUS` is `CANCELLED` if cancelled (always for `CANCEL`), else `TENTATIVE` if
//!   tentative, else `CONFIRMED`. A `VALARM` (`ACTION:DISPLAY`, `TRIGGER:-PT24H`, the summary as
//!   its description) is included unless the event is cancelled.
//!
//! # The VTIMEZONE
//!
//! chrono-tz does not expose its transition table, so the `VTIMEZONE` is rebuilt
//! from offset look-ups. The range searched runs from 1 January of the year before
//! the earliest local year of `starts_at`/`ends_at` to 1 January two years after the
//! latest one (00:00 UTC both ends), i.e. it covers the event's years ± 1. The range
//! is scanned in six-hour steps; whenever the observance (UTC offset or
//! abbreviation) differs between two steps, the exact second of the change is
//! found by bisection. Each change becomes one sub-component:
//!
//! * `DAYLIGHT` when the new offset is greater than the old one (clocks went
//!   forward), `STANDARD` otherwise;
//! * `DTSTART` is the wall-clock time at which the change happens, read on the
//!   *old* offset's clock (RFC 5545: "local time prior to the onset"), e.g.
//!   `20251026T020000` for the end of BST in 2025 (01:00 UTC);
//! * `TZOFFSETFROM`/`TZOFFSETTO` are the old and new offsets (`±HHMM`, with seconds
//!   only if they are not zero) and `TZNAME` is the new abbreviation from chrono-tz
//!   (or the numeric form such as `+03` where the tz database has no letters).
//!
//! A zone without changes in the range (`Asia/Kolkata`, `UTC`) gets a single
//! `STANDARD` with its offset at the event's start as both `TZOFFSETFROM` and
//! `TZOFFSETTO` and `DTSTART:19700101T000000`.
//!
//! Instants outside what iCalendar can write (years before 0 or after 9999) do not
//! panic but produce dates no reader will accept.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz, TzOffset};

/// The media type of [`render`]'s output for [`Method::Publish`], for a
/// `Content-Type` header.
pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8; method=PUBLISH";

/// What the calendar document is for (RFC 5546 `METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A file to import (a download).
    Publish,
    /// The organiser puts the event in the attendee's calendar, or updates it.
    Request,
    /// The organiser takes the event out of the attendee's calendar.
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "PUBLISH",
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }

    /// The media type of a document with this method.
    pub fn content_type(self) -> String {
        format!("text/calendar; charset=utf-8; method={}", self.as_str())
    }
}

/// Someone with a calendar address (an e-mail address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// The product identifier written as `PRODID`.
pub const PRODID: &str = "-//clinic-api//booking//EN";

/// One appointment to render; see the module documentation for how each field is
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appointment<'a> {
    /// Globally unique and stable across revisions, e.g. `"<consultation id>@clinic-api"`.
    pub uid: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Written as `DTSTAMP` and `CREATED`.
    pub created_at: DateTime<Utc>,
    /// Written as `LAST-MODIFIED`.
    pub updated_at: DateTime<Utc>,
    /// Bumped by the caller whenever the appointment is rescheduled or cancelled.
    pub sequence: u32,
    /// e.g. `"Consultation at JB Cosmetic"`.
    pub summary: &'a str,
    pub description: &'a str,
    pub location: Option<&'a str>,
    /// Appended to DESCRIPTION (no `ORGANIZER` property: it needs a `mailto:` address).
    pub organizer_name: Option<&'a str>,
    /// `STATUS:CANCELLED`, no alarm. Wins over `tentative`.
    pub cancelled: bool,
    /// `STATUS:TENTATIVE`, e.g. an unpaid hold.
    pub tentative: bool,
    /// The clinic's zone, e.g. `Europe/London`; `DTSTART`/`DTEND` are local to it.
    pub tz: Tz,
    pub method: Method,
    /// Who sends the event (the clinic); needed by `REQUEST` and `CANCEL`.
    pub organizer: Option<Party<'a>>,
    /// Who it is for (the client); needed by `REQUEST` and `CANCEL`.
    pub attendee: Option<Party<'a>>,
}

/// Renders `event` as a complete iCalendar document with CRLF line endings.
pub fn render(event: &Appointment) -> String {
    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line("VERSION:2.0");
    w.line(&format!("PRODID:{PRODID}"));
    w.line("CALSCALE:GREGORIAN");
    w.line(&format!("METHOD:{}", event.method.as_str()));

    write_vtimezone(&mut w, event);

    let cancelled = event.cancelled || event.method == Method::Cancel;
    let stamp = match event.method {
        Method::Publish => event.created_at,
        Method::Request | Method::Cancel => event.updated_at,
    };
    w.line("BEGIN:VEVENT");
    w.text("UID", event.uid);
    w.line(&format!("DTSTAMP:{}", utc_form(stamp)));
    w.line(&format!("CREATED:{}", utc_form(event.created_at)));
    w.line(&format!("LAST-MODIFIED:{}", utc_form(event.updated_at)));
    w.line(&format!("SEQUENCE:{}", event.sequence));
    w.line(&format!(
        "DTSTART{}",
        zoned_value(event.tz, event.starts_at)
    ));
    if event.ends_at > event.starts_at {
        w.line(&format!("DTEND{}", zoned_value(event.tz, event.ends_at)));
    }
    w.text("SUMMARY", event.summary);
    let description = full_description(event.description, event.organizer_name);
    if !description.is_empty() {
        w.text("DESCRIPTION", &description);
    }
    if let Some(location) = event.location.filter(|l| !l.is_empty()) {
        w.text("LOCATION", location);
    }
    if let Some(organizer) = event.organizer {
        w.line(&format!(
            "ORGANIZER;CN={}:mailto:{}",
            param_value(organizer.name),
            organizer.email
        ));
    }
    if let Some(attendee) = event.attendee {
        w.line(&format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:{}",
            param_value(attendee.name),
            attendee.email
        ));
    }
    let status = if cancelled {
        "CANCELLED"
    } else if event.tentative {
        "TENTATIVE"
    } else {
        "CONFIRMED"
    };
    w.line(&format!("STATUS:{status}"));
    if !cancelled {
        w.line("BEGIN:VALARM");
        w.line("ACTION:DISPLAY");
        w.text("DESCRIPTION", event.summary);
        w.line("TRIGGER:-PT24H");
        w.line("END:VALARM");
    }
    w.line("END:VEVENT");
    w.line("END:VCALENDAR");
    w.out
}

/// The description followed, when there is an organiser name, by a paragraph naming it.
fn full_description(description: &str, organizer_name: Option<&str>) -> String {
    let mut text = description.to_owned();
    if let Some(name) = organizer_name.filter(|n| !n.trim().is_empty()) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str("Organiser: ");
        text.push_str(name);
    }
    text
}

/// A parameter value (RFC 5545 3.2): quoted, without the characters a
/// quoted value cannot hold (`"` and controls).
fn param_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Accumulates folded content lines.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    /// Maximum octets of one physical line, CRLF excluded (RFC 5545 3.1).
    const MAX_OCTETS: usize = 75;

    /// Appends one content line, folded, with its CRLF. A backslash and the
    /// character after it are kept together so escape sequences are not split.
    fn line(&mut self, content: &str) {
        let mut used = 0;
        let mut rest = content;
        while let Some(first) = rest.chars().next() {
            let mut unit_len = first.len_utf8();
            if first == '\\' {
                if let Some(next) = rest[unit_len..].chars().next() {
                    unit_len += next.len_utf8();
                }
            }
            if used + unit_len > Self::MAX_OCTETS {
                self.out.push_str("\r\n ");
                used = 1;
            }
            self.out.push_str(&rest[..unit_len]);
            used += unit_len;
            rest = &rest[unit_len..];
        }
        self.out.push_str("\r\n");
    }

    /// Appends `NAME:value` with `value` escaped as TEXT.
    fn text(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{}", escape_text(value)));
    }
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn escape_text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                escaped.push_str("\\n");
            }
            '\t' => escaped.push('\t'),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// The instant with its sub-second part dropped.
fn whole_seconds(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(instant.timestamp(), 0).unwrap_or(instant)
}

/// `YYYYMMDDTHHMMSS` (a DATE-TIME without zone designator).
fn basic_form(local: NaiveDateTime) -> String {
    local.format("%Y%m%dT%H%M%S").to_string()
}

/// `YYYYMMDDTHHMMSSZ`.
fn utc_form(instant: DateTime<Utc>) -> String {
    format!("{}Z", basic_form(whole_seconds(instant).naive_utc()))
}

/// The parameters and value of a DTSTART/DTEND: `;TZID=<zone>:<local>`, or
/// `:<utc>Z` when the local time would be read back as a different instant.
fn zoned_value(tz: Tz, instant: DateTime<Utc>) -> String {
    let instant = whole_seconds(instant);
    let Some(local) = local_time(tz, instant) else {
        return format!(":{}", utc_form(instant));
    };
    match tz.from_local_datetime(&local).earliest() {
        Some(read_back) if read_back == instant => {
            format!(";TZID={}:{}", tz.name(), basic_form(local))
        }
        _ => format!(":{}", utc_form(instant)),
    }
}

/// The clinic-local wall-clock time of an instant, if chrono can represent it.
fn local_time(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = instant.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

/// `±HHMM`, or `±HHMMSS` when the seconds are not zero (RFC 5545 3.3.14).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// The observance's abbreviation, or the numeric form the tz database uses where
/// it has none (`+03`, `+0530`).
fn abbreviation(offset: &TzOffset) -> String {
    if let Some(name) = offset.abbreviation() {
        return name.to_owned();
    }
    let seconds = offset.fix().local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}{m:02}"),
        _ => format!("{sign}{h:02}{m:02}{s:02}"),
    }
}

/// One change of observance found in the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transition {
    /// The first second (UTC timestamp) of the new observance.
    at: i64,
    /// UTC offsets in seconds before and after.
    from: i32,
    to: i32,
    /// Abbreviation of the new observance.
    name: String,
}

impl Transition {
    fn is_daylight(&self) -> bool {
        self.to > self.from
    }

    /// Wall-clock time of the onset on the old offset's clock.
    fn local_onset(&self) -> Option<NaiveDateTime> {
        let local = self.at.checked_add(i64::from(self.from))?;
        DateTime::from_timestamp(local, 0).map(|d| d.naive_utc())
    }
}

/// The observance in force at a UTC timestamp, if chrono can represent it.
fn observance(tz: Tz, at: i64) -> Option<TzOffset> {
    let instant = DateTime::from_timestamp(at, 0)?;
    Some(tz.offset_from_utc_datetime(&instant.naive_utc()))
}

fn same_observance(a: &TzOffset, b: &TzOffset) -> bool {
    a.fix() == b.fix() && a.abbreviation() == b.abbreviation()
}

/// 00:00 UTC on 1 January of `year` as a timestamp, clamped to chrono's range.
fn new_year(year: i32) -> i64 {
    match NaiveDate::from_ymd_opt(year, 1, 1) {
        Some(date) => date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp(),
        None if year < 0 => DateTime::<Utc>::MIN_UTC.timestamp(),
        None => DateTime::<Utc>::MAX_UTC.timestamp(),
    }
}

/// Every change of observance in `(from, to]` (UTC timestamps), in order, each
/// exact to the second. Changes closer together than the scan step may be missed;
/// the tz database has none in modern times.
fn transitions(tz: Tz, from: i64, to: i64) -> Vec<Transition> {
    const STEP: i64 = 6 * 3600;
    let mut found = Vec::new();
    let Some(mut lo_state) = observance(tz, from) else {
        return found;
    };
    let mut lo = from;
    while lo < to {
        let hi = lo.saturating_add(STEP).min(to);
        let Some(hi_state) = observance(tz, hi) else {
            break;
        };
        if same_observance(&lo_state, &hi_state) {
            lo = hi;
            lo_state = hi_state;
            continue;
        }
        // Invariant: the observance at `a` is `lo_state`, at `b` it is not.
        let (mut a, mut b) = (lo, hi);
        while b - a > 1 {
            let mid = a + (b - a) / 2;
            match observance(tz, mid) {
                Some(state) if same_observance(&state, &lo_state) => a = mid,
                _ => b = mid,
            }
        }
        let Some(new_state) = observance(tz, b) else {
            break;
        };
        found.push(Transition {
            at: b,
            from: lo_state.fix().local_minus_utc(),
            to: new_state.fix().local_minus_utc(),
            name: abbreviation(&new_state),
        });
        lo = b;
        lo_state = new_state;
    }
    found
}

fn write_vtimezone(w: &mut Writer, event: &Appointment) {
    let tz = event.tz;
    let years = [event.starts_at, event.ends_at]
        .map(|t| local_time(tz, t).map_or_else(|| t.year(), |local| local.year()));
    let first_year = years[0].min(years[1]);
    let last_year = years[0].max(years[1]);
    let from = new_year(first_year.saturating_sub(1));
    let to = new_year(last_year.saturating_add(2));

    w.line("BEGIN:VTIMEZONE");
    w.line(&format!("TZID:{}", tz.name()));
    let changes = transitions(tz, from, to);
    if changes.is_empty() {
        let current = tz.offset_from_utc_datetime(&event.starts_at.naive_utc());
        let offset = utc_offset(current.fix().local_minus_utc());
        w.line("BEGIN:STANDARD");
        w.line("DTSTART:19700101T000000");
        w.line(&format!("TZOFFSETFROM:{offset}"));
        w.line(&format!("TZOFFSETTO:{offset}"));
        w.text("TZNAME", &abbreviation(&current));
        w.line("END:STANDARD");
    }
    for change in &changes {
        let Some(onset) = change.local_onset() else {
            continue;
        };
        let kind = if change.is_daylight() {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        w.line(&format!("BEGIN:{kind}"));
        w.line(&format!("DTSTART:{}", basic_form(onset)));
        w.line(&format!("TZOFFSETFROM:{}", utc_offset(change.from)));
        w.line(&format!("TZOFFSETTO:{}", utc_offset(change.to)));
        w.text("TZNAME", &change.name);
        w.line(&format!("END:{kind}"));
    }
    w.line("END:VTIMEZONE");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn event(tz: Tz, starts_at: &str) -> Appointment<'static> {
        let starts_at = at(starts_at);
        Appointment {
            uid: "3f2b9c1e-0000-4000-8000-000000000001@clinic-api",
            starts_at,
            ends_at: starts_at + chrono::Duration::minutes(30),
            created_at: at("2026-06-01T08:15:30Z"),
            updated_at: at("2026-06-02T09:00:00Z"),
            sequence: 2,
            summary: "Consultation at JB Cosmetic",
            description: "Initial consultation",
            location: Some("1 High Street, London"),
            organizer_name: Some("JB Cosmetic"),
            cancelled: false,
            tentative: false,
            tz,
            method: Method::Publish,
            organizer: None,
            attendee: None,
        }
    }

    /// The logical content lines of a document (unfolded, CRLF removed).
    fn unfold(doc: &str) -> Vec<String> {
        let body = doc.strip_suffix("\r\n").expect("ends in CRLF");
        body.replace("\r\n ", "")
            .split("\r\n")
            .map(str::to_owned)
            .collect()
    }

    /// The sub-components of the VTIMEZONE, each as its lines without BEGIN/END.
    fn tz_components(doc: &str) -> Vec<(String, Vec<String>)> {
        let mut components = Vec::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in unfold(doc) {
            match line.as_str() {
                "BEGIN:STANDARD" | "BEGIN:DAYLIGHT" => {
                    current = Some((line["BEGIN:".len()..].to_owned(), Vec::new()));
                }
                "END:STANDARD" | "END:DAYLIGHT" => {
                    components.push(current.take().expect("BEGIN before END"));
                }
                _ => {
                    if let Some((_, lines)) = current.as_mut() {
                        lines.push(line);
                    }
                }
            }
        }
        components
    }

    fn component(
        kind: &str,
        dtstart: &str,
        from: &str,
        to: &str,
        name: &str,
    ) -> (String, Vec<String>) {
        (
            kind.to_owned(),
            vec![
                format!("DTSTART:{dtstart}"),
                format!("TZOFFSETFROM:{from}"),
                format!("TZOFFSETTO:{to}"),
                format!("TZNAME:{name}"),
            ],
        )
    }

    fn has_line(doc: &str, line: &str) -> bool {
        unfold(doc).iter().any(|l| l == line)
    }

    fn assert_well_formed(doc: &str) {
        // Every line ends in CRLF: no bare LF, no bare CR, ends with CRLF.
        assert!(doc.ends_with("\r\n"));
        let bytes = doc.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at {i}");
            }
            if b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}");
            }
        }
        // Every physical line is at most 75 octets and whole UTF-8.
        for line in doc.as_bytes()[..doc.len() - 2].split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(line.len() <= 75, "line of {} octets", line.len());
            assert!(std::str::from_utf8(line).is_ok(), "fold split a character");
        }
        // BEGIN/END nest properly.
        let mut stack = Vec::new();
        for line in unfold(doc) {
            if let Some(name) = line.strip_prefix("BEGIN:") {
                stack.push(name.to_owned());
            } else if let Some(name) = line.strip_prefix("END:") {
                assert_eq!(stack.pop().as_deref(), Some(name), "END:{name} unmatched");
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert_eq!(
            unfold(doc).first().map(String::as_str),
            Some("BEGIN:VCALENDAR")
        );
        assert_eq!(
            unfold(doc).last().map(String::as_str),
            Some("END:VCALENDAR")
        );
    }

    #[test]
    fn london_vtimezone_lists_the_transitions_of_the_surrounding_years() {
        let doc = render(&event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z"));
        assert_well_formed(&doc);
        assert!(has_line(&doc, "TZID:Europe/London"));
        assert_eq!(
            tz_components(&doc),
            vec![
                component("DAYLIGHT", "20250330T010000", "+0000", "+0100", "BST"),
                component("STANDARD", "20251026T020000", "+0100", "+0000", "GMT"),
                component("DAYLIGHT", "20260329T010000", "+0000", "+0100", "BST"),
                component("STANDARD", "20261025T020000", "+0100", "+0000", "GMT"),
                component("DAYLIGHT", "20270328T010000", "+0000", "+0100", "BST"),
                component("STANDARD", "20271031T020000", "+0100", "+0000", "GMT"),
            ]
        );
    }

    #[test]
    fn transitions_are_exact_to_the_second() {
        let from = new_year(2025);
        let to = new_year(2026);
        let found = transitions(chrono_tz::Europe::London, from, to);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].at, at("2025-03-30T01:00:00Z").timestamp());
        assert_eq!(found[1].at, at("2025-10-26T01:00:00Z").timestamp());
        assert!(found[0].is_daylight());
        assert!(!found[1].is_daylight());
    }

    #[test]
    fn london_summer_and_winter_local_times() {
        let summer = render(&event(chrono_tz::Europe::London, "2026-07-01T13:00:00Z"));
        assert!(has_line(
            &summer,
            "DTSTART;TZID=Europe/London:20260701T140000"
        ));
        assert!(has_line(
            &summer,
            "DTEND;TZID=Europe/London:20260701T143000"
        ));
        let winter = render(&event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z"));
        assert!(has_line(
            &winter,
            "DTSTART;TZID=Europe/London:20261203T100000"
        ));
        assert!(has_line(
            &winter,
            "DTEND;TZID=Europe/London:20261203T103000"
        ));
    }

    #[test]
    fn new_york() {
        let doc = render(&event(chrono_tz::America::New_York, "2026-07-01T13:00:00Z"));
        assert_well_formed(&doc);
        assert!(has_line(
            &doc,
            "DTSTART;TZID=America/New_York:20260701T090000"
        ));
        let components = tz_components(&doc);
        assert_eq!(components.len(), 6);
        assert!(components.contains(&component(
            "DAYLIGHT",
            "20260308T020000",
            "-0500",
            "-0400",
            "EDT"
        )));
        assert!(components.contains(&component(
            "STANDARD",
            "20261101T020000",
            "-0400",
            "-0500",
            "EST"
        )));
        assert_eq!(components[0].1[0], "DTSTART:20250309T020000");
        assert_eq!(components[5].1[0], "DTSTART:20271107T020000");
    }

    #[test]
    fn sydney_daylight_time_starts_in_october() {
        let doc = render(&event(chrono_tz::Australia::Sydney, "2026-12-03T10:00:00Z"));
        assert!(has_line(
            &doc,
            "DTSTART;TZID=Australia/Sydney:20261203T210000"
        ));
        let components = tz_components(&doc);
        assert!(components.contains(&component(
            "STANDARD",
            "20260405T030000",
            "+1100",
            "+1000",
            "AEST"
        )));
        assert!(components.contains(&component(
            "DAYLIGHT",
            "20261004T020000",
            "+1000",
            "+1100",
            "AEDT"
        )));
    }

    #[test]
    fn kolkata_has_one_constant_standard() {
        let doc = render(&event(chrono_tz::Asia::Kolkata, "2026-12-03T10:00:00Z"));
        assert_well_formed(&doc);
        assert!(has_line(&doc, "DTSTART;TZID=Asia/Kolkata:20261203T153000"));
        assert_eq!(
            tz_components(&doc),
            vec![component(
                "STANDARD",
                "19700101T000000",
                "+0530",
                "+0530",
                "IST"
            )]
        );
    }

    #[test]
    fn utc_zone_has_one_constant_standard() {
        let doc = render(&event(chrono_tz::UTC, "2026-12-03T10:00:00Z"));
        assert_well_formed(&doc);
        assert!(has_line(&doc, "DTSTART;TZID=UTC:20261203T100000"));
        assert_eq!(
            tz_components(&doc),
            vec![component(
                "STANDARD",
                "19700101T000000",
                "+0000",
                "+0000",
                "UTC"
            )]
        );
    }

    #[test]
    fn numeric_abbreviations_and_offsets_with_seconds() {
        // Istanbul's tz database name is "+03".
        let doc = render(&event(chrono_tz::Europe::Istanbul, "2026-12-03T10:00:00Z"));
        assert_eq!(
            tz_components(&doc),
            vec![component(
                "STANDARD",
                "19700101T000000",
                "+0300",
                "+0300",
                "+03"
            )]
        );
        assert_eq!(utc_offset(-(3600 + 15 * 60 + 14)), "-011514");
        assert_eq!(utc_offset(5 * 3600 + 30 * 60), "+0530");
        assert_eq!(utc_offset(0), "+0000");
    }

    #[test]
    fn header_and_event_properties() {
        let doc = render(&event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z"));
        let lines = unfold(&doc);
        assert_eq!(
            lines[..6],
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//clinic-api//booking//EN",
                "CALSCALE:GREGORIAN",
                "METHOD:PUBLISH",
                "BEGIN:VTIMEZONE",
            ]
        );
        for line in [
            "UID:3f2b9c1e-0000-4000-8000-000000000001@clinic-api",
            "DTSTAMP:20260601T081530Z",
            "CREATED:20260601T081530Z",
            "LAST-MODIFIED:20260602T090000Z",
            "SEQUENCE:2",
            "SUMMARY:Consultation at JB Cosmetic",
            "DESCRIPTION:Initial consultation\\n\\nOrganiser: JB Cosmetic",
            "LOCATION:1 High Street\\, London",
            "STATUS:CONFIRMED",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER:-PT24H",
        ] {
            assert!(has_line(&doc, line), "missing {line}\n{doc}");
        }
        assert!(!lines.iter().any(|l| l.starts_with("ORGANIZER")));
        // The VTIMEZONE comes before the VEVENT that uses it.
        let tz_end = lines.iter().position(|l| l == "END:VTIMEZONE").unwrap();
        let event_begin = lines.iter().position(|l| l == "BEGIN:VEVENT").unwrap();
        assert!(tz_end < event_begin);
    }

    #[test]
    fn status_and_alarm() {
        let base = event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z");
        let tentative = render(&Appointment {
            tentative: true,
            ..base
        });
        assert!(has_line(&tentative, "STATUS:TENTATIVE"));
        assert!(has_line(&tentative, "BEGIN:VALARM"));

        let cancelled = render(&Appointment {
            cancelled: true,
            tentative: true,
            ..base
        });
        assert_well_formed(&cancelled);
        assert!(has_line(&cancelled, "STATUS:CANCELLED"));
        assert!(has_line(&cancelled, "METHOD:PUBLISH"));
        assert!(!cancelled.contains("VALARM"));
        assert!(!cancelled.contains("TRIGGER"));
    }

    #[test]
    fn request_and_cancel_are_itip_messages_with_organizer_and_attendee() {
        let base = Appointment {
            method: Method::Request,
            organizer: Some(Party {
                name: "JB Cosmetic",
                email: "bookings@jb.example",
            }),
            attendee: Some(Party {
                name: "Alex \"AJ\" Morgan",
                email: "alex@example.com",
            }),
            ..event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z")
        };
        let request = render(&base);
        assert_well_formed(&request);
        for line in [
            "METHOD:REQUEST",
            "UID:3f2b9c1e-0000-4000-8000-000000000001@clinic-api",
            "SEQUENCE:2",
            // The revision's time, not the creation's.
            "DTSTAMP:20260602T090000Z",
            "ORGANIZER;CN=\"JB Cosmetic\":mailto:bookings@jb.example",
            "ATTENDEE;CN=\"Alex AJ Morgan\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:alex@example.com",
            "STATUS:CONFIRMED",
            "BEGIN:VALARM",
        ] {
            assert!(has_line(&request, line), "missing {line}\n{request}");
        }
        let cancel = render(&Appointment {
            method: Method::Cancel,
            sequence: 3,
            ..base
        });
        assert_well_formed(&cancel);
        for line in [
            "METHOD:CANCEL",
            "UID:3f2b9c1e-0000-4000-8000-000000000001@clinic-api",
            "SEQUENCE:3",
            "STATUS:CANCELLED",
            "ORGANIZER;CN=\"JB Cosmetic\":mailto:bookings@jb.example",
        ] {
            assert!(has_line(&cancel, line), "missing {line}\n{cancel}");
        }
        assert!(!cancel.contains("VALARM"));
        assert_eq!(
            Method::Cancel.content_type(),
            "text/calendar; charset=utf-8; method=CANCEL"
        );
        assert_eq!(Method::Publish.content_type(), CONTENT_TYPE);
    }

    #[test]
    fn optional_properties_are_left_out() {
        let doc = render(&Appointment {
            description: "",
            location: None,
            organizer_name: None,
            ..event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z")
        });
        assert_well_formed(&doc);
        let lines = unfold(&doc);
        assert!(!lines.iter().any(|l| l.starts_with("LOCATION")));
        assert!(!lines.iter().any(|l| l.starts_with("ORGANIZER")));
        // The only DESCRIPTION is the alarm's.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("DESCRIPTION"))
                .count(),
            1
        );

        let organiser_only = render(&Appointment {
            description: "",
            organizer_name: Some("Dr Jones"),
            ..event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z")
        });
        assert!(has_line(&organiser_only, "DESCRIPTION:Organiser: Dr Jones"));
    }

    #[test]
    fn dtend_is_left_out_unless_after_dtstart() {
        let base = event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z");
        let doc = render(&Appointment {
            ends_at: base.starts_at,
            ..base
        });
        assert!(!doc.contains("DTEND"));
    }

    #[test]
    fn second_occurrence_of_a_repeated_local_time_is_written_in_utc() {
        // 2026-10-25: 01:30 BST is 00:30Z, 01:30 GMT is 01:30Z.
        let first = render(&event(chrono_tz::Europe::London, "2026-10-25T00:30:00Z"));
        assert!(has_line(
            &first,
            "DTSTART;TZID=Europe/London:20261025T013000"
        ));
        let second = render(&event(chrono_tz::Europe::London, "2026-10-25T01:30:00Z"));
        assert!(has_line(&second, "DTSTART:20261025T013000Z"));
        assert!(has_line(
            &second,
            "DTEND;TZID=Europe/London:20261025T020000"
        ));
    }

    #[test]
    fn sub_seconds_are_truncated() {
        let doc = render(&event(
            chrono_tz::Europe::London,
            "2026-07-01T13:00:00.999Z",
        ));
        assert!(has_line(&doc, "DTSTART;TZID=Europe/London:20260701T140000"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text(r"a,b;c\d"), r"a\,b\;c\\d");
        assert_eq!(
            escape_text("one\ntwo\r\nthree\rfour"),
            r"one\ntwo\nthree\nfour"
        );
        assert_eq!(escape_text("tab\there\u{7}bell"), "tab\therebell");
        assert_eq!(escape_text("colon: \"quoted\" é"), "colon: \"quoted\" é");

        let doc = render(&Appointment {
            summary: "Botox, fillers; \\ consult",
            description: "Line 1\nLine 2",
            organizer_name: None,
            uid: "a;b,c@clinic-api",
            ..event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z")
        });
        assert!(has_line(&doc, r"SUMMARY:Botox\, fillers\; \\ consult"));
        assert!(has_line(&doc, r"DESCRIPTION:Line 1\nLine 2"));
        assert!(has_line(&doc, r"UID:a\;b\,c@clinic-api"));
    }

    #[test]
    fn long_lines_are_folded_without_splitting_characters() {
        let pieces = ["é", "€", "😀", "日本", "a", "\\", ",", "\n"];
        for shift in 0..8 {
            let mut description = "x".repeat(shift);
            for i in 0..200 {
                description.push_str(pieces[(i * 7 + shift) % pieces.len()]);
            }
            let doc = render(&Appointment {
                description: &description,
                organizer_name: None,
                ..event(chrono_tz::Europe::London, "2026-12-03T10:00:00Z")
            });
            assert_well_formed(&doc);
            let expected = format!("DESCRIPTION:{}", escape_text(&description));
            assert!(expected.len() > 300);
            assert!(unfold(&doc).contains(&expected));
            assert!(doc.contains("\r\n "), "nothing was folded");
            // No physical line ends in the middle of an escape sequence.
            for line in doc.split("\r\n") {
                let trailing = line.len() - line.trim_end_matches('\\').len();
                assert_eq!(trailing % 2, 0, "escape split at {line:?}");
            }
        }
    }

    #[test]
    fn folding_fills_lines_to_75_octets() {
        let mut w = Writer::default();
        w.line(&"a".repeat(75));
        w.line(&"b".repeat(76));
        w.line(&"c".repeat(75 + 74 + 1));
        let expected = format!(
            "{}\r\n{}\r\n b\r\n{}\r\n {}\r\n c\r\n",
            "a".repeat(75),
            "b".repeat(75),
            "c".repeat(75),
            "c".repeat(74)
        );
        assert_eq!(w.out, expected);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for instant in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for tz in [chrono_tz::Europe::London, chrono_tz::Pacific::Kiritimati] {
                let doc = render(&Appointment {
                    starts_at: instant,
                    ends_at: instant,
                    created_at: instant,
                    updated_at: instant,
                    ..event(tz, "2026-12-03T10:00:00Z")
                });
                assert!(doc.ends_with("END:VCALENDAR\r\n"));
            }
        }
    }
}
