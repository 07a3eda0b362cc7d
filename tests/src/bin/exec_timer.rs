//! Times plugin executions for the CNI bench (`tests/bench/cni.sh`): each call from just
//! before its exec to its exit, so the bench's own language (Python forking from a large,
//! threaded process) is not counted in either plugin's latency. Reads on stdin
//! `{"concurrent": bool, "calls": [{"argv": [..], "env": {..}, "stdin": ".."}]}`; runs the
//! calls one after another, or all at once (every call on its own thread, released
//! together), and prints `{"wallMs": f, "calls": [{"ms": f, "ok": bool, "output": ".."}]}`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde_json::{json, Value};

struct Call {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    stdin: String,
}

fn parse(v: &Value) -> Option<Call> {
    let argv: Vec<String> = v
        .get("argv")?
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let env = v
        .get("env")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let stdin = v.get("stdin").and_then(Value::as_str)?.to_owned();
    (!argv.is_empty()).then_some(Call { argv, env, stdin })
}

/// Exec one call and wait for its exit: (milliseconds, success, stdout and stderr).
fn run(call: &Call) -> (f64, bool, String) {
    let started = Instant::now();
    let child = Command::new(&call.argv[0])
        .args(&call.argv[1..])
        .env_clear()
        .envs(call.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (0.0, false, format!("exec {}: {e}", call.argv[0])),
    };
    if let Some(mut input) = child.stdin.take() {
        // a plugin that exits without reading its config is its own failure, seen below
        let _ = input.write_all(call.stdin.as_bytes());
    }
    let out = child.wait_with_output();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match out {
        Ok(o) => (
            ms,
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (ms, false, e.to_string()),
    }
}

fn main() {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        fail(&format!("reading stdin: {e}"));
    }
    let request: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("stdin is not JSON: {e}")));
    let concurrent = request
        .get("concurrent")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let calls: Vec<Call> = request
        .get("calls")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(parse).collect())
        .unwrap_or_default();
    let mut started = Instant::now();
    let results: Vec<(f64, bool, String)> = if concurrent {
        let calls: Vec<Arc<Call>> = calls.into_iter().map(Arc::new).collect();
        // every thread is made and waiting before the first exec
        let go = Arc::new(Barrier::new(calls.len() + 1));
        let threads: Vec<_> = calls
            .iter()
            .map(|c| {
                let (c, go) = (c.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    run(&c)
                })
            })
            .collect();
        go.wait();
        started = Instant::now();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| (0.0, false, "timer thread panicked".into()))
            })
            .collect()
    } else {
        calls.iter().map(run).collect()
    };
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let calls: Vec<Value> = results
        .into_iter()
        .map(|(ms, ok, output)| json!({"ms": ms, "ok": ok, "output": output}))
        .collect();
    println!("{}", json!({"wallMs": wall, "calls": calls}));
}

fn fail(msg: &str) -> ! {
    eprintln!("netloom-exec-timer: {msg}");
    std::process::exit(2)
}
