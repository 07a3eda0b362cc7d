//! What the CLI tests share: a raw CLI socket connection, `netloom` on a pseudo-terminal
//! or as a script, and bounded polling.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use netloom_tests::{netloom_path, Daemon};
use rexpect::session::PtySession;
use serde_json::{json, Value};

/// One CLI socket connection.
pub struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    pub fn open(d: &Daemon) -> Conn {
        let s = UnixStream::connect(&d.cli_socket).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    pub fn ask(&mut self, request: Value) -> Value {
        writeln!(self.writer, "{request}").unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    pub fn ok(&mut self, request: Value) -> Value {
        let r = self.ask(request.clone());
        assert_eq!(r["ok"], true, "{request} -> {r}");
        r
    }
}

pub fn set(path: &str, value: Value) -> Value {
    json!({"op": "edit", "edits": [{"op": "merge", "path": path, "value": value}]})
}

pub const PROMPT: &str = "root@netloom> ";
pub const CONFIG_PROMPT: &str = "root@netloom# ";

/// `netloom` on a fresh pseudo-terminal, talking to `d`.
pub fn terminal(d: &Daemon, home: &std::path::Path) -> PtySession {
    let mut c = Command::new(netloom_path());
    c.env("NETLOOM_CLI_SOCKET", &d.cli_socket)
        .env("HOME", home)
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(c, Some(15_000)).unwrap();
    p.exp_string(PROMPT).unwrap();
    p
}

/// Run one line and wait for the next fresh prompt (an empty line with the cursor after the
/// prompt; line editing redraws the prompt too, followed by the line); returns what came
/// before it.
pub fn run(p: &mut PtySession, line: &str, prompt: &str) -> String {
    p.send_line(line).unwrap();
    p.exp_string(&format!("{prompt}\r\x1b[{}C", prompt.len()))
        .unwrap()
}

/// Type keys (no Enter) and make sure they reach the terminal now.
pub fn keys(p: &mut PtySession, text: &str) {
    p.send(text).unwrap();
    p.flush().unwrap();
}

/// `netloom -c ...` as a script: (exit code, stdout, stderr).
pub fn script(d: &Daemon, commands: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(netloom_path());
    c.env("NETLOOM_CLI_SOCKET", &d.cli_socket);
    for cmd in commands {
        c.arg("-c").arg(cmd);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn running_network(d: &Daemon, name: &str) -> Value {
    let mut c = Conn::open(d);
    let r = c
        .ok(json!({"op": "get", "path": format!("/netloom-host:networks/network[name='{name}']")}));
    r["data"]["netloom-host:networks"]["network"][0].clone()
}

/// Poll until `check` holds (bounded).
pub fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
