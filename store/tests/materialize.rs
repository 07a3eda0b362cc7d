//! Large commits store only their commit-log row; running's unit rows are written later
//! (`materialize`). Whatever was not written when the process died is replayed from the log
//! on open, the log keeps every commit not yet written, and closing writes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::schema;
use netloom_store::{CommitMeta, ConfirmState, DatastoreId, Error, Store, DEFER_ROWS};
use netloom_yang::UnitMap;

/// Running with networks `names` set to `mtu` (`None`: deleted), the candidate cleared.
fn commit(st: &mut Store, names: &[String], mtu: Option<u32>, history: u32) -> u64 {
    common::commit_networks(st, names, mtu, history, true)
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// What the file holds: running's rows, the commit they reflect, the logged commits.
fn on_disk(path: &Path) -> (i64, Option<String>, i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    let rows = c
        .query_row("SELECT COUNT(*) FROM unit WHERE ds = 0", [], |r| r.get(0))
        .unwrap();
    let upto = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'materialized-commit'",
            [],
            |r| r.get(0),
        )
        .ok();
    let logged = c
        .query_row("SELECT COUNT(*) FROM commit_log", [], |r| r.get(0))
        .unwrap();
    (rows, upto, logged)
}

/// A process that dies: nothing runs at close (the connection and threads are leaked).
fn crash(st: Store) {
    std::mem::forget(st);
}

#[test]
fn a_crash_before_the_rows_are_written_reopens_to_the_committed_running() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    let big = names("big", DEFER_ROWS);
    commit(&mut st, &names("small", 1), Some(1500), 100); // 1: rows written with it
    assert_eq!(on_disk(&path), (1, Some("1".into()), 1));

    // a large commit its caller abandons stores nothing and leaves nothing to write
    let units = st.snapshot(DatastoreId::Running).units.clone();
    let meta = CommitMeta::default();
    let e = st
        .commit_when(
            units,
            vec![],
            &meta,
            ConfirmState::NotRequired,
            true,
            || false,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Abandoned));
    assert!(!st.has_unmaterialized());

    commit(&mut st, &big, Some(1500), 100); // 2: log row only
    commit(&mut st, &names("small", 1), Some(9000), 100); // 3: waits behind 2
    commit(&mut st, &big[..10], None, 100); // 4: deletes, waits too
    assert!(st.has_unmaterialized());
    assert_eq!(
        on_disk(&path),
        (1, Some("1".into()), 4),
        "only the log rows of 2..4 are stored"
    );
    let running: UnitMap = st.snapshot(DatastoreId::Running).units.clone();
    assert_eq!(running.len(), 1 + DEFER_ROWS - 10);
    crash(st);

    let mut st = Store::open(&path, s.clone()).unwrap();
    assert!(st.snapshot(DatastoreId::Running).units == running);
    assert_eq!(st.snapshot(DatastoreId::Running).commit_id, 4);
    assert!(st.snapshot(DatastoreId::Candidate).units == running);
    assert!(st.has_unmaterialized());
    // rollback diffs are the log's, as before
    let back = st.changes_since(1).unwrap();
    assert_eq!(back.len(), DEFER_ROWS + 1);
    assert!(back
        .iter()
        .any(|(k, v)| k.path.contains("'small0'") && v.as_deref().unwrap().contains("1500")));
    assert!(back
        .iter()
        .filter(|(k, _)| k.path.contains("'big"))
        .all(|(_, v)| v.is_none()));

    st.materialize().unwrap();
    assert!(!st.has_unmaterialized());
    assert_eq!(on_disk(&path), (running.len() as i64, Some("4".into()), 4));
    // a commit now writes its own rows again
    commit(&mut st, &names("small", 1), Some(1400), 100);
    assert_eq!(on_disk(&path).1.as_deref(), Some("5"));
    let running = st.snapshot(DatastoreId::Running).units.clone();
    crash(st);
    let st = Store::open(&path, s).unwrap();
    assert!(st.snapshot(DatastoreId::Running).units == running);
    assert!(!st.has_unmaterialized());
}

#[test]
fn the_log_keeps_every_commit_whose_rows_are_not_written() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    commit(&mut st, &names("big", DEFER_ROWS), Some(1500), 2);
    for mtu in 0..5 {
        commit(&mut st, &names("small", 3), Some(1000 + mtu), 2);
    }
    // history 2 would keep commits 5 and 6, but running's rows still reflect commit 0
    assert_eq!(on_disk(&path), (0, Some("0".into()), 6));
    let running = st.snapshot(DatastoreId::Running).units.clone();
    crash(st);

    let mut st = Store::open(&path, s.clone()).unwrap();
    assert!(st.snapshot(DatastoreId::Running).units == running);
    st.materialize().unwrap();
    commit(&mut st, &names("small", 3), Some(1400), 2);
    let (rows, upto, logged) = on_disk(&path);
    assert_eq!((rows as usize, upto.as_deref()), (running.len(), Some("7")));
    assert_eq!(logged, 2, "once written, the history limit applies again");

    // waiting commits are bounded: one finding too many writes them first
    commit(&mut st, &names("big", DEFER_ROWS), Some(1600), 1000);
    for mtu in 0..70 {
        commit(&mut st, &names("small", 1), Some(2000 + mtu), 1000);
    }
    let upto: u64 = on_disk(&path).1.unwrap().parse().unwrap();
    assert!(
        upto > 7,
        "rows written after at most 64 waiting commits ({upto})"
    );
    drop(st);
}

#[test]
fn closing_writes_the_rows_and_a_missing_log_row_is_an_error() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    commit(&mut st, &names("big", DEFER_ROWS), Some(1500), 100);
    drop(st);
    assert_eq!(on_disk(&path), (DEFER_ROWS as i64, Some("1".into()), 1));

    let mut st = Store::open(&path, s.clone()).unwrap();
    assert!(!st.has_unmaterialized());
    commit(&mut st, &names("big", DEFER_ROWS), None, 100);
    commit(&mut st, &names("big", 3), Some(1400), 100);
    crash(st);
    // commit 2's diff is what running's rows need: without it the open refuses
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("DELETE FROM commit_log WHERE id = 2", [])
            .unwrap();
    }
    let e = Store::open(&path, s).unwrap_err().to_string();
    assert!(
        e.contains("commit 2 is missing") && e.contains(&path.display().to_string()),
        "{e}"
    );
}

#[test]
fn rows_written_a_slice_at_a_time_survive_a_crash_at_any_slice() {
    let s = schema();
    let big = names("big", DEFER_ROWS);
    for slices in [1usize, 2, 3, 5] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        let mut st = Store::open(&path, s.clone()).unwrap();
        commit(&mut st, &big, Some(1500), 100); // 1
        st.materialize_some(100).unwrap();
        assert_eq!(
            on_disk(&path),
            (100, Some("0".into()), 1),
            "a commit counts as written only once all its rows are"
        );
        commit(&mut st, &big[..50], Some(9000), 100); // 2: rows the slice above wrote
        commit(&mut st, &big[900..], None, 100); // 3: rows not written yet
                                                 // the rest in slices that end inside commit 1, inside 2, or past 3
        for _ in 0..slices {
            st.materialize_some(DEFER_ROWS / 2).unwrap();
        }
        let (_, upto, _) = on_disk(&path);
        let upto: u64 = upto.unwrap().parse().unwrap();
        assert_eq!(st.has_unmaterialized(), upto < 3, "{slices} slices");
        let running = st.snapshot(DatastoreId::Running).units.clone();
        assert_eq!(running.len(), 900);
        crash(st);
        let st = Store::open(&path, s.clone()).unwrap();
        assert!(
            st.snapshot(DatastoreId::Running).units == running,
            "{slices} slices"
        );
        drop(st);
        let (rows, upto, _) = on_disk(&path);
        assert_eq!((rows, upto.as_deref()), (900, Some("3")));
    }
}
