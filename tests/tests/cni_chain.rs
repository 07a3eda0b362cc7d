//! Conflist chaining and host sysctls, end to end: netloom-cni chained after Debian's
//! reference `bridge` plugin (exec'd in the node the way a runtime runs a conflist) merges
//! its interfaces into the previous result and CHECK consults `prevResult`; a routed
//! network turns on forwarding in the node, so pods on two networks reach each other
//! through the host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use netloom_tests::cni::{add_ok, bridge_network, cni, conf, kernel_daemon, pod_args, Netns};
use netloom_tests::need_root;
use serde_json::{json, Value};

const PLUGINS: &str = "/usr/lib/cni";

/// Exec a reference plugin inside `node` (its host side is the node's namespace).
fn reference(node: &Netns, command: &str, cid: &str, pod: &Netns, config: &Value) -> Value {
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", node.path()))
        .arg(format!("{PLUGINS}/bridge"))
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", cid)
        .env("CNI_NETNS", pod.path())
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", PLUGINS)
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
    assert!(
        out.status.success(),
        "reference bridge {command}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn sysctl(node: &Netns, key: &str) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", node.path()))
        .args(["cat", &format!("/proc/sys/{}", key.replace('.', "/"))])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn chained_after_reference_bridge_merges_result_and_check_consults_prev_result() {
    need_root!();
    if !Path::new(PLUGINS).join("bridge").exists() {
        eprintln!(
            "skipped: the reference CNI plugins are missing (packaging/dev-setup.sh installs them)"
        );
        return;
    }
    let node = Netns::new("node");
    let (p, v) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let d = kernel_daemon(&node, &[(&p, v)]);
    let pod = Netns::new("pod");
    let ref_conf = json!({"cniVersion": "1.0.0", "name": "chain", "type": "bridge",
        "bridge": "cniref0", "isGateway": true,
        "ipam": {"type": "host-local", "subnet": "10.50.0.0/24", "routes": [{"dst": "0.0.0.0/0"}],
                 "dataDir": d.data_dir.join("host-local").display().to_string()}});
    let prev = reference(&node, "ADD", "chained", &pod, &ref_conf);
    let prev_len = prev["interfaces"].as_array().unwrap().len();
    let (ok, r) = cni(
        &d.cni_socket,
        "ADD",
        "chained",
        &pod.path(),
        "eth0",
        &pod_args("chained"),
        conf(
            json!({"cniVersion": "1.0.0", "name": "chain", "network": "blue", "prevResult": prev}),
        ),
    );
    assert!(ok, "{r}");
    assert_eq!(r["cniVersion"], "1.0.0");
    // the previous result passes through, netloom's interface follows it
    let ifs = r["interfaces"].as_array().unwrap();
    assert_eq!(
        &ifs[..prev_len],
        prev["interfaces"].as_array().unwrap().as_slice()
    );
    assert_eq!(ifs[prev_len + 1]["name"], "net1", "{r}");
    assert_eq!(ifs[prev_len + 1]["sandbox"], pod.path());
    assert_eq!(r["ips"][0], prev["ips"][0]);
    let ours = r["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ip| ip["address"].as_str().unwrap().starts_with("10.77."))
        .unwrap();
    assert_eq!(ours["interface"], prev_len + 1, "{r}");
    // both plugins' interfaces are in the pod; netloom left eth0 and its default route alone
    assert!(pod.addresses("eth0")[0].starts_with("10.50.0."));
    assert_eq!(pod.addresses("net1")[0], ours["address"]);
    let default = pod.ip_json(&["route", "show", "default"]);
    assert_eq!(default.as_array().unwrap().len(), 1, "{default}");
    assert_eq!(default[0]["dev"], "eth0");

    let check = |prev: &Value| {
        cni(
            &d.cni_socket,
            "CHECK",
            "chained",
            &pod.path(),
            "eth0",
            "",
            conf(
                json!({"cniVersion": "1.0.0", "name": "chain", "network": "blue", "prevResult": prev}),
            ),
        )
    };
    let (ok, v) = check(&r);
    assert!(ok, "CHECK with the chain's result: {v}");
    // a prevResult without netloom's interface, or with another address on it, fails
    let (ok, v) = check(&prev);
    assert!(!ok && v["code"] == 7, "{v}");
    let mut wrong = r.clone();
    for ip in wrong["ips"].as_array_mut().unwrap() {
        if ip["address"] == ours["address"] {
            ip["address"] = json!("10.77.0.250/24");
        }
    }
    let (ok, v) = check(&wrong);
    assert!(!ok && v["code"] == 7, "{v}");
    // an address prevResult lists on net1 that the kernel lacks: CHECK reports it
    let mut extra = r.clone();
    extra["ips"]
        .as_array_mut()
        .unwrap()
        .push(json!({"address": "10.77.0.251/24", "interface": prev_len + 1}));
    let (ok, v) = check(&extra);
    assert!(!ok && v["code"] == 100, "{v}");

    // DEL in chain order (reverse): netloom's interface goes, the bridge plugin's stays
    let (ok, v) = cni(
        &d.cni_socket,
        "DEL",
        "chained",
        &pod.path(),
        "eth0",
        "",
        conf(json!({"cniVersion": "1.0.0", "name": "chain", "network": "blue", "prevResult": r})),
    );
    assert!(ok, "{v}");
    let links = pod.links();
    assert!(
        links.contains(&"eth0".to_string()) && !links.contains(&"net1".to_string()),
        "{links:?}"
    );
    reference(&node, "DEL", "chained", &pod, &ref_conf);
}

#[test]
fn routed_networks_turn_on_forwarding_so_pods_reach_across_networks() {
    need_root!();
    let node = Netns::new("node");
    // a fresh namespace starts with forwarding off
    assert_eq!(sysctl(&node, "net.ipv4.ip_forward"), "0");
    let (p1, v1) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    let (p2, v2) = bridge_network("red", "10.78.0.0/24", "10.78.0.1");
    let d = kernel_daemon(&node, &[(&p1, v1), (&p2, v2)]);
    assert_eq!(sysctl(&node, "net.ipv4.ip_forward"), "1");
    assert_eq!(sysctl(&node, "net.ipv6.conf.all.forwarding"), "1");
    let pods = [Netns::new("a"), Netns::new("b")];
    let mut addrs = Vec::new();
    for (i, (pod, net)) in pods.iter().zip(["blue", "red"]).enumerate() {
        let r = add_ok(
            &d.cni_socket,
            &format!("fwd{i}"),
            &pod.path(),
            "eth0",
            "",
            net,
        );
        addrs.push(
            r["ips"][0]["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        pods[0].ping(&addrs[1]),
        "blue pod cannot reach the red pod through the node"
    );
    assert!(
        pods[1].ping(&addrs[0]),
        "red pod cannot reach the blue pod through the node"
    );
}
