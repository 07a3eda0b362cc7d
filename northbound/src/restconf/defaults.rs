//! `with-defaults` (RFC 8040 section 4.8.9, RFC 6243) on a materialized answer: netloom
//! stores what was set (basic mode explicit), so report-all and report-all-tagged add the
//! schema's defaults and trim drops values equal to them. A default under a `when` exists
//! only while the condition holds; which ones do is taken from libyang, which adds exactly
//! those when it validates the target's data ([`reference`]).

use std::collections::HashMap;

use netloom_yang::{NodeId, NodeKind, Schema, UnitMap};
use serde_json::{Map, Value};

use super::query::WithDefaults;
use super::tree::{child_of, dig, qualified, scalar, Target};

/// The target's data as libyang completes it with every default (report-all), config only.
/// A unit is validated alone (leafrefs to other units only warn), the datastore root or a
/// root container with all their units.
pub fn reference(schema: &Schema, units: &UnitMap, target: &Target) -> Option<Value> {
    let complete = |doc: String| -> Option<Value> {
        match schema.with_defaults(&doc) {
            Ok(full) => serde_json::from_str(&full).ok(),
            Err(e) => {
                tracing::debug!(error = %e, "no libyang defaults for with-defaults");
                None
            }
        }
    };
    match target {
        Target::Inner { unit, steps } => {
            let text = units.get(unit)?;
            let full = complete(schema.to_json([(unit, &**text)]))?;
            let (_, value) = schema
                .split(full)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == unit)?;
            let entry_unit = schema.unit(unit.list).list_node().is_some();
            dig(schema, value, steps, entry_unit)
        }
        Target::Root | Target::Container(_) | Target::List(_) => {
            let full = complete(schema.to_json(units.iter().map(|(k, v)| (k, &**v))))?;
            match target {
                Target::Container(root) => full.get(qualified(schema, *root)).cloned(),
                Target::List(list) => {
                    let def = schema.unit(*list);
                    full.get(qualified(schema, def.root()))?
                        .get(schema.member_name(def.list_node()?))
                        .cloned()
                }
                _ => Some(full),
            }
        }
        Target::State => None,
    }
}

/// `with-defaults` other than explicit, on `v`, the value of `node` (None: the root).
pub fn apply_defaults(
    schema: &Schema,
    node: Option<NodeId>,
    v: &mut Value,
    mode: WithDefaults,
    reference: Option<&Value>,
) {
    match v {
        Value::Array(items) => {
            let mut entries = Entries::new(schema, node, reference);
            for (i, item) in items.iter_mut().enumerate() {
                let r = entries.same(item, i);
                apply_defaults(schema, node, item, mode, r);
            }
        }
        Value::Object(map) => {
            let children: Vec<NodeId> = match node {
                Some(n) => schema.node(n).children.clone(),
                None => {
                    // The root: recurse into the root containers present.
                    let members: Vec<String> = map.keys().cloned().collect();
                    for m in members {
                        let child = child_of(schema, None, &m);
                        if let (Some(c), Some(val)) = (child, map.get_mut(&m)) {
                            apply_defaults(
                                schema,
                                Some(c),
                                val,
                                mode,
                                reference.and_then(|r| r.get(&m)),
                            );
                        }
                    }
                    return;
                }
            };
            defaults_in(
                schema,
                &children,
                map,
                mode,
                reference.and_then(Value::as_object),
            );
        }
        _ => {}
    }
}

/// Whether a node carries a `when`: its default only exists when the condition holds, which
/// only validation can tell (the reference); without one, such defaults are not reported.
fn conditional(schema: &Schema, node: NodeId) -> bool {
    schema
        .context()
        .find_path(&schema.schema_path(node))
        .map(|n| n.whens().count() > 0)
        .unwrap_or(true)
}

fn defaults_in(
    schema: &Schema,
    children: &[NodeId],
    map: &mut Map<String, Value>,
    mode: WithDefaults,
    reference: Option<&Map<String, Value>>,
) {
    for &c in children {
        let info = schema.node(c);
        let member = schema.member_name(c);
        let holds = reference.is_some_and(|r| r.contains_key(&member));
        if !map.contains_key(&member) && !holds && conditional(schema, c) {
            continue;
        }
        let below = reference.and_then(|r| r.get(&member));
        match info.kind {
            NodeKind::Leaf => {
                let Some(default) = &info.default else {
                    continue;
                };
                // libyang's JSON has the right type; the schema index only has the text.
                let typed = below
                    .filter(|v| !v.is_object() && !v.is_array())
                    .cloned()
                    .unwrap_or_else(|| typed_default(info, default));
                let present = map.get(&member).cloned();
                let is_default = present
                    .as_ref()
                    .is_some_and(|p| scalar(p).as_deref() == scalar(&typed).as_deref());
                match mode {
                    WithDefaults::ReportAll | WithDefaults::ReportAllTagged
                        if present.is_none() =>
                    {
                        map.insert(member.clone(), typed);
                        if mode == WithDefaults::ReportAllTagged {
                            tag_default(map, &member);
                        }
                    }
                    WithDefaults::ReportAllTagged if is_default => tag_default(map, &member),
                    WithDefaults::Trim if is_default => {
                        map.remove(&member);
                    }
                    _ => {}
                }
            }
            NodeKind::Container { presence } => {
                let absent = !map.contains_key(&member);
                if absent
                    && (presence
                        || !matches!(
                            mode,
                            WithDefaults::ReportAll | WithDefaults::ReportAllTagged
                        ))
                {
                    continue;
                }
                let child = map
                    .entry(member.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                apply_defaults(schema, Some(c), child, mode, below);
                if absent && child.as_object().is_some_and(Map::is_empty) {
                    map.remove(&member);
                }
            }
            NodeKind::List => {
                if let Some(child) = map.get_mut(&member) {
                    apply_defaults(schema, Some(c), child, mode, below);
                }
            }
            NodeKind::LeafList => {}
        }
    }
}

fn tag_default(map: &mut Map<String, Value>, member: &str) {
    let mut meta = Map::new();
    meta.insert(
        "ietf-netconf-with-defaults:default".into(),
        Value::Bool(true),
    );
    map.insert(format!("@{member}"), Value::Object(meta));
}

fn typed_default(info: &netloom_yang::SchemaNodeInfo, default: &str) -> Value {
    if info.json_number {
        if let Ok(n) = default.parse::<serde_json::Number>() {
            return Value::Number(n);
        }
    }
    // The index names built-in types by libyang's enum (`Bool`), typedefs by name.
    if matches!(info.type_name.as_deref(), Some("boolean" | "Bool")) {
        return Value::Bool(default == "true");
    }
    Value::String(default.to_owned())
}

/// The reference's entry for `item` (the `index`th of a list): same keys, or same place.
/// The reference's entries of a list, found by key: the answer and the reference list the
/// datastore's entries in the same order, so each is looked for at its own position first;
/// the entries are indexed by key (once) only when that misses. A search of every entry
/// for each one made a report-all read of 10k networks take 5.5 s.
struct Entries<'r> {
    entries: Option<&'r Vec<Value>>,
    keys: Option<&'r [String]>,
    by_key: Option<HashMap<Vec<String>, &'r Value>>,
}

impl<'r> Entries<'r> {
    fn new(schema: &'r Schema, node: Option<NodeId>, reference: Option<&'r Value>) -> Self {
        Entries {
            entries: reference.and_then(Value::as_array),
            keys: node
                .map(|n| schema.node(n).keys.as_slice())
                .filter(|k| !k.is_empty()),
            by_key: None,
        }
    }

    fn key_of(keys: &[String], entry: &Value) -> Option<Vec<String>> {
        keys.iter().map(|k| entry.get(k).and_then(scalar)).collect()
    }

    /// The reference's entry for `item`, the answer's `index`th.
    fn same(&mut self, item: &Value, index: usize) -> Option<&'r Value> {
        let entries = self.entries?;
        let Some(keys) = self.keys else {
            return entries.get(index);
        };
        let want = Self::key_of(keys, item)?;
        if let Some(e) = entries.get(index) {
            if Self::key_of(keys, e).as_ref() == Some(&want) {
                return Some(e);
            }
        }
        self.by_key
            .get_or_insert_with(|| {
                entries
                    .iter()
                    .filter_map(|e| Some((Self::key_of(keys, e)?, e)))
                    .collect()
            })
            .get(&want)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The reference's entries are found by key wherever they are: in the answer's order
    /// and in another.
    #[test]
    fn conditional_defaults_follow_each_entry_by_key() {
        let s = Schema::new().unwrap();
        let list = s
            .unit(s.unit_by_names("networks", "network").unwrap())
            .list_node();
        let answer = json!([
            {"name": "a", "type": "bridge"},
            {"name": "b", "type": "vxlan", "vxlan": {"vni": 1}},
            {"name": "c", "type": "macvlan", "uplink": "eth0"}
        ]);
        let entries: Vec<Value> = answer.as_array().unwrap().clone();
        // each entry as libyang completes it (its `when`s decide which containers it has)
        let reference = Value::Array(
            entries
                .iter()
                .map(|e| {
                    let doc = json!({"netloom-host:networks": {"network": [e]}});
                    let full: Value =
                        serde_json::from_str(&s.with_defaults(&doc.to_string()).unwrap()).unwrap();
                    full["netloom-host:networks"]["network"][0].clone()
                })
                .collect(),
        );
        let mut reversed = reference.clone();
        reversed.as_array_mut().unwrap().reverse();
        for r in [&reference, &reversed] {
            let mut v = answer.clone();
            apply_defaults(&s, list, &mut v, WithDefaults::ReportAll, Some(r));
            let by_name = |n: &str| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == n)
                    .unwrap()
                    .clone()
            };
            assert_eq!(by_name("b")["vxlan"]["port"], json!(4789), "{v}");
            assert!(by_name("a").get("vxlan").is_none(), "{v}");
            assert_eq!(by_name("a")["bridge"]["hairpin"], json!(false), "{v}");
            assert_eq!(by_name("c")["macvlan"]["mode"], json!("bridge"), "{v}");
            assert!(by_name("c").get("bridge").is_none(), "{v}");
        }
    }
}
