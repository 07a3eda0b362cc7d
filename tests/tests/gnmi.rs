//! gNMI end to end: the real netloomd, a Rust tonic client built from netloom's protos and
//! pygnmi, over loopback. Proves every RPC and subscription mode, wildcards, data types,
//! encodings, atomic Set, the error codes, and that a collector that stops reading is cut
//! off with RESOURCE_EXHAUSTED while others carry on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use netloom_northbound::gnmi::proto::gnmi::subscribe_request::Request as In;
use netloom_northbound::gnmi::proto::gnmi::subscribe_response::Response as Out;
use netloom_northbound::gnmi::proto::gnmi::subscription_list::Mode as ListMode;
use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    get_request::DataType, update_result::Operation, CapabilityRequest, Encoding, GetRequest,
    Notification, Path, PathElem, Poll, SetRequest, SubscribeRequest, SubscribeResponse,
    Subscription, SubscriptionList, SubscriptionMode, TypedValue, Update,
};
use netloom_tests::{Daemon, ADMIN_PASSWORD};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Streaming};

#[derive(Clone)]
struct Creds(String, String);

impl tonic::service::Interceptor for Creds {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if !self.0.is_empty() {
            r.metadata_mut().insert("username", self.0.parse().unwrap());
            r.metadata_mut().insert("password", self.1.parse().unwrap());
        }
        Ok(r)
    }
}

type Client = GNmiClient<InterceptedService<Channel, Creds>>;

async fn plain(d: &Daemon, user: &str, password: &str) -> Client {
    let ch = Channel::from_shared(format!("http://{}", d.gnmi))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GNmiClient::with_interceptor(ch, Creds(user.into(), password.into()))
        .max_decoding_message_size(usize::MAX)
}

async fn admin(d: &Daemon) -> Client {
    plain(d, "admin", ADMIN_PASSWORD).await
}

/// `/a/b[k=v][k2=v2]/c` (test paths hold no '/' or ']' in key values).
fn path(text: &str) -> Path {
    let (origin, text) = match text.split_once(":/") {
        Some((o, t)) if !o.contains('/') && o != "netloom-host" => (o.to_owned(), format!("/{t}")),
        _ => (String::new(), text.to_owned()),
    };
    let elem = text
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut parts = s.split('[');
            let name = parts.next().unwrap().to_owned();
            let key = parts
                .map(|p| {
                    let (k, v) = p.trim_end_matches(']').split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            PathElem { name, key }
        })
        .collect();
    Path {
        origin,
        elem,
        ..Path::default()
    }
}

fn show(p: &Path) -> String {
    let mut out = String::new();
    for e in &p.elem {
        out.push('/');
        out.push_str(&e.name);
        let mut keys: Vec<_> = e.key.iter().collect();
        keys.sort();
        for (k, v) in keys {
            out.push_str(&format!("[{k}={v}]"));
        }
    }
    out
}

fn ietf(v: Value) -> Option<TypedValue> {
    Some(TypedValue {
        value: Some(Tv::JsonIetfVal(v.to_string().into_bytes())),
    })
}

fn update(p: &str, v: Value) -> Update {
    Update {
        path: Some(path(p)),
        val: ietf(v),
        ..Update::default()
    }
}

fn value(tv: &TypedValue) -> Value {
    match tv.value.as_ref().unwrap() {
        Tv::JsonIetfVal(b) | Tv::JsonVal(b) => serde_json::from_slice(b).unwrap(),
        Tv::StringVal(s) | Tv::AsciiVal(s) => json!(s),
        Tv::UintVal(u) => json!(u),
        Tv::IntVal(i) => json!(i),
        Tv::BoolVal(b) => json!(b),
        other => panic!("unexpected value {other:?}"),
    }
}

/// Every update of a Get as path text -> value.
async fn get(
    c: &mut Client,
    paths: &[&str],
    ty: DataType,
    enc: Encoding,
) -> HashMap<String, Value> {
    let r = c
        .get(GetRequest {
            path: paths.iter().map(|p| path(p)).collect(),
            r#type: ty.into(),
            encoding: enc.into(),
            ..GetRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    r.notification
        .iter()
        .flat_map(|n| &n.update)
        .map(|u| {
            (
                show(u.path.as_ref().unwrap()),
                value(u.val.as_ref().unwrap()),
            )
        })
        .collect()
}

async fn get_err(c: &mut Client, req: GetRequest) -> tonic::Status {
    c.get(req).await.expect_err("the Get should fail")
}

fn get_req(p: Path) -> GetRequest {
    GetRequest {
        path: vec![p],
        encoding: Encoding::JsonIetf.into(),
        ..GetRequest::default()
    }
}

async fn networks(c: &mut Client) -> HashMap<String, Value> {
    get(
        c,
        &["/networks/network[name=*]"],
        DataType::Config,
        Encoding::JsonIetf,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_capabilities_and_authentication() {
    let d = Daemon::start(&[]);
    let ca = std::fs::read_to_string(d.data_dir.join("tls-cert.pem")).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    let ch = Channel::from_shared(format!("https://{}", d.gnmi))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c =
        GNmiClient::with_interceptor(ch.clone(), Creds("admin".into(), ADMIN_PASSWORD.into()));
    let caps = c
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caps.g_nmi_version, "0.10.0");
    assert_eq!(caps.supported_models[0].name, "netloom-host");
    assert_eq!(caps.supported_models[0].organization, "The netloom project");
    assert_eq!(caps.supported_models[0].version, "2026-11-21");
    for e in [
        Encoding::Json,
        Encoding::JsonIetf,
        Encoding::Proto,
        Encoding::Ascii,
    ] {
        assert!(caps.supported_encodings.contains(&(e as i32)), "{e:?}");
    }
    for creds in [
        Creds(String::new(), String::new()),
        Creds("admin".into(), "wrong".into()),
        Creds("nobody".into(), "x".into()),
    ] {
        let mut bad = GNmiClient::with_interceptor(ch.clone(), creds);
        let e = bad
            .capabilities(CapabilityRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        let e = bad.get(get_req(path("/networks"))).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    // Plaintext gNMI is for loopback only: the daemon refuses to start otherwise.
    let out = std::process::Command::new(netloom_tests::netloomd_path())
        .args(["--data-dir", d.data_dir.join("other").to_str().unwrap()])
        .args([
            "--gnmi",
            "0.0.0.0:0",
            "--gnmi-plaintext",
            "--restconf",
            "127.0.0.1:0",
        ])
        .args(["--netconf", "127.0.0.1:0"])
        .args([
            "--cni-socket",
            d.data_dir.join("other.sock").to_str().unwrap(),
        ])
        .env("NETLOOM_ADMIN_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_and_get_with_wildcards_types_and_errors() {
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let mut c = admin(&d).await;
    let r = c
        .set(SetRequest {
            prefix: Some(path("/netloom-host:networks")),
            replace: vec![update(
                "/network[name=a]",
                json!({"name": "a", "type": "bridge", "mtu": 1400}),
            )],
            update: vec![
                update("/network[name=b]", json!({"type": "bridge", "mtu": 9000})),
                Update {
                    path: Some(path("/network[name=a]/mtu")),
                    val: Some(TypedValue {
                        value: Some(Tv::UintVal(1450)),
                    }),
                    ..Update::default()
                },
            ],
            ..SetRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ops: Vec<i32> = r.response.iter().map(|u| u.op).collect();
    assert_eq!(
        ops,
        [
            Operation::Replace as i32,
            Operation::Update as i32,
            Operation::Update as i32
        ]
    );
    assert_eq!(
        show(r.response[0].path.as_ref().unwrap()),
        "/network[name=a]"
    );

    // keys, wildcards, `...`
    let mtus = get(
        &mut c,
        &["/networks/network[name=*]/mtu"],
        DataType::All,
        Encoding::JsonIetf,
    )
    .await;
    assert_eq!(mtus["/networks/network[name=a]/mtu"], json!(1450));
    assert_eq!(mtus["/networks/network[name=b]/mtu"], json!(9000));
    let one = get(
        &mut c,
        &["/networks/network[name=b]"],
        DataType::Config,
        Encoding::JsonIetf,
    )
    .await;
    assert_eq!(one["/networks/network[name=b]"]["type"], "bridge");
    let star = get(
        &mut c,
        &["/networks/*"],
        DataType::Config,
        Encoding::JsonIetf,
    )
    .await;
    assert_eq!(star.len(), 2, "{star:?}");
    let deep = get(&mut c, &["/.../mtu"], DataType::Config, Encoding::JsonIetf).await;
    assert_eq!(deep.len(), 2, "{deep:?}");
    let qualified = get(
        &mut c,
        &["/netloom-host:networks"],
        DataType::Config,
        Encoding::JsonIetf,
    )
    .await;
    assert_eq!(
        qualified["/netloom-host:networks"]["network"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // data types: config never shows state; state shows the commit log and no config
    let config = get(&mut c, &["/*"], DataType::Config, Encoding::JsonIetf).await;
    assert!(
        config.contains_key("/networks") && !config.contains_key("/state"),
        "{config:?}"
    );
    for ty in [DataType::State, DataType::Operational] {
        let state = get(&mut c, &["/*"], ty, Encoding::JsonIetf).await;
        assert!(!state.contains_key("/networks"), "{state:?}");
        assert!(state["/state"]["commit"].as_array().unwrap().len() >= 2);
    }
    let all = get(&mut c, &["/"], DataType::All, Encoding::JsonIetf).await;
    assert!(
        all[""]["netloom-host:state"].is_object() && all[""]["netloom-host:networks"].is_object()
    );

    // encodings: JSON drops module names, PROTO and ASCII send one typed value per leaf
    let unqualified = get(&mut c, &["/"], DataType::Config, Encoding::Json).await;
    assert!(unqualified[""]["networks"].is_object(), "{unqualified:?}");
    let proto = get(
        &mut c,
        &["/networks/network[name=a]"],
        DataType::Config,
        Encoding::Proto,
    )
    .await;
    assert_eq!(proto["/networks/network[name=a]/mtu"], json!(1450));
    assert_eq!(proto["/networks/network[name=a]/type"], json!("bridge"));
    let ascii = get(
        &mut c,
        &["/networks/network[name=a]/mtu"],
        DataType::Config,
        Encoding::Ascii,
    )
    .await;
    assert_eq!(ascii["/networks/network[name=a]/mtu"], json!("1450"));

    // bad input
    let cases: Vec<(GetRequest, Code)> = vec![
        (get_req(path("/networks/nope")), Code::InvalidArgument),
        (
            get_req(path("/networks/network[id=1]")),
            Code::InvalidArgument,
        ),
        (
            get_req(Path {
                origin: "martian".into(),
                ..path("/networks")
            }),
            Code::InvalidArgument,
        ),
        (
            get_req(path(&"/networks".repeat(10_000))),
            Code::InvalidArgument,
        ),
        (get_req(path("/networks/network[name=zz]")), Code::NotFound),
        (
            GetRequest {
                encoding: Encoding::Bytes.into(),
                ..get_req(path("/networks"))
            },
            Code::Unimplemented,
        ),
        (
            GetRequest {
                encoding: 99,
                ..get_req(path("/networks"))
            },
            Code::Unimplemented,
        ),
    ];
    for (req, code) in cases {
        let shown = req.path.first().map(show).unwrap_or_default();
        let e = get_err(&mut c, req).await;
        assert_eq!(e.code(), code, "{}: {e:?}", &shown[..shown.len().min(60)]);
    }

    // A Set the engine rejects changes nothing, and the status names the failing path.
    let before = networks(&mut c).await;
    let e = c
        .set(SetRequest {
            update: vec![
                update("/networks/network[name=c]", json!({"type": "bridge"})),
                update("/networks/network[name=a]/mtu", json!("not-a-number")),
            ],
            ..SetRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("mtu"), "{e:?}");
    assert_eq!(networks(&mut c).await, before);
    for bad in [
        SetRequest {
            update: vec![Update {
                path: Some(path("/networks/network[name=c]")),
                val: Some(TypedValue {
                    value: Some(Tv::JsonIetfVal(b"{not json".to_vec())),
                }),
                ..Update::default()
            }],
            ..SetRequest::default()
        },
        SetRequest {
            update: vec![Update {
                path: Some(path("/networks/network[name=c]")),
                val: Some(TypedValue {
                    value: Some(Tv::BytesVal(vec![1, 2])),
                }),
                ..Update::default()
            }],
            ..SetRequest::default()
        },
        SetRequest {
            update: vec![update("/networks/network[name=*]/mtu", json!(1500))],
            ..SetRequest::default()
        },
        SetRequest {
            update: vec![update("/networks/bogus", json!(1))],
            ..SetRequest::default()
        },
        SetRequest {
            delete: vec![Path {
                origin: "openconfig".into(),
                ..path("/interfaces")
            }],
            ..SetRequest::default()
        },
    ] {
        let e = c.set(bad).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    }
    assert_eq!(networks(&mut c).await, before);

    // union_replace and a wildcard delete in one atomic Set
    let r = c
        .set(SetRequest {
            delete: vec![path("/networks/network[name=*]/mtu")],
            union_replace: vec![update(
                "/networks/network[name=c]",
                json!({"name": "c", "type": "bridge"}),
            )],
            ..SetRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.response[1].op, Operation::UnionReplace as i32);
    let now = networks(&mut c).await;
    assert_eq!(now.len(), 3);
    assert!(now.values().all(|n| n.get("mtu").is_none()), "{now:?}");
    // deleting what is not there is not an error (gNMI 3.4.6)
    c.set(SetRequest {
        delete: vec![path("/networks/network[name=zz]")],
        ..SetRequest::default()
    })
    .await
    .unwrap();

    // An operator may read but not Set.
    let hash = netloom_northbound::auth::hash_password("operator-pw").unwrap();
    c.set(SetRequest {
        update: vec![update(
            "/system/user[name=op]",
            json!({"password": hash, "role": "operator"}),
        )],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    let mut op = plain(&d, "op", "operator-pw").await;
    assert_eq!(networks(&mut op).await.len(), 3);
    let e = op
        .set(SetRequest {
            delete: vec![path("/networks")],
            ..SetRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(networks(&mut c).await.len(), 3);
    // password hashes (nacm:default-deny-all) reach admins only, whatever the path asks
    for p in ["/system", "/system/user[name=op]"] {
        let seen = |m: HashMap<String, Value>| serde_json::to_string(&m).unwrap();
        let theirs = seen(get(&mut op, &[p], DataType::All, Encoding::JsonIetf).await);
        let admins = seen(get(&mut c, &[p], DataType::All, Encoding::JsonIetf).await);
        assert!(
            !theirs.contains("$argon2"),
            "{p}: an operator read a hash: {theirs}"
        );
        assert!(admins.contains("$argon2"), "{p}: {admins}");
        assert!(
            theirs.contains("operator"),
            "{p}: the role is not secret: {theirs}"
        );
    }
    // asked for by name, the hash is not there for an operator (as if it were unset)
    let leaf = "/system/user[name=op]/password";
    let admins = get(&mut c, &[leaf], DataType::All, Encoding::JsonIetf).await;
    assert!(serde_json::to_string(&admins).unwrap().contains("$argon2"));
    let e = get_err(&mut op, get_req(path(leaf))).await;
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
}

/// A Subscribe call: its request sender and response stream.
struct Sub {
    tx: mpsc::Sender<SubscribeRequest>,
    rx: Streaming<SubscribeResponse>,
}

async fn subscribe(c: &mut Client, list: SubscriptionList) -> Sub {
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(In::Subscribe(list)),
        ..Default::default()
    })
    .await
    .unwrap();
    let rx = c
        .subscribe(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    Sub { tx, rx }
}

fn list(mode: ListMode, subs: Vec<Subscription>) -> SubscriptionList {
    SubscriptionList {
        mode: mode.into(),
        subscription: subs,
        encoding: Encoding::JsonIetf.into(),
        ..SubscriptionList::default()
    }
}

fn sub(p: &str, mode: SubscriptionMode, sample_ms: u64) -> Subscription {
    Subscription {
        path: Some(path(p)),
        mode: mode.into(),
        sample_interval: sample_ms * 1_000_000,
        ..Subscription::default()
    }
}

/// What arrived up to and including the next sync_response.
async fn until_sync(s: &mut Sub) -> Vec<Notification> {
    let mut out = Vec::new();
    loop {
        let r = tokio::time::timeout(Duration::from_secs(10), s.rx.message())
            .await
            .expect("a response in time")
            .unwrap()
            .expect("the stream is open");
        match r.response.unwrap() {
            Out::Update(n) => out.push(n),
            Out::SyncResponse(true) => return out,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The next notification, within `wait`.
async fn next(s: &mut Sub, wait: Duration) -> Option<Notification> {
    match tokio::time::timeout(wait, s.rx.message()).await {
        Ok(Ok(Some(SubscribeResponse {
            response: Some(Out::Update(n)),
            ..
        }))) => Some(n),
        Ok(other) => panic!("unexpected {other:?}"),
        Err(_) => None,
    }
}

fn paths_of(ns: &[Notification]) -> Vec<String> {
    let mut v: Vec<String> = ns
        .iter()
        .flat_map(|n| &n.update)
        .map(|u| show(u.path.as_ref().unwrap()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_once_poll_and_stream() {
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let mut c = admin(&d).await;
    c.set(SetRequest {
        update: vec![
            update(
                "/networks/network[name=a]",
                json!({"type": "bridge", "mtu": 1400}),
            ),
            update("/networks/network[name=b]", json!({"type": "bridge"})),
        ],
        ..SetRequest::default()
    })
    .await
    .unwrap();

    // ONCE: the values, sync_response, end of stream.
    let mut once = subscribe(
        &mut c,
        list(
            ListMode::Once,
            vec![sub(
                "/networks/network[name=*]/mtu",
                SubscriptionMode::OnChange,
                0,
            )],
        ),
    )
    .await;
    let got = until_sync(&mut once).await;
    assert_eq!(paths_of(&got), ["/networks/network[name=a]/mtu"]);
    assert!(once.rx.message().await.unwrap().is_none());

    // POLL: values on each Poll.
    let mut poll = subscribe(
        &mut c,
        list(
            ListMode::Poll,
            vec![sub(
                "/networks/network[name=a]",
                SubscriptionMode::TargetDefined,
                0,
            )],
        ),
    )
    .await;
    assert_eq!(
        paths_of(&until_sync(&mut poll).await),
        ["/networks/network[name=a]"]
    );
    c.set(SetRequest {
        update: vec![update("/networks/network[name=a]/mtu", json!(1500))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    poll.tx
        .send(SubscribeRequest {
            request: Some(In::Poll(Poll {})),
            ..Default::default()
        })
        .await
        .unwrap();
    let again = until_sync(&mut poll).await;
    assert_eq!(
        value(again[0].update[0].val.as_ref().unwrap())["mtu"],
        json!(1500)
    );

    // STREAM with two subscriptions: ON_CHANGE on the networks, SAMPLE on one leaf.
    let mut stream = subscribe(
        &mut c,
        list(
            ListMode::Stream,
            vec![
                sub("/networks/network[name=*]", SubscriptionMode::OnChange, 0),
                sub("/system/commit-history", SubscriptionMode::Sample, 200),
            ],
        ),
    )
    .await;
    let initial = until_sync(&mut stream).await;
    assert_eq!(
        paths_of(&initial),
        ["/networks/network[name=a]", "/networks/network[name=b]"]
    );

    // A commit made by another client shows up as an update, a delete as a delete.
    let mut other = admin(&d).await;
    let sent = Instant::now();
    other
        .set(SetRequest {
            update: vec![update(
                "/networks/network[name=c]",
                json!({"type": "bridge"}),
            )],
            delete: vec![path("/networks/network[name=b]")],
            ..SetRequest::default()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut created, mut deleted) = (false, false);
    while !(created && deleted) && Instant::now() < deadline {
        let Some(n) = next(&mut stream, Duration::from_secs(5)).await else {
            continue;
        };
        created |= n
            .update
            .iter()
            .any(|u| show(u.path.as_ref().unwrap()) == "/networks/network[name=c]");
        deleted |= n
            .delete
            .iter()
            .any(|p| show(p) == "/networks/network[name=b]");
    }
    assert!(
        created && deleted,
        "ON_CHANGE update and delete within {:?}",
        sent.elapsed()
    );
    // commit-history was never set, so SAMPLE has nothing to send; no spurious updates
    // arrive for unchanged networks either.
    assert!(next(&mut stream, Duration::from_millis(600))
        .await
        .is_none());

    // SAMPLE cadence, and heartbeat with suppress_redundant.
    c.set(SetRequest {
        update: vec![update("/system/commit-history", json!(5000))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    let mut sample = subscribe(
        &mut c,
        list(
            ListMode::Stream,
            vec![sub("/system/commit-history", SubscriptionMode::Sample, 200)],
        ),
    )
    .await;
    assert_eq!(until_sync(&mut sample).await.len(), 1);
    let mut stamps = Vec::new();
    let start = Instant::now();
    while stamps.len() < 5 {
        let n = next(&mut sample, Duration::from_secs(5))
            .await
            .expect("a sample");
        assert_eq!(value(n.update[0].val.as_ref().unwrap()), json!(5000));
        stamps.push(n.timestamp);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(2000),
        "5 samples at 200 ms took {took:?}"
    );
    for w in stamps.windows(2) {
        let gap = Duration::from_nanos((w[1] - w[0]) as u64);
        assert!(
            gap > Duration::from_millis(150) && gap < Duration::from_millis(400),
            "sample gap {gap:?}"
        );
    }
    let mut quiet = subscribe(
        &mut c,
        list(
            ListMode::Stream,
            vec![Subscription {
                suppress_redundant: true,
                heartbeat_interval: 500_000_000,
                ..sub("/system/commit-history", SubscriptionMode::Sample, 50)
            }],
        ),
    )
    .await;
    assert_eq!(until_sync(&mut quiet).await.len(), 1);
    let start = Instant::now();
    let mut beats = 0;
    while start.elapsed() < Duration::from_millis(1300) {
        if next(&mut quiet, Duration::from_millis(100)).await.is_some() {
            beats += 1;
        }
    }
    // 50 ms samples of an unchanged value are suppressed; only the 500 ms heartbeats come.
    assert!((2..=3).contains(&beats), "{beats} notifications in 1.3 s");
    c.set(SetRequest {
        update: vec![update("/system/commit-history", json!(6000))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    let n = next(&mut quiet, Duration::from_secs(2))
        .await
        .expect("a changed sample");
    assert_eq!(value(n.update[0].val.as_ref().unwrap()), json!(6000));

    // updates_only: sync_response first, no initial values.
    let mut updates_only = subscribe(
        &mut c,
        SubscriptionList {
            updates_only: true,
            ..list(
                ListMode::Stream,
                vec![sub("/networks", SubscriptionMode::OnChange, 0)],
            )
        },
    )
    .await;
    assert!(until_sync(&mut updates_only).await.is_empty());

    // Bad subscriptions fail the call.
    for (l, code) in [
        (
            list(
                ListMode::Stream,
                vec![sub("/nope", SubscriptionMode::OnChange, 0)],
            ),
            Code::InvalidArgument,
        ),
        (
            list(
                ListMode::Stream,
                vec![Subscription {
                    path: Some(Path {
                        origin: "x".into(),
                        ..path("/networks")
                    }),
                    ..Default::default()
                }],
            ),
            Code::InvalidArgument,
        ),
        (
            SubscriptionList {
                encoding: Encoding::Bytes.into(),
                ..list(
                    ListMode::Once,
                    vec![sub("/networks", SubscriptionMode::OnChange, 0)],
                )
            },
            Code::Unimplemented,
        ),
        (
            list(
                ListMode::Stream,
                vec![
                    sub("/networks", SubscriptionMode::Sample, 0),
                    Subscription {
                        sample_interval: 5,
                        ..sub("/networks", SubscriptionMode::Sample, 0)
                    },
                ],
            ),
            Code::InvalidArgument,
        ),
    ] {
        let (tx, rx) = mpsc::channel(1);
        tx.send(SubscribeRequest {
            request: Some(In::Subscribe(l)),
            ..Default::default()
        })
        .await
        .unwrap();
        let e = c.subscribe(ReceiverStream::new(rx)).await.unwrap_err();
        assert_eq!(e.code(), code, "{e:?}");
    }
}

/// The next whole sample of `want` leaves (its notifications share a timestamp), as
/// network name -> mtu, and how many notifications carried it.
async fn whole_sample(s: &mut Sub, want: usize) -> (HashMap<String, Value>, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut stamp, mut seen, mut parts) = (None, HashMap::new(), 0);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = next(s, left).await.expect("a whole sample in time");
        if stamp != Some(n.timestamp) {
            (stamp, seen, parts) = (Some(n.timestamp), HashMap::new(), 0);
        }
        parts += 1;
        for u in &n.update {
            let elems = &u.path.as_ref().unwrap().elem;
            assert_eq!(elems.last().unwrap().name, "mtu");
            seen.insert(elems[1].key["name"].clone(), value(u.val.as_ref().unwrap()));
        }
        if seen.len() == want {
            return (seen, parts);
        }
    }
}

/// Samples larger than one notification, to several collectors at once: their updates are
/// encoded once and shared, and must read back as the leaves prost would have built, split
/// over notifications that share the sample's timestamp, and follow a commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_samples_to_several_collectors() {
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let mut c = admin(&d).await;
    let n = 1200;
    let entries: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("net-{i:04}"), "type": "bridge", "mtu": 1280 + i}))
        .collect();
    c.set(SetRequest {
        update: vec![update("/networks", json!({"network": entries}))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    let mut subs = Vec::new();
    for _ in 0..3 {
        let mut client = admin(&d).await;
        let mut s = subscribe(
            &mut client,
            list(
                ListMode::Stream,
                vec![sub("/networks/network/mtu", SubscriptionMode::Sample, 100)],
            ),
        )
        .await;
        assert_eq!(paths_of(&until_sync(&mut s).await).len(), n);
        subs.push((client, s));
    }
    for (_, s) in &mut subs {
        let (sample, parts) = whole_sample(s, n).await;
        assert!(parts >= 3, "{n} leaves in {parts} notifications");
        for i in 0..n {
            assert_eq!(sample[&format!("net-{i:04}")], json!(1280 + i));
        }
    }
    c.set(SetRequest {
        update: vec![update("/networks/network[name=net-0007]/mtu", json!(9000))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    for (_, s) in &mut subs {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "no sample shows the commit");
            let (sample, _) = whole_sample(s, n).await;
            if sample["net-0007"] == json!(9000) {
                assert_eq!(sample["net-0008"], json!(1288));
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_reads_is_cut_off_and_others_carry_on() {
    let d = Daemon::start(&["--gnmi-plaintext", "--gnmi-stall-timeout", "1"]);
    let mut c = admin(&d).await;
    let entries: Vec<Value> = (0..300)
        .map(|i| json!({"name": format!("net-{i:03}"), "type": "bridge", "mtu": 1400 + i}))
        .collect();
    c.set(SetRequest {
        update: vec![update("/networks", json!({"network": entries}))],
        ..SetRequest::default()
    })
    .await
    .unwrap();
    // Its own connection, so its HTTP/2 window (never released: nothing is read) stalls it.
    let mut slow_client = admin(&d).await;
    let mut slow = subscribe(
        &mut slow_client,
        list(
            ListMode::Stream,
            vec![sub("/networks", SubscriptionMode::Sample, 10)],
        ),
    )
    .await;
    let mut fine = subscribe(
        &mut c,
        list(
            ListMode::Stream,
            vec![sub(
                "/networks/network[name=net-000]/mtu",
                SubscriptionMode::OnChange,
                0,
            )],
        ),
    )
    .await;
    until_sync(&mut fine).await;
    // Commits flow while the slow stream backs up: the other stream gets each one on
    // time, and the daemon's memory stays bounded, until the slow one is cut off.
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid().unwrap())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    let base = rss();
    let mut peak = base;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0u64;
    let closed = |d: &Daemon| {
        d.log()
            .iter()
            .any(|l| l.contains("subscription ended") && l.contains("resource has been exhausted"))
    };
    while !closed(&d) || i < 5 {
        assert!(
            Instant::now() < deadline,
            "the slow stream was not closed:\n{}",
            d.log().join("\n")
        );
        i += 1;
        let sent = Instant::now();
        c.set(SetRequest {
            update: vec![update(
                "/networks/network[name=net-000]/mtu",
                json!(2000 + i),
            )],
            ..SetRequest::default()
        })
        .await
        .unwrap();
        let n = next(&mut fine, Duration::from_secs(2))
            .await
            .expect("the unaffected stream's update");
        assert_eq!(value(n.update[0].val.as_ref().unwrap()), json!(2000 + i));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "late: {:?}",
            sent.elapsed()
        );
        peak = peak.max(rss());
    }
    eprintln!(
        "RSS while the slow collector backed up: {} MiB -> peak {} MiB over {i} commits",
        base >> 20,
        peak >> 20
    );
    assert!(peak < base + (64 << 20), "RSS grew from {base} to {peak}");
    // The slow collector, reading at last, finds what was queued and then the status.
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.rx.message())
            .await
            .expect("in time")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without a status"),
            Err(s) => break s,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    drop(slow.tx);
}

#[test]
fn pygnmi_interoperates() {
    let py = netloom_tests::python(&["pygnmi"]);
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gnmi_pygnmi.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .args(["127.0.0.1", &d.gnmi.port().to_string(), ADMIN_PASSWORD])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pygnmi script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pygnmi: all checks passed"), "{stdout}");
}
