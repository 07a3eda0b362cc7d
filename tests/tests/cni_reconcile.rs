//! Reconcile at start, end to end: a kernel-dataplane daemon in a "node" namespace attaches
//! pods, is stopped, the kernel drifts while it is down, and the restarted daemon (same data
//! dir) adopts what matches without touching it, repairs what drifted, and removes netloom
//! links nothing owns — never anyone else's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use netloom_store::Store;
use netloom_tests::cni::{
    add_ok, bridge_network, cni, conf, eventually, kernel_daemon, pod_args, run, Netns,
};
use netloom_tests::need_root;
use netloom_yang::Schema;
use serde_json::{json, Value};

fn link(ns: &Netns, ifname: &str) -> Value {
    ns.ip_json(&["link", "show", ifname])[0].clone()
}

fn has_default_route(ns: &Netns) -> bool {
    ns.ip_json(&["route", "show", "default"])
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["gateway"] == "10.77.0.1"))
}

#[test]
fn restart_adopts_matching_pods_repairs_drift_and_removes_orphans() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let pods = [Netns::new("a"), Netns::new("b"), Netns::new("c")];
    let mut results = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let r = add_ok(
            &d.cni_socket,
            &format!("ctr{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("p{i}")),
            "blue",
        );
        results.push(r);
    }
    let before: Vec<Value> = pods.iter().map(|p| link(p, "eth0")).collect();
    let addrs: Vec<Vec<String>> = pods.iter().map(|p| p.addresses("eth0")).collect();

    // drift while the daemon is down
    d.stop();
    run("ip", &["-n", &pods[1].name, "link", "del", "eth0"]);
    run("ip", &["-n", &pods[2].name, "route", "del", "default"]);
    let v6 = addrs[2][1].clone();
    run(
        "ip",
        &["-n", &pods[2].name, "addr", "del", &v6, "dev", "eth0"],
    );
    // drift the other way: an address and a route added by hand on a netloom-owned pod
    // interface (pod 2, the one already drifted: pod 0 must stay untouched)
    run(
        "ip",
        &[
            "-n",
            &pods[2].name,
            "addr",
            "add",
            "192.0.2.9/32",
            "dev",
            "eth0",
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &pods[2].name,
            "route",
            "add",
            "198.51.100.0/24",
            "dev",
            "eth0",
        ],
    );
    // a leftover netloom link no committed network owns, and someone else's link
    for (name, alias) in [("nl-gone", Some("netloom")), ("nlforeign0", None)] {
        run(
            "ip",
            &["-n", &node.name, "link", "add", name, "type", "bridge"],
        );
        if let Some(a) = alias {
            run("ip", &["-n", &node.name, "link", "set", name, "alias", a]);
        }
    }
    assert!(!has_default_route(&pods[2]));

    d.restart();
    let log = d.log().join("\n");
    assert!(
        log.contains("adopted=1") && log.contains("repaired=1") && log.contains("recreated=1"),
        "{log}"
    );
    // the matching pod was not touched: same interface (ifindex), still up, same addresses
    let a = link(&pods[0], "eth0");
    assert_eq!(a["ifindex"], before[0]["ifindex"], "pod a flapped: {a}");
    assert_eq!(pods[0].addresses("eth0"), addrs[0]);
    // the deleted interface is back with its MAC and addresses
    let b = link(&pods[1], "eth0");
    assert_ne!(b["ifindex"], Value::Null, "eth0 of pod b is not back");
    assert_eq!(b["address"], before[1]["address"], "pod b's MAC changed");
    assert_eq!(pods[1].addresses("eth0"), addrs[1]);
    assert!(has_default_route(&pods[1]));
    // the deleted route and address are back, on the same interface
    assert_eq!(link(&pods[2], "eth0")["ifindex"], before[2]["ifindex"]);
    assert!(has_default_route(&pods[2]));
    assert!(pods[2].addresses("eth0").contains(&v6), "{v6} not back");
    // and what was added by hand is gone: exactly the recorded addresses, no extra route
    assert_eq!(pods[2].addresses("eth0"), addrs[2]);
    let extra = run(
        "ip",
        &["-n", &pods[2].name, "route", "show", "198.51.100.0/24"],
    );
    assert!(extra.trim().is_empty(), "extra route survived: {extra}");
    // orphans: netloom's went, the foreign one stayed
    let links = node.links();
    assert!(!links.contains(&"nl-gone".to_string()), "{links:?}");
    assert!(links.contains(&"nlforeign0".to_string()), "{links:?}");
    for (i, pod) in pods.iter().enumerate() {
        let (ok, v) = cni(
            &d.cni_socket,
            "CHECK",
            &format!("ctr{i}"),
            &pod.path(),
            "eth0",
            "",
            conf(json!({"network": "blue", "prevResult": results[i]})),
        );
        assert!(ok, "CHECK of pod {i} after reconcile: {v}");
    }
    let ip_b = addrs[1][0].split('/').next().unwrap().to_owned();
    let ip_c = addrs[2][0].split('/').next().unwrap().to_owned();
    assert!(pods[0].ping(&ip_b), "a cannot reach the repaired b");
    assert!(pods[0].ping(&ip_c), "a cannot reach the repaired c");

    // the bridge itself deleted while down: it comes back, the host ends rejoin it, and the
    // pods themselves are not touched
    d.stop();
    run("ip", &["-n", &node.name, "link", "del", "nl-blue"]);
    d.restart();
    assert!(node
        .addresses("nl-blue")
        .contains(&"10.77.0.1/24".to_string()));
    assert_eq!(link(&pods[0], "eth0")["ifindex"], before[0]["ifindex"]);
    assert!(
        pods[0].ping(&ip_b),
        "a cannot reach b after the bridge came back"
    );
    assert!(pods[2].ping("10.77.0.1"), "c cannot reach the gateway");

    for (i, pod) in pods.iter().enumerate() {
        let (ok, v) = cni(
            &d.cni_socket,
            "DEL",
            &format!("ctr{i}"),
            &pod.path(),
            "eth0",
            "",
            conf(json!({"network": "blue"})),
        );
        assert!(ok, "{v}");
    }
    d.stop();
    let store = Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap();
    assert!(store.allocations(None).unwrap().is_empty());
    assert!(store.attachments().unwrap().is_empty());
}

/// The flood list (all-zero-MAC FDB entries) of VXLAN device `dev` in `node`, sorted.
fn flood_list(node: &Netns, dev: &str) -> Vec<String> {
    let fdb: Value = serde_json::from_str(&run(
        "bridge",
        &["-n", &node.name, "-j", "fdb", "show", "dev", dev],
    ))
    .unwrap();
    let mut out: Vec<String> = fdb
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .filter_map(|e| e["dst"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// A commit through the CLI socket (each word list one command line).
fn commit(d: &netloom_tests::Daemon, lines: &[&str]) {
    let mut c = std::process::Command::new(netloom_tests::netloom_path());
    c.env("NETLOOM_CLI_SOCKET", &d.cli_socket)
        .args(["-c", "configure"]);
    for l in lines {
        c.args(["-c", l]);
    }
    let out = c.args(["-c", "commit"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Remotes a commit drops leave the VXLAN device's flood list at once, without the device
/// being made again (its pods keep their traffic); remotes added by hand while the daemon
/// was down go at restart; someone else's VXLAN device is never touched.
#[test]
fn vxlan_flood_list_follows_the_committed_remotes() {
    need_root!();
    let node = Netns::new("node");
    for args in [
        &[
            "link", "add", "upl0", "type", "veth", "peer", "name", "upl0p",
        ][..],
        &["link", "set", "upl0", "up"],
        &["link", "set", "upl0p", "up"],
        &["addr", "add", "192.0.2.1/24", "dev", "upl0"],
        // a foreign VXLAN device with a flood entry of its own
        &[
            "link",
            "add",
            "vxforeign",
            "type",
            "vxlan",
            "id",
            "77",
            "dstport",
            "4790",
            "local",
            "192.0.2.1",
        ],
    ] {
        run("ip", &[&["-n", &node.name][..], args].concat());
    }
    let foreign = [
        "fdb",
        "append",
        "00:00:00:00:00:00",
        "dev",
        "vxforeign",
        "dst",
        "192.0.2.50",
    ];
    run("bridge", &[&["-n", &node.name][..], &foreign[..]].concat());
    let mut d = kernel_daemon(
        &node,
        &[(
            "/netloom-host:networks/network[name='red']",
            json!({"type": "vxlan", "uplink": "upl0",
                "vxlan": {"vni": 4242, "local": "192.0.2.1", "remote": ["192.0.2.2", "192.0.2.3"]},
                "ipam": {"pool": [{"name": "v4", "subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}]}}),
        )],
    );
    assert_eq!(flood_list(&node, "nlx4242"), ["192.0.2.2", "192.0.2.3"]);
    let pod = Netns::new("a");
    add_ok(
        &d.cni_socket,
        "ctr-vx",
        &pod.path(),
        "eth0",
        &pod_args("a"),
        "red",
    );
    let vx_before = link(&node, "nlx4242");

    // a commit drops one remote and adds another: synced in place
    commit(
        &d,
        &[
            "delete networks network red vxlan remote 192.0.2.2",
            "set networks network red vxlan remote 192.0.2.4",
        ],
    );
    assert_eq!(
        flood_list(&node, "nlx4242"),
        ["192.0.2.3", "192.0.2.4"],
        "{}",
        d.log_tail(20)
    );
    let vx = link(&node, "nlx4242");
    assert_eq!(
        vx["ifindex"], vx_before["ifindex"],
        "the device was recreated: {vx}"
    );
    assert_eq!(vx["master"], "nl-red", "{vx}");
    assert!(pod.ping("10.99.0.1"), "the pod lost its gateway");

    // stale remotes added while the daemon is down go at restart
    d.stop();
    for dst in ["192.0.2.9", "192.0.2.2"] {
        let add = [
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "nlx4242",
            "dst",
            dst,
        ];
        run("bridge", &[&["-n", &node.name][..], &add[..]].concat());
    }
    assert_eq!(flood_list(&node, "nlx4242").len(), 4);
    d.restart();
    assert_eq!(flood_list(&node, "nlx4242"), ["192.0.2.3", "192.0.2.4"]);
    assert_eq!(link(&node, "nlx4242")["ifindex"], vx_before["ifindex"]);
    assert!(
        d.log().join("\n").contains("removed a VXLAN remote"),
        "{}",
        d.log_tail(20)
    );
    assert_eq!(flood_list(&node, "vxforeign"), ["192.0.2.50"]);
    let (ok, v) = cni(
        &d.cni_socket,
        "DEL",
        "ctr-vx",
        &pod.path(),
        "eth0",
        "",
        conf(json!({"network": "red"})),
    );
    assert!(ok, "{v}");
}

/// The store of a stopped daemon.
fn open_store(d: &netloom_tests::Daemon) -> Store {
    Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap()
}

/// Attachment rows without a recorded spec (as an older daemon wrote them): one whose
/// network is still configured and whose leases the ledger holds is rebuilt and reconciled
/// like any other (its drift repaired, the pod not flapped, the spec stored for next
/// time); one that cannot be rebuilt (its network is gone) is released: interface out of
/// the pod, leases freed, row removed.
#[test]
fn attachments_without_a_spec_are_rebuilt_or_released() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let pods = [Netns::new("a"), Netns::new("b")];
    for (i, pod) in pods.iter().enumerate() {
        add_ok(
            &d.cni_socket,
            &format!("ctr{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("p{i}")),
            "blue",
        );
    }
    let before = link(&pods[0], "eth0");
    let addrs = pods[0].addresses("eth0");
    d.stop();
    let mut recorded = Value::Null;
    {
        let mut store = open_store(&d);
        for mut a in store.attachments().unwrap() {
            let mut r: Value = serde_json::from_str(&a.result).unwrap();
            let spec = r["netloom"].as_object_mut().unwrap().remove("spec");
            if a.container_id == "ctr0" {
                recorded = spec.unwrap();
            }
            a.result = r.to_string();
            if a.container_id == "ctr1" {
                a.network = "retired".into();
            }
            store.put_attachment(&a).unwrap();
        }
    }
    // drift on the rebuildable one, to prove it is reconciled
    run("ip", &["-n", &pods[0].name, "route", "del", "default"]);
    assert!(!has_default_route(&pods[0]));

    d.restart();
    let log = d.log().join("\n");
    assert!(
        log.contains("rebuilt=1") && log.contains("released=1") && log.contains("repaired=1"),
        "{log}"
    );
    // rebuilt: repaired in place, same interface, MAC and addresses
    let a = link(&pods[0], "eth0");
    assert_eq!(a["ifindex"], before["ifindex"], "pod a flapped: {a}");
    assert_eq!(a["address"], before["address"]);
    assert_eq!(pods[0].addresses("eth0"), addrs);
    assert!(has_default_route(&pods[0]));
    // released: its interface is out of the pod
    let gone = eventually(|| pods[1].links(), |l| !l.contains(&"eth0".to_string()));
    assert!(!gone.contains(&"eth0".to_string()), "{gone:?}");
    d.stop();
    let store = open_store(&d);
    let rows = store.attachments().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row: Value = serde_json::from_str(&rows[0].result).unwrap();
    // the very spec the ADD had recorded
    assert_eq!(row["netloom"]["spec"], recorded);
    let owners: Vec<String> = store
        .allocations(None)
        .unwrap()
        .into_iter()
        .map(|a| a.owner)
        .collect();
    assert!(
        owners.iter().all(|o| o == "ctr0") && !owners.is_empty(),
        "{owners:?}"
    );
    drop(store);

    // the rebuilt spec serves the next restart and the DEL as a recorded one would
    d.restart();
    assert!(
        d.log().join("\n").contains("adopted=1"),
        "{}",
        d.log_tail(10)
    );
    let (ok, v) = cni(
        &d.cni_socket,
        "DEL",
        "ctr0",
        &pods[0].path(),
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(ok, "{v}");
    d.stop();
    let store = open_store(&d);
    assert!(store.allocations(None).unwrap().is_empty());
    assert!(store.attachments().unwrap().is_empty());
}

fn mtu(ns: &Netns, ifname: &str) -> u64 {
    link(ns, ifname)["mtu"].as_u64().unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A netloom host link follows the committed config in what it carries, not only in that
/// it exists: an MTU dropped from the config goes back to the kernel's default for the
/// kind (at once on commit, and at restart when it drifted while the daemon was down), and
/// addresses the config does not list are removed from it at restart (the kernel's IPv6
/// link-local address stays). A link that is not netloom's keeps both.
#[test]
fn host_links_lose_unlisted_addresses_and_dropped_mtus() {
    need_root!();
    let node = Netns::new("node");
    let (p, mut v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    v["mtu"] = json!(1400);
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    assert_eq!(mtu(&node, "nl-blue"), 1400);
    let pod = Netns::new("a");
    add_ok(
        &d.cni_socket,
        "ctr-mtu",
        &pod.path(),
        "eth0",
        &pod_args("a"),
        "blue",
    );
    let listed = sorted(node.addresses("nl-blue"));
    assert_eq!(listed.len(), 2, "{listed:?}");

    // dropped by a commit: the bridge (same kernel object, its pod still attached) is
    // back at the kernel's 1500
    let bridge = link(&node, "nl-blue");
    commit(&d, &["delete networks network blue mtu"]);
    // the commit answers once the kernel has it
    assert_eq!(mtu(&node, "nl-blue"), 1500, "{}", d.log_tail(20));
    assert_eq!(link(&node, "nl-blue")["ifindex"], bridge["ifindex"]);

    // drift while the daemon is down, on netloom's bridge and on someone else's
    d.stop();
    for args in [
        &["link", "set", "nl-blue", "mtu", "1300"][..],
        &["addr", "add", "192.0.2.9/24", "dev", "nl-blue"],
        &["addr", "add", "2001:db8::9/64", "dev", "nl-blue", "nodad"],
        &["link", "add", "br-foreign", "mtu", "1300", "type", "bridge"],
        &["link", "set", "br-foreign", "up"],
        &["addr", "add", "192.0.2.77/24", "dev", "br-foreign"],
    ] {
        run("ip", &[&["-n", &node.name][..], args].concat());
    }
    assert_eq!(node.addresses("nl-blue").len(), 4);
    let link_local = |ns: &Netns| -> Vec<Value> {
        ns.ip_json(&["-6", "addr", "show", "dev", "nl-blue"])
            .pointer("/0/addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a["scope"] == "link")
            .map(|a| a["local"].clone())
            .collect()
    };
    let had_link_local = link_local(&node);
    assert_eq!(had_link_local.len(), 1, "{had_link_local:?}");
    d.restart();
    assert_eq!(mtu(&node, "nl-blue"), 1500, "{}", d.log_tail(20));
    assert_eq!(
        sorted(node.addresses("nl-blue")),
        listed,
        "{}",
        d.log_tail(20)
    );
    assert_eq!(link_local(&node), had_link_local);
    assert_eq!(link(&node, "nl-blue")["ifindex"], bridge["ifindex"]);
    assert!(
        d.log()
            .join("\n")
            .contains("removing an address the config does not list"),
        "{}",
        d.log_tail(20)
    );
    assert_eq!(mtu(&node, "br-foreign"), 1300);
    assert_eq!(node.addresses("br-foreign"), ["192.0.2.77/24"]);
    // the adopted pod kept its way out
    assert!(pod.ping("10.77.0.1"), "the pod lost its gateway");
    let (ok, v) = cni(
        &d.cni_socket,
        "DEL",
        "ctr-mtu",
        &pod.path(),
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(ok, "{v}");
}
