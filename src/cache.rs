//! In-process cache of rendered public answers (catalogue, FAQ, free slots)
//! with their strong ETags.
//!
//! A unit of work that changes what an answer shows invalidates it after
//! its commit (`app::unit_of_work`). Other instances sharing the database
//! see a change within [`ResponseCache::ttl`] (catalogue and FAQ) or within
//! the second (free slots, whose keys carry the second they were computed
//! for): the bound on staleness across a scaled-out deployment.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// What a cached answer is for.
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

/// The groups of answers a change can make stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stale {
    /// Free slots (bookings, holds, opening hours, closures, practitioners).
    pub availability: bool,
    /// The catalogue and the FAQ.
    pub catalogue: bool,
}

impl Stale {
    pub fn is_empty(self) -> bool {
        !self.availability && !self.catalogue
    }

    pub fn merge(&mut self, other: Stale) {
        self.availability |= other.availability;
        self.catalogue |= other.catalogue;
    }
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

    /// Drops the entries a committed change made stale.
    pub fn invalidate(&self, stale: Stale) {
        if stale.is_empty() {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if stale.catalogue {
            entries.retain(|k, _| matches!(k, CacheKey::Availability(_)));
        }
        if stale.availability {
            entries.retain(|k, _| !matches!(k, CacheKey::Availability(_)));
        }
    }

    /// The cached body and ETag, if fresh.
    pub fn get(&self, key: &CacheKey) -> Option<(Bytes, String)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.stored.elapsed() < self.ttl)
            .map(|e| (e.body.clone(), e.etag.clone()))
    }

    /// The generation to pass to [`ResponseCache::put`] for a load starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stores a body loaded while `generation` was current; a load that
    /// raced with a change is not stored.
    pub fn put(&self, key: CacheKey, body: Bytes, etag: String, generation: u64) {
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

/// Remembers what was done recently, to do it at most once per interval
/// per key in this instance (e.g. asking Stripe about one deposit). Time
/// is the caller's clock, so tests can move it.
pub struct Throttle {
    interval: chrono::Duration,
    done: std::sync::Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

impl Throttle {
    pub fn new(interval: chrono::Duration) -> Self {
        Self {
            interval,
            done: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// True (and remembered) when `key` was not done within the interval
    /// before `now`.
    pub fn try_now(&self, key: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = |t: &chrono::DateTime<chrono::Utc>| now - *t < self.interval && *t <= now;
        if done.get(key).is_some_and(fresh) {
            return false;
        }
        if done.len() >= MAX_ENTRIES * 8 {
            done.retain(|_, t| fresh(t));
        }
        done.insert(key.to_owned(), now);
        true
    }
}

/// A strong ETag for a body.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
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
    fn a_load_that_raced_a_change_is_not_stored() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let key = CacheKey::Faqs("x".into());
        let generation = cache.generation();
        cache.invalidate(Stale {
            catalogue: true,
            ..Stale::default()
        });
        cache.put(
            key.clone(),
            Bytes::from_static(b"old"),
            "\"1\"".into(),
            generation,
        );
        assert!(cache.get(&key).is_none());
        let generation = cache.generation();
        cache.put(
            key.clone(),
            Bytes::from_static(b"new"),
            "\"2\"".into(),
            generation,
        );
        assert_eq!(cache.get(&key).unwrap().0, Bytes::from_static(b"new"));
    }

    #[test]
    fn each_kind_of_change_drops_only_its_answers() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let slots = CacheKey::Availability("a".into());
        let faqs = CacheKey::Faqs("f".into());
        for k in [&slots, &faqs] {
            cache.put(
                k.clone(),
                Bytes::from_static(b"x"),
                "\"1\"".into(),
                cache.generation(),
            );
        }
        cache.invalidate(Stale {
            availability: true,
            ..Stale::default()
        });
        assert!(cache.get(&slots).is_none());
        assert!(cache.get(&faqs).is_some());
        cache.invalidate(Stale {
            catalogue: true,
            ..Stale::default()
        });
        assert!(cache.get(&faqs).is_none());
    }

    #[test]
    fn a_throttle_lets_one_through_per_interval() {
        let t = Throttle::new(chrono::Duration::seconds(60));
        let at: chrono::DateTime<chrono::Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        assert!(t.try_now("d1", at));
        assert!(!t.try_now("d1", at + chrono::Duration::seconds(59)));
        assert!(t.try_now("d2", at));
        assert!(t.try_now("d1", at + chrono::Duration::seconds(60)));
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
