//! CNI against the kernel at scale and at its limits: 100 pods attached and detached in
//! parallel through the shim (no duplicate address, nothing leaked), an exhausted pool
//! (the CNI error, nothing left behind, STATUS 50 until an address is free again), the
//! hairpin option on bridge ports. VLAN and ipvlan networks, which need kernel modules this
//! machine's kernel may lack, are tested in `cni_uplink`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use netloom_store::Store;
use netloom_tests::cni::{
    add_ok, bridge_network, cni, conf, configure, eventually, kernel_daemon, run, try_configure,
    try_configure_with, Netns,
};
use netloom_tests::link_probe::LinkProbe;
use netloom_tests::{need_root, Daemon};
use netloom_yang::Schema;
use rtnetlink::packet_route::link::InfoBridgePort;
use serde_json::{json, Value};

/// Host ends of pods in the node (everything netloom named `nl...` except its bridges).
fn host_ends_of(node: &Netns) -> Vec<String> {
    node.links()
        .into_iter()
        .filter(|l| l.starts_with("nl") && !l.starts_with("nl-"))
        .collect()
}

fn store_is_empty(d: &mut Daemon) {
    d.stop();
    let store = Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap();
    assert!(store.allocations(None).unwrap().is_empty(), "leaked leases");
    assert!(
        store.attachments().unwrap().is_empty(),
        "leaked attachments"
    );
}

#[test]
fn hundred_pods_in_parallel_against_the_kernel() {
    need_root!();
    const PODS: usize = 100;
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let pods: Vec<Netns> = (0..PODS).map(|i| Netns::new(&format!("h{i}"))).collect();
    let socket = d.cni_socket.clone();
    let call = |cmd: &'static str| {
        std::thread::scope(|s| {
            let hs: Vec<_> = pods
                .iter()
                .enumerate()
                .map(|(i, pod)| {
                    let socket = socket.clone();
                    s.spawn(move || {
                        cni(
                            &socket,
                            cmd,
                            &format!("h{i}"),
                            &pod.path(),
                            "eth0",
                            "",
                            conf(json!({"network": "blue"})),
                        )
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<(bool, Value)>>()
        })
    };
    let added = call("ADD");
    let mut seen = HashSet::new();
    for (i, (ok, r)) in added.iter().enumerate() {
        assert!(ok, "ADD {i}: {r}");
        for ip in r["ips"].as_array().unwrap() {
            assert!(seen.insert(ip["address"].clone()), "duplicate {ip}");
        }
        // what the result says is what the pod has
        assert_eq!(pods[i].addresses("eth0")[0], r["ips"][0]["address"]);
    }
    assert_eq!(seen.len(), 2 * PODS);
    assert_eq!(host_ends_of(&node).len(), PODS);
    for (i, (ok, r)) in call("DEL").iter().enumerate() {
        assert!(ok, "DEL {i}: {r}");
    }
    let left = eventually(|| host_ends_of(&node), Vec::is_empty);
    assert!(left.is_empty(), "{left:?}");
    assert!(pods
        .iter()
        .all(|p| eventually(|| p.links(), |l| l.len() == 1) == vec!["lo".to_string()]));
    store_is_empty(&mut d);
}

#[test]
fn exhausted_pool_fails_add_cleanly_and_status_says_50() {
    need_root!();
    let node = Netns::new("node");
    // a /30: the gateway and one address for pods
    let d = kernel_daemon(
        &node,
        &[(
            "/netloom-host:networks/network[name='tiny']",
            json!({"type": "bridge", "ipam": {"pool": [
                {"name": "v4", "subnet": "10.66.0.0/30", "gateway": "10.66.0.1"}]}}),
        )],
    );
    let s = &d.cni_socket;
    let pods = [Netns::new("t1"), Netns::new("t2")];
    let add = |i: usize| {
        cni(
            s,
            "ADD",
            &format!("t{i}"),
            &pods[i].path(),
            "eth0",
            "",
            conf(json!({"network": "tiny"})),
        )
    };
    let status = || cni(s, "STATUS", "", "", "", "", conf(json!({})));
    assert_eq!(status(), (true, Value::Null));
    let (ok, r) = add(0);
    assert!(ok, "{r}");
    assert_eq!(r["ips"][0]["address"], "10.66.0.2/30");
    let (ok, v) = add(1);
    assert!(!ok, "{v}");
    assert_eq!(v["code"], 101, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("exhausted"), "{v}");
    // nothing of the failed ADD is left: no interface in the pod, no host end
    assert_eq!(pods[1].links(), vec!["lo".to_string()]);
    assert_eq!(host_ends_of(&node).len(), 1);
    let (ok, v) = status();
    assert!(!ok && v["code"] == 50, "{v}");
    assert!(v["details"].as_str().unwrap().contains("tiny"), "{v}");
    // an address comes free: ready again, and the second pod gets it
    assert!(
        cni(
            s,
            "DEL",
            "t0",
            &pods[0].path(),
            "eth0",
            "",
            conf(json!({"network": "tiny"}))
        )
        .0
    );
    assert_eq!(status(), (true, Value::Null));
    let (ok, r) = add(1);
    assert!(ok, "{r}");
}

#[test]
fn hairpin_bridge_ports() {
    need_root!();
    let node = Netns::new("node");
    let (p, mut v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    v["bridge"] = json!({"hairpin": true});
    let (p2, v2) = bridge_network("plain", "10.78.0.0/24", "10.78.0.1");
    let d = kernel_daemon(&node, &[(&p, v), (&p2, v2)]);
    let pod = Netns::new("hp");
    for (ifname, net) in [("eth0", "blue"), ("net1", "plain")] {
        let r = add_ok(
            &d.cni_socket,
            &format!("hp-{ifname}"),
            &pod.path(),
            ifname,
            "",
            net,
        );
        let host = r["interfaces"][0]["name"].as_str().unwrap().to_owned();
        let port: Value = serde_json::from_str(&run(
            "bridge",
            &["-n", &node.name, "-d", "-j", "link", "show", "dev", &host],
        ))
        .unwrap();
        assert_eq!(port[0]["hairpin"], net == "blue", "{net}: {port}");
    }
}

#[test]
fn network_settings_change_in_place_under_live_pods() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let d = kernel_daemon(&node, &[(&p, v)]);
    let pod = Netns::new("inplace");
    add_ok(&d.cni_socket, "inplace", &pod.path(), "eth0", "", "blue");
    let bridge = || node.ip_json(&["-d", "link", "show", "nl-blue"])[0].clone();
    let before = bridge();
    assert!(pod.ping("10.77.0.1"));
    // a commit the kernel refuses part of (no interface `nosuch` to hang a VLAN on; `zz-bad`
    // sorts after `blue`, so the bridge was changed before the refusal) is undone whole:
    // the bridge keeps the MTU it had, though config never named one
    let refused = try_configure(
        &d,
        &[
            "set networks network blue mtu 1300",
            "set networks network zz-bad type vlan",
            "set networks network zz-bad uplink nosuch",
            "set networks network zz-bad vlan-id 3",
        ],
    );
    assert!(refused.is_err(), "a VLAN on a missing uplink was committed");
    let undone = bridge();
    assert_eq!(undone["mtu"], before["mtu"], "{undone}");
    assert_eq!(undone["ifindex"], before["ifindex"], "{undone}");
    // MTU and hairpin are settings of the live bridge, not a reason to make it again (which
    // would leave every pod's host end outside it)
    configure(
        &d,
        &[
            "set networks network blue mtu 1400",
            "set networks network blue bridge hairpin true",
        ],
    );
    let after = bridge();
    assert_eq!(after["ifindex"], before["ifindex"], "nl-blue made again");
    assert_eq!(after["mtu"], 1400, "{after}");
    assert!(pod.ping("10.77.0.1"), "the pod lost its bridge");
    // and a gateway address moves in place too
    configure(
        &d,
        &["set networks network blue ipam pool v4 gateway 10.77.0.254"],
    );
    assert_eq!(bridge()["ifindex"], before["ifindex"], "nl-blue made again");
    let addrs: Vec<String> = node.addresses("nl-blue");
    assert!(addrs.contains(&"10.77.0.254/24".to_string()), "{addrs:?}");
    assert!(!addrs.contains(&"10.77.0.1/24".to_string()), "{addrs:?}");
    assert!(pod.ping("10.77.0.254"));
}

/// An operator's commit that deletes a network pods are attached to, or moves them off
/// what they hang off, is refused (`in-use`, the pods named) and changes nothing; changes
/// in place go through; once the pods are gone the network can go too.
#[test]
fn a_network_with_pods_is_not_taken_from_under_them() {
    need_root!();
    let node = Netns::new("inuse");
    let (p, v) = bridge_network("teal", "10.78.0.0/24", "10.78.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let pod = Netns::new("inuse-pod");
    let add = |cid: &str| {
        cni(
            &d.cni_socket,
            "ADD",
            cid,
            &pod.path(),
            "eth0",
            &netloom_tests::cni::pod_args("anchored"),
            conf(json!({"network": "teal"})),
        )
    };
    let (ok, r) = add("inuse-a");
    assert!(ok, "{r}");
    let bridge = || node.ip_json(&["-d", "link", "show", "nl-teal"])[0].clone();
    let before = bridge();
    for change in [
        vec!["delete networks network teal"],
        vec!["set networks network teal bridge name br-teal2"],
    ] {
        let refused = try_configure(&d, &change).expect_err("a network was taken from its pod");
        assert!(refused.contains("default/anchored eth0"), "{refused}");
        assert!(refused.contains("network teal"), "{refused}");
    }
    assert!(try_configure(&d, &["delete networks network teal"])
        .unwrap_err()
        .contains("cannot be deleted"),);
    assert_eq!(
        bridge()["ifindex"],
        before["ifindex"],
        "the bridge was touched"
    );
    assert!(pod.ping("10.78.0.1"), "the pod lost its network");
    // settings of the live bridge are not a displacement
    configure(&d, &["set networks network teal mtu 1400"]);
    assert_eq!(bridge()["mtu"], 1400);
    assert!(pod.ping("10.78.0.1"));
    let (ok, r) = cni(
        &d.cni_socket,
        "DEL",
        "inuse-a",
        &pod.path(),
        "eth0",
        "",
        conf(json!({"network": "teal"})),
    );
    assert!(ok, "{r}");
    configure(&d, &["delete networks network teal"]);
    let gone = eventually(|| node.links(), |l| !l.contains(&"nl-teal".to_string()));
    assert!(!gone.contains(&"nl-teal".to_string()), "{gone:?}");
    store_is_empty(&mut d);
}

/// Adds bridge network `lime` (10.80.0.0/24) through the CLI with `commit confirmed 3s`:
/// the engine rolls it back 3 s later unless confirmed.
fn commit_lime_confirmed(d: &Daemon) {
    let lines = [
        "set networks network lime type bridge",
        "set networks network lime ipam pool v4 subnet 10.80.0.0/24",
        "set networks network lime ipam pool v4 gateway 10.80.0.1",
    ];
    if let Err(e) = try_configure_with(d, &lines, "commit confirmed 3s") {
        panic!("commit confirmed of network lime: {e}");
    }
}

/// The engine's own rollback of a confirmed commit is not refused: it brings the old
/// configuration back, and pods attached since to a network it takes away are detached
/// (interface gone, lease released, row forgotten); the runtime's DEL then finds nothing.
#[test]
fn an_expired_confirmed_commit_detaches_the_pods_on_its_networks() {
    need_root!();
    let node = Netns::new("confirm");
    let (p, v) = bridge_network("base", "10.79.0.0/24", "10.79.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    commit_lime_confirmed(&d);
    let pod = Netns::new("confirm-pod");
    add_ok(
        &d.cni_socket,
        "confirm-a",
        &pod.path(),
        "eth0",
        &netloom_tests::cni::pod_args("transient"),
        "lime",
    );
    assert!(pod.links().contains(&"eth0".to_string()));
    // the rollback comes at the deadline; the pod's interface goes right after it
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (pod.links().contains(&"eth0".to_string())
        || node.links().contains(&"nl-lime".to_string()))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !node.links().contains(&"nl-lime".to_string()),
        "not rolled back"
    );
    assert!(
        !pod.links().contains(&"eth0".to_string()),
        "the pod keeps an interface on a network that is gone"
    );
    assert!(
        d.log()
            .iter()
            .any(|l| l.contains("detached a pod interface whose network went away")),
        "{}",
        d.log_tail(30)
    );
    // the runtime's DEL finds nothing left, and nothing leaked
    let (ok, r) = cni(
        &d.cni_socket,
        "DEL",
        "confirm-a",
        &pod.path(),
        "eth0",
        "",
        conf(json!({"network": "lime"})),
    );
    assert!(ok, "{r}");
    assert!(host_ends_of(&node).is_empty(), "{:?}", host_ends_of(&node));
    store_is_empty(&mut d);
}

/// The same rollback when its deadline passes while netloomd is down: the start-up brings
/// the old configuration back (the CLI's confirmed commits persist) and then sweeps the pods
/// it cut off before it serves anything: interface detached, lease and row gone. A pod on a
/// network the rollback keeps is left alone.
#[test]
fn a_confirmed_commit_expired_while_down_detaches_its_pods_at_start() {
    need_root!();
    let node = Netns::new("down");
    let (p, v) = bridge_network("base", "10.79.0.0/24", "10.79.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let committed = std::time::Instant::now();
    commit_lime_confirmed(&d);
    // the commit, and so its deadline's start, came before this
    let answered = std::time::Instant::now();
    let cut = Netns::new("down-cut");
    let kept = Netns::new("down-kept");
    for (pod, cid, net) in [(&cut, "down-cut", "lime"), (&kept, "down-kept", "base")] {
        let (ok, r) = cni(
            &d.cni_socket,
            "ADD",
            cid,
            &pod.path(),
            "eth0",
            &netloom_tests::cni::pod_args(cid),
            conf(json!({ "network": net })),
        );
        assert!(ok, "{r}");
    }
    // a crash before the deadline: nothing of the daemon's shutdown runs
    d.kill();
    assert!(
        committed.elapsed() < std::time::Duration::from_secs(3),
        "the deadline passed before the daemon was down: this tests nothing"
    );
    assert!(cut.links().contains(&"eth0".to_string()));
    // the deadline passes while the daemon is down (the scenario itself, not a sync)
    std::thread::sleep(std::time::Duration::from_millis(3200).saturating_sub(answered.elapsed()));
    d.restart();
    assert!(
        d.log()
            .iter()
            .any(|l| l.contains("detached pod interfaces of networks gone while netloomd was down")),
        "{}",
        d.log_tail(30)
    );
    // the sweep runs before the CNI service answers anything, so no waiting here
    assert_eq!(
        cut.links(),
        vec!["lo".to_string()],
        "the cut-off pod keeps its interface"
    );
    assert!(
        !node.links().contains(&"nl-lime".to_string()),
        "not rolled back"
    );
    assert!(kept.links().contains(&"eth0".to_string()));
    let (ok, r) = cni(
        &d.cni_socket,
        "CHECK",
        "down-kept",
        &kept.path(),
        "eth0",
        "",
        conf(json!({"network": "base"})),
    );
    assert!(ok, "the kept pod: {r}");
    let (ok, r) = cni(
        &d.cni_socket,
        "CHECK",
        "down-cut",
        &cut.path(),
        "eth0",
        "",
        conf(json!({"network": "lime"})),
    );
    assert!(!ok, "the cut-off pod still checks out: {r}");
    d.stop();
    let store = Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap();
    let rows = store.attachments().unwrap();
    assert_eq!(
        rows.iter()
            .map(|a| a.container_id.as_str())
            .collect::<Vec<_>>(),
        ["down-kept"],
        "attachment rows"
    );
    let owners: HashSet<String> = store
        .allocations(None)
        .unwrap()
        .into_iter()
        .map(|l| l.owner)
        .collect();
    assert_eq!(owners, HashSet::from(["down-kept".to_string()]), "leases");
}

/// Every setns(2) of netloomd's threads delayed by `DELAY` while this lives (strace's
/// syscall fault injection, attached to the running daemon and following new threads).
/// Each pod operation of the kernel driver runs on a new thread whose first step is entering
/// the pod's netns, so work the daemon starts after attaching stays visibly unfinished.
struct SlowSetns(std::process::Child);

const DELAY: std::time::Duration = std::time::Duration::from_millis(500);

impl SlowSetns {
    /// Attach; the caller waits for [`all_traced`] before relying on it.
    fn attach(pid: u32) -> SlowSetns {
        let child = std::process::Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=setns", "-e"])
            .arg(format!("inject=setns:delay_enter={}", DELAY.as_micros()))
            .args(["-p", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("strace (apt-get install strace)");
        SlowSetns(child)
    }
}

impl Drop for SlowSetns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether every thread of `pid` is traced (its TracerPid is set).
fn all_traced(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("TracerPid:").map(|v| v.trim() != "0"))
            })
            .unwrap_or(false)
    })
}

/// What a DEL's answer promises before the kernel has unregistered the links (which
/// finishes off the answer's path, holding the container's turn): none of the pod's
/// addresses is configured any more and no bridge forwards to its veths, so the released
/// addresses can go to the next pod. Then the links go too. To check the promise while the
/// unlinking surely still runs (it takes well under a millisecond here), the daemon's
/// setns calls are delayed (see [`SlowSetns`]): the unlinking's thread waits there, and the
/// kernel is looked at through netlink sockets opened beforehand the moment DEL answers.
#[test]
fn del_answers_with_the_pod_off_the_network() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let (p2, v2) = bridge_network("plain", "10.78.0.0/24", "10.78.0.1");
    let d = kernel_daemon(&node, &[(&p, v), (&p2, v2)]);
    let pod = Netns::new("off");
    let nets = conf(json!({"networks": ["blue", "plain"]}));
    let (ok, r) = cni(
        &d.cni_socket,
        "ADD",
        "off-1",
        &pod.path(),
        "eth0",
        "",
        nets.clone(),
    );
    assert!(ok, "{r}");
    let hosts: Vec<String> = r["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i.get("sandbox").is_none())
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts.len(), 2, "{r}");
    for ifname in ["eth0", "net1"] {
        assert_eq!(pod.addresses(ifname).len(), 2, "{ifname}");
    }
    let (in_pod, in_node) = (LinkProbe::open(&pod.path()), LinkProbe::open(&node.path()));
    let pid = d.pid().unwrap();
    let slow = SlowSetns::attach(pid);
    let traced = eventually(|| all_traced(pid), |t| *t);
    assert!(traced, "strace did not attach to netloomd");
    let asked = std::time::Instant::now();
    let (ok, r) = cni(&d.cni_socket, "DEL", "off-1", &pod.path(), "eth0", "", nets);
    let answered = asked.elapsed();
    let (pod_seen, node_seen) = (in_pod.links(), in_node.links());
    let looked = asked.elapsed();
    assert!(ok, "{r}");
    // the DEL's own netlink thread waited once; the unlinking's thread, started as it
    // answered, is still waiting while we look
    assert!(answered >= DELAY, "the delay did not apply: {answered:?}");
    assert!(
        looked < answered + DELAY,
        "looked too late to tell: {looked:?}"
    );
    let pod_ends: Vec<_> = pod_seen
        .iter()
        .filter(|l| l.name == "eth0" || l.name == "net1")
        .collect();
    assert_eq!(
        pod_ends.len(),
        2,
        "the unlinking finished early: {pod_seen:?}"
    );
    for l in &pod_ends {
        assert_eq!(l.addresses, Vec::<std::net::IpAddr>::new(), "{l:?}");
    }
    let host_ends: Vec<_> = node_seen
        .iter()
        .filter(|l| hosts.contains(&l.name))
        .collect();
    assert_eq!(host_ends.len(), 2, "{node_seen:?}");
    for l in &host_ends {
        // its state is set disabled, but the kernel's link watch may enable the port
        // again (its carrier report of the ADD can come after the DEL: seen here); what
        // lasts is that it is flooded nothing and learns nothing (and what it had learned
        // was flushed), so nothing is forwarded to it either way
        for off in [
            InfoBridgePort::Learning(false),
            InfoBridgePort::UnicastFlood(false),
            InfoBridgePort::MulticastFlood(false),
            InfoBridgePort::BroadcastFlood(false),
        ] {
            assert!(l.port.contains(&off), "{off:?} on {l:?}");
        }
    }
    drop(slow);
    let left = eventually(|| host_ends_of(&node), Vec::is_empty);
    assert!(left.is_empty(), "host ends left: {left:?}");
    let left = eventually(|| pod.links(), |l| l.iter().all(|l| l == "lo"));
    assert!(left.iter().all(|l| l == "lo"), "pod links left: {left:?}");
}
