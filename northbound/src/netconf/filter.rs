//! Subtree filtering (RFC 6241 section 6) applied to an RFC 7951 document: namespace
//! selection, containment, selection and content-match nodes. List entries that survive a
//! partial selection keep their keys, so the output still names the entries it shows.

use netloom_yang::{NodeId, NodeKind, Schema};
use serde_json::{Map, Value};

use super::data::{module_of, scalar};
use super::xml::Element;

/// The parts of `doc` the subtree filter `filter` (the `<filter>` element) selects.
pub fn subtree(schema: &Schema, doc: &Value, filter: &Element) -> Value {
    let mut out = Map::new();
    let Some(doc) = doc.as_object() else {
        return Value::Object(out);
    };
    for f in &filter.children {
        let Some(module) = module_of(schema, &f.ns) else {
            continue;
        };
        let Some(node) = schema.root(&module, &f.name) else {
            continue;
        };
        let member = schema.member_name(node);
        let Some(value) = doc.get(&member) else {
            continue;
        };
        if let Some(v) = select(schema, node, value, f) {
            merge_into(&mut out, member, v);
        }
    }
    Value::Object(out)
}

/// Two filter elements may select parts of the same node: combine them.
fn merge_into(out: &mut Map<String, Value>, member: String, v: Value) {
    match (out.get_mut(&member), v) {
        (Some(Value::Object(a)), Value::Object(b)) => {
            for (k, v) in b {
                merge_into(a, k, v);
            }
        }
        (_, v) => {
            out.insert(member, v);
        }
    }
}

/// Select from the instance(s) `value` of `node` with filter element `f`.
fn select(schema: &Schema, node: NodeId, value: &Value, f: &Element) -> Option<Value> {
    let info = schema.node(node);
    let text = f.text();
    match info.kind {
        NodeKind::Leaf => {
            if text.is_empty() || scalar(value).as_deref() == Some(text) {
                Some(value.clone())
            } else {
                None
            }
        }
        NodeKind::LeafList => {
            let items = value.as_array()?;
            let kept: Vec<Value> = items
                .iter()
                .filter(|v| text.is_empty() || scalar(v).as_deref() == Some(text))
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        NodeKind::List => {
            let kept: Vec<Value> = value
                .as_array()?
                .iter()
                .filter_map(|entry| select_children(schema, node, entry, f, &info.keys))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        NodeKind::Container { .. } => select_children(schema, node, value, f, &[]),
    }
}

/// Apply the children of `f` to one container or list entry.
fn select_children(
    schema: &Schema,
    node: NodeId,
    value: &Value,
    f: &Element,
    keys: &[String],
) -> Option<Value> {
    let obj = value.as_object()?;
    if f.children.is_empty() {
        // A selection node: the whole instance.
        return Some(value.clone());
    }
    let mut matches = Vec::new();
    let mut others = Vec::new();
    for c in &f.children {
        let Some(child) =
            module_of(schema, &c.ns).and_then(|m| schema.child(node, Some(&m), &c.name))
        else {
            // An unknown node selects nothing; as a content match it can never be true.
            if !c.text().is_empty() {
                return None;
            }
            continue;
        };
        let is_match = c.children.is_empty()
            && !c.text().is_empty()
            && matches!(schema.node(child).kind, NodeKind::Leaf | NodeKind::LeafList);
        if is_match {
            matches.push((child, c));
        } else {
            others.push((child, c));
        }
    }
    let mut out = Map::new();
    for (child, c) in &matches {
        let member = schema.member_name(*child);
        let v = obj.get(&member)?;
        out.insert(member, select(schema, *child, v, c)?);
    }
    if others.is_empty() && !matches.is_empty() {
        // Only content-match nodes: the whole instance (RFC 6241 6.2.5).
        return Some(value.clone());
    }
    let mut selected_any = !matches.is_empty();
    for (child, c) in &others {
        let member = schema.member_name(*child);
        if let Some(v) = obj.get(&member).and_then(|v| select(schema, *child, v, c)) {
            merge_into(&mut out, member, v);
            selected_any = true;
        }
    }
    if !selected_any {
        return None;
    }
    for k in keys {
        if let Some(v) = obj.get(k) {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::xml::parse;
    use serde_json::json;

    const NL: &str = "urn:netloom:yang:netloom-host";

    fn doc() -> Value {
        json!({"netloom-host:networks": {"network": [
            {"name": "a", "type": "bridge", "mtu": 1400},
            {"name": "b", "type": "macvlan", "uplink": "eth0"}
        ]}})
    }

    fn run(filter: &str) -> Value {
        let s = Schema::new().unwrap();
        subtree(&s, &doc(), &parse(filter.as_bytes()).unwrap())
    }

    #[test]
    fn content_match_selects_an_entry() {
        let got = run(&format!(
            r#"<filter><networks xmlns="{NL}"><network><name>b</name></network></networks></filter>"#
        ));
        assert_eq!(
            got,
            json!({"netloom-host:networks": {"network": [
                {"name": "b", "type": "macvlan", "uplink": "eth0"}]}})
        );
    }

    #[test]
    fn selection_keeps_keys_and_drops_non_matching() {
        let got = run(&format!(
            r#"<filter><networks xmlns="{NL}"><network><mtu/></network></networks></filter>"#
        ));
        assert_eq!(
            got,
            json!({"netloom-host:networks": {"network": [{"mtu": 1400, "name": "a"}]}})
        );
        let none = run(r#"<filter><networks xmlns="urn:other"/></filter>"#);
        assert_eq!(none, json!({}));
        let all = run(&format!(r#"<filter><networks xmlns="{NL}"/></filter>"#));
        assert_eq!(all, doc());
    }
}
