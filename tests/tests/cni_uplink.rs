//! Networks that ride on a host uplink and need kernel modules this machine's kernel may
//! lack (802.1q, ipvlan): VLAN pods on two "nodes" joined by a wire, their traffic tagged on
//! it, the VLAN subinterface following committed config; ipvlan pods in L2 and L3 mode.
//! Without the module the tests skip with the reason; `tests/full-kernel.sh` runs them in a
//! VM with Debian's full kernel, where a missing module is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netloom_tests::cni::{
    cni, conf, configure, eventually, first_ip, full_kernel_lane, kernel_daemon, kernel_makes,
    pod_args, run, wired_nodes, Netns,
};
use netloom_tests::{need_root, Daemon};
use serde_json::{json, Value};

/// `ip -d link show dev` in `node`, or `Null` when the link is absent.
fn link(node: &Netns, dev: &str) -> Value {
    let out = Command::new("ip")
        .args([
            "-j", "-d", "-s", "-n", &node.name, "link", "show", "dev", dev,
        ])
        .output()
        .unwrap();
    serde_json::from_slice::<Value>(&out.stdout)
        .map(|v| v[0].clone())
        .unwrap_or(Value::Null)
}

fn packets(l: &Value, dir: &str) -> u64 {
    l["stats64"][dir]["packets"].as_u64().unwrap_or(0)
}

/// tcpdump on a node's link, started and listening (it says so on stderr before it
/// captures), stopped after `count` packets or when the test collects it.
struct Capture {
    child: Child,
}

impl Capture {
    /// `None` when tcpdump is not installed (outside the full-kernel lane, which installs it).
    fn start(node: &Netns, dev: &str, count: usize, filter: &str) -> Option<Capture> {
        let net = format!("--net={}", node.path());
        let mut child = match Command::new("nsenter")
            .args([&net, "tcpdump", "-e", "-nn", "-l", "-i", dev, "-c"])
            .arg(count.to_string())
            .args(filter.split(' '))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => {
                assert!(!full_kernel_lane(), "tcpdump is missing");
                return None;
            }
        };
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while err.read_line(&mut line).unwrap() > 0 && !line.contains("listening on") {
            line.clear();
        }
        if !line.contains("listening on") {
            let _ = child.wait();
            assert!(!full_kernel_lane(), "tcpdump did not start");
            return None;
        }
        Some(Capture { child })
    }

    /// The captured lines, once `count` packets came (or what came within 20 s).
    fn lines(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }
}

/// A VLAN network on each node; each node hands out a different range of the subnet.
fn vlan_daemon(node: &Netns, id: u16, start: &str, end: &str) -> Daemon {
    kernel_daemon(
        node,
        &[(
            "/netloom-host:networks/network[name='v7']",
            json!({"type": "vlan", "uplink": "wire", "vlan-id": id, "mtu": 1400,
                "ipam": {"pool": [{"name": "v4", "subnet": "10.68.0.0/24",
                    "range": {"start": start, "end": end}}]}}),
        )],
    )
}

#[test]
fn vlan_pods_on_two_nodes_talk_tagged_and_the_subinterface_follows_config() {
    need_root!();
    let nodes = wired_nodes(["n1", "n2"]);
    if !kernel_makes(&nodes[0], "wire", &["vlan", "id", "7"], "8021q") {
        return;
    }
    let ranges = [("10.68.0.10", "10.68.0.19"), ("10.68.0.20", "10.68.0.29")];
    let mut daemons: Vec<Daemon> = (0..2)
        .map(|i| vlan_daemon(&nodes[i], 7, ranges[i].0, ranges[i].1))
        .collect();
    // committed config made each node's subinterface: 802.1Q id 7 on the wire, netloom's
    for n in &nodes {
        let sub = link(n, "wire.7");
        assert_eq!(sub["linkinfo"]["info_kind"], "vlan", "{sub}");
        assert_eq!(sub["linkinfo"]["info_data"]["protocol"], "802.1Q", "{sub}");
        assert_eq!(sub["linkinfo"]["info_data"]["id"], 7, "{sub}");
        assert_eq!(sub["link"], "wire", "{sub}");
        assert_eq!(sub["ifalias"], "netloom", "{sub}");
        assert_eq!(sub["operstate"], "UP", "{sub}");
        assert_eq!(sub["mtu"], 1400, "{sub}");
    }
    let pods = [Netns::new("p1"), Netns::new("p2")];
    let mut addrs = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let (ok, r) = cni(
            &daemons[i].cni_socket,
            "ADD",
            &format!("vl{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("vl{i}")),
            conf(json!({"network": "v7"})),
        );
        assert!(ok, "ADD on node {i}: {r}");
        let eth0 = pod.ip_json(&["-d", "link", "show", "eth0"]);
        assert_eq!(eth0[0]["linkinfo"]["info_kind"], "macvlan", "{eth0}");
        assert_eq!(eth0[0]["mtu"], 1400, "{eth0}");
        let (ok, v) = cni(
            &daemons[i].cni_socket,
            "CHECK",
            &format!("vl{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("vl{i}")),
            conf(json!({"network": "v7", "prevResult": r})),
        );
        assert!(ok, "CHECK on node {i}: {v}");
        addrs.push(first_ip(&r));
    }
    assert!(
        addrs[0].starts_with("10.68.0.1") && addrs[1].starts_with("10.68.0.2"),
        "{addrs:?}"
    );
    let before = [link(&nodes[0], "wire.7"), link(&nodes[1], "wire.7")];
    // what crosses the wire between the pods carries tag 7
    let capture = Capture::start(&nodes[0], "wire", 2, "vlan 7 and icmp");
    assert!(
        pods[0].ping(&addrs[1]),
        "no VLAN path from node 1's pod to node 2's"
    );
    if let Some(c) = capture {
        let seen = c.lines();
        let tagged = seen
            .lines()
            .filter(|l| l.contains("vlan 7") && l.contains("ICMP echo"))
            .count();
        assert_eq!(tagged, 2, "request and reply tagged 7 on the wire:\n{seen}");
    }
    assert!(
        pods[1].ping(&addrs[0]),
        "no VLAN path from node 2's pod to node 1's"
    );
    // and it went through each node's subinterface both ways
    for (i, n) in nodes.iter().enumerate() {
        let after = link(n, "wire.7");
        for dir in ["rx", "tx"] {
            assert!(
                packets(&after, dir) >= packets(&before[i], dir) + 2,
                "node {i} wire.7 {dir}: {before:?} -> {after}"
            );
        }
    }
    restarts_adopt_repair_and_remove_orphans(&nodes, &pods, &mut daemons);
    assert!(pods[0].ping(&addrs[1]), "node 1 -> node 2 after restarts");
    assert!(pods[1].ping(&addrs[0]), "node 2 -> node 1 after restarts");
    // a new MTU is set on the live subinterface: made again, it would take the pods' along
    let sub = link(&nodes[0], "wire.7");
    configure(&daemons[0], &["set networks network v7 mtu 1450"]);
    let after = link(&nodes[0], "wire.7");
    assert_eq!(after["ifindex"], sub["ifindex"], "wire.7 made again");
    assert_eq!(after["mtu"], 1450, "{after}");
    assert!(pods[0].ping(&addrs[1]), "node 1's pod lost its VLAN");
    for (i, pod) in pods.iter().enumerate() {
        let (ok, r) = cni(
            &daemons[i].cni_socket,
            "DEL",
            &format!("vl{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("vl{i}")),
            conf(json!({"network": "v7"})),
        );
        assert!(ok, "DEL on node {i}: {r}");
    }
    // a new VLAN id in committed config: the old subinterface goes, the new one comes
    configure(&daemons[0], &["set networks network v7 vlan-id 9"]);
    assert!(link(&nodes[0], "wire.7").is_null(), "wire.7 left behind");
    assert_eq!(link(&nodes[0], "wire.9")["linkinfo"]["info_data"]["id"], 9);
    // the network dropped from config: its subinterface is gone, node 2's is untouched
    configure(&daemons[0], &["delete networks network v7"]);
    let gone = eventually(|| link(&nodes[0], "wire.9"), Value::is_null);
    assert!(gone.is_null(), "wire.9 left behind: {gone}");
    assert!(!link(&nodes[0], "wire").is_null(), "the uplink itself went");
    assert_eq!(link(&nodes[1], "wire.7")["linkinfo"]["info_data"]["id"], 7);
}

/// Restarted daemons adopt the VLAN subinterface and a working pod as they are (same
/// interface index: no flap), make a pod interface deleted by hand again on its VLAN, and
/// remove a netloom-marked subinterface no committed network owns.
fn restarts_adopt_repair_and_remove_orphans(
    nodes: &[Netns; 2],
    pods: &[Netns; 2],
    daemons: &mut [Daemon],
) {
    let index = |n: &Netns, dev: &str| link(n, dev)["ifindex"].as_u64();
    let sub = [index(&nodes[0], "wire.7"), index(&nodes[1], "wire.7")];
    let pod1 = index(&pods[0], "eth0");
    // node 1: an orphan of netloom's (say its network went while the daemon was down)
    run(
        "ip",
        &[
            "-n",
            &nodes[0].name,
            "link",
            "add",
            "link",
            "wire",
            "name",
            "wire.5",
            "type",
            "vlan",
            "id",
            "5",
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &nodes[0].name,
            "link",
            "set",
            "wire.5",
            "alias",
            "netloom",
        ],
    );
    daemons[0].restart();
    assert!(link(&nodes[0], "wire.5").is_null(), "orphan wire.5 kept");
    assert_eq!(index(&nodes[0], "wire.7"), sub[0], "wire.7 made again");
    assert_eq!(index(&pods[0], "eth0"), pod1, "node 1's pod flapped");
    // node 2: the pod's interface deleted by hand comes back on the VLAN subinterface
    run("ip", &["-n", &pods[1].name, "link", "del", "eth0"]);
    daemons[1].restart();
    assert_eq!(index(&nodes[1], "wire.7"), sub[1], "wire.7 made again");
    let eth0 = link(&pods[1], "eth0");
    assert_eq!(eth0["linkinfo"]["info_kind"], "macvlan", "{eth0}");
    assert_eq!(eth0["mtu"], 1400, "{eth0}");
}

/// An uplink with carrier inside `node`: a veth pair, both ends up.
fn node_with_uplink() -> Netns {
    let node = Netns::new("node");
    run(
        "ip",
        &[
            "-n", &node.name, "link", "add", "upl0", "type", "veth", "peer", "name", "upl0p",
        ],
    );
    run("ip", &["-n", &node.name, "link", "set", "upl0", "up"]);
    run("ip", &["-n", &node.name, "link", "set", "upl0p", "up"]);
    node
}

#[test]
fn ipvlan_pods_talk_in_l2_and_l3_mode() {
    need_root!();
    let node = node_with_uplink();
    if !kernel_makes(&node, "upl0", &["ipvlan", "mode", "l2"], "ipvlan") {
        return;
    }
    let network = |mode: &str, subnet: &str| {
        json!({"type": "ipvlan", "uplink": "upl0", "ipvlan": {"mode": mode},
            "ipam": {"pool": [{"name": "v4", "subnet": subnet}]}})
    };
    let d = kernel_daemon(
        &node,
        &[
            (
                "/netloom-host:networks/network[name='iv2']",
                network("l2", "10.67.0.0/24"),
            ),
            (
                "/netloom-host:networks/network[name='iv3']",
                network("l3", "10.69.0.0/24"),
            ),
        ],
    );
    let uplink_mac = link(&node, "upl0")["address"].clone();
    for mode in ["l2", "l3"] {
        let net = format!("iv{}", &mode[1..]);
        let pods = [
            Netns::new(&format!("{mode}a")),
            Netns::new(&format!("{mode}b")),
        ];
        let mut addrs = Vec::new();
        for (i, pod) in pods.iter().enumerate() {
            let cid = format!("{net}-{i}");
            let (ok, r) = cni(
                &d.cni_socket,
                "ADD",
                &cid,
                &pod.path(),
                "eth0",
                "",
                conf(json!({"network": net})),
            );
            assert!(ok, "{net} ADD {i}: {r}");
            let l = pod.ip_json(&["-d", "link", "show", "eth0"]);
            let info = &l[0]["linkinfo"];
            assert_eq!(info["info_kind"], "ipvlan", "{l}");
            assert_eq!(info["info_data"]["mode"], mode, "{l}");
            // an ipvlan has its uplink's MAC, and the result says so
            assert_eq!(l[0]["address"], uplink_mac, "{l}");
            assert_eq!(r["interfaces"][0]["mac"], uplink_mac, "{r}");
            assert_eq!(pod.addresses("eth0")[0], r["ips"][0]["address"], "{r}");
            let (ok, v) = cni(
                &d.cni_socket,
                "CHECK",
                &cid,
                &pod.path(),
                "eth0",
                "",
                conf(json!({"network": net, "prevResult": r})),
            );
            assert!(ok, "{net} CHECK {i}: {v}");
            addrs.push(first_ip(&r));
        }
        assert!(pods[0].ping(&addrs[1]), "{mode}: a -> b");
        assert!(pods[1].ping(&addrs[0]), "{mode}: b -> a");
        for (i, pod) in pods.iter().enumerate() {
            let (ok, r) = cni(
                &d.cni_socket,
                "DEL",
                &format!("{net}-{i}"),
                &pod.path(),
                "eth0",
                "",
                conf(json!({"network": net})),
            );
            assert!(ok, "{net} DEL {i}: {r}");
            let left = eventually(|| pod.links(), |l| l.len() == 1);
            assert_eq!(
                left,
                vec!["lo".to_string()],
                "{net}: pod {i} keeps {left:?}"
            );
        }
    }
}
