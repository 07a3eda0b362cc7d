//! The NETCONF front end's XML cache is filled by the engine's publications, not by reads:
//! after a commit (and after an edit of the candidate) the changed entries are rendered
//! before anyone asks, and they are the very texts the published snapshots hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{delete, merge, net, networks, open, schema, who};
use netloom_northbound::netconf::keep_warm;
use netloom_store::{DatastoreId, Snapshot};
use netloom_yang::{Schema, XmlCache};
use serde_json::json;

/// Every list entry of `snap` has a rendering in `cache`.
fn all_held(schema: &Schema, cache: &XmlCache, snap: &Snapshot) -> bool {
    snap.units
        .iter()
        .filter(|(k, _)| schema.unit(k.list).list_node().is_some())
        .all(|(_, v)| cache.holds(v))
}

/// Poll (bounded) until every list entry of `ds`'s latest snapshot is rendered.
fn wait_rendered(e: &netloom_daemon::Engine, cache: &XmlCache, ds: DatastoreId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let snap = e.snapshot(ds);
    while !all_held(e.schema(), cache, &snap) {
        assert!(
            Instant::now() < deadline,
            "{ds:?}: {} of {} units rendered",
            snap.units.values().filter(|v| cache.holds(v)).count(),
            snap.units.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn commits_and_candidate_edits_are_rendered_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _driver) = open(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cache = Arc::new(XmlCache::new());
    let warmer = rt.spawn(keep_warm(e.snapshots(), schema(), cache.clone()));

    // A commit to running of 200 entries.
    let nets: Vec<_> = (0..200)
        .map(|i| json!({"name": format!("n{i}"), "type": "bridge", "mtu": 1500}))
        .collect();
    e.edit(&who(1), DatastoreId::Running, &[networks(nets)], None)
        .unwrap();
    wait_rendered(&e, &cache, DatastoreId::Running);
    assert!(cache.len() >= 200);

    // An edit of the candidate (a change, a new entry, a removal), then its commit.
    e.edit(
        &who(1),
        DatastoreId::Candidate,
        &[
            merge(&net("n5"), json!({"mtu": 9000})),
            merge(&net("extra"), json!({"type": "bridge"})),
            delete(&net("n7")),
        ],
        None,
    )
    .unwrap();
    wait_rendered(&e, &cache, DatastoreId::Candidate);
    e.commit(&who(1), None, None, None).unwrap();
    wait_rendered(&e, &cache, DatastoreId::Running);
    let running = e.snapshot(DatastoreId::Running);
    assert!(running.units.values().any(|v| v.contains("9000")));
    assert!(!running.units.keys().any(|k| k.path.contains("'n7'")));

    warmer.abort();
}

/// A commit keeps the candidate's very texts where they are already canonical: the entries
/// rendered after the candidate edit are the ones running holds, so nothing is rendered
/// twice (the cache knows texts by their allocation).
#[test]
fn a_commit_keeps_the_candidates_canonical_texts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut e, _driver) = open(dir.path());
    // 300 entries: more than one validation chunk.
    let nets: Vec<_> = (0..300)
        .map(|i| json!({"name": format!("n{i}"), "type": "bridge", "mtu": 1500}))
        .collect();
    e.edit(&who(1), DatastoreId::Candidate, &[networks(nets)], None)
        .unwrap();
    let candidate = e.snapshot(DatastoreId::Candidate);
    e.commit(&who(1), None, None, None).unwrap();
    let running = e.snapshot(DatastoreId::Running);
    let entries: Vec<_> = candidate
        .units
        .iter()
        .filter(|(k, _)| k.path.contains("network["))
        .collect();
    assert_eq!(entries.len(), 300);
    for (k, text) in entries {
        let committed = running.units.get(k).unwrap();
        assert_eq!(committed, text, "{}", k.path);
        assert!(Arc::ptr_eq(committed, text), "{} was copied", k.path);
    }
}
