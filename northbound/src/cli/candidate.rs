//! A configure session's private candidate: the running snapshot it started from (its base)
//! and the edits made since. What the session shows is base + edits; what it commits is the
//! edits, replayed on running as it is at commit time, unless that would change a leaf
//! someone else changed meanwhile (see [`super::conflict`]): reported, never overwritten.

use std::sync::Arc;

use netloom_store::Snapshot;
use netloom_yang::{Edit, EditOp, ErrorTag, Schema, UnitMap};

use super::conflict::{leaf_conflicts, Conflict};
use super::history::edits_between;
use crate::api::ApiError;

#[derive(Debug)]
pub struct PrivateCandidate {
    base: Arc<Snapshot>,
    /// base + edits, kept so `show` costs no replay.
    units: UnitMap,
    edits: Vec<Edit>,
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
        schema
            .apply_edits(&mut units, edits.as_slice())
            .map_err(yang_error)?;
        self.units = units;
        self.edits.extend(edits);
        Ok(())
    }

    /// Leaves running changed since the base that committing now would not keep as running
    /// has them.
    pub fn conflicts(
        &self,
        schema: &Schema,
        running: &Snapshot,
    ) -> Result<Vec<Conflict>, ApiError> {
        if running.commit_id == self.base.commit_id {
            return Ok(Vec::new());
        }
        let mut result = running.units.clone();
        schema
            .apply_edits(&mut result, self.edits.as_slice())
            .map_err(yang_error)?;
        Ok(leaf_conflicts(
            schema,
            &self.base.units,
            &running.units,
            &result,
        ))
    }

    /// Make the candidate `target` (e.g. an old configuration), as edits on `base` (running
    /// now) that replace this session's uncommitted changes; how many edits that took.
    pub fn load(
        &mut self,
        schema: &Schema,
        base: Arc<Snapshot>,
        target: &UnitMap,
    ) -> Result<usize, ApiError> {
        let edits = edits_between(schema, &base.units, target)?;
        let n = edits.len();
        let mut next = PrivateCandidate::new(base);
        next.edit(schema, edits)?;
        *self = next;
        Ok(n)
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
