//! gNMI interface telemetry from the kernel: the daemon runs inside a network namespace the
//! test made, a veth pair joins it to a second namespace, and a pod is attached over CNI.
//! Proves that Get answers in/out counters at the OpenConfig paths and under netloom's
//! `state` tree (host and pod side) that grew by at least the packets pinged, that SAMPLE
//! shows them growing, and that ON_CHANGE on oper-status fires on the kernel's link event
//! when the peer is set down and up again, and on pool usage when a pod is attached (no
//! polling: state subscriptions are driven by link, attachment and commit events).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    get_request::DataType, Encoding, GetRequest, SetRequest, SubscriptionMode, TypedValue, Update,
};
use netloom_tests::cni::{bridge_network, cni, conf, pod_args, run, Netns};
use netloom_tests::gnmi::{connect, path, subscribe, text, Client};
use netloom_tests::{need_root, Daemon};
use serde_json::json;

/// The one value a Get of `p` answers, as a number or text (PROTO encoding).
async fn get(c: &mut Client, p: &str) -> Tv {
    let r = c
        .get(GetRequest {
            path: vec![path(p)],
            r#type: DataType::State.into(),
            encoding: Encoding::Proto.into(),
            ..GetRequest::default()
        })
        .await
        .unwrap_or_else(|e| panic!("Get {p}: {e:?}"))
        .into_inner();
    let u = &r.notification[0].update;
    assert_eq!(u.len(), 1, "{p}: {u:?}");
    u[0].val.clone().unwrap().value.unwrap()
}

async fn count(c: &mut Client, p: &str) -> u64 {
    match get(c, p).await {
        Tv::UintVal(n) => n,
        other => panic!("{p}: {other:?}"),
    }
}

#[test]
fn kernel_interface_counters_and_link_events() {
    need_root!();
    let node = Netns::new("gnode");
    let peer = Netns::new("gpeer");
    let pod = Netns::new("gpod");
    run(
        "ip",
        &[
            "-n", &node.name, "link", "add", "gnv0", "type", "veth", "peer", "name", "gnv1",
            "netns", &peer.name,
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &node.name,
            "addr",
            "add",
            "10.98.0.1/24",
            "dev",
            "gnv0",
        ],
    );
    run(
        "ip",
        &[
            "-n",
            &peer.name,
            "addr",
            "add",
            "10.98.0.2/24",
            "dev",
            "gnv1",
        ],
    );
    run("ip", &["-n", &node.name, "link", "set", "gnv0", "up"]);
    run("ip", &["-n", &peer.name, "link", "set", "gnv1", "up"]);
    let temp = tempfile::tempdir().unwrap();
    let net = format!("--net={}", node.path());
    let d = Daemon::start_wrapped(
        temp.path().to_owned(),
        Some(temp),
        &["nsenter", &net],
        &["--dataplane", "kernel", "--gnmi-plaintext"],
    );
    let socket = d.cni_socket.clone();
    // The gNMI listener is on the node namespace's loopback: the client runs on a thread
    // that entered that namespace (setns is per thread), on a runtime of its own.
    let ns = std::fs::File::open(node.path()).unwrap();
    let addr = d.gnmi;
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(telemetry(addr, &socket, &peer, &pod))
    })
    .join()
    .unwrap();
}

async fn telemetry(
    addr: std::net::SocketAddr,
    socket: &std::path::Path,
    peer: &Netns,
    pod: &Netns,
) {
    let mut c = connect(addr).await;
    // A bridge network and a pod on it (the shim talks to the daemon's socket by path).
    let (_, mut blue) = bridge_network("blue", "10.77.0.0/24", "10.77.0.1");
    blue["name"] = json!("blue");
    c.set(SetRequest {
        update: vec![Update {
            path: Some(path("/networks/network[name=blue]")),
            val: Some(TypedValue {
                value: Some(Tv::JsonIetfVal(blue.to_string().into_bytes())),
            }),
            ..Update::default()
        }],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    // Attachment and ledger changes drive ON_CHANGE on state: no poll, no commit.
    let mut usage = subscribe(
        &mut c,
        "/state/pool-usage[network=blue]/allocated",
        SubscriptionMode::OnChange,
        0,
    )
    .await;
    usage
        .until(Duration::from_secs(5), |v| matches!(v, Tv::UintVal(0)))
        .await;
    let (ok, r) = cni(
        socket,
        "ADD",
        "gpod",
        &pod.path(),
        "eth0",
        &pod_args("gpod"),
        conf(json!({"network": "blue"})),
    );
    assert!(ok, "ADD: {r}");
    usage
        .until(Duration::from_secs(5), |v| matches!(v, Tv::UintVal(1)))
        .await;
    let oc = "openconfig:/interfaces/interface[name=gnv0]/state";
    assert_eq!(text(&get(&mut c, &format!("{oc}/oper-status")).await), "UP");
    assert_eq!(
        text(&get(&mut c, &format!("{oc}/admin-status")).await),
        "UP"
    );
    assert_eq!(count(&mut c, &format!("{oc}/mtu")).await, 1500);
    let in0 = count(&mut c, &format!("{oc}/counters/in-pkts")).await;
    let out0 = count(&mut c, &format!("{oc}/counters/out-octets")).await;
    let mut sample = subscribe(
        &mut c,
        &format!("{oc}/counters/in-unicast-pkts"),
        SubscriptionMode::Sample,
        200,
    )
    .await;
    let first = match sample.next(Duration::from_secs(5)).await.unwrap().update[0]
        .val
        .clone()
        .unwrap()
        .value
        .unwrap()
    {
        Tv::UintVal(n) => n,
        other => panic!("{other:?}"),
    };
    let mut oper = subscribe(
        &mut c,
        &format!("{oc}/oper-status"),
        SubscriptionMode::OnChange,
        0,
    )
    .await;
    let initial = oper.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        text(
            initial.update[0]
                .val
                .as_ref()
                .unwrap()
                .value
                .as_ref()
                .unwrap()
        ),
        "UP"
    );
    let mut own = subscribe(
        &mut c,
        "/state/interface[name=gnv0]/oper-status",
        SubscriptionMode::OnChange,
        0,
    )
    .await;
    own.until(Duration::from_secs(5), |v| text(v) == "up").await;

    const PINGS: u64 = 20;
    run(
        "ip",
        &[
            "netns",
            "exec",
            &peer.name,
            "ping",
            "-c",
            "20",
            "-i",
            "0.01",
            "-W",
            "2",
            "-q",
            "10.98.0.1",
        ],
    );
    let in1 = count(&mut c, &format!("{oc}/counters/in-pkts")).await;
    let out1 = count(&mut c, &format!("{oc}/counters/out-octets")).await;
    assert!(in1 >= in0 + PINGS, "in-pkts {in0} -> {in1}");
    // 20 echo replies of 84 octets (IP) + 14 (Ethernet) each, at least.
    assert!(out1 >= out0 + PINGS * 98, "out-octets {out0} -> {out1}");
    let own_in = count(&mut c, "/state/interface[name=gnv0]/counters/in-pkts").await;
    assert!(own_in >= in1, "netloom's tree: {own_in} < {in1}");
    // SAMPLE: later samples show the growth.
    sample
        .until(
            Duration::from_secs(5),
            |v| matches!(v, Tv::UintVal(n) if *n >= first + PINGS),
        )
        .await;

    // The pod side, read inside the pod's namespace.
    assert!(pod.ping("10.77.0.1"), "the pod reaches its gateway");
    let pod_if = format!("{}/eth0", pod.name);
    let pod_out = count(
        &mut c,
        &format!("/state/interface[name={pod_if}]/counters/out-pkts"),
    )
    .await;
    assert!(pod_out >= 1, "pod eth0 sent {pod_out}");
    assert_eq!(
        text(
            &get(
                &mut c,
                &format!("openconfig:/interfaces/interface[name={pod_if}]/state/oper-status")
            )
            .await
        ),
        "UP"
    );

    // ON_CHANGE: the peer goes down, the kernel says so, the stream says so.
    let down_at = Instant::now();
    run("ip", &["-n", &peer.name, "link", "set", "gnv1", "down"]);
    let v = oper
        .until(Duration::from_secs(5), |v| text(v) != "UP")
        .await;
    let latency = down_at.elapsed();
    // A veth whose peer is down has no carrier: the kernel says DOWN.
    assert_eq!(text(&v), "DOWN");
    own.until(Duration::from_secs(5), |v| text(v) == "down")
        .await;
    eprintln!("oper-status ON_CHANGE after `ip link set down`: {latency:?}");
    run("ip", &["-n", &peer.name, "link", "set", "gnv1", "up"]);
    oper.until(Duration::from_secs(5), |v| text(v) == "UP")
        .await;
}
