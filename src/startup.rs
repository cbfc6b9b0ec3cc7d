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
        Ok(Self { port, server, app })
    }

    pub fn port(&self) -> u16 {
        self.port
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
        let result = self.server.await;
        background.abort();
        deliveries.abort();
        notifications.abort();
        result
    }
}

/// Opens the database and applies pending migrations (off the executor).
async fn open_and_migrate(settings: Arc<Settings>) -> Result<Db, StartError> {
    tokio::task::spawn_blocking(move || {
        let db = Db::open(&settings.database_url, settings.database_pool_size)?;
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
/// run or frame from them (Swagger UI, a page, is exempt).
async fn content_security_policy(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let page = req.path().starts_with("/swagger-ui");
    let mut resp = next.call(req).await?;
    if !page {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    Ok(resp)
}

fn serve(
    listener: TcpListener,
    app: web::Data<App>,
    options: RunOptions,
) -> std::io::Result<Server> {
    let doc = api::openapi();
    let routes = Arc::new(fallback::RouteTable::from_openapi(&doc));
    let max_body = app.settings.max_body_bytes;
    let cors_origins = app.settings.abuse.cors_allowed_origins.clone();
    let mut server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(app.clone())
            .app_data(web::Data::new(routes.clone()))
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
            .service(
                SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", doc.clone()),
            )
            .default_service(web::to(fallback::not_routed))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::X_FRAME_OPTIONS, "DENY")),
            )
            .wrap(from_fn(content_security_policy))
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(from_fn(extract::reject_control_characters))
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
