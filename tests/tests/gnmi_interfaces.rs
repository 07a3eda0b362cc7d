//! gNMI interface telemetry from the kernel: the daemon runs inside a network namespace the
//! test made, a veth pair joins it to a second namespace, and a pod is attached over CNI.
//! Proves that Get answers in/out counters at the OpenConfig paths and under netloom's
//! `state` tree (host and pod side) that grew by at least the packets pinged, that SAMPLE
//! shows them growing, and that ON_CHANGE on oper-status fires on the kernel's link event
//! when the peer is set down and up again (no polling: nothing else changes meanwhile).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use netloom_northbound::gnmi::proto::gnmi::subscribe_request::Request as In;
use netloom_northbound::gnmi::proto::gnmi::subscribe_response::Response as Out;
use netloom_northbound::gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    get_request::DataType, Encoding, GetRequest, Notification, Path, PathElem, SetRequest,
    SubscribeRequest, SubscribeResponse, Subscription, SubscriptionList, SubscriptionMode,
    TypedValue, Update,
};
use netloom_tests::cni::{bridge_network, cni, conf, pod_args, run, Netns};
use netloom_tests::{need_root, Daemon, ADMIN_PASSWORD};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::Streaming;

#[derive(Clone)]
struct Creds;

impl tonic::service::Interceptor for Creds {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut()
            .insert("username", "admin".parse().unwrap());
        r.metadata_mut()
            .insert("password", ADMIN_PASSWORD.parse().unwrap());
        Ok(r)
    }
}

type Client = GNmiClient<InterceptedService<Channel, Creds>>;

/// The steps of `/a/b[name=x/y]/c` ('/' inside a key value stays in it).
fn steps(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            '/' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// `origin:/a/b[name=v]/c`.
fn path(text: &str) -> Path {
    let (origin, text) = text.split_once(":/").unwrap_or(("", text));
    let elem = steps(text.trim_start_matches('/'))
        .into_iter()
        .map(|step| match step.split_once('[') {
            Some((name, rest)) => {
                let (k, v) = rest.trim_end_matches(']').split_once('=').unwrap();
                PathElem {
                    name: name.into(),
                    key: [(k.to_owned(), v.to_owned())].into(),
                }
            }
            None => PathElem {
                name: step.into(),
                key: Default::default(),
            },
        })
        .collect();
    Path {
        origin: origin.into(),
        elem,
        ..Path::default()
    }
}

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

async fn subscribe(c: &mut Client, p: &str, mode: SubscriptionMode, sample_ms: u64) -> Stream {
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(In::Subscribe(SubscriptionList {
            mode: ListMode::Stream.into(),
            encoding: Encoding::Proto.into(),
            subscription: vec![Subscription {
                path: Some(path(p)),
                mode: mode.into(),
                sample_interval: sample_ms * 1_000_000,
                ..Subscription::default()
            }],
            ..SubscriptionList::default()
        })),
        ..Default::default()
    })
    .await
    .unwrap();
    let rx = c
        .subscribe(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    Stream { _tx: tx, rx }
}

struct Stream {
    _tx: mpsc::Sender<SubscribeRequest>,
    rx: Streaming<SubscribeResponse>,
}

impl Stream {
    /// The next notification (sync_response skipped), within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Notification> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(until, self.rx.message()).await {
                Ok(Ok(Some(SubscribeResponse {
                    response: Some(Out::Update(n)),
                    ..
                }))) => return Some(n),
                Ok(Ok(Some(SubscribeResponse {
                    response: Some(Out::SyncResponse(true)),
                    ..
                }))) => continue,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => return None,
            }
        }
    }

    /// Wait (bounded) for a notification whose value satisfies `want`.
    async fn until(&mut self, wait: Duration, want: impl Fn(&Tv) -> bool) -> Tv {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = self.next(left).await.expect("the awaited value in time");
            if let Some(v) = n
                .update
                .iter()
                .filter_map(|u| u.val.as_ref()?.value.clone())
                .find(|v| want(v))
            {
                return v;
            }
        }
    }
}

fn text(tv: &Tv) -> String {
    match tv {
        Tv::StringVal(s) => s.clone(),
        other => format!("{other:?}"),
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
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = GNmiClient::with_interceptor(ch, Creds);
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
