//! Helpers of the CNI end-to-end tests: network namespaces the test makes (deleted on drop),
//! the `netloom-cni` shim exec'd the way a runtime does, a database seeded with committed
//! config, and a kernel-dataplane daemon started inside a "node" namespace.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use netloom_daemon::Engine;
use netloom_northbound::api::Principal;
use netloom_southbound::MemoryDriver;
use netloom_store::DatastoreId;
use netloom_yang::{DataPath, Edit, EditOp, Schema};
use serde_json::{json, Value};

use crate::{netloom_cni_path, Daemon};

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether this run is the full-kernel lane (`tests/full-kernel.sh` sets
/// `NETLOOM_FULL_KERNEL=1`): there every kernel feature a test needs must be present, so a
/// missing one fails the test instead of skipping it.
pub fn full_kernel_lane() -> bool {
    std::env::var("NETLOOM_FULL_KERNEL").is_ok_and(|v| v == "1")
}

/// Say why a test does not run: a skip with the reason, or in the full-kernel lane a
/// failure (the lane exists to run exactly these tests).
pub fn skip(reason: &str) {
    assert!(
        !full_kernel_lane(),
        "NETLOOM_FULL_KERNEL=1 but the test would skip: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// Skip (with the reason printed) unless root with `ip` available.
#[macro_export]
macro_rules! need_root {
    () => {
        if !$crate::cni::is_root()
            || ::std::process::Command::new("ip")
                .arg("-V")
                .output()
                .is_err()
        {
            $crate::cni::skip("needs root and iproute2 to make network namespaces");
            return;
        }
    };
}

/// Whether `node`'s kernel makes links of `kind` (`ip link add ... type KIND...`) on
/// `uplink`; when it cannot (`module` missing), the test is skipped with the reason, or
/// fails in the full-kernel lane.
pub fn kernel_makes(node: &Netns, uplink: &str, kind: &[&str], module: &str) -> bool {
    let mut args = vec![
        "-n", &node.name, "link", "add", "probe0", "link", uplink, "type",
    ];
    args.extend_from_slice(kind);
    let ok = Command::new("ip")
        .args(&args)
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        run("ip", &["-n", &node.name, "link", "del", "probe0"]);
    } else {
        skip(&format!(
            "this kernel cannot make {} links (module {module} missing)",
            kind[0]
        ));
    }
    ok
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace the test made; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!(
            "nlt{}-{tag}{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    pub fn ip_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-j", "-n", &self.name];
        full.extend_from_slice(args);
        serde_json::from_str(&run("ip", &full)).unwrap_or(Value::Null)
    }

    pub fn ping(&self, to: &str) -> bool {
        Command::new("ip")
            .args([
                "netns", "exec", &self.name, "ping", "-c", "1", "-W", "2", to,
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn addresses(&self, ifname: &str) -> Vec<String> {
        self.ip_json(&["addr", "show", "dev", ifname])
            .pointer("/0/addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a["scope"] == "global")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
            .collect()
    }

    pub fn links(&self) -> Vec<String> {
        self.ip_json(&["link"])
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| l["ifname"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two nodes (namespaces named after `names`) joined by one veth pair, an end named `wire`
/// in each, both up: the wire between two "nodes" of the multi-node tests.
pub fn wired_nodes(names: [&str; 2]) -> [Netns; 2] {
    let nodes = names.map(Netns::new);
    run(
        "ip",
        &[
            "-n",
            &nodes[0].name,
            "link",
            "add",
            "wire",
            "type",
            "veth",
            "peer",
            "name",
            "wire",
            "netns",
            &nodes[1].name,
        ],
    );
    for n in &nodes {
        run("ip", &["-n", &n.name, "link", "set", "wire", "up"]);
    }
    nodes
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commit `edits` (xpath, value) to running in the database of `dir`, before the daemon runs.
pub fn seed(dir: &Path, edits: &[(&str, Value)]) {
    let schema = Arc::new(Schema::new().unwrap());
    let mut engine = Engine::open(
        schema,
        &dir.join("netloom.db"),
        Box::new(MemoryDriver::new()),
    )
    .unwrap();
    let edits: Vec<Edit> = edits
        .iter()
        .map(|(p, v)| Edit {
            op: EditOp::Merge,
            path: DataPath::parse_xpath(p).unwrap(),
            value: Some(v.clone()),
        })
        .collect();
    let who = Principal {
        session: 1,
        user: "test".into(),
    };
    engine
        .edit(&who, DatastoreId::Running, edits, None)
        .unwrap();
}

/// Exec the shim like a runtime: env + stdin config; returns (exit ok, stdout JSON).
pub fn cni(
    socket: &Path,
    command: &str,
    cid: &str,
    netns: &str,
    ifname: &str,
    args: &str,
    config: Value,
) -> (bool, Value) {
    let mut config = config;
    config["socket"] = json!(socket.display().to_string());
    let mut child = Command::new(netloom_cni_path())
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", cid)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", ifname)
        .env("CNI_ARGS", args)
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        serde_json::from_str(text.trim()).unwrap_or(Value::Null),
    )
}

/// A CNI ADD of `cid`'s interface `ifname` in netns `netns` on `network` that must succeed;
/// its result.
pub fn add_ok(
    socket: &Path,
    cid: &str,
    netns: &str,
    ifname: &str,
    args: &str,
    network: &str,
) -> Value {
    let (ok, r) = cni(
        socket,
        "ADD",
        cid,
        netns,
        ifname,
        args,
        conf(json!({ "network": network })),
    );
    assert!(ok, "ADD {cid} {ifname} on {network}: {r}");
    r
}

pub fn conf(extra: Value) -> Value {
    let mut c = json!({"cniVersion": "1.1.0", "name": "netloom-test", "type": "netloom-cni"});
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

pub fn bridge_network(name: &str, v4: &str, gw4: &str) -> (String, Value) {
    let v6 = format!(
        "fd{:02x}::/64",
        name.len() * 7 + name.as_bytes()[0] as usize % 200
    );
    let gw6 = v6.replace("::/64", "::1");
    (
        format!("/netloom-host:networks/network[name='{name}']"),
        json!({"type": "bridge", "ipam": {"pool": [
            {"name": "v4", "subnet": v4, "gateway": gw4},
            {"name": "v6", "subnet": v6, "gateway": gw6}],
            "dns": {"nameserver": ["10.77.0.53"], "search": ["pods.local"]}}}),
    )
}

/// Start a kernel-dataplane daemon inside `node` on a seeded data dir.
pub fn kernel_daemon(node: &Netns, edits: &[(&str, Value)]) -> Daemon {
    let temp = tempfile::tempdir().unwrap();
    seed(temp.path(), edits);
    let net = format!("--net={}", node.path());
    Daemon::start_wrapped(
        temp.path().to_owned(),
        Some(temp),
        &["nsenter", &net],
        &["--dataplane", "kernel"],
    )
}

pub fn pod_args(name: &str) -> String {
    format!("K8S_POD_NAMESPACE=default;K8S_POD_NAME={name}")
}

/// `probe()` once `done` holds of it, or what it is after 5 s. A DEL answers once the pod's
/// interfaces are off the network; the kernel unregisters the links a few ms later.
pub fn eventually<T>(probe: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let v = probe();
        if done(&v) || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Commit `set`/`delete` lines to a running daemon through the `netloom` CLI (its socket is
/// a file, so this works whatever netns the daemon runs in); panics with the CLI's answer
/// when the commit fails.
pub fn configure(d: &Daemon, lines: &[&str]) {
    if let Err(e) = try_configure(d, lines) {
        panic!("commit of {lines:?}: {e}");
    }
}

/// [`configure`], the CLI's answer as the error when the commit fails.
pub fn try_configure(d: &Daemon, lines: &[&str]) -> Result<(), String> {
    try_configure_with(d, lines, "commit")
}

/// [`try_configure`] ending with the CLI command `commit` (e.g. `commit confirmed 3s`).
pub fn try_configure_with(d: &Daemon, lines: &[&str], commit: &str) -> Result<(), String> {
    let mut c = Command::new(crate::netloom_path());
    c.env("NETLOOM_CLI_SOCKET", &d.cli_socket)
        .arg("-c")
        .arg("configure");
    for l in lines {
        c.arg("-c").arg(l);
    }
    let out = c.arg("-c").arg(commit).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The first address of a CNI result, without its prefix length.
pub fn first_ip(result: &Value) -> String {
    let a = result["ips"][0]["address"].as_str().unwrap_or_default();
    a.split('/').next().unwrap_or_default().to_owned()
}
