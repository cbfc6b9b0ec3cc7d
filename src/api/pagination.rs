//! Cursor pagination: `?limit=&cursor=`, stable ordering, a `next` link.

use actix_web::HttpRequest;

use crate::error::ApiError;

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

/// An opaque cursor from the sort key of the last item on a page.
pub fn encode(parts: &[&str]) -> String {
    hex::encode(parts.join("\n"))
}

/// The sort key inside a cursor; `n` parts expected.
pub fn decode(cursor: &str, n: usize) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::field("cursor", "invalid", "is not a cursor this API issued");
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if parts.len() != n {
        return Err(bad());
    }
    Ok(parts)
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
        let c = encode(&["12", "abc"]);
        assert_eq!(decode(&c, 2).unwrap(), vec!["12", "abc"]);
        assert!(decode("zz", 2).is_err());
        assert!(decode(&encode(&["1"]), 2).is_err());
    }

    #[test]
    fn limits_are_capped() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
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
