//! A YANG-Patch body (RFC 8072 section 2) read from either encoding into one shape: the
//! patch id and its edits in order, each edit's value still in the encoding it came in
//! (it is typed later, against its target). XML is read namespace-aware (the NETCONF
//! reader), so prefixes declared anywhere above a value still resolve: the value is
//! written back self-contained before libyang reads it.

use serde_json::Value;

use super::encode::MediaType;
use super::error::Error;

pub const YANG_PATCH_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-yang-patch";

/// An edit's value, in the body's encoding.
#[derive(Debug, Clone)]
pub enum RawValue {
    /// `{"module:name": ...}`.
    Json(Value),
    /// The elements (several only for leaf-list or list entries), namespaces declared on
    /// each.
    Xml(Vec<String>),
}

#[derive(Debug, Clone, Default)]
pub struct RawEdit {
    pub id: String,
    pub operation: String,
    pub target: String,
    pub point: Option<String>,
    pub where_: Option<String>,
    pub value: Option<RawValue>,
}

#[derive(Debug, Clone, Default)]
pub struct RawPatch {
    pub id: String,
    pub edits: Vec<RawEdit>,
}

pub fn read(media: MediaType, body: &str) -> Result<RawPatch, Error> {
    match media {
        MediaType::PatchJson => read_json(body),
        MediaType::PatchXml => read_xml(body),
        other => Err(Error::UnsupportedMediaType(other.content_type().into())),
    }
}

fn string(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn read_json(body: &str) -> Result<RawPatch, Error> {
    let doc = super::data::parse_json(body)?;
    let patch = doc
        .get("ietf-yang-patch:yang-patch")
        .ok_or_else(|| Error::invalid(None, "the body is not an ietf-yang-patch:yang-patch"))?;
    let edits = patch
        .get("edit")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(None, "a yang-patch needs its edit list"))?;
    Ok(RawPatch {
        id: string(patch, "patch-id").unwrap_or_default(),
        edits: edits
            .iter()
            .map(|e| RawEdit {
                id: string(e, "edit-id").unwrap_or_default(),
                operation: string(e, "operation").unwrap_or_default(),
                target: string(e, "target").unwrap_or_default(),
                point: string(e, "point"),
                where_: string(e, "where"),
                value: e.get("value").cloned().map(RawValue::Json),
            })
            .collect(),
    })
}

fn read_xml(body: &str) -> Result<RawPatch, Error> {
    use crate::netconf::xml;
    let root = xml::parse(body.as_bytes()).map_err(|e| Error::Malformed(e.to_string()))?;
    if !root.is(YANG_PATCH_NS, "yang-patch") {
        return Err(Error::invalid(
            None,
            format!("the body is not a <yang-patch xmlns=\"{YANG_PATCH_NS}\">"),
        ));
    }
    let text = |e: &xml::Element, name: &str| {
        e.child(YANG_PATCH_NS, name)
            .map(|c| c.text().trim().to_owned())
    };
    let mut patch = RawPatch {
        id: text(&root, "patch-id").unwrap_or_default(),
        edits: Vec::new(),
    };
    for e in root.children.iter().filter(|c| c.is(YANG_PATCH_NS, "edit")) {
        let value = match e.child(YANG_PATCH_NS, "value") {
            None => None,
            Some(v) => {
                let first = v
                    .children
                    .first()
                    .ok_or_else(|| Error::invalid(None, "an edit's <value> holds no element"))?;
                if v.children
                    .iter()
                    .any(|c| c.ns != first.ns || c.name != first.name)
                {
                    return Err(Error::invalid(
                        None,
                        "an edit's <value> holds one node (several entries of one list at most)",
                    ));
                }
                Some(RawValue::Xml(
                    v.children.iter().map(|c| c.to_xml()).collect(),
                ))
            }
        };
        patch.edits.push(RawEdit {
            id: text(e, "edit-id").unwrap_or_default(),
            operation: text(e, "operation").unwrap_or_default(),
            target: text(e, "target").unwrap_or_default(),
            point: text(e, "point"),
            where_: text(e, "where"),
            value,
        });
    }
    if patch.edits.is_empty() {
        return Err(Error::invalid(None, "a yang-patch needs its edit list"));
    }
    Ok(patch)
}
