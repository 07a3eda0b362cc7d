//! The engine end to end on a real SQLite file: commits, errors that change nothing, revert
//! of a failed dataplane op, locks, rollback, confirmed commits across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use netloom_daemon::Outcome;
use netloom_northbound::api::Confirmed;
use netloom_store::DatastoreId;
use netloom_yang::ErrorTag;
use serde_json::json;

fn bridge(name: &str, subnet: &str) -> serde_json::Value {
    json!({"type": "bridge", "ipam": {"pool": [{"name": "v4", "subnet": subnet}]}})
        .as_object()
        .map(|o| {
            let mut o = o.clone();
            o.insert("name".into(), json!(name));
            serde_json::Value::Object(o)
        })
        .unwrap()
}

/// Put bridge network `name` in the candidate as session 1.
fn stage(e: &mut netloom_daemon::Engine, name: &str) {
    e.edit(
        &who(1),
        DatastoreId::Candidate,
        &[merge(&net(name), json!({"type": "bridge"}))],
        None,
    )
    .unwrap();
}

#[test]
fn bad_edits_name_the_path_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, d) = open(dir.path());
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&net("a"), bridge("a", "10.0.0.0/24"))],
        None,
    )
    .unwrap();
    let before = e.snapshot(DatastoreId::Running);
    let ops_before = d.0.lock().unwrap().present();

    // overlapping pool (semantic), wrong type (libyang), dangling leafref (libyang)
    let cases = [
        (merge(&net("b"), bridge("b", "10.0.0.128/25")), "overlaps"),
        (merge(&format!("{}/mtu", net("a")), json!("huge")), "mtu"),
        (
            merge(
                &pod("ns", "p"),
                json!({"interface": [{"name": "eth0", "network": "nope"}]}),
            ),
            "nope",
        ),
        (
            merge(
                &pod("ns", "p"),
                json!({"interface": [{"name": "eth0", "network": "a", "address": ["10.9.0.1"]}]}),
            ),
            "in no pool",
        ),
    ];
    for (edit, needle) in cases {
        let err = e
            .edit(&who(1), DatastoreId::Running, &[edit], None)
            .unwrap_err();
        let api = err.to_api();
        assert!(
            api.message.contains(needle) || api.path.as_deref().unwrap_or("").contains(needle),
            "{api:?}"
        );
        assert!(api.path.is_some(), "{api:?}");
        let after = e.snapshot(DatastoreId::Running);
        assert_eq!(after.commit_id, before.commit_id);
        assert_eq!(after.units, before.units);
    }
    assert_eq!(d.0.lock().unwrap().present(), ops_before);
}

#[test]
fn a_refused_op_unwinds_the_commit_at_every_position() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, d) = open(dir.path());
    // a vxlan network plans two ops (bridge, tunnel); a second bridge one more
    let edits = [
        merge(&net("x"), json!({"type": "vxlan", "vxlan": {"vni": 7}})),
        merge(&net("y"), json!({"type": "bridge"})),
    ];
    for n in 0..3 {
        d.0.lock().unwrap().fail_after(n);
        let err = e
            .edit(&who(1), DatastoreId::Running, &edits, None)
            .unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_eq!(err.to_api().tag, ErrorTag::OperationFailed);
        assert!(d.0.lock().unwrap().present().is_empty(), "fail at {n}");
        assert!(e.snapshot(DatastoreId::Running).units.is_empty());
    }
    d.0.lock().unwrap().fail_at = None;
    e.edit(&who(1), DatastoreId::Running, &edits, None).unwrap();
    assert_eq!(d.0.lock().unwrap().present().len(), 3);
}

#[test]
fn second_writer_gets_a_lock_error_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _) = open(dir.path());
    e.lock(&who(1), DatastoreId::Running).unwrap();
    let err = e
        .edit(
            &who(2),
            DatastoreId::Running,
            &[merge(&net("a"), json!({"type": "bridge"}))],
            None,
        )
        .unwrap_err();
    assert_eq!(err.to_api().tag, ErrorTag::LockDenied);
    assert!(err.to_string().contains("session 1 (user1)"), "{err}");
    assert!(e.lock(&who(2), DatastoreId::Running).is_err());
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&net("a"), json!({"type": "bridge"}))],
        None,
    )
    .unwrap();
    e.end_session(1);
    e.edit(&who(2), DatastoreId::Running, &[delete(&net("a"))], None)
        .unwrap();
}

#[test]
fn rollback_returns_to_any_retained_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _) = open(dir.path());
    let mut ids = Vec::new();
    for i in 0..10u32 {
        let o = e
            .edit(
                &who(1),
                DatastoreId::Running,
                &[merge(
                    &net(&format!("n{i}")),
                    json!({"type": "bridge", "mtu": 1000 + i}),
                )],
                None,
            )
            .unwrap();
        ids.push(o.commit_id().unwrap());
    }
    let at3 = e.snapshot(DatastoreId::Running);
    assert_eq!(at3.units.len(), 10);
    let o = e.rollback(&who(1), ids[2], None).unwrap();
    let Outcome::Committed(rec) = o else {
        panic!("rollback made no commit")
    };
    assert_eq!(rec.changes.len(), 7);
    assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 3);
    // and forward again: rolling back to the commit before the rollback
    e.rollback(&who(1), ids[9], None).unwrap();
    assert_eq!(e.snapshot(DatastoreId::Running).units, at3.units);
    assert!(e.rollback(&who(1), 999, None).is_err());
}

#[test]
fn confirmed_commit_expires_confirms_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let far = i64::MAX / 2;
    {
        let (mut e, _) = open(dir.path());
        stage(&mut e, "a");
        e.commit(
            &who(1),
            None,
            Some(Confirmed {
                timeout_secs: 600,
                persist: None,
            }),
            None,
        )
        .unwrap();
        assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 1);
        // another session cannot commit meanwhile
        let err = e.commit(&who(2), None, None, None).unwrap_err();
        assert_eq!(err.to_api().tag, ErrorTag::InUse);
        // time runs out
        assert!(e.expire(far).unwrap().is_ok());
        assert!(e.snapshot(DatastoreId::Running).units.is_empty());
        assert!(e.pending_confirm().is_none());

        // confirmed then confirmed again by the same session: stays
        stage(&mut e, "b");
        e.commit(
            &who(1),
            None,
            Some(Confirmed {
                timeout_secs: 600,
                persist: None,
            }),
            None,
        )
        .unwrap();
        e.commit(&who(1), None, None, None).unwrap();
        assert!(e.pending_confirm().is_none());
        assert!(e.expire(far).is_none());
        assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 1);

        // a persistent one outlives the daemon
        stage(&mut e, "c");
        e.commit(
            &who(1),
            None,
            Some(Confirmed {
                timeout_secs: 600,
                persist: Some("p1".into()),
            }),
            None,
        )
        .unwrap();
    }
    {
        let (mut e, _) = open(dir.path());
        assert!(
            e.settle_after_restart().is_none(),
            "deadline not reached yet"
        );
        assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 2);
        assert_eq!(
            e.pending_confirm().unwrap().persist_id.as_deref(),
            Some("p1")
        );
        // only the persist-id confirms
        assert!(e.commit(&who(9), None, None, None).is_err());
        assert!(e.expire(far).unwrap().is_ok());
        assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 1);
        // a non-persistent one loses its session at restart
        stage(&mut e, "d");
        e.commit(
            &who(1),
            None,
            Some(Confirmed {
                timeout_secs: 600,
                persist: None,
            }),
            None,
        )
        .unwrap();
        assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 2);
    }
    let (mut e, _) = open(dir.path());
    assert!(e.settle_after_restart().unwrap().is_ok());
    assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 1);
    let log = e.commits(10, false).unwrap();
    assert!(log.iter().any(|c| c
        .comment
        .as_deref()
        .unwrap_or("")
        .contains("lost its session")));
}

#[test]
fn fixed_addresses_belong_to_one_pod() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _) = open(dir.path());
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&net("a"), bridge("a", "10.0.0.0/24"))],
        None,
    )
    .unwrap();
    let iface =
        |ip: &str| json!({"interface": [{"name": "eth0", "network": "a", "address": [ip]}]});
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&pod("ns", "p1"), iface("10.0.0.5"))],
        None,
    )
    .unwrap();
    let err = e
        .edit(
            &who(1),
            DatastoreId::Running,
            &[merge(&pod("ns", "p2"), iface("10.0.0.5"))],
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("already fixed"), "{err}");
    // moving the address in one commit is fine
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[
            delete(&pod("ns", "p1")),
            merge(&pod("ns", "p2"), iface("10.0.0.5")),
        ],
        None,
    )
    .unwrap();
    // deleting a network still referenced is refused
    let err = e
        .edit(&who(1), DatastoreId::Running, &[delete(&net("a"))], None)
        .unwrap_err();
    assert!(err.to_api().path.is_some());
    assert_eq!(e.snapshot(DatastoreId::Running).units.len(), 2);
}

#[test]
fn state_lists_commits_and_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _) = open(dir.path());
    let empty = e.state().unwrap();
    assert_eq!(empty, json!({"netloom-host:state": {}}));
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&net("a"), json!({"type": "bridge"}))],
        Some("first".into()),
    )
    .unwrap();
    e.store_mut()
        .put_attachment(&netloom_store::Attachment {
            container_id: "c1".into(),
            interface: "eth0".into(),
            netns: "/var/run/netns/x".into(),
            pod_namespace: "ns".into(),
            pod_name: "p".into(),
            network: "a".into(),
            result: json!({"interfaces": [{"name": "veth1"}, {"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/var/run/netns/x"}],
                           "ips": [{"address": "10.0.0.2/24", "interface": 1}]})
            .to_string(),
            created_ms: 0,
        })
        .unwrap();
    let state = e.state().unwrap();
    let s = &state["netloom-host:state"];
    assert_eq!(s["commit"][0]["comment"], "first");
    assert_eq!(s["commit"][0]["confirmed"], "not-required");
    let a = &s["attachment"][0];
    assert_eq!(a["container-id"], "c1");
    assert_eq!(a["mac"], "02:00:00:00:00:01");
    assert_eq!(a["host-interface"], "veth1");
    assert_eq!(a["address"], json!(["10.0.0.2/24"]));
    assert_eq!(a["created"], "1970-01-01T00:00:00Z");
    // the state is valid data of the schema
    let text = state.to_string();
    e.schema()
        .convert(
            &text,
            netloom_yang::Encoding::Json,
            netloom_yang::Encoding::Xml,
        )
        .unwrap();
}

/// A commit that deletes a network with attachments, or moves its pods' attach point, is
/// refused with `in-use` at the network's path, whatever path it takes (edit of running,
/// candidate commit, rollback); the engine's own rollback of a confirmed commit is not.
#[test]
fn networks_with_attached_pods_stay_unless_the_engine_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _) = open(dir.path());
    let first = e
        .edit(
            &who(1),
            DatastoreId::Running,
            &[merge(&net("a"), json!({"type": "bridge"}))],
            None,
        )
        .unwrap()
        .commit_id()
        .unwrap();
    let attach = |e: &mut netloom_daemon::Engine, cid: &str, network: &str| {
        e.store_mut()
            .put_attachment(&netloom_store::Attachment {
                container_id: cid.into(),
                interface: "eth0".into(),
                netns: String::new(),
                pod_namespace: "ns".into(),
                pod_name: cid.into(),
                network: network.into(),
                result: "{}".into(),
                created_ms: 0,
            })
            .unwrap();
    };
    attach(&mut e, "p1", "a");
    let before = e.snapshot(DatastoreId::Running);
    let refused = [
        e.edit(&who(1), DatastoreId::Running, &[delete(&net("a"))], None),
        e.edit(
            &who(1),
            DatastoreId::Running,
            &[merge(&net("a"), json!({"bridge": {"name": "br-x"}}))],
            None,
        ),
    ];
    for r in refused {
        let api = r.unwrap_err().to_api();
        assert_eq!(api.tag, ErrorTag::InUse, "{api:?}");
        assert_eq!(api.app_tag.as_deref(), Some("network-in-use"));
        assert_eq!(api.path.as_deref(), Some(net("a").as_str()));
        assert!(api.message.contains("ns/p1 eth0"), "{}", api.message);
    }
    assert_eq!(e.snapshot(DatastoreId::Running).commit_id, before.commit_id);
    e.edit(&who(1), DatastoreId::Candidate, &[delete(&net("a"))], None)
        .unwrap();
    let api = e.commit(&who(1), None, None, None).unwrap_err().to_api();
    assert_eq!(api.tag, ErrorTag::InUse);
    e.discard_changes(&who(1)).unwrap();
    // in place: fine
    e.edit(
        &who(1),
        DatastoreId::Running,
        &[merge(&format!("{}/mtu", net("a")), json!(1400))],
        None,
    )
    .unwrap();
    assert_ne!(e.snapshot(DatastoreId::Running).commit_id, before.commit_id);
    // a confirmed commit adds network b; a pod attaches to it; an operator's rollback to
    // before it is refused, the engine's own rollback (expiry) goes through
    stage(&mut e, "b");
    e.commit(
        &who(1),
        None,
        Some(Confirmed {
            timeout_secs: 600,
            persist: None,
        }),
        None,
    )
    .unwrap();
    attach(&mut e, "p2", "b");
    let api = e.rollback(&who(1), first, None).unwrap_err().to_api();
    assert_eq!(api.tag, ErrorTag::InUse, "{api:?}");
    assert!(e.expire(i64::MAX / 2).unwrap().is_ok());
    let running = e.snapshot(DatastoreId::Running);
    assert!(running.units.keys().all(|k| !k.path.contains("'b'")));
    assert!(running.units.keys().any(|k| k.path.contains("'a'")));
}

/// A large commit writes its rows while the dataplane applies it:
/// when validation refuses it (a dangling leafref) or the dataplane refuses an op, nothing is
/// stored (not even after a restart) and the candidate keeps the change; the same commit then
/// succeeds and survives a restart, with the texts validation made canonical (an upper-case
/// IPv6 prefix) both in the stored rows and in the commit log.
#[test]
fn a_refused_large_commit_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, d) = open(dir.path());
    // more than the engine's threshold for writing while applying
    let nets: Vec<_> = (0..5000)
        .map(|i| match i % 1000 {
            7 => json!({"name": format!("n{i}"), "type": "bridge",
                "ipam": {"pool": [{"name": "v6", "subnet": format!("2001:DB8:{i:X}::/64")}]}}),
            _ => json!({"name": format!("n{i}"), "type": "bridge"}),
        })
        .collect();
    e.edit(&who(1), DatastoreId::Candidate, &[networks(nets)], None)
        .unwrap();
    let nothing_stored = |e: &netloom_daemon::Engine| {
        assert!(e.snapshot(DatastoreId::Running).units.is_empty());
        assert!(e.commits(10, false).unwrap().is_empty());
        assert_eq!(e.snapshot(DatastoreId::Candidate).units.len(), 5000);
    };

    // refused by validation
    let dangling = merge(
        &pod("ns", "p"),
        json!({"interface": [{"name": "eth0", "network": "nope"}]}),
    );
    e.edit(&who(1), DatastoreId::Candidate, &[dangling], None)
        .unwrap();
    let err = e.commit(&who(1), None, None, None).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(d.0.lock().unwrap().present().is_empty());
    e.edit(
        &who(1),
        DatastoreId::Candidate,
        &[delete(&pod("ns", "p"))],
        None,
    )
    .unwrap();
    nothing_stored(&e);

    // refused by the dataplane
    d.0.lock().unwrap().fail_after(4000);
    let err = e.commit(&who(1), None, None, None).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert!(d.0.lock().unwrap().present().is_empty());
    nothing_stored(&e);
    drop(e);

    let (mut e, d) = open(dir.path());
    nothing_stored(&e);
    let proposed = e.snapshot(DatastoreId::Candidate);
    e.commit(&who(1), None, None, None).unwrap();
    assert_eq!(d.0.lock().unwrap().present().len(), 5000);
    let committed = e.snapshot(DatastoreId::Running);
    let canonicalized: Vec<_> = proposed
        .units
        .iter()
        .filter(|&(k, t)| committed.units.get(k) != Some(t))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(canonicalized.len(), 5, "{canonicalized:?}");
    for k in &canonicalized {
        let text = committed.units.get(k).unwrap();
        assert!(text.contains("2001:db8:"), "{text}");
        assert!(!text.contains("DB8"), "{text}");
    }
    drop(e);

    let (e, _) = open(dir.path());
    assert_eq!(e.snapshot(DatastoreId::Running).units, committed.units);
    let log = e.commits(10, true).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].changes.len(), 5000);
    for c in &log[0].changes {
        let k = committed.units.keys().find(|k| k.path == c.path).unwrap();
        assert_eq!(c.new.as_ref(), committed.units.get(k), "{}", c.path);
    }
    assert_eq!(e.snapshot(DatastoreId::Candidate).units, committed.units);
}
