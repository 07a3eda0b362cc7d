//! Reading a data resource out of a snapshot: which units a path needs (all of them, one
//! root container's, one list's, or a single unit and the steps below it), written straight
//! from the stored unit texts (JSON as is, XML per unit) so a large answer streams, and the
//! read transforms (`depth`, `fields`, `with-defaults`) on a materialized value otherwise.

use std::io::{self, Write};

use netloom_yang::{DataPath, NodeId, NodeKind, Schema, Segment, UnitKey, UnitListId, UnitMap};
use serde_json::Value;

use super::encode::{namespace_of, xml_escape, XmlWriter};
use super::query::Fields;

/// What a resolved path addresses in the unit model.
#[derive(Debug, Clone)]
pub enum Target {
    /// The datastore.
    Root,
    /// A root container (configuration).
    Container(NodeId),
    /// Every entry of a unit list (a list path without keys).
    List(UnitListId),
    /// Something inside one unit: the unit, the node of `steps[0]`'s parent, and the steps.
    Inner { unit: UnitKey, steps: Vec<Segment> },
    /// Operational state (a path under a `config false` root).
    State,
}

impl Target {
    pub fn of(schema: &Schema, path: &DataPath) -> Target {
        let segs = &path.segments;
        let Some(first) = segs.first().and_then(|s| s.node) else {
            return Target::Root;
        };
        if !schema.node(first).config {
            return Target::State;
        }
        if segs.len() == 1 {
            return Target::Container(first);
        }
        let second = segs[1].node.map(|n| schema.node(n).unit);
        match second {
            Some(Some(list)) if segs[1].keys.is_empty() => Target::List(list),
            Some(Some(list)) => {
                let values: Vec<&str> = segs[1].keys.iter().map(|(_, v)| v.as_str()).collect();
                match schema.unit_key(list, &values) {
                    Ok(unit) => Target::Inner {
                        unit,
                        steps: segs[1..].to_vec(),
                    },
                    Err(_) => Target::State,
                }
            }
            _ => match schema.remainder_of(first) {
                Some(rem) => Target::Inner {
                    unit: schema.remainder_key(rem),
                    steps: segs[1..].to_vec(),
                },
                None => Target::State,
            },
        }
    }

    /// Whether the target may be streamed from unit texts.
    pub fn streams(&self) -> bool {
        matches!(self, Target::Root | Target::Container(_) | Target::List(_))
    }
}

/// The unit lists under a root container, in schema order.
fn lists_of(schema: &Schema, root: NodeId) -> Vec<UnitListId> {
    (0..schema.units().len())
        .map(|i| UnitListId(i as u16))
        .filter(|id| schema.unit(*id).root() == root)
        .collect()
}

fn units_of(
    units: &UnitMap,
    list: UnitListId,
) -> impl Iterator<Item = (&UnitKey, &std::sync::Arc<str>)> {
    let start = UnitKey {
        list,
        path: "".into(),
    };
    units
        .range(start..)
        .take_while(move |(k, _)| k.list == list)
}

/// Whether the container has any configuration.
pub fn container_has_data(schema: &Schema, units: &UnitMap, root: NodeId) -> bool {
    lists_of(schema, root)
        .into_iter()
        .any(|l| units_of(units, l).next().is_some())
}

pub fn list_has_data(units: &UnitMap, list: UnitListId) -> bool {
    units_of(units, list).next().is_some()
}

/// The roots that hold configuration, in schema order.
pub fn config_roots(schema: &Schema) -> Vec<NodeId> {
    schema
        .roots()
        .iter()
        .copied()
        .filter(|r| schema.node(*r).config)
        .collect()
}

pub fn qualified(schema: &Schema, node: NodeId) -> String {
    let i = schema.node(node);
    format!("{}:{}", i.module, i.name)
}

/// Write a root container's value (`{...}`) as JSON.
pub fn container_json<W: Write>(
    schema: &Schema,
    units: &UnitMap,
    root: NodeId,
    w: &mut W,
) -> io::Result<()> {
    w.write_all(b"{")?;
    let mut first = true;
    for list in lists_of(schema, root) {
        let def = schema.unit(list);
        match def.list_node() {
            None => {
                for (_, text) in units_of(units, list) {
                    let inner = netloom_yang::remainder_members(text);
                    if !inner.is_empty() {
                        if !first {
                            w.write_all(b",")?;
                        }
                        w.write_all(inner.as_bytes())?;
                        first = false;
                    }
                }
            }
            Some(node) => {
                let mut entries = units_of(units, list).peekable();
                if entries.peek().is_none() {
                    continue;
                }
                if !first {
                    w.write_all(b",")?;
                }
                first = false;
                write!(w, "\"{}\":", schema.member_name(node))?;
                list_json(entries, w)?;
            }
        }
    }
    w.write_all(b"}")
}

fn list_json<'m, W: Write>(
    entries: impl Iterator<Item = (&'m UnitKey, &'m std::sync::Arc<str>)>,
    w: &mut W,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, (_, text)) in entries.enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(text.as_bytes())?;
    }
    w.write_all(b"]")
}

/// Write a root container as one XML element.
pub fn container_xml<W: Write>(
    schema: &Schema,
    units: &UnitMap,
    root: NodeId,
    w: &mut W,
) -> io::Result<()> {
    let info = schema.node(root);
    let ns = namespace_of(schema, &info.module).unwrap_or_default();
    write!(w, "<{} xmlns=\"{}\">", info.name, xml_escape(&ns))?;
    let xml = XmlWriter::new(schema);
    let mut buf = String::new();
    for list in lists_of(schema, root) {
        let member = schema.unit(list).list_node().map(|n| schema.member_name(n));
        for (_, text) in units_of(units, list) {
            let v: Value = serde_json::from_str(text).map_err(io::Error::other)?;
            buf.clear();
            match &member {
                Some(m) => xml.member(&mut buf, m, &v, Some(&info.module)),
                None => {
                    if let Value::Object(map) = &v {
                        for (k, c) in map {
                            xml.member(&mut buf, k, c, Some(&info.module));
                        }
                    }
                }
            }
            w.write_all(buf.as_bytes())?;
        }
    }
    write!(w, "</{}>", info.name)
}

/// Write a streamable target in full, in JSON or XML; `state` is the operational state
/// document to add to a root read (`{"netloom-host:state": ...}`).
pub fn write_target<W: Write>(
    schema: &Schema,
    units: &UnitMap,
    target: &Target,
    xml: bool,
    config: bool,
    state: Option<&Value>,
    w: &mut W,
) -> io::Result<()> {
    match target {
        Target::Root => {
            let roots: Vec<NodeId> = if config {
                config_roots(schema)
            } else {
                Vec::new()
            };
            if xml {
                w.write_all(b"<data xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">")?;
                for r in roots {
                    if container_has_data(schema, units, r) {
                        container_xml(schema, units, r, w)?;
                    }
                }
                if let Some(s) = state {
                    let mut buf = String::new();
                    XmlWriter::new(schema).document(&mut buf, s);
                    w.write_all(buf.as_bytes())?;
                }
                w.write_all(b"</data>")
            } else {
                w.write_all(b"{\"ietf-restconf:data\":{")?;
                let mut first = true;
                for r in roots {
                    if !container_has_data(schema, units, r) {
                        continue;
                    }
                    if !first {
                        w.write_all(b",")?;
                    }
                    first = false;
                    write!(w, "\"{}\":", qualified(schema, r))?;
                    container_json(schema, units, r, w)?;
                }
                if let Some(Value::Object(s)) = state {
                    for (k, v) in s {
                        if !first {
                            w.write_all(b",")?;
                        }
                        first = false;
                        write!(w, "{}:{}", Value::String(k.clone()), v)?;
                    }
                }
                w.write_all(b"}}")
            }
        }
        Target::Container(root) => {
            if xml {
                container_xml(schema, units, *root, w)
            } else {
                write!(w, "{{\"{}\":", qualified(schema, *root))?;
                container_json(schema, units, *root, w)?;
                w.write_all(b"}")
            }
        }
        Target::List(list) => {
            let node = schema
                .unit(*list)
                .list_node()
                .unwrap_or(schema.unit(*list).root());
            let info = schema.node(node);
            if xml {
                let xw = XmlWriter::new(schema);
                let name = qualified(schema, node);
                let mut buf = String::new();
                for (_, text) in units_of(units, *list) {
                    let v: Value = serde_json::from_str(text).map_err(io::Error::other)?;
                    buf.clear();
                    xw.member(&mut buf, &name, &v, None);
                    w.write_all(buf.as_bytes())?;
                }
                Ok(())
            } else {
                write!(w, "{{\"{}:{}\":", info.module, info.name)?;
                list_json(units_of(units, *list), w)?;
                w.write_all(b"}")
            }
        }
        Target::Inner { .. } | Target::State => Ok(()),
    }
}

/// The value of `steps` inside a unit's value (whose node is the parent of `steps[0]`, or
/// for an entry unit, `steps[0]` is the entry itself). Returns the node's JSON value as it
/// appears under its member (an array of one for a list or leaf-list entry).
pub fn dig(
    schema: &Schema,
    unit_value: Value,
    steps: &[Segment],
    entry_unit: bool,
) -> Option<Value> {
    let mut cur = unit_value;
    let mut rest = steps;
    if entry_unit {
        // steps[0] is the entry; its value is the unit itself.
        if rest.len() == 1 {
            return Some(Value::Array(vec![cur]));
        }
        rest = &rest[1..];
    }
    for (i, seg) in rest.iter().enumerate() {
        let node = seg.node?;
        let info = schema.node(node);
        let member = schema.member_name(node);
        let child = cur.as_object_mut()?.remove(&member)?;
        let last = i + 1 == rest.len();
        cur = match info.kind {
            NodeKind::List if !seg.keys.is_empty() => {
                let entry = child.as_array()?.iter().find(|e| {
                    seg.keys
                        .iter()
                        .all(|(k, v)| e.get(k).and_then(scalar).as_deref() == Some(v.as_str()))
                })?;
                if last {
                    return Some(Value::Array(vec![entry.clone()]));
                }
                entry.clone()
            }
            NodeKind::LeafList if seg.value.is_some() => {
                let want = seg.value.as_deref()?;
                let found = child
                    .as_array()?
                    .iter()
                    .find(|e| scalar(e).as_deref() == Some(want))?;
                return Some(Value::Array(vec![found.clone()]));
            }
            _ => child,
        };
    }
    Some(cur)
}

pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `depth`: `v` is a node at `level` (the target is level 1).
pub fn prune_depth(v: &mut Value, level: u32, max: u32) {
    if let Value::Object(map) = v {
        if level >= max {
            map.clear();
            return;
        }
        for child in map.values_mut() {
            match child {
                Value::Array(items) => items
                    .iter_mut()
                    .for_each(|i| prune_depth(i, level + 1, max)),
                other => prune_depth(other, level + 1, max),
            }
        }
    }
}

/// `fields`: keep the selected descendants of `v`, the value of `node` (None: the root).
pub fn select_fields(schema: &Schema, node: Option<NodeId>, v: &mut Value, fields: &Fields) {
    match v {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| select_fields(schema, node, i, fields)),
        Value::Object(map) => {
            let keys: Vec<String> = node
                .map(|n| schema.node(n).keys.clone())
                .unwrap_or_default();
            map.retain(|member, _| {
                let local = member.rsplit(':').next().unwrap_or(member);
                fields.0.contains_key(local) || keys.iter().any(|k| k == local)
            });
            for (member, child) in map.iter_mut() {
                let local = member.rsplit(':').next().unwrap_or(member);
                if let Some(sub) = fields.0.get(local).filter(|s| !s.0.is_empty()) {
                    let child_node = child_of(schema, node, member);
                    select_fields(schema, child_node, child, sub);
                }
            }
        }
        _ => {}
    }
}

pub fn child_of(schema: &Schema, parent: Option<NodeId>, member: &str) -> Option<NodeId> {
    match parent {
        Some(p) => schema.child_by_member(p, member),
        None => {
            let (m, n) = member.split_once(':')?;
            schema.root(m, n)
        }
    }
}

/// A stored unit's parsed value.
pub fn unit_value(units: &UnitMap, key: &UnitKey) -> Option<Value> {
    units.get(key).and_then(|t| serde_json::from_str(t).ok())
}
