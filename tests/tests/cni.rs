//! CNI end to end: the real `netloom-cni` shim exec'd the way a runtime does, against the
//! real `netloomd`. Kernel tests run the daemon inside a network namespace the test makes
//! (the "node"), with pods as further namespaces, and assert on `ip -j` output and ping;
//! they skip with a reason when not root. The in-process test drives the CNI service
//! directly with the memory dataplane: 100 pods in parallel, state, ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use netloom_daemon::cni::CniService;
use netloom_daemon::service::Service;
use netloom_daemon::Engine;
use netloom_northbound::api::{Principal, Reply, Request};
use netloom_northbound::cni::{CniBackend, CniCall, Command as CniCommand};
use netloom_southbound::{MemoryDriver, MemoryPods};
use netloom_store::Store;
use netloom_tests::cni::{
    add_ok, bridge_network, cni, conf, eventually, kernel_daemon, pod_args, run, seed, Netns,
};
use netloom_tests::{need_root, netloom_cni_path, Daemon};
use netloom_yang::Schema;
use serde_json::{json, Value};

#[test]
fn shim_reports_spec_errors_and_waits_for_no_daemon() {
    let d = Daemon::start(&[]);
    let s = &d.cni_socket;
    let (ok, v) = cni(s, "VERSION", "", "", "", "", conf(json!({})));
    assert!(ok);
    assert_eq!(v["supportedVersions"].as_array().unwrap().len(), 5);
    // ready: no pool to run out of
    assert_eq!(
        cni(s, "STATUS", "", "", "", "", conf(json!({}))),
        (true, Value::Null)
    );
    // malformed JSON: 6; unknown network: 7; missing env: 4; bad version: 1
    let mut child = Command::new(netloom_cni_path())
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", "c")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/x")
        .env("NETLOOM_CNI_SOCKET", s)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{not json").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["code"],
        6
    );
    let (ok, v) = cni(
        s,
        "ADD",
        "c1",
        "/run/netns/none",
        "eth0",
        "",
        conf(json!({"network": "nope"})),
    );
    assert!(!ok);
    assert_eq!(v["code"], 7, "{v}");
    let (_, v) = cni(
        s,
        "ADD",
        "",
        "",
        "eth0",
        "",
        conf(json!({"network": "nope"})),
    );
    assert_eq!(v["code"], 4, "{v}");
    let (_, v) = cni(
        s,
        "ADD",
        "c",
        "/x",
        "eth0",
        "",
        json!({"cniVersion": "7.0.0"}),
    );
    assert_eq!(v["code"], 1, "{v}");
    // no daemon: after the bounded wait, 11 (try again later); STATUS says 50
    let gone = d.data_dir.join("absent.sock");
    let t = std::time::Instant::now();
    let (ok, v) = cni(
        &gone,
        "ADD",
        "c",
        "/x",
        "eth0",
        "",
        conf(json!({"daemonWaitSeconds": 0.3})),
    );
    assert!(!ok && v["code"] == 11, "{v}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(250));
    let (_, v) = cni(
        &gone,
        "STATUS",
        "",
        "",
        "",
        "",
        conf(json!({"daemonWaitSeconds": 0})),
    );
    assert_eq!(v["code"], 50);
    let (ok, _) = cni(
        &gone,
        "VERSION",
        "",
        "",
        "",
        "",
        conf(json!({"daemonWaitSeconds": 0})),
    );
    assert!(ok, "VERSION is answered without the daemon");
}

/// The CNI service in-process on the memory dataplane: 100 pods attached in parallel with a
/// fixed address, two interfaces each, no duplicate, state lists them, DEL leaves nothing.
#[test]
fn hundred_parallel_pods_no_duplicate_no_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let (p2, v2) = bridge_network("green", "10.78.0.0/24", "10.78.0.1");
    seed(
        dir.path(),
        &[
            (&p, v),
            (&p2, v2),
            (
                "/netloom-host:pods/pod[namespace='default'][name='fixed']",
                json!({"interface": [{"name": "eth0", "network": "blue", "address": ["10.77.0.200"], "default-route": true},
                              {"name": "net1", "network": "green"}]}),
            ),
        ],
    );
    let schema = Arc::new(Schema::new().unwrap());
    let engine = Engine::open(
        schema.clone(),
        &dir.path().join("netloom.db"),
        Box::new(MemoryDriver::new()),
    )
    .unwrap();
    let (service, handle) = Service::start(engine).unwrap();
    let cni = Arc::new(
        CniService::start(
            service.jobs(),
            handle.clone(),
            &schema,
            Arc::new(MemoryPods::default()),
        )
        .unwrap(),
    );
    let call = |command, cid: &str, name: &str| CniCall {
        command,
        container_id: cid.into(),
        netns: format!("/run/netns/{cid}"),
        ifname: "eth0".into(),
        args: vec![
            ("K8S_POD_NAMESPACE".into(), "default".into()),
            ("K8S_POD_NAME".into(), name.into()),
        ],
        path: String::new(),
        config: conf(json!({"networks": ["blue", "green"]})),
        cni_version: "1.1.0".into(),
    };
    let results: Vec<Value> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let cni = cni.clone();
                let name = if i == 7 {
                    "fixed".to_string()
                } else {
                    format!("p{i}")
                };
                let c = call(CniCommand::Add, &format!("c{i}"), &name);
                s.spawn(move || cni.call(c).unwrap().unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = HashSet::new();
    for r in &results {
        // two interfaces (host + pod ends each), dual stack on eth0, v4+v6 on net1
        assert_eq!(r["interfaces"].as_array().unwrap().len(), 4, "{r}");
        assert_eq!(r["ips"].as_array().unwrap().len(), 4, "{r}");
        assert_eq!(r["dns"]["nameservers"][0], "10.77.0.53");
        for ip in r["ips"].as_array().unwrap() {
            assert!(
                seen.insert(ip["address"].as_str().unwrap().to_owned()),
                "duplicate {ip}"
            );
        }
    }
    assert_eq!(results[7]["ips"][0]["address"], "10.77.0.200/24");
    assert_eq!(
        results[7]["routes"][0],
        json!({"dst": "0.0.0.0/0", "gw": "10.77.0.1"})
    );
    let who = Principal {
        session: 9,
        user: "test".into(),
    };
    let Reply::State(state) = handle.call_blocking(&who, Request::State).unwrap() else {
        panic!()
    };
    let st = &state["netloom-host:state"];
    assert_eq!(st["attachment"].as_array().unwrap().len(), 200);
    let usage = st["pool-usage"].as_array().unwrap();
    let blue4 = usage
        .iter()
        .find(|u| u["network"] == "blue" && u["pool"] == "v4")
        .unwrap();
    assert_eq!(blue4["allocated"], "100");
    assert_eq!(blue4["size"], "253");
    // DEL everything, twice (idempotent), in parallel
    std::thread::scope(|s| {
        for i in 0..100 {
            let cni = cni.clone();
            let c = call(CniCommand::Del, &format!("c{i}"), &format!("p{i}"));
            s.spawn(move || {
                assert_eq!(cni.call(c.clone()).unwrap(), None);
                assert_eq!(cni.call(c).unwrap(), None);
            });
        }
    });
    let Reply::State(state) = handle.call_blocking(&who, Request::State).unwrap() else {
        panic!()
    };
    assert!(state["netloom-host:state"].get("attachment").is_none());
    drop(cni);
    drop(handle);
    service.join();
    let store = Store::open(&dir.path().join("netloom.db"), schema).unwrap();
    assert!(store.allocations(None).unwrap().is_empty(), "leaked leases");
    assert!(store.attachments().unwrap().is_empty());
}

#[test]
fn bridge_pods_add_check_del_gc_in_namespaces() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let d = kernel_daemon(&node, &[(&p, v)]);
    let s = d.cni_socket.clone();
    // the committed network made the host bridge with its gateways
    let br = node.addresses("nl-blue");
    assert!(br.contains(&"10.77.0.1/24".to_string()), "{br:?}");
    let pods = [Netns::new("a"), Netns::new("b")];
    let mut addrs = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let cid = format!("ctr{i}");
        let r = add_ok(
            &s,
            &cid,
            &pod.path(),
            "eth0",
            &pod_args(&format!("p{i}")),
            "blue",
        );
        assert_eq!(r["cniVersion"], "1.1.0");
        assert_eq!(r["interfaces"][1]["name"], "eth0");
        assert_eq!(r["interfaces"][1]["sandbox"], pod.path());
        let host = r["interfaces"][0]["name"].as_str().unwrap().to_owned();
        assert!(node.links().contains(&host), "host end {host} missing");
        // a bridge port: no address of its own, not even an IPv6 link-local one
        assert_eq!(node.addresses(&host), Vec::<String>::new(), "{host}");
        let ip4 = r["ips"][0]["address"].as_str().unwrap().to_owned();
        assert_eq!(pod.addresses("eth0")[0], ip4);
        assert_eq!(
            pod.addresses("eth0")[1],
            r["ips"][1]["address"].as_str().unwrap()
        );
        let routes = pod.ip_json(&["route", "show", "default"]);
        assert_eq!(routes[0]["gateway"], "10.77.0.1", "{routes}");
        addrs.push(ip4.split('/').next().unwrap().to_owned());
        let (ok, v) = cni(
            &s,
            "CHECK",
            &cid,
            &pod.path(),
            "eth0",
            "",
            conf(json!({"network": "blue", "prevResult": r})),
        );
        assert!(ok, "{v}");
    }
    assert!(pods[0].ping(&addrs[1]), "pod a cannot reach pod b");
    assert!(pods[1].ping("10.77.0.1"), "pod b cannot reach its gateway");
    // interface name clash: the pod already has eth0
    let (ok, v) = cni(
        &s,
        "ADD",
        "other",
        &pods[0].path(),
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(!ok && v["code"] == 4, "{v}");
    // missing netns
    let (ok, v) = cni(
        &s,
        "ADD",
        "ghost",
        "/run/netns/does-not-exist",
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(!ok && v["code"] == 4, "{v}");
    // CHECK notices a removed interface
    run("ip", &["-n", &pods[1].name, "link", "del", "eth0"]);
    let (ok, v) = cni(
        &s,
        "CHECK",
        "ctr1",
        &pods[1].path(),
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(!ok, "{v}");
    // DEL: idempotent, fine when the netns is gone
    let (ok, v) = cni(
        &s,
        "DEL",
        "ctr0",
        &pods[0].path(),
        "eth0",
        "",
        conf(json!({"network": "blue"})),
    );
    assert!(ok, "{v}");
    assert!(
        !eventually(|| pods[0].links(), |l| !l.contains(&"eth0".to_string()))
            .contains(&"eth0".to_string())
    );
    assert!(
        cni(
            &s,
            "DEL",
            "ctr0",
            &pods[0].path(),
            "eth0",
            "",
            conf(json!({"network": "blue"}))
        )
        .0
    );
    assert!(
        cni(
            &s,
            "DEL",
            "ctr0",
            "",
            "eth0",
            "",
            conf(json!({"network": "blue"}))
        )
        .0
    );
    // GC: ctr1 is not valid any more; its host end goes, and every lease with it
    let (ok, v) = cni(
        &s,
        "GC",
        "",
        "",
        "",
        "",
        conf(json!({"cni.dev/valid-attachments": []})),
    );
    assert!(ok, "{v}");
    assert!(
        !eventually(
            || node.links(),
            |l| !l.iter().any(|l| l.starts_with("nl") && l != "nl-blue")
        )
        .iter()
        .any(|l| l.starts_with("nl") && l != "nl-blue"),
        "{:?}",
        node.links()
    );
    let mut d = d;
    d.stop();
    let store = Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap();
    assert!(store.allocations(None).unwrap().is_empty());
    assert!(store.attachments().unwrap().is_empty());
}

/// A pod with three interfaces from its /pods entry: bridge veth (fixed IP), macvlan on an
/// uplink, and a veth on a VXLAN-backed bridge; two such pods reach each other on each.
/// The macvlan network has a policy route steering traffic from its subnet to a table.
#[test]
fn three_interface_pods_bridge_macvlan_vxlan() {
    need_root!();
    let node = Netns::new("node");
    // an uplink with carrier: a veth pair inside the node
    run(
        "ip",
        &[
            "-n", &node.name, "link", "add", "upl0", "type", "veth", "peer", "name", "upl0p",
        ],
    );
    run("ip", &["-n", &node.name, "link", "set", "upl0", "up"]);
    run("ip", &["-n", &node.name, "link", "set", "upl0p", "up"]);
    run(
        "ip",
        &[
            "-n",
            &node.name,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            "upl0",
        ],
    );
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let pod_entry = |fixed: &str| {
        json!({"interface": [
        {"name": "eth0", "network": "blue", "address": [fixed], "default-route": true},
        {"name": "net1", "network": "green"},
        {"name": "net2", "network": "red"}]})
    };
    let d = kernel_daemon(
        &node,
        &[
            (&p, v),
            (
                "/netloom-host:networks/network[name='green']",
                json!({"type": "macvlan", "uplink": "upl0", "mtu": 1400,
            "ipam": {"pool": [{"name": "v4", "subnet": "10.88.0.0/24"}]},
            "policy-route": [{"priority": 100, "from": "10.88.0.0/24", "table": 188}]}),
            ),
            (
                "/netloom-host:networks/network[name='red']",
                json!({"type": "vxlan", "uplink": "upl0",
            "vxlan": {"vni": 4242, "local": "192.0.2.1", "remote": ["192.0.2.2", "192.0.2.3"]},
            "ipam": {"pool": [{"name": "v4", "subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}]}}),
            ),
            (
                "/netloom-host:pods/pod[namespace='default'][name='a']",
                pod_entry("10.77.0.10"),
            ),
            (
                "/netloom-host:pods/pod[namespace='default'][name='b']",
                pod_entry("10.77.0.11"),
            ),
        ],
    );
    // VXLAN device on the bridge, with one flood entry per remote
    let vx = node.ip_json(&["-d", "link", "show", "nlx4242"]);
    assert_eq!(vx[0]["linkinfo"]["info_data"]["id"], 4242, "{vx}");
    assert_eq!(vx[0]["master"], "nl-red");
    let fdb = run(
        "bridge",
        &["-n", &node.name, "fdb", "show", "dev", "nlx4242"],
    );
    assert!(
        fdb.contains("dst 192.0.2.2") && fdb.contains("dst 192.0.2.3"),
        "{fdb}"
    );
    let pods = [Netns::new("a"), Netns::new("b")];
    let mut results = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let name = ["a", "b"][i];
        let t = std::time::Instant::now();
        let (ok, r) = cni(
            &d.cni_socket,
            "ADD",
            &format!("ctr-{name}"),
            &pod.path(),
            "eth0",
            &pod_args(name),
            conf(json!({})),
        );
        eprintln!("3-interface ADD took {:?}", t.elapsed());
        assert!(ok, "{r}");
        let names: Vec<_> = r["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i.get("sandbox").is_some())
            .map(|i| i["name"].clone())
            .collect();
        assert_eq!(names, vec!["eth0", "net1", "net2"]);
        assert_eq!(pod.ip_json(&["link", "show", "net1"])[0]["mtu"], 1400);
        assert_eq!(
            pod.ip_json(&["-d", "link", "show", "net1"])[0]["linkinfo"]["info_kind"],
            "macvlan"
        );
        results.push(r);
    }
    assert_eq!(pods[0].addresses("eth0")[0], "10.77.0.10/24");
    for ifname in ["eth0", "net1", "net2"] {
        let to = pods[1].addresses(ifname)[0]
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        assert!(pods[0].ping(&to), "a cannot reach b on {ifname} ({to})");
    }
    // policy routing: traffic from the macvlan subnet looks up table 188, which routes
    // the subnet out of net1
    let rules = pods[0].ip_json(&["rule"]);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["priority"] == 100 && r["table"] == "188"),
        "{rules}"
    );
    let from = pods[0].addresses("net1")[0]
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let got = pods[0].ip_json(&["route", "get", "10.88.0.77", "from", &from]);
    assert_eq!(got[0]["dev"], "net1", "{got}");
    assert_eq!(got[0]["table"], "188", "{got}");
    for (i, pod) in pods.iter().enumerate() {
        let (ok, v) = cni(
            &d.cni_socket,
            "DEL",
            &format!("ctr-{}", ["a", "b"][i]),
            &pod.path(),
            "eth0",
            "",
            conf(json!({})),
        );
        assert!(ok, "{v}");
        assert_eq!(
            eventually(|| pod.links(), |l| l.len() == 1),
            vec!["lo".to_string()]
        );
    }
    assert!(pods[0]
        .ip_json(&["rule"])
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["priority"] != 100));
}

/// Killed with ADDs in flight, restarted: the retried ADDs succeed, DELs leave no lease and
/// no interface behind.
#[test]
fn daemon_killed_mid_add_then_retry_succeeds_without_leaks() {
    need_root!();
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let mut d = kernel_daemon(&node, &[(&p, v)]);
    let pods: Vec<Netns> = (0..8).map(|i| Netns::new(&format!("k{i}"))).collect();
    let socket = d.cni_socket.clone();
    std::thread::scope(|s| {
        for (i, pod) in pods.iter().enumerate() {
            let socket = socket.clone();
            s.spawn(move || {
                cni(
                    &socket,
                    "ADD",
                    &format!("k{i}"),
                    &pod.path(),
                    "eth0",
                    "",
                    conf(json!({"network": "blue", "daemonWaitSeconds": 0})),
                )
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        d.kill();
    });
    let dir: PathBuf = d.data_dir.clone();
    d.restart();
    assert!(dir.exists());
    let mut seen = HashSet::new();
    for (i, pod) in pods.iter().enumerate() {
        let (ok, r) = cni(
            &d.cni_socket,
            "ADD",
            &format!("k{i}"),
            &pod.path(),
            "eth0",
            "",
            conf(json!({"network": "blue"})),
        );
        assert!(ok, "retry {i}: {r}");
        assert!(
            seen.insert(r["ips"][0]["address"].clone()),
            "duplicate address {r}"
        );
        assert_eq!(pod.addresses("eth0").len(), 2);
    }
    for (i, pod) in pods.iter().enumerate() {
        assert!(
            cni(
                &d.cni_socket,
                "DEL",
                &format!("k{i}"),
                &pod.path(),
                "eth0",
                "",
                conf(json!({"network": "blue"}))
            )
            .0
        );
        assert_eq!(
            eventually(|| pod.links(), |l| l.len() == 1),
            vec!["lo".to_string()]
        );
    }
    assert!(
        !eventually(
            || node.links(),
            |l| !l.iter().any(|l| l.starts_with("nl") && l != "nl-blue")
        )
        .iter()
        .any(|l| l.starts_with("nl") && l != "nl-blue"),
        "{:?}",
        node.links()
    );
    d.stop();
    let store = Store::open(&dir.join("netloom.db"), Arc::new(Schema::new().unwrap())).unwrap();
    assert!(
        store.allocations(None).unwrap().is_empty(),
        "{:?}",
        store.allocations(None).unwrap()
    );
}
