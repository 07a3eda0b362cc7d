//! The YANG modules pass `yanglint` and `pyang --lint` with no warnings at all.
//! yanglint gets `-y` so the ietf-datastores module libyang keeps internally is there for
//! ietf-netconf-nmda to import, as in netloomd's own context.
//! `tests/run.sh` installs both (Debian's libyang2-tools, pyang in `.venv`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn modules() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../yang/modules");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yang"))
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

fn tool(name: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    if venv.exists() {
        return venv;
    }
    PathBuf::from(name)
}

fn run_clean(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what} is not installed ({e}); run tests/run.sh, which installs it")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{what} complained:\n{text}"
    );
}

#[test]
fn yanglint_accepts_every_module_silently() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../yang/modules");
    for m in modules() {
        run_clean(
            Command::new(tool("yanglint"))
                .arg("-y")
                .arg("-p")
                .arg(&dir)
                .arg(&m),
            "yanglint",
        );
    }
}

#[test]
fn pyang_lint_accepts_every_module_silently() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../yang/modules");
    for m in modules() {
        run_clean(
            Command::new(tool("pyang"))
                .arg("--lint")
                .arg("-p")
                .arg(&dir)
                .arg(&m),
            "pyang --lint",
        );
    }
}
