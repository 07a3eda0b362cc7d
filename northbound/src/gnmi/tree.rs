//! The data a path selects. A netloom document (RFC 7951 JSON: config assembled from only the
//! units a path can reach, state from the engine) is walked with the schema alongside, so
//! list entries are matched on their keys, `*` matches any child and `...` any depth; each
//! match carries its concrete gNMI path (keys filled in).

use std::collections::BTreeMap;
use std::sync::Arc;

use netloom_yang::{NodeId, NodeKind, Schema, UnitKey, UnitListId, UnitMap};
use serde_json::{Map, Value};

use super::path::{children, Elem, GPath, Origin};
use super::proto::gnmi::PathElem;

/// One node a path selected.
#[derive(Debug, Clone)]
pub struct Match {
    pub path: Vec<PathElem>,
    /// The schema node; none for the datastore root.
    pub node: Option<NodeId>,
    pub value: Value,
}

/// Which part of the tree a request reads (gNMI's GetRequest.DataType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Config,
    State,
    All,
}

/// Whether the first step can reach a root named `name`.
fn first_reaches(path: &GPath, name: &str) -> bool {
    match path.elems.first() {
        None => true,
        Some(e) => e.is_any() || e.is_deep() || e.name == name,
    }
}

/// The path reads netloom's state (the engine's `state` container).
pub fn reads_state(path: &GPath, content: Content) -> bool {
    content != Content::Config && path.origin == Origin::Netloom && first_reaches(path, "state")
}

/// The path reads netloom's configuration.
pub fn reads_config(path: &GPath, content: Content) -> bool {
    content != Content::State
        && path.origin == Origin::Netloom
        && path.elems.first().is_none_or(|e| e.name != "state")
}

/// The configuration roots `elems` can reach, assembled from only the units needed: a
/// concrete list entry is one unit lookup, a list is one range of the unit map.
pub fn config_doc(schema: &Schema, units: &UnitMap, elems: &[Elem]) -> Map<String, Value> {
    let mut doc = Map::new();
    for root in children(schema, None) {
        let info = schema.node(root);
        if !info.config {
            continue;
        }
        if let Some(e) = elems.first() {
            if !(e.is_any() || e.is_deep() || e.name == info.name) {
                continue;
            }
        }
        let lists: Vec<UnitListId> = (0..schema.units().len())
            .map(|i| UnitListId(i as u16))
            .filter(|&id| schema.unit(id).root() == root)
            .collect();
        let mut selected: Vec<(&UnitKey, &Arc<str>)> = Vec::new();
        let second = elems
            .get(1)
            .filter(|e| elems.first().is_some_and(|f| !f.is_deep()) && !e.is_any() && !e.is_deep());
        let list = second.and_then(|e| {
            let child = schema.child(root, None, &e.name)?;
            Some((e, schema.node(child).unit?))
        });
        match list {
            Some((e, list)) => {
                let keys = schema.unit(list).keys();
                let concrete: Option<Vec<&str>> = keys
                    .iter()
                    .map(|k| e.keys.get(k).map(String::as_str).filter(|v| *v != "*"))
                    .collect();
                match concrete.and_then(|values| schema.unit_key(list, &values).ok()) {
                    Some(key) => selected.extend(units.get_key_value(&key)),
                    None => selected.extend(range(units, list)),
                }
            }
            None => {
                for &id in &lists {
                    selected.extend(range(units, id));
                }
            }
        }
        if selected.is_empty() {
            continue;
        }
        let text = schema.to_json(selected.into_iter().map(|(k, v)| (k, &**v)));
        if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&text) {
            doc.extend(obj);
        }
    }
    doc
}

/// The units of one unit list, in order.
fn range(units: &UnitMap, list: UnitListId) -> impl Iterator<Item = (&UnitKey, &Arc<str>)> {
    let lo = UnitKey {
        list,
        path: Arc::from(""),
    };
    let hi = UnitKey {
        list: UnitListId(list.0 + 1),
        path: Arc::from(""),
    };
    units.range(lo..hi)
}

/// Walks a document along a path.
pub struct Walker<'a> {
    pub schema: &'a Schema,
    /// Name the first step with its module.
    pub qualified: bool,
    /// Below a selected root (or a top-level container), answer per list entry and leaf
    /// rather than as one value: subscriptions use this so their paths are the ones later
    /// changes are reported on.
    pub expand: bool,
}

impl Walker<'_> {
    pub fn walk(&self, doc: &Value, elems: &[Elem]) -> Vec<Match> {
        let mut out = Vec::new();
        let mut here = Vec::new();
        self.at(None, doc, elems, &mut here, &mut out);
        out
    }

    fn at(
        &self,
        node: Option<NodeId>,
        value: &Value,
        elems: &[Elem],
        here: &mut Vec<PathElem>,
        out: &mut Vec<Match>,
    ) {
        let Some((e, rest)) = elems.split_first() else {
            let top = node.is_none_or(|n| self.schema.node(n).parent.is_none());
            if self.expand && top {
                for c in children(self.schema, node) {
                    self.descend(c, value, &BTreeMap::new(), &[], here, out);
                }
            } else {
                out.push(Match {
                    path: here.clone(),
                    node,
                    value: value.clone(),
                });
            }
            return;
        };
        if e.is_deep() {
            self.at(node, value, rest, here, out);
            if !rest.is_empty() {
                for c in children(self.schema, node) {
                    self.descend(c, value, &BTreeMap::new(), elems, here, out);
                }
            }
            return;
        }
        for c in children(self.schema, node) {
            if e.is_any() || self.schema.node(c).name == e.name {
                self.descend(c, value, &e.keys, rest, here, out);
            }
        }
    }

    fn descend(
        &self,
        c: NodeId,
        parent: &Value,
        keys: &BTreeMap<String, String>,
        rest: &[Elem],
        here: &mut Vec<PathElem>,
        out: &mut Vec<Match>,
    ) {
        let Some(v) = parent.get(self.schema.member_name(c)) else {
            return;
        };
        let info = self.schema.node(c);
        let name = if info.parent.is_none() && self.qualified {
            format!("{}:{}", info.module, info.name)
        } else {
            info.name.clone()
        };
        if info.kind == NodeKind::List {
            for entry in v.as_array().into_iter().flatten() {
                let matches = keys.iter().all(|(k, want)| {
                    want == "*" || entry.get(k).and_then(text).as_deref() == Some(want)
                });
                if !matches {
                    continue;
                }
                let key = info
                    .keys
                    .iter()
                    .filter_map(|k| Some((k.clone(), entry.get(k).and_then(text)?)))
                    .collect();
                here.push(PathElem {
                    name: name.clone(),
                    key,
                });
                self.at(Some(c), entry, rest, here, out);
                here.pop();
            }
        } else {
            here.push(PathElem {
                name,
                key: Default::default(),
            });
            self.at(Some(c), v, rest, here, out);
            here.pop();
        }
    }
}

/// A JSON scalar as key text.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn elems(spec: &[(&str, &[(&str, &str)])]) -> Vec<Elem> {
        spec.iter()
            .map(|(n, k)| Elem {
                name: n.to_string(),
                keys: k
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            })
            .collect()
    }

    fn units(s: &Schema) -> UnitMap {
        let doc = json!({"netloom-host:networks": {"network": [
            {"name": "a", "type": "bridge", "mtu": 1400},
            {"name": "b", "type": "bridge", "mtu": 9000}
        ]}, "netloom-host:system": {"commit-history": 2000}});
        s.split(doc)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, Arc::from(v.to_string())))
            .collect()
    }

    #[test]
    fn wildcards_and_keys_select_entries() {
        let s = Schema::new().unwrap();
        let u = units(&s);
        let w = Walker {
            schema: &s,
            qualified: false,
            expand: false,
        };
        let path = elems(&[
            ("networks", &[]),
            ("network", &[("name", "*")]),
            ("mtu", &[]),
        ]);
        let doc = Value::Object(config_doc(&s, &u, &path));
        let m = w.walk(&doc, &path);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].path[1].key["name"], "b");
        assert_eq!(m[1].value, json!(9000));
        let one = elems(&[("networks", &[]), ("network", &[("name", "a")])]);
        let doc = Value::Object(config_doc(&s, &u, &one));
        assert_eq!(
            doc["netloom-host:networks"]["network"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let deep = elems(&[("...", &[]), ("mtu", &[])]);
        let doc = Value::Object(config_doc(&s, &u, &deep));
        assert_eq!(w.walk(&doc, &deep).len(), 2);
        let all = Walker { expand: true, ..w };
        let doc = Value::Object(config_doc(&s, &u, &[]));
        let m = all.walk(&doc, &[]);
        // two network entries and the system remainder's leaf
        assert_eq!(m.len(), 3, "{m:?}");
    }
}
