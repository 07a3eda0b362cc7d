//! `netloomd` as an operator starts it: embedded defaults, first-start admin password,
//! clean stop on SIGTERM, refusal of a foreign database file or a second instance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn netloomd(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netloomd"));
    c.current_dir(cwd)
        .args(args)
        .env("NETLOOM_LOG", "info")
        .env_remove("NETLOOM_ADMIN_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Read the daemon's log until it says it is ready; returns the lines read.
fn wait_ready(child: &mut Child) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let ready = line.contains("netloomd ready");
        seen.push(line);
        if ready {
            // keep draining the log so the daemon never blocks on a full pipe
            std::thread::spawn(move || lines.for_each(drop));
            return seen;
        }
    }
    panic!("netloomd exited before it was ready: {seen:#?}");
}

fn stop(mut child: Child) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap()
}

#[test]
fn runs_on_embedded_defaults_and_stops_cleanly() {
    let cwd = tempfile::tempdir().unwrap();
    let mut d = netloomd(cwd.path(), &[], &[]);
    let log = wait_ready(&mut d);
    assert!(
        log.iter().any(|l| l.contains("created user admin")),
        "{log:#?}"
    );
    let data = cwd.path().join("netloom-data");
    assert!(data.join("netloom.db").exists());
    let pw = data.join("admin-password");
    let mode = std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&pw).unwrap().trim().len() >= 20);

    // a second daemon on the same data dir is refused
    let second = Command::new(env!("CARGO_BIN_EXE_netloomd"))
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another netloomd"));

    assert!(stop(d).success());
    // restart: no new admin, the config is still there
    let mut d = netloomd(cwd.path(), &[], &[]);
    let log = wait_ready(&mut d);
    assert!(!log.iter().any(|l| l.contains("created user admin")));
    assert!(
        log.iter().any(|l| l.contains("commit=1 units=1")),
        "{log:#?}"
    );
    assert!(stop(d).success());
}

#[test]
fn admin_password_from_the_environment_writes_no_file() {
    let cwd = tempfile::tempdir().unwrap();
    let mut d = netloomd(
        cwd.path(),
        &["--data-dir", "dd"],
        &[("NETLOOM_ADMIN_PASSWORD", "correct horse")],
    );
    wait_ready(&mut d);
    assert!(!cwd.path().join("dd/admin-password").exists());
    assert!(stop(d).success());
}

#[test]
fn refuses_a_foreign_database_and_leaves_it_untouched() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("netloom-data");
    std::fs::create_dir(&data).unwrap();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(data.join("netloom.db"), &garbage).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netloomd"))
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an SQLite database"), "{err}");
    assert_eq!(std::fs::read(data.join("netloom.db")).unwrap(), garbage);
}
