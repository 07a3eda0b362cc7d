//! Rendering data: aligned tables for the operational `show` commands, the brace hierarchy
//! for configuration, `display set` lines, RFC 7951 JSON and XML; and `compare`'s diff.

use netloom_yang::{DataPath, Encoding, NodeId, NodeKind, Schema};
use serde_json::{Map, Value};

use crate::command::{quote, Display, Step};

/// Rows under headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// A scalar (or list of scalars) as a table cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            if items.is_empty() {
                "-".into()
            } else {
                items.iter().map(cell).collect::<Vec<_>>().join(",")
            }
        }
        other => other.to_string(),
    }
}

/// The node a member name names under `parent` (the roots when none).
fn member_node(schema: &Schema, parent: Option<NodeId>, member: &str) -> Option<NodeId> {
    match parent {
        Some(p) => schema.child_by_member(p, member),
        None => {
            let (m, n) = member.split_once(':')?;
            schema.root(m, n)
        }
    }
}

/// `doc` cut down to the branch `steps` names (None when it is absent).
pub fn prune(schema: &Schema, doc: &Value, steps: &[Step]) -> Option<Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(doc.clone());
    };
    let member = schema.member_name(step.node);
    let inner = doc.get(&member)?;
    let info = schema.node(step.node);
    let pruned = match info.kind {
        NodeKind::List if !step.keys.is_empty() => {
            let entry = inner.as_array()?.iter().find(|e| {
                info.keys
                    .iter()
                    .zip(&step.keys)
                    .all(|(k, v)| e.get(k).map(cell).as_deref() == Some(v.as_str()))
            })?;
            let mut kept = if rest.is_empty() {
                entry.clone()
            } else {
                let mut only = prune(schema, entry, rest)?;
                if let (Some(obj), Some(e)) = (only.as_object_mut(), entry.as_object()) {
                    for k in &info.keys {
                        if let Some(v) = e.get(k) {
                            obj.insert(k.clone(), v.clone());
                        }
                    }
                }
                only
            };
            if let Some(obj) = kept.as_object_mut() {
                // Keys first, as RFC 7951 writers put them.
                let mut ordered = Map::new();
                for k in &info.keys {
                    if let Some(v) = obj.remove(k) {
                        ordered.insert(k.clone(), v);
                    }
                }
                ordered.extend(std::mem::take(obj));
                *obj = ordered;
            }
            Value::Array(vec![kept])
        }
        _ if rest.is_empty() => inner.clone(),
        _ => prune(schema, inner, rest)?,
    };
    let mut out = Map::new();
    out.insert(member, pruned);
    Some(Value::Object(out))
}

/// The value at the end of `steps` in `doc` (a list entry for a keyed list step).
pub fn at<'d>(schema: &Schema, doc: &'d Value, steps: &[Step]) -> Option<&'d Value> {
    let mut cur = doc;
    for step in steps {
        cur = cur.get(schema.member_name(step.node))?;
        let info = schema.node(step.node);
        if info.kind == NodeKind::List && !step.keys.is_empty() {
            cur = cur.as_array()?.iter().find(|e| {
                info.keys
                    .iter()
                    .zip(&step.keys)
                    .all(|(k, v)| e.get(k).map(cell).as_deref() == Some(v.as_str()))
            })?;
        }
    }
    Some(cur)
}

/// `set` commands that build `doc` (absolute paths, one leaf or leaf-list value a line).
pub fn set_lines(schema: &Schema, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    set_lines_in(schema, None, doc, "set", &mut out);
    out
}

fn set_lines_in(
    schema: &Schema,
    parent: Option<NodeId>,
    v: &Value,
    prefix: &str,
    out: &mut Vec<String>,
) {
    let Some(obj) = v.as_object() else { return };
    for (member, value) in obj {
        let Some(node) = member_node(schema, parent, member) else {
            continue;
        };
        let info = schema.node(node);
        if parent.is_some_and(|p| schema.node(p).keys.contains(&info.name)) {
            continue;
        }
        let here = format!("{prefix} {}", info.name);
        match info.kind {
            NodeKind::Container { .. } => {
                let before = out.len();
                set_lines_in(schema, Some(node), value, &here, out);
                if out.len() == before {
                    out.push(here);
                }
            }
            NodeKind::List => {
                for entry in value.as_array().into_iter().flatten() {
                    let mut line = here.clone();
                    for k in &info.keys {
                        line.push(' ');
                        line.push_str(&quote(&entry.get(k).map(cell).unwrap_or_default()));
                    }
                    let before = out.len();
                    set_lines_in(schema, Some(node), entry, &line, out);
                    if out.len() == before {
                        out.push(line);
                    }
                }
            }
            NodeKind::Leaf => out.push(format!("{here} {}", quote(&scalar(value)))),
            NodeKind::LeafList => {
                for item in value.as_array().into_iter().flatten() {
                    out.push(format!("{here} {}", quote(&scalar(item))));
                }
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.len() == 1 && a[0].is_null() => String::new(),
        other => other.to_string(),
    }
}

/// The brace hierarchy of `v`, the children of node `parent` (the roots when none).
pub fn braces(schema: &Schema, parent: Option<NodeId>, v: &Value) -> String {
    let mut out = String::new();
    braces_in(schema, parent, v, 0, &mut out);
    out
}

fn braces_in(schema: &Schema, parent: Option<NodeId>, v: &Value, depth: usize, out: &mut String) {
    let Some(obj) = v.as_object() else {
        out.push_str(&format!("{}{};\n", "    ".repeat(depth), quote(&scalar(v))));
        return;
    };
    let pad = "    ".repeat(depth);
    for (member, value) in obj {
        let Some(node) = member_node(schema, parent, member) else {
            continue;
        };
        let info = schema.node(node);
        if parent.is_some_and(|p| schema.node(p).keys.contains(&info.name)) {
            continue;
        }
        match info.kind {
            NodeKind::Container { .. } => {
                out.push_str(&format!("{pad}{} {{\n", info.name));
                braces_in(schema, Some(node), value, depth + 1, out);
                out.push_str(&format!("{pad}}}\n"));
            }
            NodeKind::List => {
                for entry in value.as_array().into_iter().flatten() {
                    let keys: Vec<String> = info
                        .keys
                        .iter()
                        .map(|k| quote(&entry.get(k).map(cell).unwrap_or_default()))
                        .collect();
                    out.push_str(&format!("{pad}{} {} {{\n", info.name, keys.join(" ")));
                    braces_in(schema, Some(node), entry, depth + 1, out);
                    out.push_str(&format!("{pad}}}\n"));
                }
            }
            NodeKind::Leaf => {
                out.push_str(&format!("{pad}{} {};\n", info.name, quote(&scalar(value))))
            }
            NodeKind::LeafList => {
                let items: Vec<String> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| quote(&scalar(i)))
                    .collect();
                out.push_str(&format!("{pad}{} [ {} ];\n", info.name, items.join(" ")));
            }
        }
    }
}

/// Render a document in a non-default display.
pub fn render(schema: &Schema, doc: &Value, display: Display) -> String {
    match display {
        Display::Json | Display::Default => {
            let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
            s.push('\n');
            s
        }
        Display::Xml => match schema.convert(&doc.to_string(), Encoding::Json, Encoding::Xml) {
            Ok(x) if x.is_empty() => String::new(),
            Ok(x) => pretty_xml(&x),
            Err(e) => format!("error: {e}\n"),
        },
        Display::Set => {
            let mut s = set_lines(schema, doc).join("\n");
            if !s.is_empty() {
                s.push('\n');
            }
            s
        }
    }
}

/// libyang's shrunk XML, one element a line.
fn pretty_xml(x: &str) -> String {
    let mut out = String::new();
    let mut depth: usize = 0;
    let mut rest = x;
    while let Some(lt) = rest.find('<') {
        let text = rest[..lt].trim();
        let gt = rest[lt..].find('>').map_or(rest.len(), |g| lt + g + 1);
        let tag = &rest[lt..gt];
        if tag.starts_with("</") {
            depth = depth.saturating_sub(1);
            if !text.is_empty() {
                out.push_str(text);
                out.push_str(tag);
                out.push('\n');
            } else {
                out.push_str(&format!("{}{tag}\n", "  ".repeat(depth)));
            }
        } else {
            if out.ends_with('>') {
                out.push('\n');
            }
            out.push_str(&format!("{}{tag}", "  ".repeat(depth)));
            if tag.ends_with("/>") {
                out.push('\n');
            } else {
                depth += 1;
            }
        }
        rest = &rest[gt..];
    }
    out
}

/// `compare`: each changed unit's `set` lines, removed ones with `-`, added with `+`.
pub fn diff(schema: &Schema, changes: &[Value]) -> String {
    let mut out = String::new();
    for c in changes {
        let path = c["path"].as_str().unwrap_or_default();
        let lines = |text: &Value| -> Vec<String> {
            text.as_str()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|unit| wrap_unit(path, unit))
                .map(|doc| set_lines(schema, &doc))
                .unwrap_or_default()
        };
        let (old, new) = (lines(&c["old"]), lines(&c["new"]));
        for l in old.iter().filter(|l| !new.contains(l)) {
            out.push_str(&format!("- {l}\n"));
        }
        for l in new.iter().filter(|l| !old.contains(l)) {
            out.push_str(&format!("+ {l}\n"));
        }
    }
    out
}

/// A unit's JSON (a top-level list entry, or a root container's remainder) as a document.
fn wrap_unit(path: &str, unit: Value) -> Option<Value> {
    let p = DataPath::parse_xpath(path).ok()?;
    let root = p.segments.first()?;
    let root_member = format!("{}:{}", root.module.as_deref()?, root.name);
    let inner = match p.segments.get(1) {
        Some(list) => {
            let mut m = Map::new();
            m.insert(list.name.clone(), Value::Array(vec![unit]));
            Value::Object(m)
        }
        None => unit,
    };
    let mut doc = Map::new();
    doc.insert(root_member, inner);
    Some(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn set_lines_braces_and_tables() {
        let s = Schema::new().unwrap();
        let doc = json!({"netloom-host:networks": {"network": [
            {"name": "blue", "type": "vxlan", "description": "two words",
             "vxlan": {"vni": 10, "remote": ["10.0.0.1", "10.0.0.2"]}}]}});
        assert_eq!(
            set_lines(&s, &doc),
            [
                "set networks network blue type vxlan",
                "set networks network blue description \"two words\"",
                "set networks network blue vxlan vni 10",
                "set networks network blue vxlan remote 10.0.0.1",
                "set networks network blue vxlan remote 10.0.0.2",
            ]
        );
        let b = braces(&s, None, &doc);
        assert!(b.contains("network blue {\n        type vxlan;"), "{b}");
        assert!(b.contains("remote [ 10.0.0.1 10.0.0.2 ];"), "{b}");
        let t = table(&["NAME", "TYPE"], &[vec!["blue".into(), "vxlan".into()]]);
        assert_eq!(t, "NAME  TYPE\nblue  vxlan\n");
        let x = render(&s, &doc, Display::Xml);
        assert!(x.contains("<name>blue</name>"), "{x}");
        let d = diff(
            &s,
            &[
                json!({"path": "/netloom-host:networks/network[name='blue']",
                     "old": "{\"name\":\"blue\",\"type\":\"bridge\",\"mtu\":1500}",
                     "new": "{\"name\":\"blue\",\"type\":\"bridge\",\"mtu\":9000}"}),
            ],
        );
        assert_eq!(
            d,
            "- set networks network blue mtu 1500\n+ set networks network blue mtu 9000\n"
        );
    }
}
