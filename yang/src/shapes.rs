//! Judging a large change by shape. Most of a unit list's validation cost is libyang
//! evaluating each entry's `when`s and `must`s and making and dropping its implicit nodes,
//! and for a list whose constraints stay inside one entry that work depends only on what the
//! constraints can see: which nodes the entry has and the values of the leaves some
//! expression reads. Every other leaf is *inert*: its value meets its type or not, and is
//! printed in canonical form, but nothing else looks at it. Entries equal but for inert
//! values — a shape — get the same verdict, so of a scope holding many entries of one list,
//! one entry per shape is validated with libyang in full and the rest are only parsed,
//! which checks their values against their types and gives their canonical texts.
//!
//! A unit list can be judged by shape when, from the schema:
//! - no constraint of its entries can see a sibling entry (`unique`, min/max-elements, a
//!   path through the container above the list: [`crate::Dependency::Whole`] from the list
//!   to itself);
//! - no expression outside every unit list (root containers' content, which every document
//!   has, and other modules) reads into its entries;
//! - no expression of its own or reading it may read more than the leaves among its atoms
//!   ([`opaque`]: functions beyond the few that test or count nodes, axes, `//`, or the
//!   string value of an inner node through `.`, `..` or `current()`);
//! - none of its leaves is an instance-identifier.
//!
//! A leaf of such a list is read, and so part of the shape, when it is an atom of an
//! expression of the list's own entries (other lists' expressions are only evaluated where
//! their entries are in the scope, and then the list is judged whole), carries a `must` or
//! `when` of its own, lies below an inner node an expression names other than on its way
//! down from the entry, is a leafref or union (its value is resolved against data), keys a
//! nested list or is named by a nested `unique` (both compare values across nested
//! entries), or is a leaf-list. The list's own key is inert only for string keys: other
//! types' canonical forms could make two units one instance.
//!
//! At run time a list's entries in a scope are judged by shape only when no other unit list
//! in that scope reads them; the representatives are validated together with every other
//! unit of the scope, so whatever they read is there as it would be for the whole scope.
//! Each representative's text from the full validation must equal its text from the parse,
//! or the scope is validated in full. Any failure — a representative refused, a value its
//! type refuses — also validates the scope in full, so errors are exactly libyang's.
#![allow(unsafe_code)] // libyang FFI: expressions, uniques and types not in yang3's API.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use yang3::data::{DataParserFlags, DataTree, DataValidationFlags};
use yang3::ffi;
use yang3::schema::{DataValueType, SchemaNode};
use yang3::utils::Binding;

use crate::deps::{atoms, expr_text, nearest, union_members, Dependency};
use crate::error::Error;
use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::{UnitKey, UnitListId};
use crate::validate::Encoding;

/// Fewest entries of one list in a scope worth judging by shape.
const SHAPE_MIN: usize = 32;

/// What judging each unit list's entries by shape needs.
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    /// Per unit list: the inert members of its entries, `None` when they are judged whole.
    lists: Vec<Option<Inert>>,
    /// Per unit list: the other unit lists whose entries' constraints read its entries.
    readers: Vec<BTreeSet<UnitListId>>,
}

/// The inert members below one node of an entry, by RFC 7951 member name (by XML local name
/// in [`crate::xml_template`]'s use).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inert(pub(crate) HashMap<String, InertMember>);

impl Inert {
    /// The member named `name`.
    pub(crate) fn member(&self, name: &str) -> Option<&InertMember> {
        self.0.get(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InertMember {
    Leaf,
    Inner(Inert),
}

impl Shapes {
    /// Whether the entries of `list` can be judged by shape at all.
    pub fn judged_by_shape(&self, list: UnitListId) -> bool {
        self.lists.get(list.0 as usize).is_some_and(Option::is_some)
    }

    /// The inert leaves of `list`'s entries as member paths (`mtu`, `bridge/name`), sorted.
    pub fn inert_paths(&self, list: UnitListId) -> Vec<String> {
        fn walk(inert: &Inert, prefix: &str, out: &mut Vec<String>) {
            for (name, m) in &inert.0 {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                match m {
                    InertMember::Leaf => out.push(path),
                    InertMember::Inner(i) => walk(i, &path, out),
                }
            }
        }
        let mut out = Vec::new();
        if let Some(Some(inert)) = self.lists.get(list.0 as usize) {
            walk(inert, "", &mut out);
        }
        out.sort();
        out
    }

    /// The other unit lists whose constraints read `list`'s entries.
    pub fn readers(&self, list: UnitListId) -> impl Iterator<Item = UnitListId> + '_ {
        self.readers
            .get(list.0 as usize)
            .into_iter()
            .flat_map(|r| r.iter().copied())
    }
}

/// An entry's shape: its text with every inert value replaced by `null`. `None` when the
/// text is not a JSON object (the full validation reports it).
fn shape_key(inert: &Inert, text: &str) -> Option<String> {
    fn blank(inert: &Inert, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (name, child) in map.iter_mut() {
                    match inert.0.get(name) {
                        Some(InertMember::Leaf) if !child.is_object() && !child.is_array() => {
                            *child = Value::Null;
                        }
                        Some(InertMember::Inner(below)) => blank(below, child),
                        _ => {}
                    }
                }
            }
            // A nested list's entries, each under the same members.
            Value::Array(items) => items.iter_mut().for_each(|i| blank(inert, i)),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(text).ok()?;
    if !v.is_object() {
        return None;
    }
    blank(inert, &mut v);
    Some(v.to_string())
}

impl Schema {
    /// Validate the document made of `units` (a scope, in key order) and split its canonical
    /// form into unit texts: [`Schema::validate_scope_units`] of that document, judging the
    /// entries of lists that allow it by shape (see the module documentation).
    pub fn validate_scope_texts(
        &self,
        units: &[(&UnitKey, &str)],
    ) -> Result<Vec<(UnitKey, String)>, Error> {
        if let Some(texts) = self.by_shape(units) {
            return Ok(texts);
        }
        let doc = self.to_json(units.iter().copied());
        self.validate_scope_units(&doc, units.iter().map(|(k, _)| *k))
    }

    /// The scope's texts judged by shape; `None` when that does not apply or does not
    /// succeed, and the scope is to be validated in full.
    fn by_shape(&self, units: &[(&UnitKey, &str)]) -> Option<Vec<(UnitKey, String)>> {
        let shapes = self.shapes();
        let mut count: HashMap<UnitListId, usize> = HashMap::new();
        for (k, _) in units {
            *count.entry(k.list).or_default() += 1;
        }
        let eligible: HashSet<UnitListId> = count
            .iter()
            .filter(|(l, n)| {
                **n >= SHAPE_MIN
                    && shapes.judged_by_shape(**l)
                    && !shapes.readers(**l).any(|r| count.contains_key(&r))
            })
            .map(|(l, _)| *l)
            .collect();
        if eligible.is_empty() {
            return None;
        }
        // Representatives: the first entry of each shape, with every unit of other lists.
        let mut seen: HashSet<String> = HashSet::new();
        let mut validated_units = Vec::new();
        let mut parsed_units = Vec::new();
        let mut reps: HashSet<&UnitKey> = HashSet::new();
        for &(k, text) in units {
            if !eligible.contains(&k.list) {
                validated_units.push((k, text));
                continue;
            }
            let inert = shapes.lists[k.list.0 as usize].as_ref()?;
            parsed_units.push((k, text));
            if seen.insert(shape_key(inert, text)?) {
                validated_units.push((k, text));
                reps.insert(k);
            }
        }
        // Not worth a second document unless most entries share a shape.
        if reps.len() * 2 > parsed_units.len() {
            return None;
        }
        let doc = self.to_json(validated_units.iter().copied());
        let validated = self
            .validate_scope_units(&doc, validated_units.iter().map(|(k, _)| *k))
            .ok()?;
        let parsed = self.parse_units(&self.to_json(parsed_units.iter().copied()))?;
        let by_parse: HashMap<&UnitKey, &str> =
            parsed.iter().map(|(k, t)| (k, t.as_str())).collect();
        let mut out = Vec::with_capacity(units.len());
        for (k, text) in validated {
            if reps.contains(&k) {
                // The parse must print a representative as its full validation does.
                if by_parse.get(&k) != Some(&text.as_str()) {
                    return None;
                }
            } else {
                out.push((k, text));
            }
        }
        out.extend(parsed);
        Some(out)
    }

    /// Parse a document strictly without validating it (types are checked) and split its
    /// canonical form; `None` on any error.
    fn parse_units(&self, doc: &str) -> Option<Vec<(UnitKey, String)>> {
        let tree = DataTree::parse_string(
            self.context(),
            doc,
            Encoding::Json.format(),
            DataParserFlags::STRICT | DataParserFlags::NO_STATE | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .ok()?;
        let text = crate::validate::print(&tree, Encoding::Json).ok()?;
        self.split_canonical(&text).ok()
    }
}

/// Whether an expression may read more than the values of the leaves among its atoms (and
/// the existence of the inner nodes among them): a call of a function other than those that
/// only test or count nodes, an axis (`::`) or `//`, which reach nodes the atom finder does
/// not bound to the entry, or `.`, `..` or `current()` used as a value rather than a path
/// start where that node may be an inner node (whose string value is every leaf value below
/// it). `ctx_is_term` says whether the context node is a leaf or leaf-list.
fn opaque(text: &str, ctx_is_term: bool) -> bool {
    const PLAIN: &[&str] = &[
        "not",
        "true",
        "false",
        "count",
        "boolean",
        "derived-from",
        "derived-from-or-self",
    ];
    let b = text.as_bytes();
    // Whether the next non-blank character after position `i` continues a path.
    let path_follows = |i: usize| {
        b[i..]
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| *c == b'/')
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            match text[i + 1..].find(c as char) {
                Some(j) => i += j + 2,
                None => return true,
            }
        } else if (c == b'/' && b.get(i + 1) == Some(&b'/'))
            || (c == b':' && b.get(i + 1) == Some(&b':'))
        {
            return true;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
        } else if c == b'.' {
            let parent = b.get(i + 1) == Some(&b'.');
            i += if parent { 2 } else { 1 };
            if !path_follows(i) && (parent || !ctx_is_term) {
                return true;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.'))
                || (i < b.len()
                    && b[i] == b':'
                    && b.get(i + 1)
                        .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_'))
            {
                i += 1;
            }
            let name = &text[start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&b'(') {
                if name == "current" {
                    // `current()` is a path start or the context node's value.
                    let Some(close) = text[j..].find(')') else {
                        return true;
                    };
                    i = j + close + 1;
                    if !path_follows(i) && !ctx_is_term {
                        return true;
                    }
                } else if !PLAIN.contains(&name) {
                    return true;
                }
            }
        } else {
            i += 1;
        }
    }
    false
}

/// The unit list whose entries hold `id`, if any.
fn list_of(schema: &Schema, id: NodeId) -> Option<UnitListId> {
    let mut cur = Some(id);
    while let Some(c) = cur {
        if let Some(u) = schema.node(c).unit {
            return Some(u);
        }
        cur = schema.node(c).parent;
    }
    None
}

fn is_ancestor_or_self(schema: &Schema, anc: NodeId, mut id: NodeId) -> bool {
    loop {
        if id == anc {
            return true;
        }
        match schema.node(id).parent {
            Some(p) => id = p,
            None => return false,
        }
    }
}

/// Whether a type, or a member of a union type, is an instance-identifier.
///
/// # Safety
/// `raw` is null or a compiled type owned by a live context.
unsafe fn has_instance_identifier(raw: *const ffi::lysc_type) -> bool {
    if raw.is_null() {
        return false;
    }
    match (*raw).basetype {
        ffi::LY_DATA_TYPE::LY_TYPE_INST => true,
        ffi::LY_DATA_TYPE::LY_TYPE_UNION => union_members(raw).any(|t| has_instance_identifier(t)),
        _ => false,
    }
}

/// The base type of the indexed leaf `id`.
fn base_type(schema: &Schema, id: NodeId) -> Option<DataValueType> {
    // SAFETY: `raw` is the compiled node of the live context `schema` holds.
    let node = unsafe {
        SchemaNode::from_raw(schema.context(), schema.node(id).raw as *mut ffi::lysc_node)
    };
    node.leaf_type().map(|t| t.base_type())
}

/// What the analysis gathers over the whole schema.
struct Reads {
    /// Leaves and leaf-lists whose values some expression, type or list constraint reads.
    leaves: HashSet<NodeId>,
    /// Inner nodes whose every leaf value may be read.
    below: HashSet<NodeId>,
    shapeable: Vec<bool>,
    readers: Vec<BTreeSet<UnitListId>>,
}

impl Reads {
    /// Account for one expression of a node held by `at` (a unit list, or none), evaluated
    /// at `ctx`.
    ///
    /// # Safety
    /// The pointers belong to the live context `schema` holds.
    unsafe fn expression(
        &mut self,
        schema: &Schema,
        raw_map: &HashMap<usize, NodeId>,
        at: Option<UnitListId>,
        ctx: *const ffi::lysc_node,
        expr: *const ffi::lyxp_expr,
        prefixes: *const ffi::lysc_prefix,
    ) -> Result<(), Error> {
        let ctx_id = nearest(raw_map, ctx);
        let term = raw_map
            .get(&(ctx as usize))
            .copied()
            .filter(|c| matches!(schema.node(*c).kind, NodeKind::Leaf | NodeKind::LeafList));
        let ctx_is_term = term.is_some();
        // A leaf's own expressions may read it as `.` or `current()`, which the atom finder
        // need not list.
        if let Some(t) = term {
            self.leaves.insert(t);
        }
        let opaque = opaque(&expr_text(expr), ctx_is_term);
        if opaque {
            if let Some(l) = at {
                self.shapeable[l.0 as usize] = false;
            }
        }
        for a in atoms(raw_map, ctx, expr, prefixes)?.into_iter().flatten() {
            let Some(owner) = list_of(schema, a) else {
                continue;
            };
            if opaque {
                self.shapeable[owner.0 as usize] = false;
            }
            match at {
                Some(m) if m == owner => {}
                // Read from another list: its entries are never in a scope judged by
                // shape, so what they read is not part of a shape.
                Some(m) => {
                    self.readers[owner.0 as usize].insert(m);
                    continue;
                }
                None => {
                    self.shapeable[owner.0 as usize] = false;
                    continue;
                }
            }
            match schema.node(a).kind {
                NodeKind::Leaf | NodeKind::LeafList => {
                    self.leaves.insert(a);
                }
                NodeKind::Container { .. } | NodeKind::List => {
                    if !ctx_id.is_some_and(|c| is_ancestor_or_self(schema, a, c)) {
                        self.below.insert(a);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Analyse every data node of every implemented module once.
pub(crate) fn analyse(schema: &Schema, raw_map: &HashMap<usize, NodeId>) -> Result<Shapes, Error> {
    let n = schema.units().len();
    let mut reads = Reads {
        leaves: HashSet::new(),
        below: HashSet::new(),
        shapeable: (0..n)
            .map(|i| schema.units()[i].list_node().is_some())
            .collect(),
        readers: vec![BTreeSet::new(); n],
    };
    for d in schema.dependencies().iter() {
        if let Dependency::Whole { from, to } = d {
            if from == to {
                reads.shapeable[from.0 as usize] = false;
            }
        }
    }
    for module in schema.context().modules(true) {
        if !module.is_implemented() {
            continue;
        }
        for top in module.data() {
            for node in top.traverse() {
                let raw = node.as_raw() as *const ffi::lysc_node;
                // SAFETY: node is a compiled node of the live context.
                let id = unsafe { nearest(raw_map, raw) };
                // State data is never in a validated document (choice and case nodes go by
                // the node above them).
                let state = match id {
                    Some(i) => !schema.node(i).config,
                    None => !node.is_config(),
                };
                if state {
                    continue;
                }
                let at = id.and_then(|i| list_of(schema, i));
                analyse_node(schema, raw_map, &node, raw, id, at, &mut reads)?;
            }
        }
    }
    let mut lists = vec![None; n];
    for (i, def) in schema.units().iter().enumerate() {
        if let (true, Some(list)) = (reads.shapeable[i], def.list_node()) {
            lists[i] = Some(inert_below(schema, &reads, list, true));
        }
    }
    Ok(Shapes {
        lists,
        readers: reads.readers,
    })
}

fn analyse_node(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
    node: &SchemaNode<'_>,
    raw: *const ffi::lysc_node,
    id: Option<NodeId>,
    at: Option<UnitListId>,
    reads: &mut Reads,
) -> Result<(), Error> {
    if let Some(musts) = node.musts() {
        for m in musts {
            let m = m.as_raw();
            // SAFETY: m is a compiled must of `node`, evaluated at `node`.
            unsafe { reads.expression(schema, raw_map, at, raw, (*m).cond, (*m).prefixes)? };
        }
    }
    for w in node.whens() {
        let w = w.as_raw();
        // SAFETY: w is a compiled when of `node`, evaluated at its context node.
        unsafe {
            let ctx = if (*w).context.is_null() {
                raw
            } else {
                (*w).context as *const ffi::lysc_node
            };
            reads.expression(schema, raw_map, at, ctx, (*w).cond, (*w).prefixes)?;
        }
    }
    // Only indexed data nodes below: leaves, leaf-lists and lists.
    let Some(id) = id.filter(|i| schema.node(*i).raw == raw as usize) else {
        return Ok(());
    };
    match schema.node(id).kind {
        NodeKind::Leaf | NodeKind::LeafList => {
            if let Some(t) = node.leaf_type() {
                let traw = t.as_raw() as *const ffi::lysc_type;
                // SAFETY: the type belongs to the live context.
                if unsafe { has_instance_identifier(traw) } {
                    if let Some(l) = at {
                        reads.shapeable[l.0 as usize] = false;
                    }
                }
                match t.base_type() {
                    DataValueType::LeafRef => {
                        reads.leaves.insert(id);
                        let lr = traw as *const ffi::lysc_type_leafref;
                        // SAFETY: the type is a leafref of the live context.
                        unsafe {
                            reads.expression(
                                schema,
                                raw_map,
                                at,
                                raw,
                                (*lr).path,
                                (*lr).prefixes,
                            )?
                        };
                    }
                    DataValueType::Union | DataValueType::InstanceId => {
                        reads.leaves.insert(id);
                    }
                    _ => {}
                }
            }
            if schema.node(id).kind == NodeKind::LeafList {
                // Duplicate values are found by comparing them.
                reads.leaves.insert(id);
            }
        }
        NodeKind::List if schema.node(id).unit.is_none() => {
            // A nested list's keys and `unique` leaves are compared across its entries.
            for k in &schema.node(id).keys {
                if let Some(c) = schema.child(id, None, k) {
                    reads.leaves.insert(c);
                }
            }
            // SAFETY: raw is a compiled list; `uniques` is a libyang sized array (count
            // before the first item) of sized arrays of leaves.
            unsafe {
                let uniques = (*(raw as *const ffi::lysc_node_list)).uniques;
                let count = |p: *const u8| (p as *const u64).offset(-1).read() as usize;
                if !uniques.is_null() {
                    for i in 0..count(uniques as *const u8) {
                        let leaves = *uniques.add(i);
                        if leaves.is_null() {
                            continue;
                        }
                        for j in 0..count(leaves as *const u8) {
                            let leaf = *leaves.add(j) as *const ffi::lysc_node;
                            if let Some(l) = nearest(raw_map, leaf) {
                                reads.leaves.insert(l);
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The inert members below `parent` (a unit list's node when `unit_list`).
fn inert_below(schema: &Schema, reads: &Reads, parent: NodeId, unit_list: bool) -> Inert {
    let mut out = Inert::default();
    for &c in &schema.node(parent).children {
        let info = schema.node(c);
        if !info.config || reads.below.contains(&c) {
            continue;
        }
        match info.kind {
            NodeKind::Leaf => {
                let is_key = unit_list && schema.node(parent).keys.contains(&info.name);
                let string_key = base_type(schema, c) == Some(DataValueType::String);
                if !reads.leaves.contains(&c) && (!is_key || string_key) {
                    out.0.insert(schema.member_name(c), InertMember::Leaf);
                }
            }
            NodeKind::LeafList => {}
            NodeKind::Container { .. } | NodeKind::List => {
                let below = inert_below(schema, reads, c, false);
                if !below.0.is_empty() {
                    out.0
                        .insert(schema.member_name(c), InertMember::Inner(below));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// A scope as the engine builds it: units in key order.
    struct Scope(BTreeMap<UnitKey, String>);

    impl Scope {
        fn units(&self) -> Vec<(&UnitKey, &str)> {
            self.0.iter().map(|(k, t)| (k, t.as_str())).collect()
        }
    }

    fn networks(s: &Schema, entries: impl IntoIterator<Item = Value>) -> Scope {
        let list = s.unit_by_names("networks", "network").unwrap();
        Scope(
            entries
                .into_iter()
                .map(|e| {
                    let name = e["name"].as_str().unwrap().to_owned();
                    (s.unit_key(list, &[&name]).unwrap(), e.to_string())
                })
                .collect(),
        )
    }

    /// The scope's texts as validating it in full gives them, or its error.
    fn full(s: &Schema, scope: &Scope) -> Result<Vec<(UnitKey, String)>, String> {
        let units = scope.units();
        let doc = s.to_json(units.iter().copied());
        s.validate_scope_units(&doc, units.iter().map(|(k, _)| *k))
            .map(|mut v| {
                v.sort();
                v
            })
            .map_err(|e| format!("{e:?}"))
    }

    fn by_shape(s: &Schema, scope: &Scope) -> Result<Vec<(UnitKey, String)>, String> {
        s.validate_scope_texts(&scope.units())
            .map(|mut v| {
                v.sort();
                v
            })
            .map_err(|e| format!("{e:?}"))
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// True with probability 1/n.
        fn one_in(&mut self, n: u64) -> bool {
            self.below(n) == 0
        }
    }

    /// A network entry: mostly valid, of one of a few common shapes, with now and then a
    /// value its type refuses or a constraint it breaks (1 in `bad` per choice).
    fn network(r: &mut Rng, i: usize, bad: u64) -> Value {
        const TYPES: &[&str] = &[
            "bridge",
            "vxlan",
            "macvlan",
            "ipvlan",
            "vlan",
            "ovs-dpdk",
            "host-device",
        ];
        let kind = if r.one_in(2) {
            "bridge"
        } else {
            TYPES[r.below(TYPES.len() as u64) as usize]
        };
        let mut e = json!({"name": format!("n{i}-{}", r.below(1000)), "type": kind});
        if r.one_in(2) {
            e["mtu"] = json!(if r.one_in(bad) {
                20
            } else {
                68 + r.below(9000)
            });
        }
        if r.one_in(3) {
            e["description"] = json!(format!("net {}", r.below(100)));
        }
        let needs_uplink = matches!(kind, "macvlan" | "ipvlan" | "vlan");
        if (needs_uplink && !r.one_in(bad)) || r.one_in(4) {
            e["uplink"] = json!(format!("eth{}", r.below(4)));
        }
        if (kind == "vlan" && !r.one_in(bad)) || (kind == "ovs-dpdk" && r.one_in(2)) {
            e["vlan-id"] = json!(if r.one_in(bad) {
                5000
            } else {
                1 + r.below(4094)
            });
        }
        match kind {
            "bridge" | "vxlan" if r.one_in(2) => {
                e["bridge"] = json!({"name": format!("br{}", r.below(50))});
                if r.one_in(3) {
                    e["bridge"]["hairpin"] = json!(r.one_in(2));
                }
            }
            "macvlan" if r.one_in(2) => {
                let mode = if r.one_in(bad) { "bogus" } else { "vepa" };
                e["macvlan"] = json!({ "mode": mode });
            }
            "ovs-dpdk" if r.one_in(2) => e["dpdk"] = json!({"bridge": "br-dp"}),
            "host-device" if !r.one_in(bad) => e["host-device"] = json!({"device": "eth9"}),
            _ => {}
        }
        if kind == "vxlan" && !r.one_in(bad) {
            e["vxlan"] = json!({"vni": 1 + r.below(1 << 20), "port": 4789 + r.below(3)});
            if r.one_in(2) {
                e["vxlan"]["remote"] = json!(["192.0.2.1", "192.0.2.2"]);
            }
        }
        // A container whose `when` is false.
        if r.one_in(bad * 3) {
            e["ipvlan"] = json!({"mode": "l3"});
        }
        if r.one_in(bad * 4) {
            e["ipam"] = json!({"pool": [{"name": "p", "subnet": "10.0.0.0/24"}]});
        }
        e
    }

    #[test]
    fn networks_are_judged_by_shape() {
        let s = Schema::new().unwrap();
        let shapes = s.shapes();
        let nets = s.unit_by_names("networks", "network").unwrap();
        assert!(shapes.judged_by_shape(nets));
        let inert = shapes.inert_paths(nets);
        for leaf in [
            "name",
            "mtu",
            "description",
            "bridge/name",
            "vxlan/vni",
            "vxlan/port",
        ] {
            assert!(
                inert.iter().any(|p| p == leaf),
                "{leaf} not inert: {inert:?}"
            );
        }
        // Read by the list's musts and the containers' whens, resolved against data, or
        // compared across values.
        for leaf in [
            "type",
            "uplink",
            "vlan-id",
            "sriov/physical-function",
            "vxlan/remote",
            "vxlan/local",
        ] {
            assert!(!inert.iter().any(|p| p == leaf), "{leaf} inert: {inert:?}");
        }
        // Pods name networks through a leafref: scopes with pods judge networks whole.
        let pods = s.unit_by_names("pods", "pod").unwrap();
        assert!(shapes.readers(nets).any(|r| r == pods));
    }

    #[test]
    fn one_shape_is_validated_once_and_parsed_for_the_rest() {
        let s = Schema::new().unwrap();
        let scope = networks(
            &s,
            (0..200).map(|i| {
                json!({"name": format!("n{i}"), "type": "bridge", "mtu": 1000 + i,
                       "bridge": {"name": format!("br{i}")}})
            }),
        );
        let units = scope.units();
        let texts = s.by_shape(&units).expect("judged by shape");
        assert_eq!(texts.len(), 200);
        let mut texts = texts;
        texts.sort();
        assert_eq!(Ok(texts), full(&s, &scope));

        // One value its type refuses, in an entry of the common shape: the same error as
        // the full validation.
        let mut bad = scope.0.clone();
        let (k, _) = bad
            .iter()
            .nth(150)
            .map(|(k, t)| (k.clone(), t.clone()))
            .unwrap();
        bad.insert(
            k,
            json!({"name": "n150", "type": "bridge", "mtu": 7}).to_string(),
        );
        let bad = Scope(bad);
        assert!(s.by_shape(&bad.units()).is_none());
        let err = full(&s, &bad).unwrap_err();
        assert!(err.contains("mtu") || err.contains('7'), "{err}");
        assert_eq!(by_shape(&s, &bad), Err(err));
    }

    #[test]
    fn scopes_with_readers_are_validated_whole() {
        let s = Schema::new().unwrap();
        let mut scope = networks(
            &s,
            (0..64).map(|i| json!({"name": format!("n{i}"), "type": "bridge"})),
        );
        let pods = s.unit_by_names("pods", "pod").unwrap();
        scope.0.insert(
            s.unit_key(pods, &["default", "p"]).unwrap(),
            json!({"namespace": "default", "name": "p",
                   "interface": [{"name": "eth0", "network": "n1"}]})
            .to_string(),
        );
        assert!(s.by_shape(&scope.units()).is_none());
        assert!(by_shape(&s, &scope).is_ok());
    }

    /// Judging by shape agrees with the full validation on random scopes: the same texts,
    /// or the same error.
    #[test]
    fn agrees_with_full_validation() {
        let s = Schema::new().unwrap();
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut shaped, mut refused) = (0, 0);
        for round in 0..150 {
            let n = 32 + r.below(120) as usize;
            let bad = [12, 40, 400, 100_000][round % 4];
            let entries: Vec<Value> = if round % 3 == 0 {
                (0..n).map(|i| network(&mut r, i, bad)).collect()
            } else {
                // A few templates, each copied with its inert values varied.
                let templates: Vec<Value> = (0..1 + r.below(4) as usize)
                    .map(|t| network(&mut r, t, bad))
                    .collect();
                (0..n)
                    .map(|i| {
                        let mut e = templates[r.below(templates.len() as u64) as usize].clone();
                        e["name"] = json!(format!("c{i}"));
                        if e.get("mtu").is_some() {
                            e["mtu"] = json!(if r.one_in(bad * 8) {
                                7
                            } else {
                                68 + r.below(9000)
                            });
                        }
                        if e.get("description").is_some() {
                            e["description"] = json!(format!("copy {i}"));
                        }
                        if e["bridge"].get("name").is_some() {
                            e["bridge"]["name"] = json!(format!("br-{}", r.below(99)));
                        }
                        if e["vxlan"].get("vni").is_some() {
                            let vni = if r.one_in(bad * 8) {
                                1 << 25
                            } else {
                                1 + r.below(9999)
                            };
                            e["vxlan"]["vni"] = json!(vni);
                        }
                        e
                    })
                    .collect()
            };
            let scope = networks(&s, entries);
            let expect = full(&s, &scope);
            if s.by_shape(&scope.units()).is_some() {
                shaped += 1;
            }
            refused += usize::from(expect.is_err());
            assert_eq!(by_shape(&s, &scope), expect, "round {round}");
        }
        eprintln!("judged by shape {shaped}, refused {refused} of 150");
        // Both paths were exercised, on valid and refused scopes.
        assert!(shaped >= 40, "judged by shape {shaped} times");
        assert!((20..130).contains(&refused), "refused {refused} times");
    }

    /// Pods with the networks they name: the networks are validated whole with one pod
    /// per shape, and the pods' verdicts still follow the names they give.
    #[test]
    fn pods_agree_with_full_validation() {
        let s = Schema::new().unwrap();
        let pods = s.unit_by_names("pods", "pod").unwrap();
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let mut shaped = 0;
        for round in 0..40 {
            let mut scope = networks(
                &s,
                (0..4).map(|i| json!({"name": format!("n{i}"), "type": "bridge"})),
            );
            let wrong = if round % 2 == 0 { 6 } else { 4 };
            for i in 0..40 + r.below(60) {
                let name = format!("p{i}");
                let mut e = json!({"namespace": "default", "name": name,
                    "interface": [{"name": "eth0", "network": format!("n{}", r.below(wrong))}]});
                if r.one_in(2) {
                    let bad = r.one_in(200);
                    e["interface"][0]["mac"] = json!(if bad {
                        "zz".to_owned()
                    } else {
                        format!("02:00:00:00:00:{:02x}", r.below(256))
                    });
                }
                if r.one_in(3) {
                    e["interface"][0]["default-route"] = json!(r.one_in(2));
                }
                scope.0.insert(
                    s.unit_key(pods, &["default", &name]).unwrap(),
                    e.to_string(),
                );
            }
            shaped += usize::from(s.by_shape(&scope.units()).is_some());
            assert_eq!(by_shape(&s, &scope), full(&s, &scope), "round {round}");
        }
        assert!(shaped >= 5, "judged by shape {shaped} times");
    }

    #[test]
    fn opaque_expressions() {
        for plain in [
            "../type = 'bridge' or ../type = 'vxlan'",
            "uplink or not(type = 'macvlan')",
            "id < ../num-vfs",
            "max-tx-rate = 0 or min-tx-rate <= max-tx-rate",
            "count(../x) > 1.5",
            "/nl:networks/nl:network/nl:name",
            "current()/../name",
            "derived-from-or-self(../kind, 'nl:base')",
            "../name = 'it''s..'",
            "a.b = \"string(.)\"",
        ] {
            assert!(!opaque(plain, false), "{plain}");
        }
        for reads_more in [
            "string(../bridge) = 'x'",
            ". = 'x'",
            "../.. = 'x'",
            "count(..) = 1",
            "current() = 'x'",
            "preceding-sibling::network",
            "//name = 'x'",
            "concat(a, b) = 'ab'",
            "'unterminated",
        ] {
            assert!(opaque(reads_more, false), "{reads_more}");
        }
        // A leaf's own value is one of the leaves read.
        assert!(!opaque(". != 'x'", true));
        assert!(!opaque("current() != 'x'", true));
        assert!(opaque(".. = 'x'", true));
    }
}
