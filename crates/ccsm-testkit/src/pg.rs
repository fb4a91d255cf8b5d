//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, the server
//! on a Unix socket in that dir (no TCP port), stopped (by its pid) when dropped.
//!
//! `initdb` refuses to run as root: as root, the cluster is made and run as the
//! `nobody` user (uid and gid 65534), which owns the temp dir. The binaries are
//! `$CCSM_TEST_PG_BIN` (set by `scripts/test`), else Debian's newest
//! `/usr/lib/postgresql/*/bin`; a test that needs PostgreSQL fails loudly
//! without them, it never skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The environment variable naming the dir of PostgreSQL's server binaries.
pub const PG_BIN_ENV: &str = "CCSM_TEST_PG_BIN";

/// The uid and gid the cluster runs as when the tests run as root.
const NOBODY: u32 = 65534;

/// The dir of `initdb`, `postgres`, `pg_isready` and `createdb`.
pub fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os(PG_BIN_ENV) {
        let p = PathBuf::from(p);
        assert!(
            p.join("initdb").is_file(),
            "{PG_BIN_ENV}={} has no initdb: run scripts/test, which installs PostgreSQL",
            p.display()
        );
        return p;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, {PG_BIN_ENV} unset): \
             run scripts/test, which installs Debian's postgresql package"
        )
    })
}

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    server: Option<Child>,
    port: u16,
}

fn as_owner(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    if nix::unistd::geteuid().is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// Makes and starts a cluster; returns once it accepts connections.
    pub fn start() -> Self {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("ccsm-pg-")
            .tempdir()
            .expect("temp dir for the cluster");
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY))
                .expect("giving the cluster's dir to nobody");
        }
        let data = dir.path().join("data");
        run(
            as_owner(
                Command::new(bin.join("initdb"))
                    .arg("-D")
                    .arg(&data)
                    .args(["-U", "ccsm", "--auth=trust", "--no-sync", "-E", "UTF8"])
                    .arg("--no-locale"),
            ),
            "initdb",
        );
        let mut me = Self {
            dir,
            bin,
            server: None,
            port: 5432,
        };
        me.start_server();
        me
    }

    /// Starts the server on the cluster's data dir (again, after [`Self::stop`]).
    pub fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is running already");
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("server log");
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(
                self.dir.path().join("server.log"),
                Some(NOBODY),
                Some(NOBODY),
            )
            .expect("chown log");
        }
        let err = log.try_clone().expect("log");
        let child = as_owner(
            Command::new(self.bin.join("postgres"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .arg("-k")
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string()])
                .args(["-c", "listen_addresses="])
                // A throwaway cluster: speed over durability (never the user's).
                .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
                .args(["-c", "max_connections=200"])
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .process_group(0),
        )
        .spawn()
        .expect("starting postgres");
        self.server = Some(child);
        let ready = self.bin.join("pg_isready");
        let sock = self.dir.path().to_path_buf();
        let port = self.port;
        crate::wait_for(
            "postgres to accept connections",
            Duration::from_secs(60),
            || {
                Command::new(&ready)
                    .arg("-q")
                    .arg("-h")
                    .arg(&sock)
                    .args(["-p", &port.to_string(), "-U", "ccsm", "-d", "postgres"])
                    .status()
                    .ok()
                    .filter(|s| s.success())
            },
        );
    }

    /// Stops the server (fast shutdown: sessions are cut, committed work kept).
    pub fn stop(&mut self) {
        self.signal_and_wait(nix::sys::signal::Signal::SIGINT);
    }

    /// Kills the server as a crash would (no shutdown checkpoint).
    pub fn kill(&mut self) {
        self.signal_and_wait(nix::sys::signal::Signal::SIGKILL);
    }

    fn signal_and_wait(&mut self, sig: nix::sys::signal::Signal) {
        if let Some(mut child) = self.server.take() {
            // The server's own process group: its backends go with it.
            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, sig);
            let _ = child.wait();
            if sig == nix::sys::signal::Signal::SIGKILL {
                let _ = nix::sys::signal::killpg(pgid, sig);
            }
        }
    }

    /// The socket dir.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        run(
            Command::new(self.bin.join("createdb"))
                .arg("-h")
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string(), "-U", "ccsm", name]),
            "createdb",
        );
        self.url(name)
    }

    /// The URL of a database of this cluster.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres:///{name}?host={}&port={}&user=ccsm",
            self.dir.path().display(),
            self.port
        )
    }

    /// What the server logged (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate shutdown: the cluster is thrown away.
        self.signal_and_wait(nix::sys::signal::Signal::SIGQUIT);
    }
}
