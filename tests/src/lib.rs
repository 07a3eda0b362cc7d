//! The end-to-end harness: `netloomd` started for real in a temp data dir, every listener on a
//! free loopback port or a socket inside that dir, the admin password known to the test, and
//! the daemon stopped (SIGTERM, then SIGKILL) when the harness is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cni;
pub mod gnmi;
pub mod gnmi_tally;
pub mod link_probe;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

/// The admin password every harness daemon starts with.
pub const ADMIN_PASSWORD: &str = "netloom-test-admin";

/// Where `cargo test` put `netloomd`: beside the test binary's `deps/` folder, or `$NETLOOMD`.
pub fn netloomd_path() -> PathBuf {
    if let Some(p) = std::env::var_os("NETLOOMD") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("netloomd");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or build netloom-daemon)",
        bin.display()
    );
    bin
}

/// A workspace binary beside `netloomd` (where `cargo build --workspace --bins` puts it), or
/// the path in `$env_var`.
fn sibling_bin(name: &str, env_var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let bin = netloomd_path().with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`, \
         as tests/run.sh does)",
        bin.display()
    );
    bin
}

/// The `netloom-cni` shim, or `$NETLOOM_CNI`.
pub fn netloom_cni_path() -> PathBuf {
    sibling_bin("netloom-cni", "NETLOOM_CNI")
}

/// The `netloom` CLI, or `$NETLOOM`.
pub fn netloom_path() -> PathBuf {
    sibling_bin("netloom", "NETLOOM")
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    /// The data dir (a temp dir unless the test gave one).
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub restconf: SocketAddr,
    pub netconf: SocketAddr,
    pub gnmi: SocketAddr,
    pub cni_socket: PathBuf,
    pub cli_socket: PathBuf,
    args: Vec<String>,
    /// A command the daemon runs under (e.g. `nsenter --net=...`), empty for none.
    wrapper: Vec<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Start on a fresh temp data dir with `extra` arguments.
    pub fn start(extra: &[&str]) -> Daemon {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        Self::start_in(dir, Some(temp), extra)
    }

    /// Start on the given data dir (e.g. to restart on the same database).
    pub fn start_in(data_dir: PathBuf, temp: Option<tempfile::TempDir>, extra: &[&str]) -> Daemon {
        Self::start_wrapped(data_dir, temp, &[], extra)
    }

    /// Start under `wrapper` (e.g. `["nsenter", "--net=/run/netns/x"]` to run the daemon in
    /// a network namespace the test made).
    pub fn start_wrapped(
        data_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        wrapper: &[&str],
        extra: &[&str],
    ) -> Daemon {
        let mut d = Daemon {
            child: None,
            restconf: SocketAddr::from(([127, 0, 0, 1], free_port())),
            netconf: SocketAddr::from(([127, 0, 0, 1], free_port())),
            gnmi: SocketAddr::from(([127, 0, 0, 1], free_port())),
            cni_socket: data_dir.join("cni.sock"),
            cli_socket: data_dir.join("cli.sock"),
            data_dir,
            _temp: temp,
            args: extra.iter().map(|s| s.to_string()).collect(),
            wrapper: wrapper.iter().map(|s| s.to_string()).collect(),
            log: Arc::default(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        // The ports are picked free but released before netloomd binds them, so another
        // test's listener can take one in between: then pick again (bounded).
        for _ in 0..4 {
            if self.try_spawn(true) {
                return;
            }
            self.log.lock().unwrap().clear();
            self.restconf.set_port(free_port());
            self.netconf.set_port(free_port());
            self.gnmi.set_port(free_port());
        }
        self.try_spawn(false);
    }

    /// Start netloomd and wait until it is ready. False when it exited because a port was
    /// taken and `may_retry`; any other early exit panics with the daemon's log.
    fn try_spawn(&mut self, may_retry: bool) -> bool {
        let mut c = match self.wrapper.split_first() {
            Some((cmd, args)) => {
                let mut c = Command::new(cmd);
                c.args(args).arg(netloomd_path());
                c
            }
            None => Command::new(netloomd_path()),
        };
        c.arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--restconf")
            .arg(self.restconf.to_string())
            .arg("--netconf")
            .arg(self.netconf.to_string())
            .arg("--gnmi")
            .arg(self.gnmi.to_string())
            .arg("--cni-socket")
            .arg(&self.cni_socket)
            .arg("--cli-socket")
            .arg(&self.cli_socket)
            .args(&self.args)
            .env(
                "NETLOOM_LOG",
                std::env::var("NETLOOM_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NETLOOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawning netloomd");
        let stderr = child.stderr.take().expect("stderr pipe");
        let mut lines = BufReader::new(stderr).lines();
        let log = self.log.clone();
        let mut ready = false;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            let is_ready = line.contains("netloomd ready");
            log.lock().unwrap().push(line);
            if is_ready {
                ready = true;
                break;
            }
        }
        if !ready {
            let status = child.wait().ok();
            let port_taken =
                (self.log.lock().unwrap().iter()).any(|l| l.contains("Address already in use"));
            if may_retry && port_taken {
                return false;
            }
            panic!(
                "netloomd exited before it was ready ({status:?}):\n{}",
                self.log.lock().unwrap().join("\n")
            );
        }
        // Keep draining (and keeping) the log so the daemon never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
        self.child = Some(child);
        true
    }

    /// The daemon's log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Whether a log line containing `needle` appears within `within` (the log is read on
    /// another thread, so a line the daemon wrote just before an event the test saw may
    /// not be here yet).
    pub fn wait_log(&self, needle: &str, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            if (self.log.lock().unwrap().iter()).any(|l| l.contains(needle)) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The last `n` lines of the daemon's log, for a failing test's message.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// Stop with SIGTERM and wait; returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(&child, "-TERM");
        Some(child.wait().expect("waiting for netloomd"))
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same data dir and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .arg(sig)
        .arg(child.id().to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-TERM");
            // Bounded: a daemon that does not stop in 10 s is killed.
            for _ in 0..1000 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The repo's Python venv (made by `packaging/dev-setup.sh`, which installs every Python
/// client the tests drive); panics with the fix when a module is missing.
pub fn python(modules: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let py = root.join(".venv/bin/python");
    for m in modules {
        let ok = py.exists()
            && Command::new(&py)
                .args(["-c", &format!("import {m}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python module {m} is missing from {}: run packaging/dev-setup.sh",
            py.display()
        );
    }
    py
}
