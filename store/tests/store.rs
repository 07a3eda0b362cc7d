//! The store on a real SQLite file: commits survive reopening, rollback diffs, retention,
//! the candidate overlay, the pending confirmed commit, ledger and attachments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::schema;
use netloom_store::{Allocation, Attachment, DatastoreId, PendingConfirm, Store};
use netloom_yang::UnitMap;

/// Commit network `name` with `mtu` (or delete it when None), the candidate kept.
fn put(store: &mut Store, name: &str, mtu: Option<u32>, history: u32) -> u64 {
    common::commit_networks(store, &[name], mtu, history, false)
}

#[test]
fn commits_persist_and_rollback_diffs_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, schema()).unwrap();
    assert!(st.is_fresh());
    let c1 = put(&mut st, "a", Some(1500), 1000);
    let c2 = put(&mut st, "a", Some(1400), 1000);
    let c3 = put(&mut st, "b", Some(9000), 1000);
    let _c4 = put(&mut st, "a", None, 1000);
    assert_eq!((c1, c2, c3), (1, 2, 3));
    drop(st);

    let st = Store::open(&path, schema()).unwrap();
    assert!(!st.is_fresh());
    let run = st.snapshot(DatastoreId::Running);
    assert_eq!(run.commit_id, 4);
    assert_eq!(run.units.len(), 1);
    let back = st.changes_since(c2).unwrap();
    // a comes back with mtu 1400, b goes away
    assert_eq!(back.len(), 2);
    let a = back.iter().find(|(k, _)| k.path.contains("'a'")).unwrap();
    assert!(a.1.as_deref().unwrap().contains("1400"));
    let b = back.iter().find(|(k, _)| k.path.contains("'b'")).unwrap();
    assert!(b.1.is_none());
    assert!(st.changes_since(99).is_err());
    assert_eq!(st.commits(10, false).unwrap()[0].id, 4);
}

#[test]
fn history_is_trimmed_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open(&dir.path().join("n.db"), schema()).unwrap();
    for i in 0..30 {
        put(&mut st, "a", Some(1000 + i), 10);
    }
    assert_eq!(st.commit_count().unwrap(), 10);
    assert!(st.changes_since(19).is_err(), "commit 19 was trimmed");
    assert_eq!(st.changes_since(21).unwrap().len(), 1);
}

#[test]
fn candidate_is_an_overlay_on_running_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, schema()).unwrap();
    put(&mut st, "a", Some(1500), 1000);
    let s = st.schema().clone();
    let key = s
        .unit_key(s.unit_by_names("networks", "network").unwrap(), &["c"])
        .unwrap();
    let mut cand: UnitMap = st.snapshot(DatastoreId::Candidate).units.clone();
    cand.insert(key.clone(), r#"{"name":"c","type":"bridge"}"#.into());
    st.write_candidate(&cand, std::slice::from_ref(&key))
        .unwrap();
    assert!(st.candidate_modified());
    // running moves on underneath; the candidate keeps its own change and sees the new unit
    put(&mut st, "b", Some(1500), 1000);
    assert_eq!(st.snapshot(DatastoreId::Candidate).units.len(), 3);
    drop(st);
    let mut st = Store::open(&path, schema()).unwrap();
    assert_eq!(st.snapshot(DatastoreId::Candidate).units.len(), 3);
    st.discard_candidate().unwrap();
    assert_eq!(st.snapshot(DatastoreId::Candidate).units.len(), 2);
    assert!(!st.candidate_modified());
}

#[test]
fn pending_confirm_ledger_and_attachments_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, schema()).unwrap();
    let pending = PendingConfirm {
        commit_id: 3,
        rollback_to: 2,
        deadline_ms: 1234,
        persist_id: Some("x".into()),
        session: 7,
    };
    st.set_pending_confirm(Some(&pending)).unwrap();
    let a = Allocation {
        network: "n".into(),
        pool: "p".into(),
        address: "10.0.0.2".into(),
        owner: "c1".into(),
        interface: "eth0".into(),
        allocated_ms: 1,
    };
    assert!(st.allocate(&a).unwrap());
    let mut dup = a.clone();
    dup.owner = "c2".into();
    assert!(!st.allocate(&dup).unwrap(), "an address has one owner");
    drop(st);
    let mut st = Store::open(&path, schema()).unwrap();
    assert_eq!(st.pending_confirm().unwrap(), Some(pending));
    assert_eq!(st.allocations(Some("n")).unwrap(), vec![a]);
    assert_eq!(st.release("c1").unwrap(), 1);
    st.set_pending_confirm(None).unwrap();
    assert_eq!(st.pending_confirm().unwrap(), None);

    let att = |ifname: &str| Attachment {
        container_id: "c1".into(),
        interface: ifname.into(),
        netns: "/var/run/netns/x".into(),
        pod_namespace: "ns".into(),
        pod_name: "p".into(),
        network: "n".into(),
        result: "{}".into(),
        created_ms: 5,
    };
    st.put_attachment(&att("eth0")).unwrap();
    st.put_attachment(&att("net1")).unwrap();
    drop(st);
    let mut st = Store::open(&path, schema()).unwrap();
    assert_eq!(st.attachments().unwrap(), vec![att("eth0"), att("net1")]);
    assert_eq!(st.remove_attachments("c1").unwrap(), 2);
    assert_eq!(
        st.remove_attachments("c1").unwrap(),
        0,
        "removing twice is harmless"
    );
    assert!(st.attachments().unwrap().is_empty());
}

#[test]
fn the_log_is_checkpointed_off_the_commit_path_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let wal = dir.path().join("n.db-wal");
    let mut st = Store::open(&path, schema()).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    for i in 0..200 {
        put(&mut st, &format!("net-{i:04}"), Some(1500), 1000);
    }
    // commits leave their pages in the log; only the checkpoint thread copies them into the
    // database file, so the file growing proves it runs (the writer never checkpoints)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&path).unwrap().len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file never received the logged pages"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(wal.exists());
    drop(st);
    assert!(
        !wal.exists(),
        "closing the store checkpoints and removes the log"
    );
    let st = Store::open(&path, schema()).unwrap();
    let run = st.snapshot(DatastoreId::Running);
    assert_eq!((run.commit_id, run.units.len()), (200, 200));
}
