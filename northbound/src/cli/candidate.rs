//! A configure session's private candidate: the running snapshot it started from (its base)
//! and the edits made since. What the session shows is base + edits; what it commits is the
//! edits, replayed on running as it is at commit time, unless running changed meanwhile in a
//! unit the session touched: that is a conflict, reported and never overwritten.

use std::collections::BTreeSet;
use std::sync::Arc;

use netloom_store::Snapshot;
use netloom_yang::{Edit, EditOp, ErrorTag, NodeId, Schema, UnitKey, UnitMap};

use crate::api::ApiError;

#[derive(Debug)]
pub struct PrivateCandidate {
    base: Arc<Snapshot>,
    /// base + edits, kept so `show` costs no replay.
    units: UnitMap,
    edits: Vec<Edit>,
    /// Units the edits named or changed.
    touched: BTreeSet<UnitKey>,
    /// Root containers edited as a whole (e.g. `delete networks`): every unit below counts.
    touched_roots: BTreeSet<NodeId>,
}

/// One unit as a commit would change it.
#[derive(Debug)]
pub struct UnitDiff {
    pub path: Arc<str>,
    pub old: Option<Arc<str>>,
    pub new: Option<Arc<str>>,
}

pub fn yang_error(e: netloom_yang::Error) -> ApiError {
    ApiError {
        tag: e.tag(),
        path: e.error_path().map(str::to_owned),
        message: e.to_string(),
        app_tag: None,
    }
}

impl PrivateCandidate {
    pub fn new(base: Arc<Snapshot>) -> Self {
        PrivateCandidate {
            units: base.units.clone(),
            base,
            edits: Vec::new(),
            touched: BTreeSet::new(),
            touched_roots: BTreeSet::new(),
        }
    }

    pub fn base(&self) -> &Arc<Snapshot> {
        &self.base
    }

    pub fn units(&self) -> &UnitMap {
        &self.units
    }

    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    pub fn is_dirty(&self) -> bool {
        !self.edits.is_empty()
    }

    /// Apply edits (all or none) to the private view.
    pub fn edit(&mut self, schema: &Schema, edits: Vec<Edit>) -> Result<(), ApiError> {
        let mut units = self.units.clone();
        let changed = schema
            .apply_edits(&mut units, edits.as_slice())
            .map_err(yang_error)?;
        self.units = units;
        self.touched.extend(changed);
        for e in &edits {
            let path = schema.resolve(&e.path).map_err(yang_error)?;
            // A unit list entry or anything inside it names its unit; anything above a
            // unit (a root container, a whole list) names its whole root.
            let unit = path
                .segments
                .iter()
                .take(2)
                .try_fold(String::new(), |mut s, seg| {
                    let one = netloom_yang::DataPath {
                        segments: vec![seg.clone()],
                    };
                    s.push_str(&one.to_xpath().ok()?);
                    Some(s)
                });
            match unit.and_then(|u| schema.unit_of_path(&u)) {
                Some(key) if !schema.unit(key.list).is_remainder() || path.segments.len() > 1 => {
                    self.touched.insert(key);
                }
                _ => {
                    if let Some(root) = path.segments.first().and_then(|s| s.node) {
                        self.touched_roots.insert(root);
                    } else {
                        self.touched_roots.extend(schema.roots().iter().copied());
                    }
                }
            }
        }
        self.edits.extend(edits);
        Ok(())
    }

    /// Units running changed since the base that this session's edits touch.
    pub fn conflicts(&self, schema: &Schema, running: &Snapshot) -> Vec<String> {
        if running.commit_id == self.base.commit_id {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for item in self.base.units.diff(&running.units) {
            let key = match item {
                imbl::ordmap::DiffItem::Add(k, _)
                | imbl::ordmap::DiffItem::Remove(k, _)
                | imbl::ordmap::DiffItem::Update { new: (k, _), .. } => k,
            };
            if self.touched.contains(key)
                || self.touched_roots.contains(&schema.unit(key.list).root())
            {
                out.push(key.path.to_string());
            }
        }
        out
    }

    /// What committing now would change in `running`: the edits replayed on it.
    pub fn compare(&self, schema: &Schema, running: &Snapshot) -> Result<Vec<UnitDiff>, ApiError> {
        let mut units = running.units.clone();
        let changed = schema
            .apply_edits(&mut units, self.edits.as_slice())
            .map_err(yang_error)?;
        Ok(changed
            .into_iter()
            .map(|k| UnitDiff {
                old: running.units.get(&k).cloned(),
                new: units.get(&k).cloned(),
                path: k.path,
            })
            .filter(|d| d.old != d.new)
            .collect())
    }

    /// Take `running` as the new base and replay the edits on it: the operator's answer to
    /// a conflict, putting this session's changes on top of everyone else's.
    pub fn rebase(&mut self, schema: &Schema, running: Arc<Snapshot>) -> Result<(), ApiError> {
        let edits = std::mem::take(&mut self.edits);
        let mut next = PrivateCandidate::new(running);
        next.edit(schema, edits)?;
        *self = next;
        Ok(())
    }

    /// Start over from a new base.
    pub fn reset(&mut self, base: Arc<Snapshot>) {
        *self = PrivateCandidate::new(base);
    }
}

/// The wire name of an edit operation.
pub fn edit_op(name: &str) -> Result<EditOp, ApiError> {
    Ok(match name {
        "merge" => EditOp::Merge,
        "replace" => EditOp::Replace,
        "create" => EditOp::Create,
        "delete" => EditOp::Delete,
        "remove" => EditOp::Remove,
        other => {
            return Err(ApiError::new(
                ErrorTag::InvalidValue,
                format!("unknown edit operation '{other}'"),
            ))
        }
    })
}
