//! Incremental validation: which units a commit must validate. The scope of a change is the
//! changed units, every unit whose verdict a change can alter (entries referencing a changed
//! unit, lists a `Whole` dependency ties to it), every remainder unit, and — closed
//! transitively — every unit those need to be judged (leafref targets, `Whole` targets).
//! Validating exactly that set with libyang gives the verdict of validating everything, at a
//! cost that follows the change, not the datastore; `tests/validation_equivalence.rs` proves
//! the two verdicts equal over thousands of random edits.

use std::collections::BTreeSet;

// foldhash: the indexes hash 100k unit paths per bulk commit; SipHash showed in profiles
use foldhash::HashMap;

use netloom_yang::{DependencyGraph, KeyRef, Schema, UnitKey, UnitListId, UnitMap};
use std::borrow::Cow;

use serde_json::value::RawValue;

/// Which unit references which, through the graph's key references, for one datastore.
#[derive(Debug, Default, Clone)]
pub struct RefIndex {
    /// target unit -> units referencing it
    referrers: HashMap<UnitKey, BTreeSet<UnitKey>>,
    /// referencing unit -> targets it references
    targets: HashMap<UnitKey, Vec<UnitKey>>,
}

/// The values of the leaf reached by `path` (member names) under the JSON text `v`. Walks
/// the text without building a tree: only the members on the path are looked into.
fn leaf_values(v: &str, path: &[String], out: &mut Vec<String>) {
    let v = v.trim_start();
    let Some((first, rest)) = path.split_first() else {
        if v.starts_with('"') {
            if let Ok(s) = serde_json::from_str::<String>(v) {
                out.push(s);
            }
        } else if v.starts_with('[') {
            if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(v) {
                for x in items {
                    leaf_values(x.get(), &[], out);
                }
            }
        } else if v.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            out.push(v.trim_end().to_owned());
        }
        return;
    };
    let Ok(members) = serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(v) else {
        return;
    };
    let Some(child) = members.get(first.as_str()) else {
        return;
    };
    let child = child.get();
    if child.starts_with('[') && !rest.is_empty() {
        if let Ok(entries) = serde_json::from_str::<Vec<&RawValue>>(child) {
            for e in entries {
                leaf_values(e.get(), rest, out);
            }
        }
    } else {
        leaf_values(child, rest, out);
    }
}

/// The units `unit` references through `refs` (present or not).
pub fn references(schema: &Schema, refs: &[&KeyRef], unit: &UnitKey, text: &str) -> Vec<UnitKey> {
    let mut out = Vec::new();
    for r in refs.iter().filter(|r| r.from == unit.list) {
        let mut values = Vec::new();
        leaf_values(text, &r.leaf_path, &mut values);
        for value in values {
            if let Ok(k) = schema.unit_key(r.to, &[&value]) {
                out.push(k);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

impl RefIndex {
    pub fn build(schema: &Schema, deps: &DependencyGraph, units: &UnitMap) -> Self {
        let mut idx = RefIndex::default();
        let refs: Vec<&KeyRef> = deps.key_refs().collect();
        let from: BTreeSet<UnitListId> = refs.iter().map(|r| r.from).collect();
        for list in from {
            for (k, text) in range(units, list) {
                idx.set(k.clone(), references(schema, &refs, k, text));
            }
        }
        idx
    }

    fn set(&mut self, unit: UnitKey, targets: Vec<UnitKey>) {
        if let Some(old) = self.targets.remove(&unit) {
            for t in old {
                if let Some(s) = self.referrers.get_mut(&t) {
                    s.remove(&unit);
                    if s.is_empty() {
                        self.referrers.remove(&t);
                    }
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        for t in &targets {
            self.referrers
                .entry(t.clone())
                .or_default()
                .insert(unit.clone());
        }
        self.targets.insert(unit, targets);
    }

    /// Follow a commit: re-index the changed units from their new texts.
    pub fn update(
        &mut self,
        schema: &Schema,
        deps: &DependencyGraph,
        units: &UnitMap,
        changed: &[UnitKey],
    ) {
        let refs: Vec<&KeyRef> = deps.key_refs().collect();
        for k in changed {
            let targets = match units.get(k) {
                Some(text) => references(schema, &refs, k, text),
                None => Vec::new(),
            };
            self.set(k.clone(), targets);
        }
    }

    pub fn referrers(&self, target: &UnitKey) -> impl Iterator<Item = &UnitKey> {
        self.referrers.get(target).into_iter().flatten()
    }
}

/// The units of one unit list, in order.
pub fn range(
    units: &UnitMap,
    list: UnitListId,
) -> impl Iterator<Item = (&UnitKey, &std::sync::Arc<str>)> {
    let lo = UnitKey {
        list,
        path: "".into(),
    };
    units.range(lo..).take_while(move |(k, _)| k.list == list)
}

/// The scope of a change to `units` (the new content) at `changed`, given the reference index
/// of the content before the change.
pub fn scope(
    schema: &Schema,
    deps: &DependencyGraph,
    before: &RefIndex,
    units: &UnitMap,
    changed: &[UnitKey],
) -> BTreeSet<UnitKey> {
    let refs: Vec<&KeyRef> = deps.key_refs().collect();
    let mut set = BTreeSet::new();
    let mut queue = Vec::new();
    let mut whole_done: BTreeSet<UnitListId> = BTreeSet::new();
    let mut add_whole =
        |list: UnitListId, set: &mut BTreeSet<UnitKey>, queue: &mut Vec<UnitKey>| {
            if whole_done.insert(list) {
                for (k, _) in range(units, list) {
                    if set.insert(k.clone()) {
                        queue.push(k.clone());
                    }
                }
            }
        };
    let push = |k: &UnitKey, set: &mut BTreeSet<UnitKey>, queue: &mut Vec<UnitKey>| {
        if units.contains_key(k) && set.insert(k.clone()) {
            queue.push(k.clone());
        }
    };
    for k in changed {
        push(k, &mut set, &mut queue);
        // whoever may look at a changed unit must be judged again
        for from in deps.whole_sources(k.list).collect::<Vec<_>>() {
            add_whole(from, &mut set, &mut queue);
        }
        for r in before.referrers(k) {
            push(r, &mut set, &mut queue);
        }
        // units that newly reference k (in this same change) are changed units themselves
    }
    for (i, def) in schema.units().iter().enumerate() {
        if def.is_remainder() {
            let k = schema.remainder_key(UnitListId(i as u16));
            push(&k, &mut set, &mut queue);
        }
    }
    // close over what the units in scope need
    while let Some(k) = queue.pop() {
        for to in deps.whole_targets(k.list).collect::<Vec<_>>() {
            add_whole(to, &mut set, &mut queue);
        }
        if let Some(text) = units.get(&k) {
            for t in references(schema, &refs, &k, text) {
                push(&t, &mut set, &mut queue);
            }
        }
    }
    set
}
