//! netloom-cni: the CNI plugin a container runtime execs. It forwards the call (the CNI_*
//! environment and the network config on stdin) as one length-prefixed JSON frame to
//! netloomd's CNI socket and prints the daemon's answer. It stays tiny (std and serde_json
//! only, no async runtime) because the runtime execs it for every pod interface.
//!
//! The socket is the config's `socket` key, else `$NETLOOM_CNI_SOCKET`, else
//! `/run/netloom/cni.sock`. A daemon that is restarting is waited for (up to the config's
//! `daemonWaitSeconds`, default 10) before the call fails with CNI code 11 ("try again
//! later"); VERSION is answered locally when the daemon is away.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const DEFAULT_SOCKET: &str = "/run/netloom/cni.sock";
const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const MAX_FRAME: usize = 4 << 20;
/// How long one call may take once the daemon has it (a 3-interface ADD takes milliseconds).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

const VARS: &[&str] = &[
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
];

fn main() -> ExitCode {
    // the daemon logs how long the call took to reach it (exec, reading stdin, connecting)
    let started_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut stdin = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut stdin) {
        return fail(
            "1.1.0",
            5,
            "cannot read the network config from stdin",
            &e.to_string(),
        );
    }
    let config: Option<Value> = serde_json::from_str(&stdin).ok();
    let version = config
        .as_ref()
        .and_then(|c| c.get("cniVersion"))
        .and_then(Value::as_str)
        .unwrap_or("1.1.0")
        .to_owned();
    let command = std::env::var("CNI_COMMAND").unwrap_or_default();
    let socket = config
        .as_ref()
        .and_then(|c| c.get("socket"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| std::env::var("NETLOOM_CNI_SOCKET").ok())
        .unwrap_or_else(|| DEFAULT_SOCKET.to_owned());
    let wait = config
        .as_ref()
        .and_then(|c| c.get("daemonWaitSeconds"))
        .and_then(Value::as_f64)
        .unwrap_or(10.0)
        .clamp(0.0, 600.0);
    let env: serde_json::Map<String, Value> = VARS
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .map(|v| (k.to_string(), Value::String(v)))
        })
        .collect();
    let request = json!({ "env": env, "stdin": stdin, "startedUs": started_us }).to_string();

    let Some(mut stream) = connect(&socket, Duration::from_secs_f64(wait)) else {
        return match command.as_str() {
            "VERSION" => {
                print_ok(&json!({"cniVersion": version, "supportedVersions": SUPPORTED_VERSIONS}))
            }
            "STATUS" => fail(&version, 50, "netloomd is not reachable", &socket),
            _ => fail(
                &version,
                11,
                "netloomd is not reachable; try again later",
                &socket,
            ),
        };
    };
    match exchange(&mut stream, request.as_bytes()) {
        Ok(reply) => {
            let output = reply.get("output").cloned().unwrap_or(Value::Null);
            let ok = reply.get("ok").and_then(Value::as_bool).unwrap_or(false);
            if !output.is_null() {
                println!("{output}");
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        // the daemon went away mid-call: the runtime retries (ADD) or calls DEL
        Err(e) => fail(
            &version,
            11,
            "netloomd did not answer; try again later",
            &e.to_string(),
        ),
    }
}

/// Connect, retrying with backoff while the socket is absent or refuses (daemon restarting).
fn connect(path: &str, wait: Duration) -> Option<UnixStream> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(10);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Some(s),
            Err(_) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(250));
            }
        }
    }
}

fn exchange(stream: &mut UnixStream, body: &[u8]) -> std::io::Result<Value> {
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "config too large"))?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(body)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "reply too large",
        ));
    }
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply)?;
    serde_json::from_slice(&reply).map_err(std::io::Error::other)
}

fn print_ok(v: &Value) -> ExitCode {
    println!("{v}");
    ExitCode::SUCCESS
}

fn fail(version: &str, code: u32, msg: &str, details: &str) -> ExitCode {
    println!(
        "{}",
        json!({"cniVersion": version, "code": code, "msg": msg, "details": details})
    );
    ExitCode::FAILURE
}
