//! The clinic's booking page (`web/`), embedded in the binary: `/`, the
//! framable `/embed`, `/manage` and `/assets/{file}`. HTML, not API: these
//! routes are not in the OpenAPI document (see `fallback` for how they are
//! still routed like the rest), and their answers carry the page's own
//! Content-Security-Policy instead of the API's.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, web, HttpRequest, HttpResponse, ResponseError};

use crate::api::caching::if_none_match;
use crate::api::error::ApiError;
use crate::cache::etag_of;
use crate::config::Settings;

/// Every file of `web/`, by name (a test keeps this list and the folder in
/// step).
const FILES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../web/index.html")),
    ("manage.html", include_bytes!("../../web/manage.html")),
    ("api.js", include_bytes!("../../web/api.js")),
    ("booking.js", include_bytes!("../../web/booking.js")),
    ("catalogue.js", include_bytes!("../../web/catalogue.js")),
    ("format.js", include_bytes!("../../web/format.js")),
    ("manage.js", include_bytes!("../../web/manage.js")),
    ("slots.js", include_bytes!("../../web/slots.js")),
    (
        "stripe-deposit.js",
        include_bytes!("../../web/stripe-deposit.js"),
    ),
    ("ui.js", include_bytes!("../../web/ui.js")),
    ("styles.css", include_bytes!("../../web/styles.css")),
    ("favicon.svg", include_bytes!("../../web/favicon.svg")),
];

/// The media type of a served file, by its extension.
fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "html" => Some("text/html; charset=utf-8"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

struct File {
    body: &'static [u8],
    content_type: &'static str,
    etag: String,
}

fn files() -> &'static HashMap<&'static str, File> {
    static FILES_BY_NAME: OnceLock<HashMap<&'static str, File>> = OnceLock::new();
    FILES_BY_NAME.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|&(name, body)| {
                let content_type = content_type(name)?;
                Some((
                    name,
                    File {
                        body,
                        content_type,
                        etag: etag_of(body),
                    },
                ))
            })
            .collect()
    })
}

/// The page's Content-Security-Policy, worked out once from the settings.
pub struct PagePolicy {
    /// For `/` and `/manage`: no framing at all.
    own: HeaderValue,
    /// For `/embed`: framable by `PAGE_FRAME_ANCESTORS`.
    embed: HeaderValue,
}

impl PagePolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        let logo_origin = settings
            .page
            .logo_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null");
        let policy = |ancestors: &str| {
            let img = match &logo_origin {
                Some(origin) => format!("img-src 'self' data: {origin}"),
                None => "img-src 'self' data:".to_owned(),
            };
            let csp = format!(
                "default-src 'self'; script-src 'self' https://js.stripe.com; \
                 frame-src https://js.stripe.com https://hooks.stripe.com; \
                 connect-src 'self' https://api.stripe.com; {img}; style-src 'self'; \
                 form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
            );
            HeaderValue::from_str(&csp).expect("the settings are checked to be header-safe")
        };
        Self {
            own: policy("'none'"),
            embed: policy(&settings.page.frame_ancestors),
        }
    }
}

/// Registers the page's routes (GET and HEAD only; other methods fall
/// through to the default service, which answers 405).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let read = || guard::Any(guard::Get()).or(guard::Head());
    cfg.service(web::resource("/").guard(read()).to(index))
        .service(web::resource("/embed").guard(read()).to(embed))
        .service(web::resource("/manage").guard(read()).to(manage))
        .service(web::resource("/assets/{file}").guard(read()).to(asset))
        .service(
            web::resource("/swagger-ui")
                .guard(read())
                .to(swagger_ui_slash),
        );
}

/// The page routes, for the route table of `fallback` (405 with `Allow`).
pub const PATHS: &[&str] = &["/", "/embed", "/manage", "/assets/{file}", "/swagger-ui"];

async fn index(req: HttpRequest, policy: web::Data<Arc<PagePolicy>>) -> HttpResponse {
    html(&req, "index.html", policy.own.clone(), true)
}

async fn embed(req: HttpRequest, policy: web::Data<Arc<PagePolicy>>) -> HttpResponse {
    html(&req, "index.html", policy.embed.clone(), false)
}

async fn manage(req: HttpRequest, policy: web::Data<Arc<PagePolicy>>) -> HttpResponse {
    html(&req, "manage.html", policy.own.clone(), true)
}

/// Any file of `web/` but the pages, by name; 404 problem for others.
async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match files().get(name.as_str()) {
        Some(file) if !name.ends_with(".html") => send(&req, file, |_| {}),
        _ => ApiError::NotFound("file").error_response(),
    }
}

/// `/swagger-ui` → `/swagger-ui/` (where Swagger UI's relative links work).
async fn swagger_ui_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

fn html(req: &HttpRequest, name: &str, csp: HeaderValue, deny_framing: bool) -> HttpResponse {
    let file = &files()[name];
    send(req, file, |resp| {
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if deny_framing {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    })
}

/// The file with its ETag (`no-cache`: revalidate each time, 304 when
/// unchanged), or 304.
fn send(req: &HttpRequest, file: &File, extra: impl FnOnce(&mut HttpResponse)) -> HttpResponse {
    let mut resp = if if_none_match(req, &file.etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(file.content_type)
            .body(file.body)
    };
    let headers = resp.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&file.etag).expect("a hex ETag"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    extra(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_web_is_embedded_with_a_content_type() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "src/api/page.rs FILES must list web/");
        for (name, _) in FILES {
            assert!(content_type(name).is_some(), "{name} has no content type");
            assert!(files().contains_key(name));
        }
    }

    #[test]
    fn the_policy_admits_the_logo_origin_and_the_embedders() {
        let mut settings = Settings::for_database(crate::db::DatabaseUrl::default_sqlite());
        settings.page.logo_url = Some("https://cdn.clinic.example/brand/logo.svg".into());
        settings.page.frame_ancestors = "https://clinic.example".into();
        let p = PagePolicy::from_settings(&settings);
        let own = p.own.to_str().unwrap();
        assert!(
            own.contains("img-src 'self' data: https://cdn.clinic.example;"),
            "{own}"
        );
        assert!(own.ends_with("frame-ancestors 'none'"), "{own}");
        assert!(!own.contains("unsafe"), "{own}");
        let embed = p.embed.to_str().unwrap();
        assert!(
            embed.ends_with("frame-ancestors https://clinic.example"),
            "{embed}"
        );
        settings.page.logo_url = Some("/assets/favicon.svg".into());
        let p = PagePolicy::from_settings(&settings);
        assert!(p.own.to_str().unwrap().contains("img-src 'self' data:;"));
    }
}
