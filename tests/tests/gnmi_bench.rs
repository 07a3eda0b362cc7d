//! gNMI figures the issue asks for, against the real netloomd on loopback (ignored by
//! default: `cargo test -p netloom-tests --test gnmi_bench -- --ignored --nocapture`;
//! `NETLOOM_BENCH_ENTRIES` sets the size, default 100000):
//! - ON_CHANGE latency: a Set sent -> its update read by a subscriber (includes the commit);
//! - Set of one leaf into N entries: round trip;
//! - SAMPLE every 1 s of N leaves to 4 subscribers, on the wire: samples complete, missed
//!   intervals (a gap > 1.5 s between complete samples, by their stamps or by when they were
//!   read), daemon CPU (`NETLOOM_BENCH_SAMPLE_SECS`, default 12).
//!
//! The data is N pods (one interface each) on one network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use netloom_northbound::gnmi::proto::gnmi::subscribe_request::Request as In;
use netloom_northbound::gnmi::proto::gnmi::subscribe_response::Response as Out;
use netloom_northbound::gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    Encoding, Path, PathElem, SetRequest, SubscribeRequest, Subscription, SubscriptionList,
    SubscriptionMode, TypedValue, Update,
};
use netloom_tests::{gnmi_tally, Daemon, ADMIN_PASSWORD};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

fn elem(name: &str, key: Option<&str>) -> PathElem {
    PathElem {
        name: name.into(),
        key: key
            .into_iter()
            .map(|k| ("name".to_owned(), k.to_owned()))
            .collect(),
    }
}

/// `/pods/pod[namespace=bench][name=NAME]/interface[name=eth0]/default-route`
fn leaf_path(pod: &str) -> Path {
    let key = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Path {
        elem: vec![
            elem("pods", None),
            PathElem {
                name: "pod".into(),
                key: key(&[("namespace", "bench"), ("name", pod)]),
            },
            PathElem {
                name: "interface".into(),
                key: key(&[("name", "eth0")]),
            },
            elem("default-route", None),
        ],
        ..Path::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn gnmi_bench() {
    let n: usize = std::env::var("NETLOOM_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let connect = || async {
        let ch = Channel::from_shared(format!("http://{}", d.gnmi))
            .unwrap()
            .connect()
            .await
            .unwrap();
        GNmiClient::with_interceptor(ch, |mut r: tonic::Request<()>| {
            r.metadata_mut()
                .insert("username", "admin".parse().unwrap());
            r.metadata_mut()
                .insert("password", ADMIN_PASSWORD.parse().unwrap());
            Ok(r)
        })
        .max_decoding_message_size(usize::MAX)
    };
    let mut c = connect().await;
    // N pods with one interface each on one network: a pod's scope is itself and its
    // network, so a one-leaf Set validates O(1) units (networks are validated as a whole).
    let pods: Vec<_> = (0..n)
        .map(|i| json!({"namespace": "bench", "name": format!("p{i}"), "interface": [{"name": "eth0", "network": "net", "default-route": false}]}))
        .collect();
    let doc = json!({"netloom-host:networks": {"network": [{"name": "net", "type": "bridge"}]}, "netloom-host:pods": {"pod": pods}});
    let t = Instant::now();
    c.set(SetRequest {
        update: vec![Update {
            path: Some(Path::default()),
            val: Some(TypedValue {
                value: Some(Tv::JsonIetfVal(doc.to_string().into_bytes())),
            }),
            ..Update::default()
        }],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    println!("| load {n} pods in one Set | {:?} |", t.elapsed());

    // ON_CHANGE latency and Set round trip, one leaf of N entries.
    let (tx, rx) = mpsc::channel(1);
    tx.send(SubscribeRequest {
        request: Some(In::Subscribe(SubscriptionList {
            mode: ListMode::Stream.into(),
            encoding: Encoding::Proto.into(),
            updates_only: true,
            subscription: vec![Subscription {
                path: Some(leaf_path("p7")),
                mode: SubscriptionMode::OnChange.into(),
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut sub = connect()
        .await
        .subscribe(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    while !matches!(
        sub.message().await.unwrap().unwrap().response,
        Some(Out::SyncResponse(true))
    ) {}
    let (mut sets, mut changes, mut wire) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..200u64 {
        let want = i % 2 == 0;
        let t = Instant::now();
        let set = c.set(SetRequest {
            update: vec![Update {
                path: Some(leaf_path("p7")),
                val: Some(TypedValue {
                    value: Some(Tv::BoolVal(want)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        let (r, seen) = tokio::join!(
            async {
                let r = set.await;
                (r, t.elapsed())
            },
            async {
                loop {
                    if let Some(Out::Update(u)) = sub.message().await.unwrap().unwrap().response {
                        if u.update.iter().any(|u| {
                            u.val.as_ref().and_then(|v| v.value.clone()) == Some(Tv::BoolVal(want))
                        }) {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap();
                            // The notification's timestamp is the commit's time (ms resolution).
                            return (
                                t.elapsed(),
                                now.saturating_sub(Duration::from_nanos(u.timestamp as u64)),
                            );
                        }
                    }
                }
            }
        );
        r.0.unwrap();
        sets.push(r.1);
        changes.push(seen.0);
        wire.push(seen.1);
    }
    drop(tx);
    sets.sort();
    changes.sort();
    wire.sort();
    println!(
        "| Set of one leaf into {n} entries, p50 / p99 | {:?} / {:?} |",
        percentile(&sets, 0.5),
        percentile(&sets, 0.99)
    );
    println!(
        "| ON_CHANGE: Set sent -> update read, p50 / p99 | {:?} / {:?} |",
        percentile(&changes, 0.5),
        percentile(&changes, 0.99)
    );
    println!(
        "| ON_CHANGE: commit time -> update read (ms-resolution stamp), p50 / p99 | {:?} / {:?} |",
        percentile(&wire, 0.5),
        percentile(&wire, 0.99)
    );

    // SAMPLE at 1 s of N leaves (one per pod, PROTO) to 4 subscribers, measured on the
    // wire: each subscriber notes every notification's own timestamp and when it was read.
    let run = Duration::from_secs(
        std::env::var("NETLOOM_BENCH_SAMPLE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12),
    );
    let request = SubscribeRequest {
        request: Some(In::Subscribe(SubscriptionList {
            mode: ListMode::Stream.into(),
            encoding: Encoding::Proto.into(),
            updates_only: true,
            subscription: vec![Subscription {
                path: Some(Path {
                    elem: vec![
                        elem("pods", None),
                        elem("pod", None),
                        elem("interface", None),
                        elem("default-route", None),
                    ],
                    ..Default::default()
                }),
                mode: SubscriptionMode::Sample.into(),
                sample_interval: 1_000_000_000,
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    };
    let pid = d.pid().unwrap();
    let (cpu0, client0, t0) = (
        cpu_ticks(pid),
        cpu_ticks(std::process::id()),
        Instant::now(),
    );
    let tasks: Vec<_> = (0..4)
        .map(|_| tokio::spawn(gnmi_tally::record(d.gnmi, request.clone(), run)))
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0 / secs;
    let client = (cpu_ticks(std::process::id()) - client0) as f64 / 100.0 / secs;
    println!("| SAMPLE 1 s of {n} leaves, {} s, per subscriber | samples expected (at least) / complete / partial | missed (gap > 1.5 s) | max gap, stamps / reads | max time to read one sample |", run.as_secs());
    let expected = run.as_secs() - 1;
    let mut missed_total = 0;
    for (i, arrivals) in results.iter().enumerate() {
        let samples = gnmi_tally::samples(arrivals);
        let complete: Vec<_> = samples.iter().filter(|s| s.updates == n).collect();
        let gaps = |f: fn(&gnmi_tally::Sample) -> i64| -> Vec<i64> {
            complete.windows(2).map(|w| f(w[1]) - f(w[0])).collect()
        };
        let stamp_gaps = gaps(|s| s.timestamp);
        let read_gaps = gaps(|s| s.last_ns);
        let missed = stamp_gaps
            .iter()
            .chain(&read_gaps)
            .filter(|&&g| g > 1_500_000_000)
            .count();
        missed_total += missed;
        let ms = |ns: i64| ns as f64 / 1e6;
        println!(
            "| subscriber {i} | {expected} / {} / {} | {missed} | {:.0} ms / {:.0} ms | {:.0} ms |",
            complete.len(),
            samples.len() - complete.len(),
            ms(stamp_gaps.iter().copied().max().unwrap_or(0)),
            ms(read_gaps.iter().copied().max().unwrap_or(0)),
            ms(complete
                .iter()
                .map(|s| s.last_ns - s.timestamp)
                .max()
                .unwrap_or(0)),
        );
    }
    println!(
        "| SAMPLE 1 s of {n} leaves to 4 subscribers: daemon CPU / this client's CPU | {:.0}% / {:.0}% of one core | missed intervals: {missed_total} |",
        cpu * 100.0,
        client * 100.0
    );
}
