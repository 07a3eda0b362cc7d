//! What the store's test files share: a schema, and commits made the way the engine makes
//! them. Each test file uses some of it.
#![allow(dead_code)]

use std::sync::Arc;

use netloom_store::{CommitMeta, ConfirmState, DatastoreId, Store, UnitChange};
use netloom_yang::{Schema, UnitMap};

pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new().unwrap())
}

/// Commit running with networks `names` set to `mtu` (`None`: deleted), as the engine does:
/// only the changed units, keeping `history` commits; `clear_candidate` as
/// [`Store::commit`]'s. Returns the commit's id.
pub fn commit_networks<S: AsRef<str>>(
    st: &mut Store,
    names: &[S],
    mtu: Option<u32>,
    history: u32,
    clear_candidate: bool,
) -> u64 {
    let s = st.schema().clone();
    let list = s.unit_by_names("networks", "network").unwrap();
    let mut units = st.snapshot(DatastoreId::Running).units.clone();
    let mut changes = Vec::new();
    for name in names {
        let name = name.as_ref();
        let key = s.unit_key(list, &[name]).unwrap();
        let old = units.get(&key).cloned();
        let new: Option<Arc<str>> =
            mtu.map(|m| format!(r#"{{"name":"{name}","type":"bridge","mtu":{m}}}"#).into());
        match &new {
            Some(t) => units.insert(key.clone(), t.clone()),
            None => units.remove(&key),
        };
        changes.push(UnitChange {
            path: key.path.clone(),
            old,
            new,
        });
    }
    commit_changes(st, units, changes, history, clear_candidate)
}

/// Commit `units` as running, `changes` being how they differ from the current running.
pub fn commit_changes(
    st: &mut Store,
    units: UnitMap,
    changes: Vec<UnitChange>,
    history: u32,
    clear_candidate: bool,
) -> u64 {
    let meta = CommitMeta {
        user: "t".into(),
        comment: None,
        history,
    };
    st.commit(
        units,
        changes,
        &meta,
        ConfirmState::NotRequired,
        clear_candidate,
    )
    .unwrap()
    .id
}
