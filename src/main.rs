//! The `clinic-api` command: serve (default), migrate, openapi, api-key, purge.

use std::process::ExitCode;
use std::sync::Arc;

use clinic_api::app::{api_keys, maintenance, App};
use clinic_api::clock::SystemClock;
use clinic_api::config::Settings;
use clinic_api::db::Db;
use clinic_api::domain::actor::Role;
use clinic_api::startup::{Application, RunOptions};
use clinic_api::{api, store, telemetry};

const USAGE: &str = "usage:
  clinic-api [serve]                                   run the API (default)
  clinic-api migrate                                   apply database migrations
  clinic-api openapi                                   print the OpenAPI document
  clinic-api api-key create --role admin|staff|partner --name NAME
                                                       create a key; prints only the key
  clinic-api api-key revoke ID_OR_PREFIX               revoke a key at once
  clinic-api api-key list                              list keys (never the secrets)
  clinic-api purge                                     apply retention periods now
  clinic-api healthcheck                               exit 0 when the local server is ready

configuration comes from the environment; see README.md";

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["-h" | "--help" | "help"]) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.as_slice() == ["openapi"] {
        print!("{}", api::openapi_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    let result = match args.as_slice() {
        [] | ["serve"] => serve(settings),
        ["migrate"] => migrate(&settings),
        ["api-key", "create", rest @ ..] => create_key(settings, rest),
        ["api-key", "revoke", id] => revoke_key(settings, id),
        ["api-key", "list"] => list_keys(&settings),
        ["purge"] => purge(settings),
        ["healthcheck"] => healthcheck(&settings),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fail(&msg),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("clinic-api: {msg}");
    ExitCode::FAILURE
}

fn runtime(settings: &Settings) -> Result<tokio::runtime::Runtime, String> {
    // Database work runs on the blocking pool; a bound near the connection
    // pool's size makes excess requests queue instead of growing hundreds
    // of threads (and their memory) under overload.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(settings.database_pool_size as usize + 4)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// glibc gives threads that allocate at the same time their own malloc
/// arenas, up to eight per core, and each keeps what it once held: under
/// load the blocking pool's threads leave many partly used arenas behind.
/// Two arenas keep peak memory near what is in use, with no throughput
/// cost measurable in the benchmark (BENCHMARKS.md).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs first in
    // main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    let rt = runtime(&settings)?;
    rt.block_on(async {
        let app = Application::build(settings, Arc::new(SystemClock), RunOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(port = app.port(), "listening");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn open(settings: &Settings) -> Result<Db, String> {
    let options = clinic_api::db::DbOptions {
        pool_size: 2,
        ..settings.db_options()
    };
    let db = Db::open_with(&settings.database_url, options).map_err(|e| e.to_string())?;
    db.migrate()
        .map_err(|e| format!("cannot migrate {}: {e}", settings.database_url.masked()))?;
    Ok(db)
}

/// Runs a command's use case on its own runtime, with the application
/// built as the server builds it (but not serving).
fn with_app<T>(
    settings: Settings,
    work: impl AsyncFnOnce(&App) -> Result<T, String>,
) -> Result<T, String> {
    let rt = runtime(&settings)?;
    rt.block_on(async {
        let db = open(&settings)?;
        let payments = clinic_api::payments::from_settings(&settings)?;
        let app = App::new(db, Arc::new(settings), Arc::new(SystemClock), payments);
        work(&app).await
    })
}

fn migrate(settings: &Settings) -> Result<(), String> {
    let options = clinic_api::db::DbOptions {
        pool_size: 1,
        ..settings.db_options()
    };
    let db = Db::open_with(&settings.database_url, options).map_err(|e| e.to_string())?;
    let applied = db
        .migrate()
        .map_err(|e| format!("cannot migrate {}: {e}", settings.database_url.masked()))?;
    eprintln!(
        "applied {applied} migration(s) to {}",
        settings.database_url.masked()
    );
    Ok(())
}

fn create_key(settings: Settings, args: &[&str]) -> Result<(), String> {
    let (mut role, mut name) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match *flag {
            "--role" => role = it.next().copied(),
            "--name" => name = it.next().copied(),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let role = role
        .and_then(Role::parse)
        .ok_or("--role must be admin, staff or partner")?;
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 100)
        .ok_or("--name is required (1 to 100 characters)")?
        .to_owned();
    let created = with_app(settings, async |app| {
        api_keys::create(app, &name, role)
            .await
            .map_err(|e| e.to_string())
    })?;
    eprintln!(
        "created {} key {} ({})",
        role.as_str(),
        created.id,
        created.prefix
    );
    println!("{}", created.key);
    Ok(())
}

fn revoke_key(settings: Settings, id: &str) -> Result<(), String> {
    let revoked = with_app(settings, async |app| {
        api_keys::revoke(app, id).await.map_err(|e| e.to_string())
    })?;
    if revoked {
        eprintln!("revoked {id}");
        Ok(())
    } else {
        Err(format!("no live key with id or prefix {id}"))
    }
}

fn list_keys(settings: &Settings) -> Result<(), String> {
    let db = open(settings)?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    for k in store::api_keys::list(&mut conn).map_err(|e| e.to_string())? {
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else {
            "live"
        };
        println!("{}\t{}\t{}\t{}\t{}", k.id, k.prefix, k.role, state, k.name);
    }
    Ok(())
}

fn purge(settings: Settings) -> Result<(), String> {
    let report = with_app(settings, async |app| {
        maintenance::run_once(app).await.map_err(|e| e.to_string())
    })?;
    eprintln!("{report:?}");
    Ok(())
}

/// Asks the server on `BIND_ADDR` for `/health/ready` (for container
/// health checks: no curl needed in the image).
fn healthcheck(settings: &Settings) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
    use std::time::Duration;

    let mut addr = settings.bind_addr;
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port());
    }
    let timeout = Duration::from_secs(4);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot reach {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 16];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!(
            "not ready: {}",
            status_line.lines().next().unwrap_or("")
        ))
    }
}
