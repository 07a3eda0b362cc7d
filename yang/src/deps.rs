//! Which units a unit's constraints can see. Every `must`, `when` and leafref inside a unit
//! list is analysed once at start with libyang's own XPath atom finder; together with list
//! constraints (`unique`, min/max-elements) on unit lists this yields the dependency graph
//! incremental validation uses to pick, for a change, every unit whose verdict could change
//! and every unit those units need to be judged.
#![allow(unsafe_code)] // libyang FFI: must/when/leafref expressions are not in yang3's API.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CStr;

use yang3::ffi;
use yang3::schema::{DataValueType, SchemaLeafType, SchemaNode};
use yang3::utils::Binding;

use crate::error::Error;
use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::UnitListId;

/// An entry of `from` names an entry of `to` by `to`'s single key, through the leaf (or
/// leaf-list) reached from the entry by `leaf_path` (member names, through containers and
/// nested lists).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRef {
    pub from: UnitListId,
    pub leaf_path: Vec<String>,
    pub to: UnitListId,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dependency {
    /// An entry of `from` may look at any entry of `to` (when `from == to`: at its siblings).
    Whole {
        from: UnitListId,
        to: UnitListId,
    },
    Key(KeyRef),
}

/// The dependencies of all unit lists.
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    deps: BTreeSet<Dependency>,
}

impl DependencyGraph {
    pub fn iter(&self) -> impl Iterator<Item = &Dependency> {
        self.deps.iter()
    }

    /// Add a dependency the schema cannot state (a semantic check's).
    pub fn add(&mut self, dep: Dependency) {
        self.deps.insert(dep);
    }

    pub fn key_refs(&self) -> impl Iterator<Item = &KeyRef> {
        self.deps.iter().filter_map(|d| match d {
            Dependency::Key(k) => Some(k),
            Dependency::Whole { .. } => None,
        })
    }

    /// Lists whose every entry a `from` entry may need.
    pub fn whole_targets(&self, from: UnitListId) -> impl Iterator<Item = UnitListId> + '_ {
        self.deps.iter().filter_map(move |d| match d {
            Dependency::Whole { from: f, to } if *f == from => Some(*to),
            _ => None,
        })
    }

    /// Lists all of whose entries must be re-judged when a `to` entry changes.
    pub fn whole_sources(&self, to: UnitListId) -> impl Iterator<Item = UnitListId> + '_ {
        self.deps.iter().filter_map(move |d| match d {
            Dependency::Whole { from, to: t } if *t == to => Some(*from),
            _ => None,
        })
    }
}

/// Enumeration names of a leaf type (empty for other types).
/// Whether values of type `t` are written with module prefixes in XML: identityref and
/// instance-identifier, also as a union member or a leafref's target type.
pub(crate) fn xml_prefixed(t: &SchemaLeafType<'_>) -> bool {
    // SAFETY: the type belongs to the context, which outlives this call.
    unsafe { raw_xml_prefixed(t.as_raw() as *const ffi::lysc_type) }
}

/// # Safety
/// `raw` is null or a compiled type owned by a live context.
unsafe fn raw_xml_prefixed(raw: *const ffi::lysc_type) -> bool {
    if raw.is_null() {
        return false;
    }
    match (*raw).basetype {
        ffi::LY_DATA_TYPE::LY_TYPE_IDENT | ffi::LY_DATA_TYPE::LY_TYPE_INST => true,
        ffi::LY_DATA_TYPE::LY_TYPE_LEAFREF => {
            raw_xml_prefixed((*(raw as *const ffi::lysc_type_leafref)).realtype)
        }
        ffi::LY_DATA_TYPE::LY_TYPE_UNION => union_members(raw).any(|t| raw_xml_prefixed(t)),
        _ => false,
    }
}

/// The member types of a compiled union type.
///
/// # Safety
/// `raw` is a compiled union type owned by a live context.
pub(crate) unsafe fn union_members(
    raw: *const ffi::lysc_type,
) -> impl Iterator<Item = *const ffi::lysc_type> {
    // `types` is a libyang sized array whose count precedes its first item.
    let types = (*(raw as *const ffi::lysc_type_union)).types;
    let count = if types.is_null() {
        0
    } else {
        (types as *const u64).offset(-1).read() as usize
    };
    // SAFETY: the caller's context keeps the array alive; `i` stays below its count.
    (0..count).map(move |i| unsafe { *types.add(i) as *const ffi::lysc_type })
}

pub(crate) fn enum_names(t: &SchemaLeafType<'_>) -> Vec<String> {
    if t.base_type() != DataValueType::Enum {
        return Vec::new();
    }
    let raw = t.as_raw() as *const ffi::lysc_type_enum;
    let mut out = Vec::new();
    // SAFETY: the type is an enumeration, so `raw` is a lysc_type_enum owned by the context,
    // and `enums` is a libyang sized array whose count precedes its first item.
    unsafe {
        let items = (*raw).enums;
        if items.is_null() {
            return out;
        }
        let count = (items as *const u64).offset(-1).read() as usize;
        for i in 0..count {
            let item = items.add(i);
            if !(*item).name.is_null() {
                out.push(CStr::from_ptr((*item).name).to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// A numeric type's range or a string type's length restriction as YANG writes it
/// (`1..4094`, `0..10 | 20..30`); none when the type has no restriction.
pub(crate) fn range_text(t: &SchemaLeafType<'_>) -> Option<String> {
    let base = t.base_type();
    let signed = matches!(
        base,
        DataValueType::Int8 | DataValueType::Int16 | DataValueType::Int32 | DataValueType::Int64
    );
    // SAFETY: the pointer casts follow the base type (libyang's lysc_type_num/_dec/_str share
    // the header and differ only in the fields read here); `parts` is a libyang sized array
    // whose count precedes its first item; everything is owned by the context.
    unsafe {
        let range = match base {
            DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Int64
            | DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32
            | DataValueType::Uint64 => (*(t.as_raw() as *const ffi::lysc_type_num)).range,
            DataValueType::String | DataValueType::Binary => {
                (*(t.as_raw() as *const ffi::lysc_type_str)).length
            }
            _ => return None,
        };
        if range.is_null() || (*range).parts.is_null() {
            return None;
        }
        let parts = (*range).parts;
        let count = (parts as *const u64).offset(-1).read() as usize;
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let p = parts.add(i).read();
            let text = if signed {
                let (lo, hi) = (p.__bindgen_anon_1.min_64, p.__bindgen_anon_2.max_64);
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}..{hi}")
                }
            } else {
                let (lo, hi) = (p.__bindgen_anon_1.min_u64, p.__bindgen_anon_2.max_u64);
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}..{hi}")
                }
            };
            out.push(text);
        }
        Some(out.join(" | "))
    }
}

/// A leaf's default in canonical form (yang3 dereferences a null default, so check first).
pub(crate) fn leaf_default(node: &SchemaNode<'_>) -> Option<String> {
    if node.kind() != yang3::schema::SchemaNodeKind::Leaf {
        return None;
    }
    // SAFETY: the node is a compiled leaf of the live context.
    let has = unsafe {
        !(*(node.as_raw() as *const ffi::lysc_node_leaf))
            .dflt
            .is_null()
    };
    if has {
        node.default_value_canonical().map(str::to_owned)
    } else {
        None
    }
}

/// Where a schema node sits relative to the unit model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Inside an entry of this unit list (the list node itself included).
    Entry(UnitListId),
    /// A root container or its remainder content.
    Remainder,
    /// Not config data netloom stores (state, other modules).
    Elsewhere,
}

fn owner(schema: &Schema, id: NodeId) -> Owner {
    let mut cur = Some(id);
    while let Some(c) = cur {
        let n = schema.node(c);
        if let Some(u) = n.unit {
            return Owner::Entry(u);
        }
        if !n.config {
            return Owner::Elsewhere;
        }
        cur = n.parent;
    }
    Owner::Remainder
}

/// The atoms (schema nodes) an XPath expression evaluated at `ctx_node` touches.
///
/// # Safety
/// All pointers must belong to a live context.
pub(crate) unsafe fn raw_atoms(
    ctx_node: *const ffi::lysc_node,
    expr: *const ffi::lyxp_expr,
    prefixes: *const ffi::lysc_prefix,
) -> Result<Vec<*const ffi::lysc_node>, Error> {
    let mut set: *mut ffi::ly_set = std::ptr::null_mut();
    let cur_mod = (*ctx_node).module;
    let ret = ffi::lys_find_expr_atoms(ctx_node, cur_mod, expr, prefixes, 0, &mut set);
    if ret != ffi::LY_ERR::LY_SUCCESS || set.is_null() {
        return Err(Error::Context(format!(
            "cannot analyse expression '{}'",
            expr_text(expr)
        )));
    }
    let count = (*set).count as usize;
    let nodes = (*set).__bindgen_anon_1.snodes;
    let out = (0..count)
        .map(|i| *nodes.add(i) as *const ffi::lysc_node)
        .collect();
    ffi::ly_set_free(set, None);
    Ok(out)
}

/// The atoms (schema nodes) an XPath expression touches, as our node ids; `None` when an
/// atom is not indexed (outside netloom's data), which callers treat as "could be anything".
///
/// # Safety
/// All pointers must belong to the live context `schema` holds.
pub(crate) unsafe fn atoms(
    raw_map: &HashMap<usize, NodeId>,
    ctx_node: *const ffi::lysc_node,
    expr: *const ffi::lyxp_expr,
    prefixes: *const ffi::lysc_prefix,
) -> Result<Vec<Option<NodeId>>, Error> {
    let raw = raw_atoms(ctx_node, expr, prefixes)?;
    Ok(raw.into_iter().map(|n| nearest(raw_map, n)).collect())
}

/// The nearest indexed node at or above `n` (choice and case are not indexed).
///
/// # Safety
/// `n` is null or a compiled node of the live context `raw_map` indexes.
pub(crate) unsafe fn nearest(
    raw_map: &HashMap<usize, NodeId>,
    mut n: *const ffi::lysc_node,
) -> Option<NodeId> {
    while !n.is_null() {
        if let Some(id) = raw_map.get(&(n as usize)) {
            return Some(*id);
        }
        n = (*n).parent;
    }
    None
}

pub(crate) unsafe fn expr_text(expr: *const ffi::lyxp_expr) -> String {
    let p = ffi::lyxp_get_expr(expr);
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Classify what an expression evaluated at `at` (inside unit list `from`) can reach.
fn classify(
    schema: &Schema,
    from: UnitListId,
    atoms: &[Option<NodeId>],
    out: &mut BTreeSet<Dependency>,
) {
    let from_root = schema.unit(from).root();
    for atom in atoms {
        let Some(a) = atom else {
            // Outside our data: nothing stored can change its value.
            continue;
        };
        match owner(schema, *a) {
            Owner::Entry(to) if to != from => {
                out.insert(Dependency::Whole { from, to });
            }
            Owner::Entry(_) | Owner::Elsewhere => {}
            Owner::Remainder => {
                if *a == from_root {
                    // Reaching the container above the list means the expression can see
                    // sibling entries.
                    out.insert(Dependency::Whole { from, to: from });
                } else if schema.node(*a).parent.is_some() {
                    // Remainder content: a change to it re-judges every entry of `from`.
                    let mut top = *a;
                    while let Some(p) = schema.node(top).parent {
                        top = p;
                    }
                    if let Some(rem) = schema.remainder_of(top) {
                        out.insert(Dependency::Whole { from, to: rem });
                    }
                }
            }
        }
    }
}

/// Path of member names from the list node `list` down to `leaf`.
fn relative_members(schema: &Schema, list: NodeId, leaf: NodeId) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = leaf;
    while cur != list {
        parts.push(schema.member_name(cur));
        match schema.node(cur).parent {
            Some(p) => cur = p,
            None => break,
        }
    }
    parts.reverse();
    parts
}

/// Build the dependency graph of every unit list.
pub(crate) fn analyse(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
) -> Result<DependencyGraph, Error> {
    let by_id: HashMap<NodeId, usize> = raw_map.iter().map(|(raw, id)| (*id, *raw)).collect();
    let mut deps = BTreeSet::new();
    for (i, def) in schema.units().iter().enumerate() {
        let from = UnitListId(i as u16);
        let Some(list) = def.list_node() else {
            continue;
        };
        // list constraints on the unit list itself span its entries
        let raw_list = by_id[&list] as *mut ffi::lysc_node;
        // SAFETY: raw_list is a compiled list node of the live context.
        let snode = unsafe { SchemaNode::from_raw(schema.context(), raw_list) };
        let has_unique = unsafe {
            !(*(raw_list as *const ffi::lysc_node_list))
                .uniques
                .is_null()
        };
        if has_unique || snode.min_elements().is_some() || snode.max_elements().is_some() {
            deps.insert(Dependency::Whole { from, to: from });
        }
        let mut stack = vec![list];
        while let Some(id) = stack.pop() {
            let info = schema.node(id);
            stack.extend(info.children.iter().copied());
            if !info.config {
                continue;
            }
            let raw = by_id[&id] as *mut ffi::lysc_node;
            // SAFETY: raw is a compiled data node of the live context.
            let node = unsafe { SchemaNode::from_raw(schema.context(), raw) };
            if let Some(musts) = node.musts() {
                for m in musts {
                    let m = m.as_raw();
                    // SAFETY: m is a compiled must of `node`.
                    let a = unsafe { atoms(raw_map, raw, (*m).cond, (*m).prefixes)? };
                    classify(schema, from, &a, &mut deps);
                }
            }
            for w in node.whens() {
                let w = w.as_raw();
                // SAFETY: w is a compiled when of `node`; its context node is the node it
                // is evaluated at.
                let ctx_node = unsafe {
                    if (*w).context.is_null() {
                        raw as *const ffi::lysc_node
                    } else {
                        (*w).context as *const ffi::lysc_node
                    }
                };
                let a = unsafe { atoms(raw_map, ctx_node, (*w).cond, (*w).prefixes)? };
                classify(schema, from, &a, &mut deps);
            }
            if matches!(info.kind, NodeKind::Leaf | NodeKind::LeafList) {
                if let Some(t) = node.leaf_type() {
                    if t.base_type() == DataValueType::LeafRef {
                        leafref(schema, raw_map, from, list, id, raw, &t, &mut deps)?;
                    }
                }
            }
        }
    }
    Ok(DependencyGraph { deps })
}

#[allow(clippy::too_many_arguments)]
fn leafref(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
    from: UnitListId,
    list: NodeId,
    leaf: NodeId,
    raw: *mut ffi::lysc_node,
    t: &SchemaLeafType<'_>,
    deps: &mut BTreeSet<Dependency>,
) -> Result<(), Error> {
    let lr = t.as_raw() as *const ffi::lysc_type_leafref;
    // SAFETY: the type is a leafref, so `lr` is a lysc_type_leafref of the live context.
    let (path, prefixes, require) = unsafe { ((*lr).path, (*lr).prefixes, (*lr).require_instance) };
    if require == 0 {
        return Ok(());
    }
    let text = unsafe { expr_text(path) };
    let a = unsafe { atoms(raw_map, raw, path, prefixes)? };
    // A plain absolute path to the single key of a unit list is a key reference.
    let target = a.last().copied().flatten();
    if let (false, Some(target)) = (text.contains('['), target) {
        if let Owner::Entry(to) = owner(schema, target) {
            let def = schema.unit(to);
            let key_target = def.keys().len() == 1
                && schema.node(target).name == def.keys()[0]
                && schema.node(target).parent == def.list_node();
            if text.starts_with('/') && key_target {
                deps.insert(Dependency::Key(KeyRef {
                    from,
                    leaf_path: relative_members(schema, list, leaf),
                    to,
                }));
                return Ok(());
            }
        }
    }
    classify(schema, from, &a, deps);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_refs_and_whole_dependencies() {
        let s = Schema::new().unwrap();
        let pods = s.unit_by_names("pods", "pod").unwrap();
        let nets = s.unit_by_names("networks", "network").unwrap();
        let pfs = s.unit_by_names("sriov", "physical-function").unwrap();
        let policies = s.unit_by_names("policies", "policy").unwrap();
        let g = s.dependencies();
        let refs: Vec<_> = g.key_refs().cloned().collect();
        assert!(refs.contains(&KeyRef {
            from: pods,
            leaf_path: vec!["interface".into(), "network".into()],
            to: nets
        }));
        assert!(refs.contains(&KeyRef {
            from: nets,
            leaf_path: vec!["sriov".into(), "physical-function".into()],
            to: pfs
        }));
        assert!(refs.contains(&KeyRef {
            from: policies,
            leaf_path: vec!["applies-to".into(), "network".into()],
            to: nets
        }));
        // pods look at no other pod: a one-pod change must not drag in all pods
        assert!(!g.whole_targets(pods).any(|t| t == pods));
    }
}
