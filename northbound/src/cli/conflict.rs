//! Conflicts between a configure session and the commits made since its candidate was based,
//! leaf by leaf. A leaf that running changed since the base conflicts when committing the
//! session's edits would leave it different from what running has now: the same leaf set to
//! something else, or a whole-entry replace or delete that would undo the other change.
//! Different leaves of the same entry never conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use netloom_yang::{NodeId, NodeKind, Schema, UnitKey, UnitMap};
use serde_json::Value;

/// One leaf both sides want: what running has now (theirs) and what this session's commit
/// would make of it (yours); `None` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub path: String,
    pub theirs: Option<String>,
    pub yours: Option<String>,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{} (theirs {}, yours {})",
            self.path,
            show(&self.theirs),
            show(&self.yours)
        )
    }
}

/// The leaves running changed between `base` and `running` that `result` (running with this
/// session's edits replayed) does not keep as running has them.
pub fn leaf_conflicts(
    schema: &Schema,
    base: &UnitMap,
    running: &UnitMap,
    result: &UnitMap,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for item in base.diff(running) {
        let key = match item {
            imbl::ordmap::DiffItem::Add(k, _)
            | imbl::ordmap::DiffItem::Remove(k, _)
            | imbl::ordmap::DiffItem::Update { new: (k, _), .. } => k,
        };
        let theirs = running.get(key);
        let yours = result.get(key);
        if theirs == yours {
            continue;
        }
        let before = leaves(schema, key, base.get(key));
        let now = leaves(schema, key, theirs);
        let after = leaves(schema, key, yours);
        let paths: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
        for path in paths {
            let (b, t, a) = (before.get(path), now.get(path), after.get(path));
            if b != t && a != t {
                out.push(Conflict {
                    path: path.clone(),
                    theirs: t.cloned(),
                    yours: a.cloned(),
                });
            }
        }
    }
    out
}

/// Every leaf of a unit as instance path -> value text. A list entry is named by its keys,
/// a leaf-list value by itself (`[.='v']`), an empty container by `{}`.
pub fn leaves(schema: &Schema, key: &UnitKey, text: Option<&Arc<str>>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(text) = text else {
        return out;
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        out.insert(key.path.to_string(), text.to_string());
        return out;
    };
    let def = schema.unit(key.list);
    let node = def.list_node().unwrap_or(def.root());
    walk(schema, Some(node), &value, key.path.to_string(), &mut out);
    out
}

fn walk(
    schema: &Schema,
    node: Option<NodeId>,
    value: &Value,
    path: String,
    out: &mut BTreeMap<String, String>,
) {
    match value {
        Value::Object(members) if members.is_empty() => {
            out.insert(path, "{}".into());
        }
        Value::Object(members) => {
            for (member, v) in members {
                let child = node.and_then(|n| schema.child_by_member(n, member));
                walk(schema, child, v, format!("{path}/{member}"), out);
            }
        }
        Value::Array(items) => {
            let info = node.map(|n| schema.node(n));
            match info {
                Some(i) if i.kind == NodeKind::List && !i.keys.is_empty() => {
                    for entry in items {
                        let mut at = path.clone();
                        for k in &i.keys {
                            at.push_str(&format!("[{k}={}]", predicate(&scalar(&entry[k]))));
                        }
                        walk(schema, node, entry, at, out);
                    }
                }
                Some(i) if i.kind == NodeKind::LeafList => {
                    for v in items {
                        let text = scalar(v);
                        out.insert(format!("{path}[.={}]", predicate(&text)), text);
                    }
                }
                // A keyless list (or one the schema does not know): one value as a whole.
                _ => {
                    out.insert(path, value.to_string());
                }
            }
        }
        other => {
            out.insert(path, scalar(other));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A predicate value in the quotes it does not contain.
fn predicate(v: &str) -> String {
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use netloom_yang::{DataPath, Edit, EditOp};
    use serde_json::json;

    fn merge(path: &str, value: Value) -> Edit {
        Edit {
            op: EditOp::Merge,
            path: DataPath::parse_xpath(path).unwrap(),
            value: Some(value),
        }
    }

    const BLUE: &str = "/netloom-host:networks/network[name='blue']";

    #[test]
    fn same_leaf_conflicts_other_leaves_do_not() {
        let s = Schema::new().unwrap();
        let mut base = UnitMap::new();
        s.apply_edits(
            &mut base,
            vec![merge(BLUE, json!({"name": "blue", "type": "bridge"}))],
        )
        .unwrap();
        let mut running = base.clone();
        s.apply_edits(
            &mut running,
            vec![merge(&format!("{BLUE}/mtu"), json!(9000))],
        )
        .unwrap();

        // Another leaf of the same network: no conflict.
        let mut result = running.clone();
        s.apply_edits(
            &mut result,
            vec![merge(&format!("{BLUE}/description"), json!("mine"))],
        )
        .unwrap();
        assert!(leaf_conflicts(&s, &base, &running, &result).is_empty());

        // The same leaf, another value: the leaf, theirs and yours.
        let mut result = running.clone();
        s.apply_edits(
            &mut result,
            vec![merge(&format!("{BLUE}/mtu"), json!(1400))],
        )
        .unwrap();
        let c = leaf_conflicts(&s, &base, &running, &result);
        assert_eq!(
            c,
            vec![Conflict {
                path: format!("{BLUE}/mtu"),
                theirs: Some("9000".into()),
                yours: Some("1400".into()),
            }]
        );
        assert!(c[0].to_string().contains("(theirs 9000, yours 1400)"));

        // The same value on both sides is agreement, not conflict.
        let mut result = running.clone();
        s.apply_edits(
            &mut result,
            vec![merge(&format!("{BLUE}/mtu"), json!(9000))],
        )
        .unwrap();
        assert!(leaf_conflicts(&s, &base, &running, &result).is_empty());

        // Deleting the entry would undo their leaf: a conflict.
        let mut result = running.clone();
        s.apply_edits(
            &mut result,
            vec![Edit {
                op: EditOp::Remove,
                path: DataPath::parse_xpath(BLUE).unwrap(),
                value: None,
            }],
        )
        .unwrap();
        let c = leaf_conflicts(&s, &base, &running, &result);
        assert!(
            c.iter()
                .any(|c| c.path.ends_with("/mtu") && c.yours.is_none()),
            "{c:?}"
        );
    }

    #[test]
    fn list_entries_and_leaf_list_values_are_leaves_of_their_own() {
        let s = Schema::new().unwrap();
        let mut units = UnitMap::new();
        s.apply_edits(
            &mut units,
            vec![merge(
                BLUE,
                json!({"name": "blue", "type": "vxlan",
                       "vxlan": {"vni": 7, "remote": ["10.0.0.2", "10.0.0.3"]},
                       "ipam": {"pool": [{"name": "v4", "subnet": "10.1.0.0/24"}]}}),
            )],
        )
        .unwrap();
        let (key, text) = units.iter().next().unwrap();
        let l = leaves(&s, key, Some(text));
        assert_eq!(l[&format!("{BLUE}/vxlan/vni")], "7");
        assert!(l.contains_key(&format!("{BLUE}/vxlan/remote[.='10.0.0.3']")));
        assert_eq!(
            l[&format!("{BLUE}/ipam/pool[name='v4']/subnet")],
            "10.1.0.0/24"
        );
    }
}
