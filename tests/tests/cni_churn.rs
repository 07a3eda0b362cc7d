//! Allocate/free churn on the CNI service in-process: several threads ADD and DEL pods
//! (each ADD leases an address from one small pool, each DEL frees it), some pods are
//! abandoned without a DEL the way a crashed runtime leaves them, and a GC thread keeps
//! calling GC with the runtime's list of valid attachments. What runs is the daemon's real
//! CNI service, IPAM, ledger (SQLite, fsync per group commit) and attachment table; the
//! pod dataplane is the memory driver, so the figure is the IPAM + ledger + attachment
//! path, not netlink.
//!
//! Checked: at every ADD, no live pod holds any address the ADD got (zero duplicates);
//! after the churn, the ledger holds exactly the addresses of the live pods and the
//! attachment table exactly their interfaces; after the final DELs and GC, both are empty
//! (zero leaks). A stall of the churn (a deadlock in the service) fails the test instead
//! of hanging it.
//!
//! `NETLOOM_CHURN_CYCLES` sets the number of ADD/DEL cycles (default 2,000 for CI, ~25 s in a debug build); the
//! issue's figure is 10^5:
//! `NETLOOM_CHURN_CYCLES=100000 cargo test --release -p netloom-tests --test cni_churn -- --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netloom_daemon::cni::CniService;
use netloom_daemon::service::{Jobs, Service};
use netloom_daemon::Engine;
use netloom_northbound::cni::{CniBackend, CniCall, Command};
use netloom_southbound::{MemoryDriver, MemoryPods};
use netloom_tests::cni::{conf, seed};
use netloom_yang::Schema;
use serde_json::{json, Value};

const WORKERS: usize = 6;
/// Pods a worker keeps attached at most: 6 x 24 = 144 of the pool's 253 addresses, so
/// addresses are reused all the time and a lease freed twice or never shows up.
const WINDOW: usize = 24;
/// One ADD in this many is abandoned (no DEL): only GC frees it.
const ABANDON_EVERY: u64 = 37;
/// Between two GCs.
const GC_PAUSE: Duration = Duration::from_millis(20);
/// No cycle completing for this long is a hang.
const STALL: Duration = Duration::from_secs(60);

/// What the test knows as the runtime: who is valid, and which addresses live pods hold.
#[derive(Default)]
struct Runtime {
    /// Containers the runtime still knows (from before their ADD until after their DEL).
    valid: Mutex<HashSet<String>>,
    /// Address -> the live container holding it.
    held: Mutex<HashMap<String, String>>,
    duplicates: AtomicU64,
    failures: Mutex<Vec<String>>,
}

fn call(command: Command, cid: &str, config: Value) -> CniCall {
    CniCall {
        command,
        container_id: cid.into(),
        netns: format!("/run/netns/{cid}"),
        ifname: "eth0".into(),
        args: vec![
            ("K8S_POD_NAMESPACE".into(), "churn".into()),
            ("K8S_POD_NAME".into(), cid.into()),
        ],
        path: String::new(),
        config,
        cni_version: "1.1.0".into(),
    }
}

fn addresses(result: &Value) -> Vec<String> {
    result["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["address"].as_str())
        .map(|a| a.split('/').next().unwrap_or(a).to_owned())
        .collect()
}

type Pairs = BTreeSet<(String, String)>;

/// The ledger as (owner, address) and the attachment table as (container, interface).
fn store_view(jobs: &Jobs) -> (Pairs, Pairs) {
    jobs.run(|e: &mut Engine| {
        let store = e.store_mut();
        let ledger = store
            .allocations(None)
            .unwrap()
            .into_iter()
            .map(|a| (a.owner, a.address))
            .collect();
        let rows = store
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| (a.container_id, a.interface))
            .collect();
        (ledger, rows)
    })
    .unwrap()
}

fn worker(
    w: usize,
    cni: &CniService,
    rt: &Runtime,
    config: &Value,
    cycles: &AtomicU64,
    target: u64,
) -> Vec<String> {
    let mut live: Vec<(String, Vec<String>)> = Vec::new();
    let mut n: u64 = 0;
    let forget = |cid: &str, addrs: &[String]| {
        let mut held = rt.held.lock().unwrap();
        for a in addrs {
            held.remove(a);
        }
        drop(held);
        rt.valid.lock().unwrap().remove(cid);
    };
    while cycles.load(Ordering::Relaxed) < target {
        n += 1;
        // add while the window has room, else free the oldest
        if live.len() < WINDOW && (!n.is_multiple_of(3) || live.is_empty()) {
            let cid = format!("w{w}-{n}");
            rt.valid.lock().unwrap().insert(cid.clone());
            match cni.call(call(Command::Add, &cid, config.clone())) {
                Ok(Some(r)) => {
                    let got = addresses(&r);
                    let mut held = rt.held.lock().unwrap();
                    for a in &got {
                        if let Some(other) = held.insert(a.clone(), cid.clone()) {
                            rt.duplicates.fetch_add(1, Ordering::Relaxed);
                            rt.failures
                                .lock()
                                .unwrap()
                                .push(format!("{a} given to {cid} while {other} holds it"));
                        }
                    }
                    drop(held);
                    if n.is_multiple_of(ABANDON_EVERY) {
                        // the runtime lost it: no DEL, only GC frees it
                        forget(&cid, &got);
                    } else {
                        live.push((cid, got));
                    }
                }
                other => {
                    rt.valid.lock().unwrap().remove(&cid);
                    rt.failures
                        .lock()
                        .unwrap()
                        .push(format!("ADD {cid}: {other:?}"));
                }
            }
        } else {
            let (cid, addrs) = live.remove(0);
            // forgotten before the DEL: its addresses may be handed out once it releases
            rt.held.lock().unwrap().retain(|a, _| !addrs.contains(a));
            match cni.call(call(Command::Del, &cid, config.clone())) {
                Ok(None) => {}
                other => rt
                    .failures
                    .lock()
                    .unwrap()
                    .push(format!("DEL {cid}: {other:?}")),
            }
            rt.valid.lock().unwrap().remove(&cid);
            cycles.fetch_add(1, Ordering::Relaxed);
        }
    }
    live.into_iter().map(|(cid, _)| cid).collect()
}

fn gc_call(valid: &HashSet<String>, config: &Value) -> CniCall {
    let mut c = config.clone();
    c["cni.dev/valid-attachments"] = valid
        .iter()
        .map(|cid| json!({"containerID": cid, "ifname": "eth0"}))
        .collect();
    call(Command::Gc, "", c)
}

#[test]
fn allocate_free_churn_under_concurrent_add_del_gc() {
    let target: u64 = std::env::var("NETLOOM_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    seed(
        dir.path(),
        &[(
            "/netloom-host:networks/network[name='churn']",
            json!({"type": "bridge", "ipam": {"pool": [
                {"name": "v4", "subnet": "10.66.0.0/24", "gateway": "10.66.0.1"}]}}),
        )],
    );
    let schema = Arc::new(Schema::new().unwrap());
    let engine = Engine::open(
        schema.clone(),
        &dir.path().join("netloom.db"),
        Box::new(MemoryDriver::new()),
    )
    .unwrap();
    let (service, handle) = Service::start(engine).unwrap();
    let jobs = service.jobs();
    let cni = Arc::new(
        CniService::start(
            jobs.clone(),
            handle.clone(),
            &schema,
            Arc::new(MemoryPods::default()),
        )
        .unwrap(),
    );
    let config = conf(json!({"network": "churn"}));
    let rt = Arc::new(Runtime::default());
    let cycles = Arc::new(AtomicU64::new(0));
    let stop_gc = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let gc = {
        let (cni, rt, config, stop) = (cni.clone(), rt.clone(), config.clone(), stop_gc.clone());
        std::thread::spawn(move || {
            let mut runs = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // like a runtime, no new ADD starts between taking the list and the GC
                // (calls already in flight go on): a pod attached after the list was
                // taken is not in it and would be, rightly, collected
                let valid = rt.valid.lock().unwrap();
                if let Err(e) = cni.call(gc_call(&valid, &config)) {
                    rt.failures.lock().unwrap().push(format!("GC: {e:?}"));
                }
                runs += 1;
                // pacing, not synchronisation: a runtime collects now and then, not
                // back to back (each GC reads the whole attachment table)
                std::thread::sleep(GC_PAUSE);
            }
            runs
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (cni, rt, config, cycles) =
                (cni.clone(), rt.clone(), config.clone(), cycles.clone());
            std::thread::spawn(move || worker(w, &cni, &rt, &config, &cycles, target))
        })
        .collect();
    // a deadlock shows as cycles that stop moving: fail with where it stopped
    let mut last = (0, Instant::now());
    while !workers.iter().all(|w| w.is_finished()) {
        let now = cycles.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < STALL,
            "churn stalled at {now} cycles for {STALL:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let live: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop_gc.store(true, Ordering::Relaxed);
    let gc_runs = gc.join().unwrap();
    let elapsed = started.elapsed();
    let done = cycles.load(Ordering::Relaxed);
    let failures = rt.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_eq!(rt.duplicates.load(Ordering::Relaxed), 0);

    // one more GC with the runtime's list: abandoned pods go, live ones stay
    let valid = rt.valid.lock().unwrap().clone();
    assert_eq!(valid, live.iter().cloned().collect::<HashSet<_>>());
    assert_eq!(cni.call(gc_call(&valid, &config)).unwrap(), None);
    let (ledger, rows) = store_view(&jobs);
    let held: BTreeSet<(String, String)> = rt
        .held
        .lock()
        .unwrap()
        .iter()
        .map(|(a, cid)| (cid.clone(), a.clone()))
        .collect();
    assert_eq!(ledger, held, "the ledger is not the live pods' addresses");
    let live_rows: BTreeSet<(String, String)> = live
        .iter()
        .map(|c| (c.clone(), "eth0".to_owned()))
        .collect();
    assert_eq!(rows, live_rows, "the attachment table is not the live pods");

    for cid in &live {
        assert_eq!(
            cni.call(call(Command::Del, cid, config.clone())).unwrap(),
            None
        );
    }
    assert_eq!(cni.call(gc_call(&HashSet::new(), &config)).unwrap(), None);
    let (ledger, rows) = store_view(&jobs);
    assert!(ledger.is_empty(), "leaked leases: {ledger:?}");
    assert!(rows.is_empty(), "leaked attachments: {rows:?}");
    eprintln!(
        "churn: {done} ADD/DEL cycles, {WORKERS} workers, {gc_runs} GCs in {:.1} s: {:.0} cycles/s; \
         duplicates 0, ledger = live pods ({} leases) before the final DELs, 0 leases and 0 attachments after",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        held.len()
    );
    drop((cni, handle, jobs));
    service.join();
}
