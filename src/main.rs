//! The `clinic-api` command: serve (default), migrate, openapi, api-key, purge.

use std::process::ExitCode;
use std::sync::Arc;

use clinic_api::app::{api_keys, maintenance, App};
use clinic_api::clock::{Clock, ShiftedClock, SystemClock};
use clinic_api::config::Settings;
use clinic_api::db::{DatabaseUrl, Db};
use clinic_api::domain::actor::Role;
use clinic_api::startup::{Application, RunOptions};
use clinic_api::{api, store, telemetry};

const USAGE: &str = "usage:
  clinic-api [serve]                                   run the API and the booking page (default)
  clinic-api migrate                                   apply database migrations
  clinic-api openapi                                   print the OpenAPI document
  clinic-api api-key create --role admin|staff|partner --name NAME
                                                       create a key; prints only the key
  clinic-api api-key revoke ID_OR_PREFIX               revoke a key at once
  clinic-api api-key list                              list keys (never the secrets)
  clinic-api purge                                     apply retention periods now
  clinic-api healthcheck                               exit 0 when the local server is ready
  clinic-api --version                                 print the version
  clinic-api COMMAND --help                            help on one command

configuration comes from the environment (DATABASE_URL, BIND_ADDR, ...); see README.md";

/// `--help` of each command.
fn help(command: &[&str]) -> Option<&'static str> {
    Some(match command {
        [] | ["serve"] => {
            "usage: clinic-api [serve]

Runs the API, the booking page (/) and Swagger UI (/swagger-ui/) on BIND_ADDR
(default 127.0.0.1:8080). Opens DATABASE_URL (default sqlite://data/clinic.db,
created if missing), applies pending migrations and, on an empty database,
loads the seed content. SIGTERM or Ctrl-C drains in-flight requests (up to
30 s) and exits."
        }
        ["migrate"] => {
            "usage: clinic-api migrate

Applies pending migrations to DATABASE_URL (a SQLite file is created if
missing; a PostgreSQL database must exist) and says how many it applied."
        }
        ["openapi"] => {
            "usage: clinic-api openapi

Prints the OpenAPI document on stdout (what /api-docs/openapi.json serves).
Needs no database."
        }
        ["api-key"] => {
            "usage:
  clinic-api api-key create --role admin|staff|partner --name NAME
  clinic-api api-key revoke ID_OR_PREFIX
  clinic-api api-key list

Manages the API keys of DATABASE_URL, which must already exist (start the
server or run `clinic-api migrate` first). Try `clinic-api api-key create --help`."
        }
        ["api-key", "create"] => {
            "usage: clinic-api api-key create --role admin|staff|partner --name NAME

Creates a key and prints it, and only it, on stdout (it is stored as a hash
and never shown again); what was created, and in which database, goes to
stderr. admin: every route; staff: the diary, catalogue and money; partner:
bookings it makes and their webhooks."
        }
        ["api-key", "revoke"] => {
            "usage: clinic-api api-key revoke ID_OR_PREFIX

Revokes a live key by its id or its prefix (ck_xxxxxxxx), effective at once."
        }
        ["api-key", "list"] => {
            "usage: clinic-api api-key list

Lists the keys (id, prefix, role, live or revoked, name) of DATABASE_URL,
tab-separated on stdout; never the secrets."
        }
        ["purge"] => {
            "usage: clinic-api purge

Runs the periodic maintenance once, now, on DATABASE_URL (which must exist):
expires lapsed holds, asks the payment provider about pending payments,
retries pending refunds, and applies the retention periods (README,
\"Retention\"). Says what it did."
        }
        ["healthcheck"] => {
            "usage: clinic-api healthcheck

Asks the server on BIND_ADDR for /health/ready; exit status 0 when it is
ready (for container health checks)."
        }
        _ => return None,
    })
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["-h" | "--help" | "help"]) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if matches!(args.as_slice(), ["-V" | "--version" | "version"]) {
        println!("clinic-api {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let asks_help = args.iter().any(|a| matches!(*a, "-h" | "--help"));
    if asks_help || args.first() == Some(&"help") {
        // The command's words, before any option: `api-key create --role x --help`.
        let words: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| *a != "help")
            .take_while(|a| !a.starts_with('-'))
            .collect();
        let text =
            help(&words[..words.len().min(2)]).or_else(|| help(&words[..words.len().min(1)]));
        return match text {
            Some(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("{USAGE}");
                ExitCode::from(2)
            }
        };
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
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
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
    let clock = clock_for(&settings);
    rt.block_on(async {
        let database = settings.database_url.masked();
        let time_zone = settings.clinic_timezone.name();
        let app = Application::build(settings.clone(), clock, RunOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let local = app.local_url();
        // The public address when one is configured, else where it listens.
        let public = if settings.public_base_url == format!("http://{}", settings.bind_addr) {
            local.clone()
        } else {
            settings.public_base_url.clone()
        };
        tracing::info!(
            database = %database,
            payments = %app.app().payments.name(),
            time_zone = %time_zone,
            listening = %local,
            booking_page = %format!("{public}/"),
            swagger_ui = %format!("{local}/swagger-ui/"),
            demo_clock = settings.demo_clock,
            "clinic-api {} serving",
            env!("CARGO_PKG_VERSION"),
        );
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// Refuses a SQLite database that does not exist yet: a command run from
/// the wrong directory must not quietly create an empty one.
fn existing(settings: &Settings) -> Result<(), String> {
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        if !path.exists() {
            let full = std::env::current_dir()
                .map(|d| d.join(path).display().to_string())
                .unwrap_or_default();
            return Err(format!(
                "no database at {} ({full}): run this where the server runs, or set \
                 DATABASE_URL (the server, or `clinic-api migrate`, creates it)",
                settings.database_url.masked()
            ));
        }
    }
    Ok(())
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
        let clock = clock_for(&settings);
        let app = App::new(db, Arc::new(settings), clock, payments);
        work(&app).await
    })
}

/// The system clock, or a rehearsal server's (`DEMO_CLOCK`).
fn clock_for(settings: &Settings) -> Arc<dyn Clock> {
    if settings.demo_clock {
        Arc::new(ShiftedClock::default())
    } else {
        Arc::new(SystemClock)
    }
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
    existing(&settings)?;
    let database = settings.database_url.masked();
    let created = with_app(settings, async |app| {
        api_keys::create(app, &name, role)
            .await
            .map_err(|e| e.to_string())
    })?;
    eprintln!(
        "created {} key {} ({}) in {database}",
        role.as_str(),
        created.id,
        created.prefix
    );
    println!("{}", created.key);
    Ok(())
}

fn revoke_key(settings: Settings, id: &str) -> Result<(), String> {
    existing(&settings)?;
    let database = settings.database_url.masked();
    let revoked = with_app(settings, async |app| {
        api_keys::revoke(app, id).await.map_err(|e| e.to_string())
    })?;
    if revoked {
        eprintln!("revoked {id} in {database}");
        Ok(())
    } else {
        Err(format!("no live key with id or prefix {id} in {database}"))
    }
}

fn list_keys(settings: &Settings) -> Result<(), String> {
    existing(settings)?;
    eprintln!("keys in {}:", settings.database_url.masked());
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
    existing(&settings)?;
    let database = settings.database_url.masked();
    let report = with_app(settings, async |app| {
        // Retention judged on a rehearsal database's own clock, never on
        // the real one (and not at all without DEMO_CLOCK=true there).
        clinic_api::app::demo_clock::prepare(app)
            .await
            .map_err(|e| format!("cannot purge {database}: {e}"))?;
        maintenance::run_once(app).await.map_err(|e| e.to_string())
    })?;
    println!("maintenance of {database} done:");
    for (n, what) in [
        (report.holds_expired, "lapsed holds expired"),
        (
            report.payments_reconciled,
            "pending payments settled with the provider",
        ),
        (report.refunds_made, "pending refunds made"),
        (report.screenings_purged, "unused screenings deleted"),
        (
            report.ended_bookings_anonymised,
            "ended bookings stripped of personal data",
        ),
        (
            report.idempotency_records_purged,
            "expired idempotency records deleted",
        ),
        (
            report.rate_limit_windows_purged,
            "old rate-limit counters deleted",
        ),
    ] {
        println!("  {n:>5}  {what}");
    }
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
