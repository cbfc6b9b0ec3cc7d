//! A throwaway PostgreSQL cluster for fault tests: `initdb` into a
//! temporary folder, a server on a spare loopback port, and the faults —
//! stop, start, freeze (SIGSTOP) and thaw. It never touches the shared
//! server on 5432. PostgreSQL refuses to run as root, so as root every
//! command runs as the `postgres` user (`runuser`), in a folder it owns.
//!
//! Anything missing (no PostgreSQL installed, no `postgres` user as root)
//! fails the test with a message saying what to install: a fault test
//! that cannot make its fault must not pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::{Connection, RunQueryDsl};

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The newest installed PostgreSQL's programs.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "fault tests need PostgreSQL's initdb and pg_ctl under /usr/lib/postgresql/*/bin \
             (Debian: apt-get install postgresql); none found"
        )
    })
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn is_root() -> bool {
    let out = output(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn id_of(flag: &str, user: &str) -> u32 {
    let out = output(Command::new("id").args([flag, user]));
    assert!(
        out.status.success(),
        "running as root, fault tests run PostgreSQL as the `{user}` user, which does not exist \
         (Debian's postgresql package creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Creates the cluster, starts it and creates the database `clinic`.
    pub fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("clinic-pg-")
            .tempdir()
            .unwrap();
        let as_postgres = is_root();
        if as_postgres {
            std::os::unix::fs::chown(
                dir.path(),
                Some(id_of("-u", "postgres")),
                Some(id_of("-g", "postgres")),
            )
            .unwrap();
        }
        let cluster = Cluster {
            dir,
            bin,
            port: spare_port(),
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        cluster.start_server();
        let mut admin = diesel::PgConnection::establish(&cluster.url_of("postgres"))
            .expect("the throwaway cluster accepts connections");
        diesel::sql_query("CREATE DATABASE clinic")
            .execute(&mut admin)
            .unwrap();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = output(self.command(program).args(args));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The test database's URL.
    pub fn url(&self) -> String {
        self.url_of("clinic")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// `pg_ctl stop -m fast`: every session is ended, the server shuts down.
    pub fn stop_server(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Whether a new connection gets an answer now (as `psql` would).
    pub fn answers(&self) -> bool {
        diesel::PgConnection::establish(&self.url())
            .and_then(|mut c| {
                diesel::sql_query("SELECT 1")
                    .execute(&mut c)
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
            })
            .is_ok()
    }

    fn postmaster(&self) -> u32 {
        let pid = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("the server is running");
        pid.lines().next().unwrap().trim().parse().unwrap()
    }

    /// The postmaster and every process it started (backends included).
    fn processes(&self) -> Vec<u32> {
        let pm = self.postmaster();
        let mut pids = vec![pm];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces.
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pm) {
                pids.push(pid);
            }
        }
        pids
    }

    fn signal(&self, signal: &str) {
        for pid in self.processes() {
            // A process may have ended meanwhile: nothing to signal.
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    /// Freezes the whole server (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            self.thaw();
            let _ = self
                .command("pg_ctl")
                .args([
                    "-D",
                    &self.data().to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
        }
    }
}
