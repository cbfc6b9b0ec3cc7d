//! Abuse limits on public writes: a fixed number of requests per source
//! per minute (`RATE_LIMIT_PER_MINUTE`, 0 turns it off), counted in the
//! database so that every instance counts the same source alike.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{App, AppError};
use crate::store::rate_limits;

const WINDOW_SECONDS: i64 = 60;

fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::seconds(WINDOW_SECONDS))
        .unwrap_or(now)
}

/// Counts one anonymous request of `source` in `group` against
/// `RATE_LIMIT_PER_MINUTE`; refuses past the limit.
pub async fn count_request(app: &App, group: &str, source: &str) -> Result<(), AppError> {
    count_limited(app, group, source, app.settings.abuse.rate_limit_per_minute).await
}

/// Counts one request of `source` in `group`; refuses past `limit` a
/// minute (0: no limit).
pub async fn count_limited(
    app: &App,
    group: &str,
    source: &str,
    limit: u32,
) -> Result<(), AppError> {
    if limit == 0 {
        return Ok(());
    }
    let now = app.now();
    let start = window_start(now);
    let bucket = format!("{group}:{source}");
    let hits = app
        .write(move |tx| Ok(rate_limits::hit(tx.conn, &bucket, start)?))
        .await?;
    if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
        let reset = start + Duration::seconds(WINDOW_SECONDS);
        let retry_after_secs = u64::try_from((reset - now).num_seconds().max(1)).unwrap_or(1);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(())
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
}
