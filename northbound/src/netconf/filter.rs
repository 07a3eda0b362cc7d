//! Subtree filtering (RFC 6241 section 6) applied to an RFC 7951 document: namespace
//! selection, containment, selection and content-match nodes. List entries that survive a
//! partial selection keep their keys, so the output still names the entries it shows. The
//! walk follows libyang's schema, so netloom's tree and the protocol modules' state
//! (netconf-state, yang-library) filter alike.

use std::collections::HashMap;

use netloom_yang::Schema;
use serde_json::{Map, Value};
use yang3::schema::{SchemaNode, SchemaNodeKind};

use super::data::{module_of, scalar};
use super::xml::Element;

/// The data node `name` of `module` among `nodes`, looking through choices and cases.
fn find<'a>(
    nodes: impl Iterator<Item = SchemaNode<'a>>,
    module: &str,
    name: &str,
) -> Option<SchemaNode<'a>> {
    for n in nodes {
        match n.kind() {
            SchemaNodeKind::Choice | SchemaNodeKind::Case => {
                if let Some(found) = find(n.children(), module, name) {
                    return Some(found);
                }
            }
            _ if n.name() == name && n.module().name() == module => return Some(n),
            _ => {}
        }
    }
    None
}

/// The RFC 7951 member name of `node` under a parent of module `parent_module`.
fn member(node: &SchemaNode<'_>, parent_module: Option<&str>) -> String {
    let module = node.module();
    if parent_module == Some(module.name()) {
        node.name().to_owned()
    } else {
        format!("{}:{}", module.name(), node.name())
    }
}

/// The parts of `doc` the subtree filter `filter` (the `<filter>` element) selects.
pub fn subtree(schema: &Schema, doc: &Value, filter: &Element) -> Value {
    let mut out = Map::new();
    let Some(doc) = doc.as_object() else {
        return Value::Object(out);
    };
    let ctx = schema.context();
    for f in &filter.children {
        let Some(module) = module_of(schema, &f.ns) else {
            continue;
        };
        let Some(node) = ctx
            .get_module_implemented(&module)
            .and_then(|m| find(m.data(), &module, &f.name))
        else {
            continue;
        };
        let member = member(&node, None);
        let Some(value) = doc.get(&member) else {
            continue;
        };
        if let Some(v) = select(schema, &node, value, f) {
            merge_into(&node, &mut out, member, v);
        }
    }
    Value::Object(out)
}

/// Two filter elements may select parts of the same node (`node`, the schema node of
/// `member`): combine them. Entries of a list are matched by their keys (every selected entry
/// carries them), leaf-list values are united, containers merged member by member.
fn merge_into(node: &SchemaNode<'_>, out: &mut Map<String, Value>, member: String, v: Value) {
    match (out.get_mut(&member), v) {
        (Some(Value::Object(a)), Value::Object(b)) => merge_members(node, a, b),
        (Some(Value::Array(a)), Value::Array(b)) => merge_entries(node, a, b),
        (_, v) => {
            out.insert(member, v);
        }
    }
}

/// Merge the members of `b` into `a`, both instances of `node`.
fn merge_members(node: &SchemaNode<'_>, a: &mut Map<String, Value>, b: Map<String, Value>) {
    let module = node.module().name().to_owned();
    for (k, v) in b {
        let (m, name) = k.split_once(':').unwrap_or((module.as_str(), k.as_str()));
        match find(node.children(), m, name) {
            Some(child) => merge_into(&child, a, k, v),
            None => {
                a.insert(k, v);
            }
        }
    }
}

/// Merge the entries (list) or values (leaf-list) `b` of `node` into `a`.
fn merge_entries(node: &SchemaNode<'_>, a: &mut Vec<Value>, b: Vec<Value>) {
    let keys: Vec<String> = node.list_keys().map(|k| k.name().to_owned()).collect();
    if node.kind() != SchemaNodeKind::List || keys.is_empty() {
        // leaf-list values, or a keyless (state) list whose entries cannot be told apart
        for v in b {
            if !a.contains(&v) {
                a.push(v);
            }
        }
        return;
    }
    let key_of = |v: &Value| -> Option<String> {
        let o = v.as_object()?;
        let parts: Option<Vec<&Value>> = keys.iter().map(|k| o.get(k)).collect();
        serde_json::to_string(&parts?).ok()
    };
    let mut at: HashMap<String, usize> = a
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((key_of(v)?, i)))
        .collect();
    for v in b {
        let found = key_of(&v).and_then(|k| at.get(&k).copied());
        match (found.and_then(|i| a.get_mut(i)), v) {
            (Some(Value::Object(entry)), Value::Object(more)) => merge_members(node, entry, more),
            (_, v) => {
                if let Some(k) = key_of(&v) {
                    at.insert(k, a.len());
                }
                a.push(v);
            }
        }
    }
}

fn is_term(node: &SchemaNode<'_>) -> bool {
    matches!(node.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList)
}

/// Select from the instance(s) `value` of `node` with filter element `f`.
fn select(schema: &Schema, node: &SchemaNode<'_>, value: &Value, f: &Element) -> Option<Value> {
    let text = f.text();
    match node.kind() {
        SchemaNodeKind::Leaf => {
            if text.is_empty() || scalar(value).as_deref() == Some(text) {
                Some(value.clone())
            } else {
                None
            }
        }
        SchemaNodeKind::LeafList => {
            let items = value.as_array()?;
            let kept: Vec<Value> = items
                .iter()
                .filter(|v| text.is_empty() || scalar(v).as_deref() == Some(text))
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        SchemaNodeKind::List => {
            let keys: Vec<String> = node.list_keys().map(|k| k.name().to_owned()).collect();
            let kept: Vec<Value> = value
                .as_array()?
                .iter()
                .filter_map(|entry| select_children(schema, node, entry, f, &keys))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        SchemaNodeKind::Container => select_children(schema, node, value, f, &[]),
        // anydata/anyxml: all or nothing.
        _ => Some(value.clone()),
    }
}

/// Apply the children of `f` to one container or list entry.
fn select_children(
    schema: &Schema,
    node: &SchemaNode<'_>,
    value: &Value,
    f: &Element,
    keys: &[String],
) -> Option<Value> {
    let obj = value.as_object()?;
    if f.children.is_empty() {
        // A selection node: the whole instance.
        return Some(value.clone());
    }
    let parent_module = node.module().name().to_owned();
    let mut matches = Vec::new();
    let mut others = Vec::new();
    for c in &f.children {
        let Some(child) = module_of(schema, &c.ns).and_then(|m| find(node.children(), &m, &c.name))
        else {
            // An unknown node selects nothing; as a content match it can never be true.
            if !c.text().is_empty() {
                return None;
            }
            continue;
        };
        let is_match = c.children.is_empty() && !c.text().is_empty() && is_term(&child);
        if is_match {
            matches.push((child, c));
        } else {
            others.push((child, c));
        }
    }
    let mut out = Map::new();
    for (child, c) in &matches {
        let member = member(child, Some(&parent_module));
        let v = obj.get(&member)?;
        out.insert(member, select(schema, child, v, c)?);
    }
    if others.is_empty() && !matches.is_empty() {
        // Only content-match nodes: the whole instance (RFC 6241 6.2.5).
        return Some(value.clone());
    }
    let mut selected_any = !matches.is_empty();
    for (child, c) in &others {
        let member = member(child, Some(&parent_module));
        if let Some(v) = obj.get(&member).and_then(|v| select(schema, child, v, c)) {
            merge_into(child, &mut out, member, v);
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

    #[test]
    fn two_elements_selecting_the_same_list_are_combined() {
        // two content matches on one list: both entries, not only the second's
        let got = run(&format!(
            r#"<filter><networks xmlns="{NL}"><network><name>a</name></network><network><name>b</name></network></networks></filter>"#
        ));
        assert_eq!(got, doc());
        // two selections of the same entry: one entry with both parts
        let got = run(&format!(
            r#"<filter><networks xmlns="{NL}"><network><name>a</name><mtu/></network><network><name>a</name><type/></network></networks></filter>"#
        ));
        assert_eq!(
            got,
            json!({"netloom-host:networks": {"network": [
                {"name": "a", "mtu": 1400, "type": "bridge"}]}})
        );
        // the same list named by two top-level filter elements
        let got = run(&format!(
            r#"<filter><networks xmlns="{NL}"><network><name>b</name></network></networks><networks xmlns="{NL}"><network><name>a</name><mtu/></network></networks></filter>"#
        ));
        assert_eq!(
            got,
            json!({"netloom-host:networks": {"network": [
                {"name": "b", "type": "macvlan", "uplink": "eth0"},
                {"name": "a", "mtu": 1400}]}})
        );
    }
}
