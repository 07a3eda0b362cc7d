//! The candidate stored as a journal of edits: whatever sequence of edits, discards,
//! commits and running changes, reopening the database gives the candidate the store held
//! in memory; the journal is compacted; a damaged row fails the open with the database
//! named; a database of the old per-unit layout is migrated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::schema;
use netloom_store::{DatastoreId, Store, UnitChange};
use netloom_yang::{Schema, UnitKey, UnitMap};

fn key(s: &Schema, name: &str) -> UnitKey {
    s.unit_key(s.unit_by_names("networks", "network").unwrap(), &[name])
        .unwrap()
}

fn text(name: &str, mtu: u32) -> Arc<str> {
    format!(r#"{{"name":"{name}","type":"bridge","mtu":{mtu}}}"#).into()
}

/// Make running `units`, as the engine does: only the changed units in the commit.
fn commit(st: &mut Store, units: UnitMap, clear_candidate: bool) {
    let old = st.snapshot(DatastoreId::Running).units.clone();
    let mut changes = Vec::new();
    for (k, v) in units.iter() {
        if old.get(k) != Some(v) {
            changes.push(UnitChange {
                path: k.path.clone(),
                old: old.get(k).cloned(),
                new: Some(v.clone()),
            });
        }
    }
    for (k, v) in old.iter() {
        if !units.contains_key(k) {
            changes.push(UnitChange {
                path: k.path.clone(),
                old: Some(v.clone()),
                new: None,
            });
        }
    }
    common::commit_changes(st, units, changes, 100, clear_candidate);
}

/// Reopen and check the candidate (and running) came back exactly as they were in memory.
fn reopen_same(st: Store, path: &Path, schema: &Arc<Schema>) -> Store {
    let cand = st.snapshot(DatastoreId::Candidate).units.clone();
    let run = st.snapshot(DatastoreId::Running).units.clone();
    let modified = st.candidate_modified();
    drop(st);
    let st = Store::open(path, schema.clone()).unwrap();
    assert_eq!(st.snapshot(DatastoreId::Running).units, run, "running");
    assert_eq!(st.snapshot(DatastoreId::Candidate).units, cand, "candidate");
    assert_eq!(st.candidate_modified(), modified);
    st
}

fn journal_rows(path: &Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("SELECT COUNT(*) FROM candidate_edit", [], |r| r.get(0))
        .unwrap()
}

/// A tiny deterministic generator: the sequences differ per seed and repeat per run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn random_edits_discards_and_commits_reopen_to_the_same_candidate() {
    let s = schema();
    let names: Vec<String> = (0..6).map(|i| format!("n{i}")).collect();
    for seed in 1..=4u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        let mut st = Store::open(&path, s.clone()).unwrap();
        let mut rng = Lcg(seed);
        for step in 0..60 {
            match rng.below(10) {
                // a candidate edit of 1..=3 units: create/change, delete, or back to running
                0..=5 => {
                    let mut cand = st.snapshot(DatastoreId::Candidate).units.clone();
                    let run = st.snapshot(DatastoreId::Running).units.clone();
                    let mut changed = Vec::new();
                    for _ in 0..=rng.below(3) {
                        let name = &names[rng.below(names.len() as u64) as usize];
                        let k = key(&s, name);
                        match rng.below(3) {
                            0 => {
                                cand.insert(k.clone(), text(name, 1000 + step));
                            }
                            1 => {
                                cand.remove(&k);
                            }
                            _ => match run.get(&k) {
                                Some(t) => {
                                    cand.insert(k.clone(), t.clone());
                                }
                                None => {
                                    cand.remove(&k);
                                }
                            },
                        }
                        if !changed.contains(&k) {
                            changed.push(k);
                        }
                    }
                    st.write_candidate(&cand, &changed).unwrap();
                    assert_eq!(st.snapshot(DatastoreId::Candidate).units, cand);
                }
                6 => st.discard_candidate().unwrap(),
                7 | 8 => {
                    let cand = st.snapshot(DatastoreId::Candidate).units.clone();
                    commit(&mut st, cand.clone(), true);
                    assert!(!st.candidate_modified());
                    assert_eq!(st.snapshot(DatastoreId::Candidate).units, cand);
                }
                // running changes under the candidate (a running edit-config)
                _ => {
                    let mut run = st.snapshot(DatastoreId::Running).units.clone();
                    let name = &names[rng.below(names.len() as u64) as usize];
                    if rng.below(2) == 0 {
                        run.insert(key(&s, name), text(name, 2000 + step));
                    } else {
                        run.remove(&key(&s, name));
                    }
                    commit(&mut st, run, false);
                }
            }
            st = reopen_same(st, &path, &s);
        }
    }
}

#[test]
fn a_unit_set_back_to_running_stays_running_when_running_moves_on() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    let (a, b) = (key(&s, "a"), key(&s, "b"));
    let mut run = UnitMap::new();
    run.insert(a.clone(), text("a", 1500));
    commit(&mut st, run, true);

    // candidate: a changed, b created ...
    let mut cand = st.snapshot(DatastoreId::Candidate).units.clone();
    cand.insert(a.clone(), text("a", 9000));
    cand.insert(b.clone(), text("b", 1500));
    st.write_candidate(&cand, &[a.clone(), b.clone()]).unwrap();
    // ... then a set back to its running text and b (only the candidate had it) deleted
    cand.insert(a.clone(), text("a", 1500));
    cand.remove(&b);
    st.write_candidate(&cand, &[a.clone(), b.clone()]).unwrap();
    assert!(!st.candidate_modified());
    st = reopen_same(st, &path, &s);
    assert!(!st.candidate_modified());

    // running moves on: the candidate follows it for a (no change of its own any more)
    let mut run = st.snapshot(DatastoreId::Running).units.clone();
    run.insert(a.clone(), text("a", 1400));
    commit(&mut st, run, false);
    let st = reopen_same(st, &path, &s);
    assert_eq!(
        st.snapshot(DatastoreId::Candidate).units.get(&a),
        Some(&text("a", 1400))
    );
    assert!(st.snapshot(DatastoreId::Candidate).units.get(&b).is_none());
}

#[test]
fn the_journal_is_compacted_and_keeps_its_content() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    // a large overlay first, so the size rule stays out of the way of the row-count rule
    let mut cand = st.snapshot(DatastoreId::Candidate).units.clone();
    let many: Vec<UnitKey> = (0..50).map(|i| key(&s, &format!("big{i}"))).collect();
    for (i, k) in many.iter().enumerate() {
        cand.insert(k.clone(), text(&format!("big{i}"), 1500));
    }
    st.write_candidate(&cand, &many).unwrap();
    // then many one-unit edits of a few units: by count, the journal would hold 201 rows
    for i in 0..200u32 {
        let name = format!("small{}", i % 5);
        let k = key(&s, &name);
        cand.insert(k.clone(), text(&name, 1000 + i));
        st.write_candidate(&cand, std::slice::from_ref(&k)).unwrap();
        assert!(
            journal_rows(&path) <= 65,
            "journal not compacted at edit {i}"
        );
    }
    let rows = journal_rows(&path);
    assert!((1..=65).contains(&rows), "{rows} rows");
    let st = reopen_same(st, &path, &s);
    assert_eq!(st.snapshot(DatastoreId::Candidate).units.len(), 55);

    // one unit edited over and over: the journal stays within twice the overlay
    let mut st = st;
    st.discard_candidate().unwrap();
    assert_eq!(journal_rows(&path), 0);
    let mut cand = st.snapshot(DatastoreId::Candidate).units.clone();
    let k = key(&s, "one");
    for i in 0..50u32 {
        cand.insert(k.clone(), text("one", 1000 + i));
        st.write_candidate(&cand, std::slice::from_ref(&k)).unwrap();
        assert!(journal_rows(&path) <= 3, "{} rows", journal_rows(&path));
    }
    // an edit that takes the candidate back to running leaves no rows behind
    cand.remove(&k);
    st.write_candidate(&cand, std::slice::from_ref(&k)).unwrap();
    assert_eq!(journal_rows(&path), 0);
    let st = reopen_same(st, &path, &s);
    assert!(!st.candidate_modified());
}

#[test]
fn a_corrupt_journal_row_fails_the_open_naming_the_database() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let mut st = Store::open(&path, s.clone()).unwrap();
    let k = key(&s, "a");
    let mut cand = st.snapshot(DatastoreId::Candidate).units.clone();
    cand.insert(k.clone(), text("a", 1500));
    st.write_candidate(&cand, std::slice::from_ref(&k)).unwrap();
    drop(st);

    let original: Vec<u8> = {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row("SELECT changes FROM candidate_edit", [], |r| r.get(0))
            .unwrap()
    };
    let shown = path.display().to_string();
    let damaged: Vec<Vec<u8>> = vec![
        original[..original.len() - 3].to_vec(),
        [&original[..], &[0u8]].concat(),
        [&[7u8][..], &original[1..]].concat(),
        vec![],
    ];
    for bytes in damaged {
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute("UPDATE candidate_edit SET changes = ?1", [&bytes])
                .unwrap();
        }
        let e = Store::open(&path, s.clone()).unwrap_err().to_string();
        assert!(
            e.contains(&shown) && e.contains("candidate edit"),
            "{e} ({bytes:?})"
        );
    }
    // a row of the wrong type is refused the same way
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE candidate_edit SET changes = 'text'", [])
            .unwrap();
    }
    let e = Store::open(&path, s.clone()).unwrap_err().to_string();
    assert!(e.contains(&shown) && e.contains("candidate edit"), "{e}");
    // put back, it opens again
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE candidate_edit SET changes = ?1", [&original])
            .unwrap();
    }
    let st = Store::open(&path, s).unwrap();
    assert_eq!(
        st.snapshot(DatastoreId::Candidate).units.get(&k),
        Some(&text("a", 1500))
    );
}

/// The tables of layout 1 as netloomd created them (kept here verbatim: the migration must
/// read databases made by the old code, not by this one).
const LAYOUT_1: &str = "
PRAGMA application_id = 1313623885; -- 0x4E4C4F4D, NLOM
PRAGMA user_version = 1;
CREATE TABLE unit (ds INTEGER NOT NULL, path TEXT NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (ds, path)) WITHOUT ROWID;
CREATE TABLE candidate (path TEXT PRIMARY KEY, json TEXT) WITHOUT ROWID;
CREATE TABLE commit_log (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, user TEXT NOT NULL,
    comment TEXT, changes INTEGER NOT NULL, confirm TEXT NOT NULL, diff TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE pending_confirm (one INTEGER PRIMARY KEY CHECK (one = 1),
    commit_id INTEGER NOT NULL, rollback_to INTEGER NOT NULL, deadline_ms INTEGER NOT NULL,
    persist_id TEXT, session INTEGER NOT NULL);
CREATE TABLE ipam_ledger (network TEXT NOT NULL, address TEXT NOT NULL, pool TEXT NOT NULL,
    owner TEXT NOT NULL, interface TEXT NOT NULL, allocated_ms INTEGER NOT NULL,
    PRIMARY KEY (network, address)) WITHOUT ROWID;
CREATE INDEX ipam_owner ON ipam_ledger (owner);
CREATE TABLE attachment (container_id TEXT NOT NULL, interface TEXT NOT NULL,
    netns TEXT NOT NULL, pod_namespace TEXT NOT NULL, pod_name TEXT NOT NULL,
    network TEXT NOT NULL, result TEXT NOT NULL, created_ms INTEGER NOT NULL,
    PRIMARY KEY (container_id, interface)) WITHOUT ROWID;
";

#[test]
fn a_layout_1_database_is_migrated_with_its_candidate() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let (a, b, c) = (key(&s, "a"), key(&s, "b"), key(&s, "c"));
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(LAYOUT_1).unwrap();
        let unit = "INSERT INTO unit (ds, path, json) VALUES (0, ?1, ?2)";
        db.execute(unit, [&*a.path, &*text("a", 1500)]).unwrap();
        db.execute(unit, [&*c.path, &*text("c", 1500)]).unwrap();
        db.execute_batch(
            "INSERT INTO meta VALUES ('last-commit', '1'), ('running-set', '1');
             INSERT INTO commit_log VALUES (1, 0, 'admin', NULL, 2, 'not-required', '[]');",
        )
        .unwrap();
        // the candidate: a changed, b created, c deleted
        let cand = "INSERT INTO candidate (path, json) VALUES (?1, ?2)";
        db.execute(cand, rusqlite::params![&*a.path, &*text("a", 9000)])
            .unwrap();
        db.execute(cand, rusqlite::params![&*b.path, &*text("b", 1500)])
            .unwrap();
        db.execute(cand, rusqlite::params![&*c.path, None::<String>])
            .unwrap();
    }
    let mut st = Store::open(&path, s.clone()).unwrap();
    let run = st.snapshot(DatastoreId::Running);
    assert_eq!((run.units.len(), run.commit_id), (2, 1));
    assert!(!st.is_fresh());
    let cand = st.snapshot(DatastoreId::Candidate).units.clone();
    assert_eq!(cand.get(&a), Some(&text("a", 9000)));
    assert_eq!(cand.get(&b), Some(&text("b", 1500)));
    assert_eq!(cand.get(&c), None);
    assert_eq!(cand.len(), 2);
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
        let old: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'candidate'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the old table is gone");
    }
    assert_eq!(journal_rows(&path), 1);
    // it works as a layout-2 database from here: an edit, a reopen, a commit
    let mut next = cand.clone();
    next.insert(c.clone(), text("c", 1400));
    st.write_candidate(&next, std::slice::from_ref(&c)).unwrap();
    let mut st = reopen_same(st, &path, &s);
    commit(&mut st, next.clone(), true);
    let st = reopen_same(st, &path, &s);
    assert_eq!(st.snapshot(DatastoreId::Running).units, next);
    assert_eq!(journal_rows(&path), 0);
}

#[test]
fn a_newer_layout_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(&LAYOUT_1.replace("user_version = 1", "user_version = 99"))
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let e = Store::open(&path, schema()).unwrap_err().to_string();
    assert!(e.contains("layout 99"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
