//! Commit-pipeline benchmarks on the real engine (SQLite file, fsync per commit, libyang
//! validation, memory dataplane). Prints one table; run with
//! `cargo bench -p netloom-daemon --bench commit`.
//!
//! Figures the foundation issue names: one-leaf commit p50 at 1k/10k/100k entries (flat),
//! bulk commit of 100k entries, get-config of 100k entries as JSON, 1,000 sequential durable
//! one-entry commits at 10k, rollback 100 commits back at 100k.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use netloom_daemon::Engine;
use netloom_northbound::api::Principal;
use netloom_southbound::MemoryDriver;
use netloom_store::DatastoreId;
use netloom_yang::{DataPath, Edit, EditOp, Schema};
use serde_json::{json, Value};

const NETWORKS: usize = 8;

fn who() -> Principal {
    Principal {
        session: 1,
        user: "bench".into(),
    }
}

fn edit(op: EditOp, path: &str, value: Option<Value>) -> Edit {
    Edit {
        op,
        path: DataPath::parse_xpath(path).expect("path"),
        value,
    }
}

fn pod_path(i: usize) -> String {
    format!(
        "/netloom-host:pods/pod[namespace='ns{}'][name='pod-{i}']",
        i % 100
    )
}

fn pod(i: usize) -> Value {
    let k = i % NETWORKS;
    let j = i / NETWORKS;
    json!({
        "namespace": format!("ns{}", i % 100),
        "name": format!("pod-{i}"),
        "interface": [{
            "name": "eth0",
            "network": format!("net{k}"),
            "address": [format!("10.{k}.{}.{}", j / 250, j % 250 + 2)],
            "default-route": true
        }]
    })
}

fn networks() -> Edit {
    let list: Vec<Value> = (0..NETWORKS)
        .map(|k| {
            json!({"name": format!("net{k}"), "type": "bridge",
                   "ipam": {"pool": [{"name": "v4", "subnet": format!("10.{k}.0.0/16"), "gateway": format!("10.{k}.0.1")}]}})
        })
        .collect();
    edit(
        EditOp::Merge,
        "/netloom-host:networks",
        Some(json!({"network": list})),
    )
}

fn pods(n: usize) -> Edit {
    let list: Vec<Value> = (0..n).map(pod).collect();
    edit(
        EditOp::Merge,
        "/netloom-host:pods",
        Some(json!({"pod": list})),
    )
}

/// CPU time the whole process has used (all threads, user + system), from /proc: the bulk
/// figure's cost independent of what else the machine runs.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    let ticks = f.iter().sum::<u64>();
    Duration::from_millis(ticks * 10)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

struct Row(String, String, String);

fn one_leaf(engine: &mut Engine, n: usize, count: usize, seed: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(count);
    for c in 0..count {
        let i = (seed + c * 7919) % n;
        let mac = format!(
            "02:00:00:{:02x}:{:02x}:{:02x}",
            (c >> 16) & 0xff,
            (c >> 8) & 0xff,
            c & 0xff
        );
        let e = edit(
            EditOp::Merge,
            &format!("{}/interface[name='eth0']/mac", pod_path(i)),
            Some(json!(mac)),
        );
        let t = Instant::now();
        engine
            .edit(&who(), DatastoreId::Running, &[e], None)
            .expect("one-leaf commit");
        out.push(t.elapsed());
    }
    out
}

fn main() {
    // `cargo test --benches` runs benches with --test-ish args; only run on `cargo bench`.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    if let Ok(filter) = std::env::var("NETLOOM_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    // NETLOOM_BENCH=bulk: only the bulk commits (for profiling).
    let only_bulk = std::env::var("NETLOOM_BENCH").is_ok_and(|v| v == "bulk");
    let schema = Arc::new(Schema::new().expect("schema"));
    let mut rows: Vec<Row> = Vec::new();
    let mut p50s = Vec::new();
    for &n in &[1_000usize, 10_000, 100_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut engine = Engine::open(
            schema.clone(),
            &dir.path().join("n.db"),
            Box::new(MemoryDriver::new()),
        )
        .expect("engine");
        engine
            .edit(&who(), DatastoreId::Running, &[networks()], None)
            .expect("networks");
        // the request as a front end hands it over (already parsed)
        let bulk_edit = pods(n);
        let (t, cpu) = (Instant::now(), cpu_time());
        engine
            .edit(&who(), DatastoreId::Running, vec![bulk_edit], None)
            .expect("bulk");
        let bulk = t.elapsed();
        let cpu = cpu_time().saturating_sub(cpu);
        if only_bulk {
            if n == 100_000 {
                println!(
                    "bulk commit of {n} new entries: {} (cpu {})",
                    ms(bulk),
                    ms(cpu)
                );
            }
            continue;
        }
        rows.push(Row(
            format!("bulk commit of {n} new entries (one transaction)"),
            ms(bulk),
            if n == 100_000 {
                "<= 2000 ms".into()
            } else {
                String::new()
            },
        ));

        // warm up, then measure
        one_leaf(&mut engine, n, 20, 1);
        let mut s = one_leaf(&mut engine, n, 300, 12345);
        let p50 = percentile(&mut s, 0.5);
        let p99 = percentile(&mut s, 0.99);
        p50s.push(p50);
        rows.push(Row(
            format!("one-leaf commit at {n} entries, p50 / p99"),
            format!("{} / {}", ms(p50), ms(p99)),
            if n == 100_000 {
                "p50 <= 5 ms".into()
            } else {
                String::new()
            },
        ));

        if n == 10_000 {
            let t = Instant::now();
            let count = 1000;
            one_leaf(&mut engine, n, count, 777);
            let rate = count as f64 / t.elapsed().as_secs_f64();
            rows.push(Row(
                format!("{count} sequential durable one-entry commits at {n}"),
                format!("{rate:.0} commits/s"),
                ">= 1000/s".into(),
            ));
        }
        if n == 100_000 {
            let running = engine.snapshot(DatastoreId::Running);
            let t = Instant::now();
            let mut buf = Vec::with_capacity(32 << 20);
            schema
                .write_json(running.units.iter().map(|(k, v)| (k, &**v)), &mut buf)
                .expect("write");
            let get = t.elapsed();
            rows.push(Row(
                format!("get-config of {n} entries as JSON ({} MB)", buf.len() >> 20),
                ms(get),
                "<= 500 ms".into(),
            ));

            let target = running.commit_id - 100;
            let t = Instant::now();
            engine.rollback(&who(), target, None).expect("rollback");
            rows.push(Row(
                format!("rollback to a commit 100 commits back at {n}"),
                ms(t.elapsed()),
                "<= 100 ms".into(),
            ));
        }
    }
    if only_bulk {
        return;
    }
    let flat = p50s[2].as_secs_f64() / p50s[0].as_secs_f64();
    rows.push(Row(
        "one-leaf p50 at 100k / at 1k".into(),
        format!("{flat:.2}x"),
        "<= 2x".into(),
    ));
    rows.push(Row(
        "peers (published): Clixon, sysrepo one-entry change at 100k".into(),
        "110-260 ms".into(),
        String::new(),
    ));
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    println!("\n{:w$}  {:>24}  goal", "benchmark", "result");
    for r in rows {
        println!("{:w$}  {:>24}  {}", r.0, r.1, r.2);
    }
}
