//! gNMI Set with the commit-confirmed extension (gnmi_ext `Commit`): a commit with a
//! rollback duration that is never confirmed rolls back by itself; a confirmed one stays; a
//! cancelled one rolls back at once; a new rollback duration moves the deadline; only one
//! may wait; other extensions stay UNIMPLEMENTED.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use netloom_northbound::gnmi::proto::gnmi::typed_value::Value as Tv;
use netloom_northbound::gnmi::proto::gnmi::{
    get_request::DataType, Encoding, GetRequest, SetRequest, TypedValue, Update,
};
use netloom_northbound::gnmi::proto::gnmi_ext::commit::Action;
use netloom_northbound::gnmi::proto::gnmi_ext::extension::Ext;
use netloom_northbound::gnmi::proto::gnmi_ext::{
    Commit, CommitCancel, CommitConfirm, CommitRequest, CommitSetRollbackDuration, Depth, Extension,
};
use netloom_tests::gnmi::{connect, path, Client};
use netloom_tests::Daemon;
use serde_json::json;
use tonic::Code;

fn mtu(v: u64) -> Update {
    Update {
        path: Some(path("/networks/network[name=a]/mtu")),
        val: Some(TypedValue {
            value: Some(Tv::UintVal(v)),
        }),
        ..Update::default()
    }
}

fn ext(id: &str, action: Action) -> Vec<Extension> {
    vec![Extension {
        ext: Some(Ext::Commit(Commit {
            id: id.into(),
            action: Some(action),
        })),
    }]
}

fn secs(s: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: s,
        nanos: 0,
    })
}

async fn set(
    c: &mut Client,
    update: Vec<Update>,
    extension: Vec<Extension>,
) -> Result<(), tonic::Status> {
    c.set(SetRequest {
        update,
        extension,
        ..SetRequest::default()
    })
    .await
    .map(|_| ())
}

async fn current_mtu(c: &mut Client) -> u64 {
    let r = c
        .get(GetRequest {
            path: vec![path("/networks/network[name=a]/mtu")],
            r#type: DataType::Config.into(),
            encoding: Encoding::Proto.into(),
            ..GetRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    match r.notification[0].update[0]
        .val
        .clone()
        .unwrap()
        .value
        .unwrap()
    {
        Tv::UintVal(n) => n,
        other => panic!("{other:?}"),
    }
}

/// The newest commit's confirmed-commit status in the state tree.
async fn last_commit_status(c: &mut Client) -> String {
    let r = c
        .get(GetRequest {
            path: vec![path("/state/commit")],
            r#type: DataType::State.into(),
            encoding: Encoding::JsonIetf.into(),
            ..GetRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut entries = Vec::new();
    for u in &r.notification[0].update {
        let Some(Tv::JsonIetfVal(b)) = u.val.clone().unwrap().value else {
            panic!("{u:?}")
        };
        match serde_json::from_slice(&b).unwrap() {
            serde_json::Value::Array(a) => entries.extend(a),
            v => entries.push(v),
        }
    }
    entries
        .iter()
        .filter(|c| c["confirmed"] != "not-required")
        .map(|c| c["confirmed"].as_str().unwrap().to_owned())
        .next_back()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_confirmed_extension() {
    let d = Daemon::start(&["--gnmi-plaintext"]);
    let mut c = connect(d.gnmi).await;
    let net = json!({"name": "a", "type": "bridge", "mtu": 1300});
    set(
        &mut c,
        vec![Update {
            path: Some(path("/networks/network[name=a]")),
            val: Some(TypedValue {
                value: Some(Tv::JsonIetfVal(net.to_string().into_bytes())),
            }),
            ..Update::default()
        }],
        vec![],
    )
    .await
    .unwrap();

    // Never confirmed: rolled back when the duration is up.
    let started = Instant::now();
    set(
        &mut c,
        vec![mtu(1400)],
        ext(
            "one",
            Action::Commit(CommitRequest {
                rollback_duration: secs(1),
            }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(current_mtu(&mut c).await, 1400);
    // Only one may wait; and a plain Set waits for it too.
    let e = set(
        &mut c,
        vec![mtu(1450)],
        ext(
            "two",
            Action::Commit(CommitRequest {
                rollback_duration: secs(5),
            }),
        ),
    )
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    let deadline = Instant::now() + Duration::from_secs(15);
    while current_mtu(&mut c).await != 1300 {
        assert!(Instant::now() < deadline, "not rolled back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "rolled back early"
    );
    assert_eq!(last_commit_status(&mut c).await, "rolled-back");

    // Confirmed: stays.
    set(
        &mut c,
        vec![mtu(1500)],
        ext(
            "two",
            Action::Commit(CommitRequest {
                rollback_duration: secs(2),
            }),
        ),
    )
    .await
    .unwrap();
    let e = set(
        &mut c,
        vec![],
        ext("wrong", Action::Confirm(CommitConfirm {})),
    )
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Ok, "{e:?}");
    let e = set(
        &mut c,
        vec![mtu(1600)],
        ext("two", Action::Confirm(CommitConfirm {})),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    set(
        &mut c,
        vec![],
        ext("two", Action::Confirm(CommitConfirm {})),
    )
    .await
    .unwrap();
    assert_eq!(last_commit_status(&mut c).await, "confirmed");
    // Past the old deadline, it is still there, and plain Sets go through again.
    set(&mut c, vec![mtu(1500)], vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await; // outlive the 2 s rollback window
    assert_eq!(current_mtu(&mut c).await, 1500);

    // A new duration, then cancelled: rolled back at once.
    set(
        &mut c,
        vec![mtu(1600)],
        ext(
            "three",
            Action::Commit(CommitRequest {
                rollback_duration: secs(1),
            }),
        ),
    )
    .await
    .unwrap();
    set(
        &mut c,
        vec![],
        ext(
            "three",
            Action::SetRollbackDuration(CommitSetRollbackDuration {
                rollback_duration: secs(60),
            }),
        ),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await; // past the first, short deadline
    assert_eq!(current_mtu(&mut c).await, 1600, "the new duration holds it");
    set(
        &mut c,
        vec![],
        ext("three", Action::Cancel(CommitCancel {})),
    )
    .await
    .unwrap();
    assert_eq!(current_mtu(&mut c).await, 1500);
    assert_eq!(last_commit_status(&mut c).await, "rolled-back");

    // Any other extension: UNIMPLEMENTED, nothing changed.
    let e = set(
        &mut c,
        vec![mtu(1700)],
        vec![Extension {
            ext: Some(Ext::Depth(Depth { level: 1 })),
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    assert_eq!(current_mtu(&mut c).await, 1500);
}
