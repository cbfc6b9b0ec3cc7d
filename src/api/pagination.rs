//! Cursor pagination: `?limit=&cursor=`, stable ordering, a `next` link.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::api::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// The page size asked for, checked against the cap.
pub fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field(
            "limit",
            "range",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A cursor from the sort key and id of the last item on a page:
/// `<key>~<uuid>` (the key is a position, or a time in microseconds).
/// Any well-formed cursor is accepted; one past the end gives an empty page.
pub fn encode(key: i64, id: &str) -> String {
    format!("{key}~{id}")
}

/// The cursor for an item sorted by a time.
pub fn encode_time(at: DateTime<Utc>, id: &str) -> String {
    encode(at.timestamp_micros(), id)
}

/// Most digits in a cursor's key: microseconds between the years 1900 and
/// 2200 need 16 (the `contract::CURSOR` pattern).
const KEY_DIGITS: usize = 16;

/// The key and id inside a cursor (the `contract::CURSOR` pattern).
pub fn decode(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::field(
            "cursor",
            "invalid",
            "must be a cursor from a next link: <number of at most 16 digits>~<uuid>",
        )
    };
    let (key, id) = cursor.split_once('~').ok_or_else(bad)?;
    let digits = key.strip_prefix('-').unwrap_or(key);
    if digits.is_empty() || digits.len() > KEY_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let uuid_shaped = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if !uuid_shaped {
        return Err(bad());
    }
    Ok((key.parse().map_err(|_| bad())?, id.to_owned()))
}

/// The time and id inside a cursor made by [`encode_time`]. A position
/// before or after the supported span of time (the years 1900 to 2200,
/// where every stored time lies) is taken as that span's edge: the page is
/// the same, and both databases can hold the instant (PostgreSQL's
/// timestamps end far sooner than chrono's).
pub fn decode_time(cursor: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    use crate::domain::dates::{MAX_YEAR, MIN_YEAR};
    let (key, id) = decode(cursor)?;
    let edge = |year: i32, month: u32, day: u32| {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or_default()
    };
    let key = key.clamp(edge(MIN_YEAR, 1, 1), edge(MAX_YEAR, 12, 31));
    DateTime::from_timestamp_micros(key)
        .map(|at| (at, id))
        .ok_or_else(|| {
            ApiError::field(
                "cursor",
                "range",
                "names a position outside the supported span of time",
            )
        })
}

/// Cuts a page out of `rows` (loaded with `limit + 1`): the first `limit`
/// rows, and the link to the next page when there is more.
pub fn page<T>(
    req: &HttpRequest,
    mut rows: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|last| next_link(req, &cursor_of(last)));
    (rows, next)
}

/// The URL of the next page: this request's URL with `cursor` replaced.
pub fn next_link(req: &HttpRequest, cursor: &str) -> String {
    let mut pairs: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("cursor="))
        .collect();
    let cursor_pair = format!("cursor={cursor}");
    pairs.push(&cursor_pair);
    format!("{}?{}", req.path(), pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = "0d6f7a52-3b1e-4f0a-8c9d-2e4b6a8c0f13";
        assert_eq!(decode(&encode(12, id)).unwrap(), (12, id.to_owned()));
        assert_eq!(decode(&encode(-3, id)).unwrap().0, -3);
        let t: DateTime<Utc> = "2026-11-25T10:00:00.123456Z".parse().unwrap();
        assert_eq!(decode_time(&encode_time(t, id)).unwrap().0, t);
        assert!(decode_time(&encode(-999_999_999_999_999_999, id)).is_err());
        assert!(decode_time(&encode(999_999_999_999_999_999, id)).is_err());
        // 16 digits reach past the supported span: its edges stand in.
        let (early, _) = decode_time(&encode(-9_999_999_999_999_999, id)).unwrap();
        let (late, _) = decode_time(&encode(9_999_999_999_999_999, id)).unwrap();
        assert_eq!(early.to_rfc3339(), "1900-01-01T00:00:00+00:00");
        assert_eq!(late.to_rfc3339(), "2200-12-31T00:00:00+00:00");
        for bad in [
            "",
            "zz",
            "12",
            "12~x",
            "~",
            "1234567890123456789~0d6f7a52-3b1e-4f0a-8c9d-2e4b6a8c0f13",
            "1~0D6F7A52-3B1E-4F0A-8C9D-2E4B6A8C0F13",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_capped() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
    }

    #[test]
    fn pages_cut_one_past_the_limit() {
        let req = actix_web::test::TestRequest::get()
            .uri("/v1/x?limit=2")
            .to_http_request();
        let (items, next) = page(&req, vec![1, 2, 3], 2, |n| format!("{n}"));
        assert_eq!(items, vec![1, 2]);
        assert_eq!(next.as_deref(), Some("/v1/x?limit=2&cursor=2"));
        let (items, next) = page(&req, vec![1, 2], 2, |n| format!("{n}"));
        assert_eq!((items.len(), next), (2, None));
    }

    #[test]
    fn the_longest_next_link_is_within_its_documented_bound() {
        // The longest query a list takes (the audit trail's: every filter
        // at its longest, every character a 4-byte one, percent-encoded)
        // and the longest cursor: within the 4096 characters of `next`.
        let wide = |n: usize| "%F0%9F%98%80".repeat(n);
        let query = format!(
            "actor={}&action={}&subject_type={}&subject_id={}&from=%32%30%32%36-%31%32-%30%31&to=%32%30%32%36-%31%32-%30%31&limit=100&cursor=x",
            wide(64),
            wide(64),
            wide(32),
            wide(64)
        );
        let req = actix_web::test::TestRequest::get()
            .uri(&format!("/v1/audit-events?{query}"))
            .to_http_request();
        let cursor = encode(
            -2_208_988_800_000_000,
            "0d6f7a52-3b1e-4f0a-8c9d-2e4b6a8c0f13",
        );
        let next = next_link(&req, &cursor);
        assert!(next.chars().count() <= 4096, "{}", next.len());
    }

    #[test]
    fn next_link_replaces_the_cursor() {
        let req = actix_web::test::TestRequest::get()
            .uri("/v1/faqs?topic=booking&cursor=aa&limit=2")
            .to_http_request();
        assert_eq!(
            next_link(&req, "bb"),
            "/v1/faqs?topic=booking&limit=2&cursor=bb"
        );
    }
}
