//! Two "nodes", each a network namespace running its own netloomd on its own data dir with
//! the same committed config (as a fleet would have): a pod rescheduled from one node to
//! the other keeps its fixed address, and pods on the two nodes talk over a VXLAN network
//! whose tunnel runs across a veth "wire" between the nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use netloom_store::Store;
use netloom_tests::cni::{
    add_ok, bridge_network, cni, conf, kernel_daemon, pod_args, run, wired_nodes, Netns,
};
use netloom_tests::{need_root, Daemon};
use netloom_yang::Schema;
use serde_json::{json, Value};

fn leases(d: &mut Daemon) -> usize {
    d.stop();
    let store = Store::open(
        &d.data_dir.join("netloom.db"),
        Arc::new(Schema::new().unwrap()),
    )
    .unwrap();
    store.allocations(None).unwrap().len()
}

#[test]
fn fixed_ip_survives_rescheduling_to_another_node() {
    need_root!();
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let config = [
        (p.as_str(), v),
        (
            "/netloom-host:pods/pod[namespace='shop'][name='db-0']",
            json!({"interface": [{"name": "eth0", "network": "blue",
                "address": ["10.77.0.42"], "default-route": true}]}),
        ),
    ];
    let nodes = [Netns::new("n1"), Netns::new("n2")];
    let mut daemons: Vec<Daemon> = nodes.iter().map(|n| kernel_daemon(n, &config)).collect();
    let args = "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db-0";
    // first on node 1
    let first = Netns::new("db0");
    let (ok, r) = cni(
        &daemons[0].cni_socket,
        "ADD",
        "db-0-run1",
        &first.path(),
        "eth0",
        args,
        conf(json!({})),
    );
    assert!(ok, "{r}");
    assert_eq!(r["ips"][0]["address"], "10.77.0.42/24");
    assert_eq!(first.addresses("eth0")[0], "10.77.0.42/24");
    // evicted from node 1: DEL, the sandbox goes
    let (ok, v) = cni(
        &daemons[0].cni_socket,
        "DEL",
        "db-0-run1",
        &first.path(),
        "eth0",
        args,
        conf(json!({})),
    );
    assert!(ok, "{v}");
    drop(first);
    // rescheduled onto node 2: new container, new sandbox, same address
    let second = Netns::new("db0");
    let (ok, r) = cni(
        &daemons[1].cni_socket,
        "ADD",
        "db-0-run2",
        &second.path(),
        "eth0",
        args,
        conf(json!({})),
    );
    assert!(ok, "{r}");
    assert_eq!(r["ips"][0]["address"], "10.77.0.42/24");
    assert_eq!(second.addresses("eth0")[0], "10.77.0.42/24");
    assert!(
        second.ping("10.77.0.1"),
        "the rescheduled pod cannot reach its gateway"
    );
    assert_eq!(leases(&mut daemons[0]), 0, "node 1 kept a lease");
    // node 2 holds v4 (fixed) and v6 (dynamic) for the pod
    assert_eq!(leases(&mut daemons[1]), 2);
}

/// A VXLAN network on two nodes: each node's VTEP has its own underlay address and the
/// other node as its remote; each node hands out a different range of the shared subnet.
fn vxlan_config(local: &str, remote: &str, start: &str, end: &str) -> Vec<(String, Value)> {
    vec![(
        "/netloom-host:networks/network[name='overlay']".into(),
        json!({"type": "vxlan", "uplink": "wire",
            "vxlan": {"vni": 5001, "local": local, "remote": [remote]},
            "bridge": {"gateway": false},
            "ipam": {"pool": [{"name": "v4", "subnet": "10.98.0.0/24",
                "range": {"start": start, "end": end}}]}}),
    )]
}

#[test]
fn vxlan_carries_pod_traffic_between_two_nodes() {
    need_root!();
    // the wire between the nodes: one veth pair, an end in each node
    let nodes = wired_nodes(["v1", "v2"]);
    let underlay = ["192.0.2.1", "192.0.2.2"];
    for (n, a) in nodes.iter().zip(underlay) {
        run(
            "ip",
            &[
                "-n",
                &n.name,
                "addr",
                "add",
                &format!("{a}/24"),
                "dev",
                "wire",
            ],
        );
    }
    let ranges = [("10.98.0.10", "10.98.0.19"), ("10.98.0.20", "10.98.0.29")];
    let daemons: Vec<Daemon> = (0..2)
        .map(|i| {
            let c = vxlan_config(underlay[i], underlay[1 - i], ranges[i].0, ranges[i].1);
            let edits: Vec<(&str, Value)> =
                c.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
            kernel_daemon(&nodes[i], &edits)
        })
        .collect();
    let pods = [Netns::new("vp1"), Netns::new("vp2")];
    let mut addrs = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let r = add_ok(
            &daemons[i].cni_socket,
            &format!("vx{i}"),
            &pod.path(),
            "eth0",
            &pod_args(&format!("vx{i}")),
            "overlay",
        );
        let a = r["ips"][0]["address"]
            .as_str()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        addrs.push(a);
    }
    assert!(
        addrs[0].starts_with("10.98.0.1") && addrs[1].starts_with("10.98.0.2"),
        "{addrs:?}"
    );
    assert!(
        pods[0].ping(&addrs[1]),
        "no VXLAN path from node 1's pod to node 2's"
    );
    assert!(
        pods[1].ping(&addrs[0]),
        "no VXLAN path from node 2's pod to node 1's"
    );
    // the traffic really crossed the tunnel: node 1's VTEP counted packets both ways
    let stats = nodes[0].ip_json(&["-s", "link", "show", "nlx5001"]);
    let stats = &stats[0]["stats64"];
    assert!(stats["tx"]["packets"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["rx"]["packets"].as_u64().unwrap() > 0, "{stats}");
}
