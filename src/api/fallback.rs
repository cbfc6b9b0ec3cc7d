//! Requests no route takes: 405 with `Allow` when the path exists under
//! other methods, else 404 — both as problem documents.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::OpenApi;

use crate::api::error::ApiError;

/// The documented paths and their methods.
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

enum Segment {
    Literal(String),
    Param,
}

impl RouteTable {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = Self::segments(path);
                let mut methods = Vec::new();
                for (present, name) in [
                    (item.get.is_some(), "GET"),
                    (item.put.is_some(), "PUT"),
                    (item.post.is_some(), "POST"),
                    (item.delete.is_some(), "DELETE"),
                    (item.patch.is_some(), "PATCH"),
                ] {
                    if present {
                        methods.push(name);
                    }
                }
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// Adds routes outside the document that answer GET and HEAD (the
    /// booking page).
    pub fn with_reads(mut self, paths: &[&str]) -> Self {
        for path in paths {
            self = self.with(path, &["GET", "HEAD"]);
        }
        self
    }

    /// Adds a route outside the document.
    pub fn with(mut self, path: &str, methods: &[&'static str]) -> Self {
        self.routes.push((Self::segments(path), methods.to_vec()));
        self
    }

    fn segments(path: &str) -> Vec<Segment> {
        path.trim_matches('/')
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Param
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect()
    }

    /// The methods allowed on `path`, when some route matches it. The most
    /// specific routes win: `/v1/faqs/reorder` is not `/v1/faqs/{id}`.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best = 0;
        let mut allowed: Vec<&'static str> = Vec::new();
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Literal(l) => l == p,
                    Segment::Param => !p.is_empty(),
                });
            if !matches {
                continue;
            }
            let literals = segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            if literals > best {
                best = literals;
                allowed.clear();
            }
            if literals == best {
                allowed.extend(methods);
            }
        }
        (!allowed.is_empty()).then(|| {
            allowed.sort_unstable();
            allowed.dedup();
            allowed
        })
    }
}

/// 405 with `Allow` when the path exists only under other methods.
pub fn method_not_allowed(req: &HttpRequest) -> Option<HttpResponse> {
    let table = req.app_data::<web::Data<Arc<RouteTable>>>()?;
    let methods = table.allowed(req.path())?;
    if methods.contains(&req.method().as_str()) {
        return None;
    }
    let mut resp = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = header::HeaderValue::from_str(&methods.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    Some(resp)
}

/// The default service.
pub async fn not_routed(req: HttpRequest) -> HttpResponse {
    method_not_allowed(&req).unwrap_or_else(|| ApiError::NotFound("resource").error_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_list_their_methods() {
        let table = RouteTable::from_openapi(&crate::api::openapi());
        assert_eq!(table.allowed("/health/live"), Some(vec!["GET"]));
        let t = table.allowed("/v1/treatments/some-slug").unwrap();
        assert!(t.contains(&"PUT") && t.contains(&"GET"), "{t:?}");
        assert_eq!(table.allowed("/v1/nothing"), None);
        assert_eq!(table.allowed("/v1/faqs/reorder"), Some(vec!["POST"]));
        let table = table.with_reads(crate::api::page::PATHS);
        assert_eq!(table.allowed("/"), Some(vec!["GET", "HEAD"]));
        assert_eq!(table.allowed("/assets/app.js"), Some(vec!["GET", "HEAD"]));
    }
}
