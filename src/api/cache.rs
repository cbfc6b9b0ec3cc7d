//! In-process cache of the public catalogue and FAQ responses, with strong
//! ETags and `If-None-Match` → 304.
//!
//! Every write through this instance invalidates at once. Other instances
//! sharing the database see a write within [`ResponseCache::ttl`], the bound
//! on staleness across a scaled-out deployment.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// What a cached response is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Treatments {
        include_archived: bool,
    },
    Faqs(String),
    /// Free slots: the query and the second it was computed for (slots
    /// depend on the time through the minimum notice).
    Availability(String),
}

struct Entry {
    body: Bytes,
    etag: String,
    stored: Instant,
}

/// Most entries kept; FAQ searches make the key space open-ended.
const MAX_ENTRIES: usize = 512;

pub struct ResponseCache {
    entries: RwLock<HashMap<CacheKey, Entry>>,
    generation: AtomicU64,
    ttl: Duration,
}

impl ResponseCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Drops the free-slot entries (after a booking or schedule change).
    pub fn invalidate_availability(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !matches!(k, CacheKey::Availability(_)));
    }

    /// Drops every catalogue and FAQ entry (after any write to either).
    pub fn invalidate_catalogue(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn get(&self, key: &CacheKey) -> Option<(Bytes, String)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.stored.elapsed() < self.ttl)
            .map(|e| (e.body.clone(), e.etag.clone()))
    }

    /// Stores a body loaded while `generation` was current; a load that
    /// raced with a write is not stored.
    fn put(&self, key: CacheKey, body: Bytes, etag: String, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.stored.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(
            key,
            Entry {
                body,
                etag,
                stored: Instant::now(),
            },
        );
    }
}

/// A strong ETag for a body.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, `*`).
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// A JSON response with its ETag, or 304 when the client has it.
pub fn json_with_etag(req: &HttpRequest, body: Bytes, etag: &str) -> HttpResponse {
    if if_none_match(req, etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.to_owned()))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// Serves `key` from the cache, loading and storing it on a miss.
pub async fn cached_json<F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    key: CacheKey,
    load: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(web::Data<AppState>) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>>>>,
{
    if let Some((body, etag)) = state.cache.get(&key) {
        return Ok(json_with_etag(req, body, &etag));
    }
    let generation = state.cache.generation.load(Ordering::SeqCst);
    let body = Bytes::from(load(state.clone()).await?);
    let etag = etag_of(&body);
    state.cache.put(key, body.clone(), etag.clone(), generation);
    Ok(json_with_etag(req, body, &etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_stable_and_distinct() {
        assert_eq!(etag_of(b"a"), etag_of(b"a"));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert!(etag_of(b"a").starts_with('"'));
    }

    #[test]
    fn a_load_that_raced_a_write_is_not_stored() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let key = CacheKey::Faqs("x".into());
        let generation = cache.generation.load(Ordering::SeqCst);
        cache.invalidate_catalogue();
        cache.put(
            key.clone(),
            Bytes::from_static(b"old"),
            "\"1\"".into(),
            generation,
        );
        assert!(cache.get(&key).is_none());
        let generation = cache.generation.load(Ordering::SeqCst);
        cache.put(
            key.clone(),
            Bytes::from_static(b"new"),
            "\"2\"".into(),
            generation,
        );
        assert_eq!(cache.get(&key).unwrap().0, Bytes::from_static(b"new"));
    }

    #[test]
    fn entries_expire() {
        let cache = ResponseCache::new(Duration::from_millis(0));
        let key = CacheKey::Treatments {
            include_archived: false,
        };
        cache.put(key.clone(), Bytes::from_static(b"x"), "\"1\"".into(), 0);
        assert!(cache.get(&key).is_none());
    }
}
