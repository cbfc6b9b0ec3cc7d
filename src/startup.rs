//! Building and running the application. `main` and the tests start it the
//! same way: [`Application::build`], then [`Application::run_until_stopped`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, HttpServer};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{extract, fallback};
use crate::app::{deliveries, maintenance, notifications, App};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::{api, seed, telemetry};

/// Why the application could not start; one line, no secrets.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] crate::db::OpenError),
    #[error("cannot prepare the database {url}: {reason}")]
    Prepare { url: String, reason: String },
    #[error("{0}")]
    Payments(String),
    #[error("{0}")]
    Notify(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

/// Options that differ between production and tests.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Handle SIGTERM and Ctrl-C (off when many servers share a test process).
    pub handle_signals: bool,
    /// Worker threads; 0 means one per CPU.
    pub workers: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            handle_signals: true,
            workers: 0,
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    app: web::Data<App>,
    /// The operator's `/metrics` listener, when `METRICS_BIND_ADDR` is set.
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Opens and migrates the database, loads seed content, binds the port.
    pub async fn build(
        settings: Settings,
        clock: Arc<dyn Clock>,
        options: RunOptions,
    ) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let payments = crate::payments::from_settings(&settings).map_err(StartError::Payments)?;
        let channels = crate::notify::from_settings(&settings).map_err(StartError::Notify)?;
        let db = open_and_migrate(settings.clone()).await?;
        let app =
            web::Data::new(App::new(db, settings.clone(), clock, payments).with_channels(channels));
        crate::app::demo_clock::prepare(&app)
            .await
            .map_err(|reason| StartError::Prepare {
                url: settings.database_url.masked(),
                reason,
            })?;
        if settings.seed_content {
            let loaded = seed::load_if_empty(&app)
                .await
                .map_err(|e| StartError::Prepare {
                    url: settings.database_url.masked(),
                    reason: e.to_string(),
                })?;
            if loaded {
                tracing::info!("loaded seed content into an empty database");
            }
        }
        let listener = TcpListener::bind(settings.bind_addr).map_err(|e| StartError::Bind {
            addr: settings.bind_addr.to_string(),
            reason: e.to_string(),
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let server = serve(listener, app.clone(), options).map_err(|e| StartError::Bind {
            addr: settings.bind_addr.to_string(),
            reason: e.to_string(),
        })?;
        let metrics = match settings.metrics.bind_addr {
            None => None,
            Some(addr) => {
                let bind_failed = |e: std::io::Error| StartError::Bind {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                };
                let listener = TcpListener::bind(addr).map_err(bind_failed)?;
                let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
                Some((
                    port,
                    serve_metrics(listener, app.clone()).map_err(bind_failed)?,
                ))
            }
        };
        Ok(Self {
            port,
            server,
            app,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://host:port` this server answers on locally (the loopback
    /// address when it listens on every address).
    pub fn local_url(&self) -> String {
        let ip = self.app.settings.bind_addr.ip();
        let host = match ip {
            std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_owned(),
            std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            std::net::IpAddr::V4(v4) => v4.to_string(),
        };
        format!("http://{host}:{}", self.port)
    }

    /// The port `/metrics` is served on, when it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn app(&self) -> web::Data<App> {
        self.app.clone()
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM, Ctrl-C or the handle), draining
    /// in-flight requests; background maintenance runs alongside.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let app = self.app.clone().into_inner();
        let background = tokio::spawn(maintenance::run_periodically(app.clone()));
        let deliveries = tokio::spawn(deliveries::run_forever(app.clone()));
        let notifications = tokio::spawn(notifications::run_forever(app));
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        background.abort();
        deliveries.abort();
        notifications.abort();
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        result
    }
}

/// Opens the database and applies pending migrations (off the executor).
async fn open_and_migrate(settings: Arc<Settings>) -> Result<Db, StartError> {
    tokio::task::spawn_blocking(move || {
        let db = Db::open_with(&settings.database_url, settings.db_options())?;
        db.migrate().map_err(|e| StartError::Prepare {
            url: settings.database_url.masked(),
            reason: e.to_string(),
        })?;
        Ok(db)
    })
    .await
    .unwrap_or_else(|e| {
        Err(StartError::Prepare {
            url: String::new(),
            reason: e.to_string(),
        })
    })
}

/// CORS for the configured origins (none by default: same-origin only).
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("idempotent-replayed"),
            api::responses::RATE_LIMIT_LIMIT,
            api::responses::RATE_LIMIT_REMAINING,
            api::responses::RATE_LIMIT_RESET,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// API answers are data, never pages: forbid everything a browser could
/// run or frame from them. A response that brings its own policy (the
/// booking page, `api::page`) keeps it, framing rules included; Swagger UI,
/// a page with inline scripts, gets no policy but is never framed.
async fn content_security_policy(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let swagger_ui = req.path().starts_with("/swagger-ui/");
    let mut resp = next.call(req).await?;
    let headers = resp.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if !swagger_ui {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
        }
        headers.insert(
            header::X_FRAME_OPTIONS,
            header::HeaderValue::from_static("DENY"),
        );
    }
    Ok(resp)
}

/// The operator's listener: `/metrics` only (see `api::metrics`).
fn serve_metrics(listener: TcpListener, app: web::Data<App>) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        actix_web::App::new()
            .app_data(app.clone())
            .route("/metrics", web::get().to(api::metrics::scrape))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .run())
}

fn serve(
    listener: TcpListener,
    app: web::Data<App>,
    options: RunOptions,
) -> std::io::Result<Server> {
    let doc = api::openapi();
    let demo_clock = app.settings.demo_clock;
    let mut table = fallback::RouteTable::from_openapi(&doc).with_reads(api::page::PATHS);
    if demo_clock {
        table = table.with(api::demo::PATH, &["GET", "POST"]);
    }
    let routes = Arc::new(table);
    let bounds = web::Data::new(api::bounds::Bounds::from_document(&doc));
    let page_policy = Arc::new(api::page::PagePolicy::from_settings(&app.settings));
    let max_body = app.settings.max_body_bytes;
    let cors_origins = app.settings.abuse.cors_allowed_origins.clone();
    let mut server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(app.clone())
            .app_data(web::Data::new(routes.clone()))
            .app_data(bounds.clone())
            .app_data(web::Data::new(page_policy.clone()))
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(extract::json_error),
            )
            .into_utoipa_app()
            .configure(api::routes)
            .into_app()
            .configure(api::page::routes)
            .configure(|cfg| {
                if demo_clock {
                    api::demo::routes(cfg);
                }
            })
            .service(
                SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", doc.clone()),
            )
            .default_service(web::to(fallback::not_routed))
            .wrap(
                // Answers carry personal data, tokens or secrets unless a
                // handler says otherwise (the public catalogue, FAQ and free
                // slots are `no-cache` with an ETag): nothing is stored by
                // browsers or proxies by default.
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .wrap(from_fn(content_security_policy))
            // gzip or Brotli when the client asks (Accept-Encoding). Bearer
            // tokens are never ambient credentials, so a compressed answer
            // cannot be probed cross-site for a secret (BREACH needs cookies).
            .wrap(actix_web::middleware::Compress::default())
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(from_fn(extract::reject_control_characters))
            .wrap(from_fn(extract::body_deadline))
            .wrap(from_fn(api::metrics::observe))
            .wrap(from_fn(telemetry::log_requests))
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if !options.handle_signals {
        server = server.disable_signals();
    }
    if options.workers > 0 {
        server = server.workers(options.workers);
    }
    Ok(server.run())
}
