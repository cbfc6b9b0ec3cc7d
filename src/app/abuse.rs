//! Abuse limits on public writes: a fixed number of requests per source
//! per minute (`RATE_LIMIT_PER_MINUTE`, 0 turns it off), counted in the
//! database so that every instance counts the same source alike. Each
//! count says where the source stands, for the answer's `RateLimit-*`
//! fields.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{App, AppError};
use crate::store::rate_limits;

const WINDOW_SECONDS: i64 = 60;

/// Where a source stands against its limit once a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in each window.
    pub limit: u32,
    /// Requests left in the current window (0 once refused).
    pub remaining: u32,
    /// Seconds until the current window ends (1 to 60).
    pub reset_secs: u64,
}

fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::seconds(WINDOW_SECONDS))
        .unwrap_or(now)
}

/// Counts one anonymous request of `source` in `group` against
/// `RATE_LIMIT_PER_MINUTE`; refuses past the limit. `None` when there is
/// no limit.
pub async fn count_request(
    app: &App,
    group: &str,
    source: &str,
) -> Result<Option<RateLimit>, AppError> {
    count_limited(app, group, source, app.settings.abuse.rate_limit_per_minute).await
}

/// Counts one request of `source` in `group`; refuses past `limit` a
/// minute (0: no limit, and `None`).
pub async fn count_limited(
    app: &App,
    group: &str,
    source: &str,
    limit: u32,
) -> Result<Option<RateLimit>, AppError> {
    if limit == 0 {
        return Ok(None);
    }
    let now = app.now();
    let start = window_start(now);
    let bucket = format!("{group}:{source}");
    let hits = app
        .write(move |tx| Ok(rate_limits::hit(tx.conn, &bucket, start)?))
        .await?;
    let state = standing(limit, i64::from(hits), start, now);
    if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
        return Err(AppError::RateLimited {
            retry_after_secs: state.reset_secs,
            limit,
        });
    }
    Ok(Some(state))
}

/// Where a source with `hits` in the window that began at `start` stands.
fn standing(limit: u32, hits: i64, start: DateTime<Utc>, now: DateTime<Utc>) -> RateLimit {
    let used = u32::try_from(hits.max(0)).unwrap_or(u32::MAX);
    let reset = start + Duration::seconds(WINDOW_SECONDS);
    RateLimit {
        limit,
        remaining: limit.saturating_sub(used),
        reset_secs: u64::try_from((reset - now).num_seconds().clamp(1, WINDOW_SECONDS))
            .unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes() {
        let t: DateTime<Utc> = "2026-11-25T10:00:42.5Z".parse().unwrap();
        assert_eq!(
            window_start(t),
            "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn the_standing_counts_down_to_the_end_of_the_window() {
        let now: DateTime<Utc> = "2026-11-25T10:00:42.5Z".parse().unwrap();
        let start = window_start(now);
        assert_eq!(
            standing(30, 1, start, now),
            RateLimit {
                limit: 30,
                remaining: 29,
                reset_secs: 17
            }
        );
        assert_eq!(standing(30, 30, start, now).remaining, 0);
        assert_eq!(standing(30, 31, start, now).remaining, 0);
        // At the very start of a window, the whole minute is left.
        assert_eq!(standing(30, 1, start, start).reset_secs, 60);
        // Just before its end, at least a second.
        let late: DateTime<Utc> = "2026-11-25T10:00:59.9Z".parse().unwrap();
        assert_eq!(standing(30, 1, start, late).reset_secs, 1);
    }
}
