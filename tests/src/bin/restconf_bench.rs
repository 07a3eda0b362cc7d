//! RESTCONF benchmarks the RESTCONF issue names, against the real daemon on loopback (plain
//! HTTP/1.1 keep-alive connections, so TLS and client start-up are not what is measured):
//! - PATCH of one list entry into a running config of N (default 100k) entries: p50/p99;
//! - GET of all N entries as JSON: time to the last byte, and the daemon's peak RSS growth
//!   during it against the size of the data;
//! - 1,000 GETs of one entry from 50 concurrent connections: throughput and p99.
//!
//! Run: `cargo run -p netloom-tests --bin netloom-restconf-bench [-- ENTRIES]`
//! (`tests/bench/restconf.sh` builds and runs it; set NETLOOMD to time another build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use netloom_tests::{Daemon, ADMIN_PASSWORD};

struct Conn {
    r: BufReader<TcpStream>,
    auth: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
        Conn {
            r: BufReader::new(s),
            auth,
        }
    }

    /// Send a request; returns the status and the body length (the body is read and dropped).
    fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, usize) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {}\r\nAccept: application/yang-data+json\r\n",
            self.auth
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/yang-data+json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let s = self.r.get_mut();
        s.write_all(req.as_bytes()).unwrap();
        if let Some(b) = body {
            s.write_all(b.as_bytes()).unwrap();
        }
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut total = 0;
        if chunked {
            loop {
                line.clear();
                self.r.read_line(&mut line).unwrap();
                let n = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut buf = vec![0u8; n + 2];
                self.r.read_exact(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                total += n;
            }
        } else if let Some(n) = length {
            let mut buf = vec![0u8; n];
            self.r.read_exact(&mut buf).unwrap();
            total = n;
        }
        (status, total)
    }
}

const NETWORKS: usize = 8;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let entries: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut d = Daemon::start(&["--restconf-plaintext", "--restconf-max-body", "268435456"]);
    let pid = d.pid().unwrap();
    let mut c = Conn::open(d.restconf);

    // The foundation's bench shape: 8 networks with pools, N pods each with one interface
    // and a fixed address (a pod change validates the pod and what it references).
    let mut nets = String::from("{\"netloom-host:networks\":{\"network\":[");
    for k in 0..NETWORKS {
        if k > 0 {
            nets.push(',');
        }
        nets.push_str(&format!(
            "{{\"name\":\"net{k}\",\"type\":\"bridge\",\"ipam\":{{\"pool\":[{{\"name\":\"v4\",\"subnet\":\"10.{k}.0.0/16\",\"gateway\":\"10.{k}.0.1\"}}]}}}}"
        ));
    }
    nets.push_str("]}}");
    let (status, _) = c.call("PUT", "/restconf/data/netloom-host:networks", Some(&nets));
    assert!(status == 201 || status == 204, "networks: {status}");
    let mut body = String::from("{\"netloom-host:pods\":{\"pod\":[");
    for i in 0..entries {
        if i > 0 {
            body.push(',');
        }
        let (k, j) = (i % NETWORKS, i / NETWORKS);
        body.push_str(&format!(
            "{{\"namespace\":\"ns{}\",\"name\":\"pod-{i}\",\"interface\":[{{\"name\":\"eth0\",\"network\":\"net{k}\",\"address\":[\"10.{k}.{}.{}\"]}}]}}",
            i % 100,
            j / 250,
            j % 250 + 2
        ));
    }
    body.push_str("]}}");
    let t = Instant::now();
    let (status, _) = c.call("PUT", "/restconf/data/netloom-host:pods", Some(&body));
    assert!(status == 201 || status == 204, "load: {status}");
    println!(
        "load {entries} pods with one PUT ({} bytes): {}",
        body.len(),
        ms(t.elapsed())
    );

    // PATCH one entry (a pod interface's MAC), sequentially.
    let mut lat = Vec::new();
    for k in 0..300usize {
        let i = (k * 7919) % entries;
        let b = format!(
            "{{\"netloom-host:interface\":[{{\"name\":\"eth0\",\"mac\":\"02:00:00:00:{:02x}:{:02x}\"}}]}}",
            k >> 8,
            k & 0xff
        );
        let t = Instant::now();
        let (status, _) = c.call(
            "PATCH",
            &format!(
                "/restconf/data/netloom-host:pods/pod=ns{},pod-{i}/interface=eth0",
                i % 100
            ),
            Some(&b),
        );
        lat.push(t.elapsed());
        assert_eq!(status, 204, "patch");
    }
    lat.sort();
    println!(
        "PATCH one entry at {entries}: p50 {} p99 {} (300 sequential, one connection)",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );

    // GET everything as JSON; peak RSS growth while answering.
    let before = rss_kib(pid, "VmRSS:");
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    // Cross-check of the kernel's high-water mark: VmRSS sampled every millisecond
    // while the GETs run.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(rss_kib(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_millis(1));
            }
            max
        })
    };
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let (status, n) = c.call("GET", "/restconf/data/netloom-host:pods/pod", None);
        times.push(t.elapsed());
        assert_eq!(status, 200);
        size = n;
    }
    let peak = rss_kib(pid, "VmHWM:");
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let sampled = sampler.join().unwrap();
    times.sort();
    println!(
        "GET {entries} entries as JSON ({size} bytes): {} to the last byte (best of 3; worst {}); daemon RSS {} KiB before, peak {} KiB: growth {} KiB = {:.2}x the data",
        ms(times[0]),
        ms(times[2]),
        before,
        peak,
        peak.saturating_sub(before),
        peak.saturating_sub(before) as f64 * 1024.0 / size.max(1) as f64
    );
    println!(
        "  sampled VmRSS during the GETs: max {sampled} KiB: growth {} KiB = {:.2}x the data",
        sampled.saturating_sub(before),
        sampled.saturating_sub(before) as f64 * 1024.0 / size.max(1) as f64
    );

    // The daemon above still holds the heap the 100k-entry PUT grew (the allocator keeps
    // freed memory), which a GET can reuse without growing RSS. Again on a fresh daemon
    // that only loaded the same running config from its database.
    d.restart();
    let pid = d.pid().unwrap();
    let mut c = Conn::open(d.restconf);
    let before = rss_kib(pid, "VmRSS:");
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let t = Instant::now();
    let (status, size) = c.call("GET", "/restconf/data/netloom-host:pods/pod", None);
    let took = t.elapsed();
    assert_eq!(status, 200);
    let peak = rss_kib(pid, "VmHWM:");
    println!(
        "after a restart: GET {entries} entries ({size} bytes) {}; daemon RSS {before} KiB before, peak {peak} KiB: growth {} KiB = {:.2}x the data",
        ms(took),
        peak.saturating_sub(before),
        peak.saturating_sub(before) as f64 * 1024.0 / size.max(1) as f64
    );

    // 1,000 GETs of one entry over 50 connections.
    let addr = d.restconf;
    let t = Instant::now();
    let workers: Vec<_> = (0..50)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                let mut lat = Vec::new();
                for k in 0..20 {
                    let i = (w * 20 + k) % entries;
                    let t = Instant::now();
                    let (status, _) = c.call(
                        "GET",
                        &format!("/restconf/data/netloom-host:pods/pod=ns{},pod-{i}", i % 100),
                        None,
                    );
                    lat.push(t.elapsed());
                    assert_eq!(status, 200);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let wall = t.elapsed();
    lat.sort();
    println!(
        "1000 GETs of one entry from 50 connections: {:.0} requests/s, p50 {} p99 {}",
        lat.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
}
