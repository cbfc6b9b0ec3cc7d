//! Cached public answers over HTTP: strong ETags and `If-None-Match` → 304.
//! The cache itself, and its invalidation after each unit of work, live in
//! `crate::cache`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::api::error::ApiError;
use crate::app::App;
use crate::cache::{etag_of, CacheKey};

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

/// A load of a cached answer on a miss.
pub type Load = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>>>>;

/// Serves `key` from the cache, loading and storing it on a miss.
pub async fn cached_json<F>(
    req: &HttpRequest,
    app: &web::Data<App>,
    key: CacheKey,
    load: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(web::Data<App>) -> Load,
{
    if let Some((body, etag)) = app.cache.get(&key) {
        return Ok(json_with_etag(req, body, &etag));
    }
    let generation = app.cache.generation();
    let body = Bytes::from(load(app.clone()).await?);
    let etag = etag_of(&body);
    app.cache.put(key, body.clone(), etag.clone(), generation);
    Ok(json_with_etag(req, body, &etag))
}
