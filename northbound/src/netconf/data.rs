//! Configuration data between NETCONF XML and the unit model's RFC 7951 JSON: the `<config>`
//! of edit-config becomes a list of [`Edit`]s (one per element carrying an `operation`
//! attribute, plus the default operation's), and datastore content becomes `<data>`. Values go
//! through libyang's XML<->JSON conversion so types, canonical forms and namespaces are
//! libyang's; the walk here only decides where each edit applies.

use netloom_yang::{
    DataPath, Edit, EditBatch, EditOp, Encoding, NodeId, NodeKind, Schema, Segment,
};
use serde_json::{Map, Value};

use super::errors::RpcError;
use super::xml::{Element, NS_BASE};

/// The YANG module (by name) that defines namespace `ns`.
pub fn module_of(schema: &Schema, ns: &str) -> Option<String> {
    schema
        .context()
        .get_module_latest_ns(ns)
        .map(|m| m.name().to_owned())
}

/// The schema node of an element under `parent` (None: a top-level node).
pub fn node_of(schema: &Schema, parent: Option<NodeId>, el: &Element) -> Result<NodeId, RpcError> {
    let Some(module) = module_of(schema, &el.ns) else {
        return Err(RpcError::unknown_namespace(&el.name, &el.ns));
    };
    let found = match parent {
        None => schema.root(&module, &el.name),
        Some(p) => schema.child(p, Some(&module), &el.name),
    };
    found.ok_or_else(|| {
        let mut e = RpcError::unknown_element(
            &el.name,
            format!("<{}> is not a data node of {module} here", el.name),
        );
        e.layer = super::errors::Layer::Application;
        e
    })
}

pub fn parse_op(text: &str, element: &str) -> Result<EditOp, RpcError> {
    Ok(match text {
        "merge" => EditOp::Merge,
        "replace" => EditOp::Replace,
        "create" => EditOp::Create,
        "delete" => EditOp::Delete,
        "remove" => EditOp::Remove,
        other => {
            return Err(RpcError::bad_attribute(
                "operation",
                element,
                format!("'{other}' is not an edit operation"),
            ))
        }
    })
}

fn own_op(el: &Element) -> Result<Option<EditOp>, RpcError> {
    el.attr(NS_BASE, "operation")
        .map(|t| parse_op(t, &el.name))
        .transpose()
}

/// One step of the walk: an element, its schema node, and its ancestors' elements.
#[derive(Clone, Copy)]
struct Step<'a> {
    el: &'a Element,
    node: NodeId,
}

struct Walk<'a> {
    schema: &'a Schema,
    /// Prefix declarations in scope at `<config>` (for identityref values).
    prefixes: Vec<(String, String)>,
    edits: Vec<Edit>,
}

/// Turn `<config>`'s children into edits. `default_op` None is "none". `helper`: a second
/// context of the schema, for reading a large list on two threads.
pub fn edits_from_config(
    schema: &Schema,
    helper: Option<&Schema>,
    config: &Element,
    scope: Vec<(String, String)>,
    default_op: Option<EditOp>,
) -> Result<EditBatch, RpcError> {
    if let Some(batch) = super::fast_edit::edits(schema, helper, config, default_op) {
        return Ok(batch);
    }
    general_edits(schema, config, scope, default_op).map(EditBatch::from)
}

/// [`edits_from_config`] through libyang's XML parser, for any input.
pub(super) fn general_edits(
    schema: &Schema,
    config: &Element,
    scope: Vec<(String, String)>,
    default_op: Option<EditOp>,
) -> Result<Vec<Edit>, RpcError> {
    for el in &config.children {
        check_names(schema, None, el)?;
    }
    let mut walk = Walk {
        schema,
        prefixes: scope,
        edits: Vec::new(),
    };
    if default_op == Some(EditOp::Replace) {
        // "replace" as the default operation replaces the whole datastore (RFC 6241 7.2).
        let mut value = Map::new();
        for el in &config.children {
            let node = node_of(schema, None, el)?;
            let chain = [Step { el, node }];
            if let Some(v) = walk.value(&chain)? {
                value.insert(schema.member_name(node), v);
            }
        }
        walk.edits.push(Edit {
            op: EditOp::Replace,
            path: DataPath::root(),
            value: Some(Value::Object(value)),
        });
        for el in &config.children {
            let node = node_of(schema, None, el)?;
            walk.children(&[Step { el, node }])?;
        }
        return Ok(walk.edits);
    }
    for el in &config.children {
        let node = node_of(schema, None, el)?;
        walk.element(&[Step { el, node }], default_op)?;
    }
    Ok(walk.edits)
}

impl Walk<'_> {
    /// Emit the edit of the last step of `chain` if it has an operation, then its
    /// descendants' edits.
    fn element(&mut self, chain: &[Step<'_>], inherited: Option<EditOp>) -> Result<(), RpcError> {
        let Some(last) = chain.last() else {
            return Ok(());
        };
        let own = own_op(last.el)?;
        let op = own.or(inherited);
        match op {
            Some(op) if own.is_some() || chain.len() == 1 => {
                let value = if matches!(op, EditOp::Delete | EditOp::Remove) {
                    None
                } else {
                    Some(self.value(chain)?.unwrap_or(Value::Object(Map::new())))
                };
                let path = self.path(chain, value.as_ref())?;
                self.edits.push(Edit { op, path, value });
                if matches!(op, EditOp::Delete | EditOp::Remove) {
                    return Ok(());
                }
            }
            _ => {}
        }
        self.children(chain)
    }

    /// Walk the children of the last step for nested operations (and unknown elements).
    fn children(&mut self, chain: &[Step<'_>]) -> Result<(), RpcError> {
        let Some(last) = chain.last() else {
            return Ok(());
        };
        if matches!(
            self.schema.node(last.node).kind,
            NodeKind::Leaf | NodeKind::LeafList
        ) {
            return Ok(());
        }
        for child in &last.el.children {
            let node = node_of(self.schema, Some(last.node), child)?;
            let mut next = chain.to_vec();
            next.push(Step { el: child, node });
            // Descendants without their own operation are part of this edit's value already.
            self.element(&next, None)?;
        }
        Ok(())
    }

    /// The instance path of the last step; list keys from the converted value when there
    /// is one (canonical), else from the key elements.
    fn path(&self, chain: &[Step<'_>], value: Option<&Value>) -> Result<DataPath, RpcError> {
        let mut segments = Vec::new();
        let mut parent_module: Option<&str> = None;
        for (i, step) in chain.iter().enumerate() {
            let info = self.schema.node(step.node);
            let module = (parent_module != Some(info.module.as_str())).then(|| info.module.clone());
            parent_module = Some(&info.module);
            let mut seg = Segment {
                module,
                name: info.name.clone(),
                keys: Vec::new(),
                value: None,
                node: None,
            };
            let is_last = i + 1 == chain.len();
            match info.kind {
                NodeKind::List => {
                    for key in &info.keys {
                        let from_value = value
                            .filter(|_| is_last)
                            .and_then(|v| v.get(key))
                            .and_then(scalar);
                        let text = match from_value {
                            Some(t) => t,
                            None => step
                                .el
                                .children
                                .iter()
                                .find(|c| *c.name == **key)
                                .map(|c| c.text().to_owned())
                                .ok_or_else(|| RpcError::missing_element(key))?,
                        };
                        seg.keys.push((key.clone(), text));
                    }
                }
                NodeKind::LeafList if is_last => {
                    seg.value = Some(match value.and_then(scalar) {
                        Some(v) => v,
                        None => step.el.text().to_owned(),
                    });
                }
                _ => {}
            }
            segments.push(seg);
        }
        Ok(DataPath { segments })
    }

    /// The RFC 7951 value of the last step, without descendants that carry their own
    /// operation; None for an empty non-presence container.
    fn value(&self, chain: &[Step<'_>]) -> Result<Option<Value>, RpcError> {
        let Some((last, ancestors)) = chain.split_last() else {
            return Ok(None);
        };
        let mut doc = prune(last.el);
        for step in ancestors.iter().rev() {
            let info = self.schema.node(step.node);
            let mut wrap = Element::new(&step.el.ns, &step.el.name);
            wrap.prefixes = step.el.prefixes.clone();
            for c in &step.el.children {
                if info.keys.iter().any(|k| **k == *c.name) && c.ns == step.el.ns {
                    wrap.children
                        .push(Element::new(&c.ns, &c.name).with_text(c.text.clone()));
                }
            }
            wrap.children.push(doc);
            doc = wrap;
        }
        doc.prefixes.extend(self.prefixes.iter().cloned());
        let json = self
            .schema
            .convert(&doc.to_xml(), Encoding::Xml, Encoding::Json)
            .map_err(|e| {
                RpcError::from(crate::api::ApiError {
                    tag: e.tag(),
                    path: e.error_path().map(str::to_owned),
                    message: e.to_string(),
                    app_tag: None,
                })
            })?;
        let mut v: Value = serde_json::from_str(&json)
            .map_err(|e| RpcError::failed(format!("converted data is not JSON: {e}")))?;
        for (i, step) in chain.iter().enumerate() {
            let member = self.schema.member_name(step.node);
            let Some(next) = v.get_mut(&member).map(Value::take) else {
                return Ok(None);
            };
            v = next;
            let kind = self.schema.node(step.node).kind;
            let is_last = i + 1 == chain.len();
            if kind == NodeKind::List || (kind == NodeKind::LeafList && is_last) {
                // One instance was written, so the array holds exactly it.
                v = match v {
                    Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                    other => other,
                };
            }
        }
        Ok(Some(v))
    }
}

/// Every element names a data node (checked before libyang sees the data, so the error
/// names the offending element rather than its top-level ancestor).
fn check_names(schema: &Schema, parent: Option<NodeId>, el: &Element) -> Result<(), RpcError> {
    let node = node_of(schema, parent, el)?;
    if matches!(schema.node(node).kind, NodeKind::Leaf | NodeKind::LeafList) {
        return Ok(());
    }
    for c in &el.children {
        check_names(schema, Some(node), c)?;
    }
    Ok(())
}

/// An element without attributes and without descendants that carry their own operation.
fn prune(el: &Element) -> Element {
    Element {
        ns: el.ns.clone(),
        name: el.name.clone(),
        attrs: Vec::new(),
        prefixes: el.prefixes.clone(),
        children: el
            .children
            .iter()
            .filter(|c| c.attr(NS_BASE, "operation").is_none())
            .map(prune)
            .collect(),
        text: el.text.clone(),
    }
}

/// A JSON scalar as its text form.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(a) if a.len() == 1 && a[0].is_null() => Some(String::new()),
        _ => None,
    }
}

/// An RFC 7951 document as the XML content of `<data>` (or `<config>`).
pub fn to_xml(schema: &Schema, doc: &Value) -> Result<String, RpcError> {
    if doc.as_object().is_none_or(Map::is_empty) {
        return Ok(String::new());
    }
    schema
        .convert(&doc.to_string(), Encoding::Json, Encoding::Xml)
        .map_err(|e| RpcError::failed(format!("encoding data as XML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::xml::parse;

    fn edits(xml: &str, default_op: Option<EditOp>) -> Result<Vec<Edit>, RpcError> {
        let s = Schema::new().unwrap();
        let config = parse(xml.as_bytes()).unwrap();
        general_edits(&s, &config, Vec::new(), default_op)
    }

    const NL: &str = "urn:netloom:yang:netloom-host";

    #[test]
    fn merge_at_top_and_nested_delete() {
        let xml = format!(
            r#"<config xmlns:nc="{NS_BASE}"><networks xmlns="{NL}"><network><name>a</name><type>bridge</type><mtu>1400</mtu></network><network nc:operation="delete"><name>b</name></network></networks></config>"#
        );
        let e = edits(&xml, Some(EditOp::Merge)).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].op, EditOp::Merge);
        assert_eq!(e[0].path.to_xpath().unwrap(), "/netloom-host:networks");
        let v = e[0].value.as_ref().unwrap();
        assert_eq!(v["network"].as_array().unwrap().len(), 1);
        assert_eq!(v["network"][0]["mtu"], 1400);
        assert_eq!(e[1].op, EditOp::Delete);
        assert_eq!(
            e[1].path.to_xpath().unwrap(),
            "/netloom-host:networks/network[name='b']"
        );
        assert!(e[1].value.is_none());
    }

    #[test]
    fn none_default_only_emits_marked_nodes() {
        let xml = format!(
            r#"<config xmlns:nc="{NS_BASE}"><networks xmlns="{NL}"><network><name>a</name><mtu nc:operation="replace">1300</mtu></network></networks></config>"#
        );
        let e = edits(&xml, None).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].path.to_xpath().unwrap(),
            "/netloom-host:networks/network[name='a']/mtu"
        );
        assert_eq!(e[0].value, Some(Value::from(1300)));
    }

    #[test]
    fn unknown_elements_and_namespaces_are_errors() {
        let e = edits(
            r#"<config><bogus xmlns="urn:nowhere"/></config>"#,
            Some(EditOp::Merge),
        )
        .unwrap_err();
        assert_eq!(e.tag, "unknown-namespace");
        let xml = format!(r#"<config><networks xmlns="{NL}"><bogus/></networks></config>"#);
        let e = edits(&xml, Some(EditOp::Merge)).unwrap_err();
        assert_eq!(e.tag, "unknown-element");
        let xml = format!(
            r#"<config xmlns:nc="{NS_BASE}"><networks xmlns="{NL}" nc:operation="zap"/></config>"#
        );
        assert_eq!(edits(&xml, None).unwrap_err().tag, "bad-attribute");
    }
}
