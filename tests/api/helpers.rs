//! Starts the real application on port 0 against a fresh database: a
//! temporary SQLite file, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` is a postgres URL (dropped afterwards).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clinic_api::app::App;
use clinic_api::clock::{Clock, ManualClock};
use clinic_api::config::Settings;
use clinic_api::db::DatabaseUrl;
use clinic_api::domain::actor::Role;
use clinic_api::startup::{Application, RunOptions};
use diesel::{Connection, RunQueryDsl};
use serde_json::Value;

/// Where tests start the clock unless they move it.
pub const TEST_NOW: &str = "2026-11-25T10:00:00Z";

pub struct TestApp {
    pub address: String,
    /// The `/metrics` listener's port, when the settings ask for one.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub app: actix_web::web::Data<App>,
    handle: actix_web::dev::ServerHandle,
    settings: Settings,
    db: Arc<TestDatabase>,
}

/// A parsed HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(self.body["status"], status, "{}", self.text);
    }
}

pub fn init_logging() {
    let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into());
    clinic_api::telemetry::init(clinic_api::config::LogFormat::Text, &filter);
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(TestDatabase::create(), configure)
}

/// Starts the application on a database the test looks after itself (a
/// throwaway PostgreSQL cluster it restarts, an SQLite file it fills).
pub async fn spawn_app_on(url: DatabaseUrl, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(
        TestDatabase {
            url,
            cleanup: Cleanup::None,
        },
        configure,
    )
}

fn spawn_app_in(db: TestDatabase, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let db = Arc::new(db);
    let mut settings = Settings::for_database(db.url.clone());
    settings.bind_addr = "127.0.0.1:0".parse().unwrap();
    settings.database_pool_size = 8;
    // Tests hammer the API from one address with one phone number; the
    // abuse limits have their own tests.
    settings.abuse.rate_limit_per_minute = 0;
    settings.abuse.max_holds_per_client = 10_000;
    settings.abuse.max_holds_per_address = 10_000;
    settings.abuse.max_holds_per_partner = 10_000;
    // Webhook tests drive deliveries by hand; the loop stays out of the way.
    settings.webhooks.poll_interval = std::time::Duration::from_secs(3600);
    settings.webhooks.allow_http = true;
    settings.webhooks.allow_private_targets = true;
    // Likewise the notification worker (tests run passes by hand).
    settings.notifications.poll_interval = std::time::Duration::from_secs(3600);
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(TEST_NOW.parse::<DateTime<Utc>>().unwrap()));
    start(settings, clock, db)
}

/// Starts the application on its own thread and runtime, as in production,
/// so a test that blocks its own thread cannot stall the server.
fn start(settings: Settings, clock: Arc<ManualClock>, db: Arc<TestDatabase>) -> TestApp {
    let (tx, rx) = std::sync::mpsc::channel();
    let server_clock = clock.clone();
    let server_settings = settings.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Application::build(
                server_settings,
                server_clock,
                RunOptions {
                    handle_signals: false,
                    workers: 2,
                },
            )
            .await
            .expect("the application starts");
            tx.send((app.port(), app.metrics_port(), app.app(), app.handle()))
                .unwrap();
            let _ = app.run_until_stopped().await;
        });
    });
    let (port, metrics_port, app, handle) = rx.recv().expect("the server thread reports its port");
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        address,
        metrics_port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        app,
        handle,
        settings,
        db,
    }
}

impl TestApp {
    /// Stops this server (draining requests) and starts a new one on the
    /// same database, settings and clock: a restart.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Stops this server at once, dropping the requests in flight (as a
    /// crash would, but for the process), and starts a new one on the same
    /// database, settings and clock.
    pub async fn crash_and_restart(self) -> TestApp {
        self.handle.stop(false).await;
        let (settings, clock, db) = (self.settings.clone(), self.clock.clone(), self.db.clone());
        drop(self);
        start(settings, clock, db)
    }

    /// Like [`TestApp::restart`], with settings changed for the new start.
    pub async fn restart_with(self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        self.handle.stop(true).await;
        let (mut settings, clock, db) =
            (self.settings.clone(), self.clock.clone(), self.db.clone());
        configure(&mut settings);
        drop(self);
        start(settings, clock, db)
    }

    /// A second instance of the application on the same database, with
    /// the same settings and clock (several instances on one PostgreSQL).
    pub fn another_instance(&self) -> TestApp {
        start(self.settings.clone(), self.clock.clone(), self.db.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates an API key with the role directly in the database.
    pub async fn key(&self, role: Role) -> String {
        let now = self.now();
        let _ = now;
        clinic_api::app::api_keys::create(&self.app, "test key", role)
            .await
            .unwrap()
            .key
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.request(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(reqwest::Method::DELETE, path, token, None)
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database guard then removes the data.
        drop(self.handle.stop(false));
    }
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The test that made it removes it.
    None,
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

pub fn postgres_base() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

impl TestDatabase {
    pub fn create() -> Self {
        match postgres_base() {
            Some(base) => {
                let name = format!("clinic_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&base)
                    .expect("TEST_DATABASE_URL must reach PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create a test database");
                let url = replace_db_name(&base, &name);
                TestDatabase {
                    url: DatabaseUrl::parse(&url).unwrap(),
                    cleanup: Cleanup::Postgres {
                        admin_url: base,
                        name,
                    },
                }
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("clinic.db");
                TestDatabase {
                    url: DatabaseUrl::Sqlite(path),
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
        }
    }
}

fn replace_db_name(base: &str, name: &str) -> String {
    let (head, tail) = match base.find('?') {
        Some(i) => base.split_at(i),
        None => (base, ""),
    };
    let cut = head.rfind('/').expect("a database URL has a path");
    format!("{}/{}{}", &head[..cut], name, tail)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}
