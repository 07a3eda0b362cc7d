//! Edits: NETCONF's operations (merge, replace, create, delete, remove; RFC 6241 section
//! 7.2), which RESTCONF methods and gNMI Set map onto too, applied to a unit map. Only the
//! units an edit touches are parsed and rewritten.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::batch::{EditBatch, EntryText};
use crate::error::{Error, ErrorTag};
use crate::path::{DataPath, Segment};
use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::{scalar_text, UnitKey, UnitMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOp {
    Merge,
    Replace,
    Create,
    Delete,
    Remove,
}

impl EditOp {
    fn creates(self) -> bool {
        matches!(self, EditOp::Merge | EditOp::Replace | EditOp::Create)
    }
}

/// One operation on one node. `value` is the node's RFC 7951 JSON value (an object for a
/// container or list entry, an array for a whole list or leaf-list, a scalar for a leaf or
/// leaf-list entry, the whole document for the root); none for delete and remove.
#[derive(Debug, Clone)]
pub struct Edit {
    pub op: EditOp,
    pub path: DataPath,
    pub value: Option<Value>,
}

/// Units being edited: parsed on first touch, `None` once deleted.
struct Work<'a> {
    schema: &'a Schema,
    base: &'a UnitMap,
    touched: BTreeMap<UnitKey, Option<Value>>,
}

fn err(tag: ErrorTag, path: &str, msg: impl Into<String>) -> Error {
    Error::invalid(tag, path, msg)
}

impl Work<'_> {
    fn load(&mut self, key: &UnitKey) -> Result<Option<&mut Value>, Error> {
        if !self.touched.contains_key(key) {
            let v = match self.base.get(key) {
                Some(text) => Some(parse_unit(text)?),
                None => None,
            };
            self.touched.insert(key.clone(), v);
        }
        Ok(self.touched.get_mut(key).and_then(Option::as_mut))
    }

    fn exists(&mut self, key: &UnitKey) -> Result<bool, Error> {
        Ok(self.load(key)?.is_some())
    }

    fn set(&mut self, key: UnitKey, v: Option<Value>) {
        self.touched.insert(key, v);
    }

    /// Whether any unit rooted at `root` (any root when None) exists. O(unit defs · log n):
    /// a create on a 100k-entry datastore must not walk it.
    fn any_under(&self, root: Option<NodeId>) -> bool {
        let touched_live = self
            .touched
            .iter()
            .any(|(k, v)| v.is_some() && root.is_none_or(|r| self.schema.unit(k.list).root() == r));
        if touched_live {
            return true;
        }
        (0..self.schema.units().len()).any(|i| {
            let list = crate::unit::UnitListId(i as u16);
            if root.is_some_and(|r| self.schema.unit(list).root() != r) {
                return false;
            }
            let from = UnitKey {
                list,
                path: Arc::from(""),
            };
            // Untouched units of this def: the first one not deleted by this edit.
            self.base
                .range(from..)
                .take_while(|(k, _)| k.list == list)
                .any(|(k, _)| !self.touched.contains_key(k))
        })
    }

    /// Every existing unit key of the unit defs rooted at `root` (all roots when None).
    fn keys_under(&self, root: Option<NodeId>) -> Vec<UnitKey> {
        let mut keys: Vec<UnitKey> = self
            .base
            .keys()
            .chain(self.touched.keys())
            .filter(|k| root.is_none_or(|r| self.schema.unit(k.list).root() == r))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys.retain(|k| match self.touched.get(k) {
            Some(v) => v.is_some(),
            None => true,
        });
        keys
    }
}

impl Schema {
    /// Apply `edits` in order to `units`. Returns the keys of the units whose value may have
    /// changed (their new texts are not yet canonical: validation makes them so).
    /// Slices of edits are copied; hand over a `Vec` to spare copying large values.
    pub fn apply_edits(
        &self,
        units: &mut UnitMap,
        edits: impl Into<Vec<Edit>>,
    ) -> Result<Vec<UnitKey>, Error> {
        self.apply_batch(units, EditBatch::from(edits.into()))
    }

    /// Apply a batch to `units`: its edits in order, then its entries. Returns the keys of
    /// the units whose value may have changed, sorted.
    pub fn apply_batch(
        &self,
        units: &mut UnitMap,
        batch: impl Into<EditBatch>,
    ) -> Result<Vec<UnitKey>, Error> {
        let EditBatch { edits, entries } = batch.into();
        let base = units.clone();
        let mut work = Work {
            schema: self,
            base: &base,
            touched: BTreeMap::new(),
        };
        for edit in edits {
            self.apply_one(&mut work, edit)?;
        }
        // An entry whose unit exists (stored, or made by the edits) merges into it as a
        // value; the others are new units, stored as they are once the edits' units are.
        let mut fresh = Vec::with_capacity(entries.len());
        for EntryText { key, text } in entries {
            if work.touched.contains_key(&key) || base.contains_key(&key) {
                let v = parse_unit(&text)?;
                let shown = key.path.clone();
                self.merge_unit(&mut work, key, v, &shown)?;
            } else {
                fresh.push((key, text));
            }
        }
        let mut changed = Vec::with_capacity(work.touched.len() + fresh.len());
        for (key, value) in work.touched {
            let old = base.get(&key);
            match value {
                Some(v) => {
                    let text: Arc<str> = Arc::from(v.to_string());
                    if old.is_none_or(|o| **o != *text) {
                        units.insert(key.clone(), text);
                        changed.push(key);
                    }
                }
                None => {
                    if units.remove(&key).is_some() {
                        changed.push(key);
                    }
                }
            }
        }
        if fresh.is_empty() {
            return Ok(changed);
        }
        for (key, text) in fresh {
            // Neither stored nor touched: a unit already here is an earlier entry of this
            // batch at the same key, which this one merges into.
            match units.insert(key.clone(), text.clone()) {
                None => changed.push(key),
                Some(earlier) => {
                    let shown = key.path.clone();
                    let mut merged = parse_unit(&earlier)?;
                    let later = parse_unit(&text)?;
                    let node = self.unit_node(key.list);
                    self.merge_value(&mut merged, &later, node, &shown)?;
                    units.insert(key, Arc::from(merged.to_string()));
                }
            }
        }
        // Sorted as the edits' own keys are, so what follows (validation chunks, the first
        // error reported) does not depend on how the change was spelled.
        changed.sort_unstable();
        Ok(changed)
    }

    /// The schema node of a unit def's units: its list, or its root container.
    fn unit_node(&self, list: crate::unit::UnitListId) -> NodeId {
        let def = self.unit(list);
        def.list_node().unwrap_or(def.root())
    }

    fn apply_one(&self, work: &mut Work<'_>, edit: Edit) -> Result<(), Error> {
        let path = self.resolve(&edit.path)?;
        let shown = path.to_xpath()?;
        let op = edit.op;
        let owned = edit.value;
        let value = owned.as_ref();
        if op.creates() && value.is_none() {
            return Err(err(
                ErrorTag::MissingElement,
                &shown,
                "the edit has no value",
            ));
        }
        let segs = &path.segments;
        match segs.len() {
            0 => {
                let units = match owned {
                    Some(v) if op.creates() => self.split(v)?,
                    _ => Vec::new(),
                };
                self.replace_set(work, None, units, op, &shown)
            }
            1 => {
                let root = node_of(&segs[0]);
                let mut units = Vec::new();
                if let (Some(v), true) = (owned, op.creates()) {
                    self.split_root(root, v, &mut units)?;
                }
                self.replace_set(work, Some(root), units, op, &shown)
            }
            _ => {
                let root = node_of(&segs[0]);
                let second = node_of(&segs[1]);
                match self.node(second).unit {
                    Some(list) if segs[1].keys.is_empty() => {
                        if segs.len() > 2 {
                            return Err(Error::path(shown, "a list step needs its keys"));
                        }
                        self.whole_list(work, list, owned, op, &shown)
                    }
                    Some(list) => {
                        let values: Vec<&str> =
                            segs[1].keys.iter().map(|(_, v)| v.as_str()).collect();
                        let key = self.unit_key(list, &values)?;
                        if segs.len() == 2 {
                            return self.unit_op(work, key, second, &segs[1], value, op, &shown);
                        }
                        if work.load(&key)?.is_none() {
                            if !op.creates() {
                                return missing(op, &shown);
                            }
                            work.set(
                                key.clone(),
                                Some(Value::Object(key_object(self, second, &segs[1]))),
                            );
                        }
                        let Some(Value::Object(obj)) = work.load(&key)? else {
                            return Err(err(
                                ErrorTag::OperationFailed,
                                &shown,
                                "stored unit is not an object",
                            ));
                        };
                        self.apply_in(obj, &segs[2..], value, op, &shown)
                    }
                    None => {
                        let rem = self.remainder_of(root).ok_or_else(|| {
                            err(ErrorTag::InvalidValue, &shown, "not configuration")
                        })?;
                        let key = self.remainder_key(rem);
                        if work.load(&key)?.is_none() {
                            work.set(key.clone(), Some(Value::Object(Map::new())));
                        }
                        let Some(Value::Object(obj)) = work.load(&key)? else {
                            return Err(err(
                                ErrorTag::OperationFailed,
                                &shown,
                                "stored unit is not an object",
                            ));
                        };
                        self.apply_in(obj, &segs[1..], value, op, &shown)?;
                        if obj.is_empty() {
                            work.set(key, None);
                        }
                        Ok(())
                    }
                }
            }
        }
    }

    /// An operation on all units under the root (`root` None) or under one root container.
    fn replace_set(
        &self,
        work: &mut Work<'_>,
        root: Option<NodeId>,
        units: Vec<(UnitKey, Value)>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        // Only the operations that replace or remove the whole set list it: a merge of one
        // entry into a 100k-entry list stays O(entry).
        match op {
            EditOp::Replace => {
                for k in work.keys_under(root) {
                    work.set(k, None);
                }
                for (k, v) in units {
                    work.set(k, Some(v));
                }
            }
            EditOp::Create if work.any_under(root) => {
                return Err(err(ErrorTag::DataExists, shown, "the data already exists"));
            }
            EditOp::Merge | EditOp::Create => {
                for (k, v) in units {
                    self.merge_unit(work, k, v, shown)?;
                }
            }
            EditOp::Delete if !work.any_under(root) => return missing(op, shown),
            EditOp::Delete | EditOp::Remove => {
                for k in work.keys_under(root) {
                    work.set(k, None);
                }
            }
        }
        Ok(())
    }

    fn merge_unit(
        &self,
        work: &mut Work<'_>,
        key: UnitKey,
        v: Value,
        shown: &str,
    ) -> Result<(), Error> {
        let node = self.unit_node(key.list);
        match work.load(&key)? {
            Some(cur) => self.merge_value(cur, &v, node, shown),
            None => {
                work.set(key, Some(v));
                Ok(())
            }
        }
    }

    fn whole_list(
        &self,
        work: &mut Work<'_>,
        list: crate::unit::UnitListId,
        value: Option<Value>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        // Listed only by the operations that replace or remove the whole list.
        let existing = |work: &Work<'_>| -> Vec<UnitKey> {
            work.keys_under(Some(self.unit(list).root()))
                .into_iter()
                .filter(|k| k.list == list)
                .collect()
        };
        let mut entries = Vec::new();
        if let (Some(v), true) = (value, op.creates()) {
            let Value::Array(arr) = v else {
                return Err(err(ErrorTag::InvalidValue, shown, "a list needs an array"));
            };
            for e in arr {
                let Value::Object(o) = &e else {
                    return Err(err(
                        ErrorTag::InvalidValue,
                        shown,
                        "a list entry needs an object",
                    ));
                };
                entries.push((self.entry_key(list, o)?, e));
            }
        }
        match op {
            EditOp::Replace => {
                for k in existing(work) {
                    work.set(k, None);
                }
                for (k, v) in entries {
                    work.set(k, Some(v));
                }
            }
            EditOp::Merge => {
                for (k, v) in entries {
                    self.merge_unit(work, k, v, shown)?;
                }
            }
            EditOp::Create => {
                for (k, v) in entries {
                    if work.exists(&k)? {
                        return Err(err(
                            ErrorTag::DataExists,
                            &k.path,
                            "the entry already exists",
                        ));
                    }
                    work.set(k, Some(v));
                }
            }
            EditOp::Delete | EditOp::Remove => {
                let existing = existing(work);
                if existing.is_empty() && op == EditOp::Delete {
                    return missing(op, shown);
                }
                for k in existing {
                    work.set(k, None);
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn unit_op(
        &self,
        work: &mut Work<'_>,
        key: UnitKey,
        node: NodeId,
        seg: &Segment,
        value: Option<&Value>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        let exists = work.exists(&key)?;
        let entry = match value {
            Some(v) if op.creates() => Some(self.entry_value(v, node, seg, shown)?),
            _ => None,
        };
        match (op, exists) {
            (EditOp::Create, true) => {
                Err(err(ErrorTag::DataExists, shown, "the entry already exists"))
            }
            (EditOp::Delete, false) => missing(op, shown),
            (EditOp::Delete | EditOp::Remove, _) => {
                work.set(key, None);
                Ok(())
            }
            (EditOp::Merge, true) => {
                let v = entry.unwrap_or(Value::Null);
                let cur = work
                    .load(&key)?
                    .ok_or_else(|| err(ErrorTag::OperationFailed, shown, "vanished"))?;
                self.merge_value(cur, &v, node, shown)
            }
            _ => {
                work.set(key, entry);
                Ok(())
            }
        }
    }

    /// A list entry's object from an edit value, with its keys checked against the path.
    fn entry_value(
        &self,
        v: &Value,
        node: NodeId,
        seg: &Segment,
        shown: &str,
    ) -> Result<Value, Error> {
        // RESTCONF and gNMI may wrap the entry in its list (`{"pod": [{...}]}`).
        let v = match v {
            Value::Array(a) if a.len() == 1 => &a[0],
            other => other,
        };
        let mut obj = v.as_object().cloned().ok_or_else(|| {
            err(
                ErrorTag::InvalidValue,
                shown,
                "a list entry needs an object",
            )
        })?;
        for (k, want) in &seg.keys {
            match obj.get(k) {
                None => {
                    obj.insert(k.clone(), key_json(self, node, k, want));
                }
                Some(have) if scalar_text(have).as_deref() == Some(want.as_str()) => {}
                Some(have) => {
                    return Err(err(
                        ErrorTag::InvalidValue,
                        shown,
                        format!("key '{k}' is {have} in the data but '{want}' in the path"),
                    ))
                }
            }
        }
        Ok(Value::Object(obj))
    }

    /// Apply `op` at `segs` below the object `obj` (whose node is the parent of `segs[0]`).
    fn apply_in(
        &self,
        obj: &mut Map<String, Value>,
        segs: &[Segment],
        value: Option<&Value>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        let seg = &segs[0];
        let node = node_of(seg);
        let info = self.node(node);
        let member = self.member_name(node);
        let last = segs.len() == 1;
        match info.kind {
            NodeKind::Leaf | NodeKind::Container { .. } if last => {
                let exists = obj.contains_key(&member);
                match (op, exists) {
                    (EditOp::Create, true) => {
                        Err(err(ErrorTag::DataExists, shown, "the data already exists"))
                    }
                    (EditOp::Delete, false) => missing(op, shown),
                    (EditOp::Delete | EditOp::Remove, _) => {
                        obj.remove(&member);
                        Ok(())
                    }
                    (EditOp::Merge, true) if matches!(info.kind, NodeKind::Container { .. }) => {
                        let v = value.cloned().unwrap_or(Value::Null);
                        let cur = obj
                            .get_mut(&member)
                            .ok_or_else(|| err(ErrorTag::OperationFailed, shown, "vanished"))?;
                        self.merge_value(cur, &v, node, shown)
                    }
                    _ => {
                        obj.insert(member, value.cloned().unwrap_or(Value::Null));
                        Ok(())
                    }
                }
            }
            NodeKind::Leaf => Err(Error::path(shown, format!("'{}' is a leaf", info.name))),
            NodeKind::Container { presence } => {
                if !obj.contains_key(&member) {
                    if !op.creates() {
                        return missing(op, shown);
                    }
                    obj.insert(member.clone(), Value::Object(Map::new()));
                }
                let Some(Value::Object(child)) = obj.get_mut(&member) else {
                    return Err(err(
                        ErrorTag::InvalidValue,
                        shown,
                        "a container needs an object",
                    ));
                };
                self.apply_in(child, &segs[1..], value, op, shown)?;
                if !presence && child.is_empty() {
                    obj.remove(&member);
                }
                Ok(())
            }
            NodeKind::LeafList => self.leaf_list_op(obj, &member, node, seg, value, op, shown),
            NodeKind::List => {
                let result = self.list_op(obj, &member, node, segs, value, op, shown);
                if obj
                    .get(&member)
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    obj.remove(&member);
                }
                result
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn list_op(
        &self,
        obj: &mut Map<String, Value>,
        member: &str,
        node: NodeId,
        segs: &[Segment],
        value: Option<&Value>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        let seg = &segs[0];
        let last = segs.len() == 1;
        if seg.keys.is_empty() {
            if !last {
                return Err(Error::path(shown, "a list step needs its keys"));
            }
            let exists = obj.contains_key(member);
            return match (op, exists) {
                (EditOp::Delete, false) => missing(op, shown),
                (EditOp::Delete | EditOp::Remove, _) => {
                    obj.remove(member);
                    Ok(())
                }
                (EditOp::Create, true) => {
                    Err(err(ErrorTag::DataExists, shown, "the data already exists"))
                }
                (EditOp::Merge, true) => {
                    let v = value.cloned().unwrap_or(Value::Null);
                    let cur = obj
                        .get_mut(member)
                        .ok_or_else(|| err(ErrorTag::OperationFailed, shown, "vanished"))?;
                    self.merge_value(cur, &v, node, shown)
                }
                _ => {
                    obj.insert(member.to_owned(), value.cloned().unwrap_or(Value::Null));
                    Ok(())
                }
            };
        }
        if !obj.contains_key(member) {
            obj.insert(member.to_owned(), Value::Array(Vec::new()));
        }
        let Some(Value::Array(arr)) = obj.get_mut(member) else {
            return Err(err(ErrorTag::InvalidValue, shown, "a list needs an array"));
        };
        let idx = arr.iter().position(|e| entry_matches(e, &seg.keys));
        if !last {
            let i = match idx {
                Some(i) => i,
                None if op.creates() => {
                    arr.push(Value::Object(key_object(self, node, seg)));
                    arr.len() - 1
                }
                None => return missing(op, shown),
            };
            let Value::Object(child) = &mut arr[i] else {
                return Err(err(
                    ErrorTag::InvalidValue,
                    shown,
                    "a list entry needs an object",
                ));
            };
            return self.apply_in(child, &segs[1..], value, op, shown);
        }
        let entry = match value {
            Some(v) if op.creates() => Some(self.entry_value(v, node, seg, shown)?),
            _ => None,
        };
        match (op, idx) {
            (EditOp::Create, Some(_)) => {
                Err(err(ErrorTag::DataExists, shown, "the entry already exists"))
            }
            (EditOp::Delete, None) => missing(op, shown),
            (EditOp::Delete | EditOp::Remove, Some(i)) => {
                arr.remove(i);
                Ok(())
            }
            (EditOp::Remove, None) => Ok(()),
            (EditOp::Merge, Some(i)) => {
                self.merge_value(&mut arr[i], &entry.unwrap_or(Value::Null), node, shown)
            }
            (_, Some(i)) => {
                arr[i] = entry.unwrap_or(Value::Null);
                Ok(())
            }
            (_, None) => {
                arr.push(entry.unwrap_or(Value::Null));
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn leaf_list_op(
        &self,
        obj: &mut Map<String, Value>,
        member: &str,
        node: NodeId,
        seg: &Segment,
        value: Option<&Value>,
        op: EditOp,
        shown: &str,
    ) -> Result<(), Error> {
        let Some(item) = &seg.value else {
            // the whole leaf-list
            let exists = obj.contains_key(member);
            return match (op, exists) {
                (EditOp::Delete, false) => missing(op, shown),
                (EditOp::Delete | EditOp::Remove, _) => {
                    obj.remove(member);
                    Ok(())
                }
                (EditOp::Create, true) => {
                    Err(err(ErrorTag::DataExists, shown, "the data already exists"))
                }
                (EditOp::Merge, true) => {
                    let v = value.cloned().unwrap_or(Value::Null);
                    let cur = obj
                        .get_mut(member)
                        .ok_or_else(|| err(ErrorTag::OperationFailed, shown, "vanished"))?;
                    self.merge_value(cur, &v, node, shown)
                }
                _ => {
                    let v = match value.cloned().unwrap_or(Value::Null) {
                        Value::Array(a) => Value::Array(a),
                        scalar => Value::Array(vec![scalar]),
                    };
                    obj.insert(member.to_owned(), v);
                    Ok(())
                }
            };
        };
        let arr = obj
            .entry(member.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(arr) = arr else {
            return Err(err(
                ErrorTag::InvalidValue,
                shown,
                "a leaf-list needs an array",
            ));
        };
        let idx = arr
            .iter()
            .position(|v| scalar_text(v).as_deref() == Some(item.as_str()));
        let result = match (op, idx) {
            (EditOp::Create, Some(_)) => {
                Err(err(ErrorTag::DataExists, shown, "the value already exists"))
            }
            (EditOp::Delete, None) => missing(op, shown),
            (EditOp::Delete | EditOp::Remove, Some(i)) => {
                arr.remove(i);
                Ok(())
            }
            (EditOp::Remove, None) | (_, Some(_)) => Ok(()),
            (_, None) => {
                arr.push(key_json(self, node, "", item));
                Ok(())
            }
        };
        if arr.is_empty() {
            obj.remove(member);
        }
        result
    }

    /// Merge `src` into `dst`, both values of `node` (RFC 6241 merge semantics).
    fn merge_value(
        &self,
        dst: &mut Value,
        src: &Value,
        node: NodeId,
        shown: &str,
    ) -> Result<(), Error> {
        let info = self.node(node);
        match (info.kind, dst, src) {
            (NodeKind::Container { .. } | NodeKind::List, Value::Object(d), Value::Object(s)) => {
                for (m, v) in s {
                    let child = self.child_by_member(node, m).ok_or_else(|| {
                        err(
                            ErrorTag::UnknownElement,
                            &format!("{shown}/{m}"),
                            "unknown node",
                        )
                    })?;
                    match d.get_mut(m) {
                        Some(cur) => self.merge_value(cur, v, child, shown)?,
                        None => {
                            d.insert(m.clone(), v.clone());
                        }
                    }
                }
                Ok(())
            }
            (NodeKind::List, Value::Array(d), Value::Array(s)) => {
                for e in s {
                    let keys: Vec<(String, String)> = info
                        .keys
                        .iter()
                        .map(|k| {
                            (
                                k.clone(),
                                e.get(k).and_then(scalar_text).unwrap_or_default(),
                            )
                        })
                        .collect();
                    match d.iter().position(|x| entry_matches(x, &keys)) {
                        Some(i) => self.merge_value(&mut d[i], e, node, shown)?,
                        None => d.push(e.clone()),
                    }
                }
                Ok(())
            }
            (NodeKind::LeafList, Value::Array(d), Value::Array(s)) => {
                for v in s {
                    if !d.contains(v) {
                        d.push(v.clone());
                    }
                }
                Ok(())
            }
            (_, d, s) => {
                *d = s.clone();
                Ok(())
            }
        }
    }
}

fn parse_unit(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Malformed {
        format: "stored JSON",
        reason: e.to_string(),
    })
}

fn node_of(seg: &Segment) -> NodeId {
    // resolve() sets every node
    seg.node.unwrap_or(NodeId(0))
}

fn missing(op: EditOp, shown: &str) -> Result<(), Error> {
    match op {
        EditOp::Remove => Ok(()),
        _ => Err(err(ErrorTag::DataMissing, shown, "the data does not exist")),
    }
}

fn entry_matches(entry: &Value, keys: &[(String, String)]) -> bool {
    keys.iter()
        .all(|(k, v)| entry.get(k).and_then(scalar_text).as_deref() == Some(v.as_str()))
}

/// A key or leaf-list value from a path, as JSON of the right kind.
fn key_json(schema: &Schema, list_or_leaf: NodeId, key: &str, text: &str) -> Value {
    let leaf = if key.is_empty() {
        Some(list_or_leaf)
    } else {
        schema.child(list_or_leaf, None, key)
    };
    match leaf.map(|l| schema.node(l).json_number) {
        Some(true) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        _ => Value::String(text.to_owned()),
    }
}

/// A new list entry holding only its keys, typed as RFC 7951 wants them (a `uint16` key
/// from a path is a number, not the string the path spells).
fn key_object(schema: &Schema, list: NodeId, seg: &Segment) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in &seg.keys {
        m.insert(k.clone(), key_json(schema, list, k, v));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edit(op: EditOp, path: &str, value: Option<Value>) -> Edit {
        Edit {
            op,
            path: DataPath::parse_xpath(path).unwrap(),
            value,
        }
    }

    #[test]
    fn merge_create_delete_on_units_and_inside_them() {
        let s = Schema::new().unwrap();
        let mut m = UnitMap::new();
        let changed = s
            .apply_edits(
                &mut m,
                &[
                    edit(
                        EditOp::Merge,
                        "/netloom-host:networks/network[name='a']",
                        Some(json!({"type": "bridge"})),
                    ),
                    edit(
                        EditOp::Merge,
                        "/netloom-host:networks/network[name='a']/mtu",
                        Some(json!(1400)),
                    ),
                    edit(
                        EditOp::Create,
                        "/netloom-host:networks/network[name='a']/ipam/pool[name='v4']",
                        Some(json!({"subnet": "10.0.0.0/24"})),
                    ),
                ],
            )
            .unwrap();
        assert_eq!(changed.len(), 1);
        let v: Value = serde_json::from_str(m.values().next().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"name": "a", "type": "bridge", "mtu": 1400, "ipam": {"pool": [{"name": "v4", "subnet": "10.0.0.0/24"}]}})
        );

        let again = s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Create,
                "/netloom-host:networks/network[name='a']",
                Some(json!({"type": "bridge"})),
            )],
        );
        assert_eq!(again.unwrap_err().tag(), ErrorTag::DataExists);
        let gone = s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Delete,
                "/netloom-host:networks/network[name='b']",
                None,
            )],
        );
        assert_eq!(gone.unwrap_err().tag(), ErrorTag::DataMissing);

        s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Delete,
                "/netloom-host:networks/network[name='a']/ipam/pool[name='v4']",
                None,
            )],
        )
        .unwrap();
        let v: Value = serde_json::from_str(m.values().next().unwrap()).unwrap();
        assert!(v.get("ipam").is_none(), "empty containers go away: {v}");
        s.apply_edits(
            &mut m,
            &[edit(EditOp::Remove, "/netloom-host:networks", None)],
        )
        .unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn batch_entries_are_stored_as_given_or_merged_into_existing_units() {
        let s = Schema::new().unwrap();
        let entry = |name: &str, text: &str| EntryText {
            key: s
                .unit_key(
                    s.node(
                        s.child(s.root("netloom-host", "networks").unwrap(), None, "network")
                            .unwrap(),
                    )
                    .unit
                    .unwrap(),
                    &[name],
                )
                .unwrap(),
            text: Arc::from(text),
        };
        let mut m = UnitMap::new();
        s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Merge,
                "/netloom-host:networks/network[name='a']",
                Some(json!({"type": "bridge", "mtu": 1400})),
            )],
        )
        .unwrap();
        let batch = EditBatch {
            // The edits come first: 'c' exists by the time its entry merges.
            edits: vec![edit(
                EditOp::Merge,
                "/netloom-host:networks/network[name='c']",
                Some(json!({"type": "vxlan"})),
            )],
            entries: vec![
                // stored: merged as a value
                entry("a", r#"{"name":"a","mtu":9000}"#),
                // new: stored as given, and merged into by a later entry at the same key
                entry("b", r#"{"name":"b","type":"bridge"}"#),
                entry("c", r#"{"name":"c","mtu":1450}"#),
                entry("b", r#"{"name":"b","mtu":1300}"#),
                entry("d", r#"{"name":"d","type":"bridge"}"#),
            ],
        };
        let changed = s.apply_batch(&mut m, batch).unwrap();
        let paths: Vec<&str> = changed.iter().map(|k| &*k.path).collect();
        assert_eq!(
            paths,
            [
                "/netloom-host:networks/network[name='a']",
                "/netloom-host:networks/network[name='b']",
                "/netloom-host:networks/network[name='c']",
                "/netloom-host:networks/network[name='d']",
            ],
            "each unit once, sorted"
        );
        // Merged texts are not canonical yet (validation makes them so): compared as values.
        let values: Vec<Value> = m
            .values()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        assert_eq!(
            values,
            [
                json!({"name": "a", "type": "bridge", "mtu": 9000}),
                json!({"name": "b", "type": "bridge", "mtu": 1300}),
                json!({"name": "c", "type": "vxlan", "mtu": 1450}),
                json!({"name": "d", "type": "bridge"}),
            ]
        );
        assert_eq!(
            &*m[&changed[3]], r#"{"name":"d","type":"bridge"}"#,
            "a new entry is stored as given"
        );
        // A failing edit leaves the map as it was, entries and all.
        let before = m.clone();
        let bad = EditBatch {
            edits: vec![edit(
                EditOp::Create,
                "/netloom-host:networks/network[name='a']",
                Some(json!({"type": "bridge"})),
            )],
            entries: vec![entry("e", r#"{"name":"e"}"#)],
        };
        assert_eq!(
            s.apply_batch(&mut m, bad).unwrap_err().tag(),
            ErrorTag::DataExists
        );
        assert_eq!(m, before);
    }

    #[test]
    fn container_create_and_delete_see_existing_entries() {
        let s = Schema::new().unwrap();
        let mut m = UnitMap::new();
        let net = |name: &str| json!({"network": [{"name": name, "type": "bridge"}]});
        s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Create,
                "/netloom-host:networks",
                Some(net("a")),
            )],
        )
        .unwrap();
        // An entry exists (in the base): creating the container again is data-exists.
        let again = s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Create,
                "/netloom-host:networks",
                Some(net("b")),
            )],
        );
        assert_eq!(again.unwrap_err().tag(), ErrorTag::DataExists);
        // Deleted earlier in the same edit: the create may go ahead.
        s.apply_edits(
            &mut m,
            &[
                edit(EditOp::Delete, "/netloom-host:networks", None),
                edit(EditOp::Create, "/netloom-host:networks", Some(net("b"))),
            ],
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert!(m.keys().next().unwrap().path.contains("'b'"));
        // Created earlier in the same edit: it exists.
        let mut empty = UnitMap::new();
        let twice = s.apply_edits(
            &mut empty,
            &[
                edit(EditOp::Merge, "/netloom-host:networks", Some(net("c"))),
                edit(EditOp::Create, "/netloom-host:networks", Some(net("d"))),
            ],
        );
        assert_eq!(twice.unwrap_err().tag(), ErrorTag::DataExists);
        // Nothing under the container: delete is data-missing, remove is fine.
        let gone = s.apply_edits(
            &mut empty,
            &[edit(EditOp::Delete, "/netloom-host:networks", None)],
        );
        assert_eq!(gone.unwrap_err().tag(), ErrorTag::DataMissing);
        s.apply_edits(
            &mut empty,
            &[edit(EditOp::Remove, "/netloom-host:networks", None)],
        )
        .unwrap();
    }

    #[test]
    fn keys_in_body_must_agree_with_path() {
        let s = Schema::new().unwrap();
        let mut m = UnitMap::new();
        let e = s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Replace,
                "/netloom-host:networks/network[name='a']",
                Some(json!({"name": "b", "type": "bridge"})),
            )],
        );
        assert_eq!(e.unwrap_err().tag(), ErrorTag::InvalidValue);
        assert!(m.is_empty());
    }

    #[test]
    fn leaf_lists_and_remainders() {
        let s = Schema::new().unwrap();
        let mut m = UnitMap::new();
        s.apply_edits(
            &mut m,
            &[
                edit(EditOp::Merge, "/netloom-host:system/commit-history", Some(json!(5000))),
                edit(EditOp::Merge, "/netloom-host:pods/pod[namespace='n'][name='p']/interface[name='eth0']", Some(json!({"network": "a"}))),
                edit(EditOp::Merge, "/netloom-host:pods/pod[namespace='n'][name='p']/interface[name='eth0']/address[.='10.0.0.5']", Some(json!("10.0.0.5"))),
            ],
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        let doc: Value =
            serde_json::from_str(&s.to_json(m.iter().map(|(k, v)| (k, &**v)))).unwrap();
        assert_eq!(doc["netloom-host:system"]["commit-history"], 5000);
        assert_eq!(
            doc["netloom-host:pods"]["pod"][0]["interface"][0]["address"],
            json!(["10.0.0.5"])
        );
        s.apply_edits(
            &mut m,
            &[edit(
                EditOp::Delete,
                "/netloom-host:system/commit-history",
                None,
            )],
        )
        .unwrap();
        assert_eq!(m.len(), 1, "an empty remainder is no unit");
    }
}
