//! Encodings: media type negotiation (`Accept` -> 406, `Content-Type` -> 415), the JSON
//! (RFC 7951) to XML (RFC 7950) writer used for every XML answer (it only needs the
//! namespace of each module, so it serves synthesized resources too), and XML request bodies
//! read through libyang after wrapping them in their ancestors.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap};
use netloom_yang::{DataPath, Encoding, NodeKind, Schema};
use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::error::Error;

/// What a body is (or is to be) written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    Xml,
    PatchJson,
    PatchXml,
}

pub const JSON: &str = "application/yang-data+json";
pub const XML: &str = "application/yang-data+xml";
pub const PATCH_JSON: &str = "application/yang-patch+json";
pub const PATCH_XML: &str = "application/yang-patch+xml";

impl MediaType {
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => JSON,
            MediaType::Xml => XML,
            MediaType::PatchJson => PATCH_JSON,
            MediaType::PatchXml => PATCH_XML,
        }
    }

    pub fn is_xml(self) -> bool {
        matches!(self, MediaType::Xml | MediaType::PatchXml)
    }

    pub fn data(self) -> Encoding {
        if self.is_xml() {
            Encoding::Xml
        } else {
            Encoding::Json
        }
    }
}

fn essence(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The answer's media type from `Accept` (JSON when absent or anything goes).
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, Error> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(MediaType::Json);
    };
    let accept = accept.to_str().unwrap_or("");
    let mut ranges: Vec<(f32, usize, String)> = Vec::new();
    for (i, part) in accept.split(',').enumerate() {
        let q = part
            .split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 {
            ranges.push((q, i, essence(part)));
        }
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, r) in &ranges {
        match r.as_str() {
            JSON | "application/json" | "application/*" | "*/*" | "" => return Ok(MediaType::Json),
            XML | "application/xml" | "text/xml" => return Ok(MediaType::Xml),
            // SSE clients and browsers fetching a stream ask for this; the stream route
            // answers it, elsewhere JSON errors are the best we can do.
            "text/event-stream" => return Ok(MediaType::Json),
            _ => {}
        }
    }
    Err(Error::NotAcceptable(accept.to_owned()))
}

/// The request body's media type from `Content-Type`.
pub fn content_type(headers: &HeaderMap) -> Result<MediaType, Error> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
        .ok_or_else(|| Error::UnsupportedMediaType("no Content-Type".into()))?;
    match ct.as_str() {
        JSON | "application/json" => Ok(MediaType::Json),
        XML | "application/xml" | "text/xml" => Ok(MediaType::Xml),
        PATCH_JSON => Ok(MediaType::PatchJson),
        PATCH_XML => Ok(MediaType::PatchXml),
        _ => Err(Error::UnsupportedMediaType(ct)),
    }
}

pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Module name -> XML namespace, for the modules netloom serves.
pub fn namespace_of(schema: &Schema, module: &str) -> Option<String> {
    const IETF: &[(&str, &str)] = &[
        ("ietf-restconf", "urn:ietf:params:xml:ns:yang:ietf-restconf"),
        (
            "ietf-restconf-monitoring",
            "urn:ietf:params:xml:ns:yang:ietf-restconf-monitoring",
        ),
        (
            "ietf-yang-library",
            "urn:ietf:params:xml:ns:yang:ietf-yang-library",
        ),
        (
            "ietf-datastores",
            "urn:ietf:params:xml:ns:yang:ietf-datastores",
        ),
        (
            "nc-notifications",
            "urn:ietf:params:xml:ns:netmod:notification",
        ),
        (
            "ietf-yang-patch",
            "urn:ietf:params:xml:ns:yang:ietf-yang-patch",
        ),
        (
            "ietf-netconf-notifications",
            "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications",
        ),
    ];
    if let Some((_, ns)) = IETF.iter().find(|(m, _)| *m == module) {
        return Some((*ns).to_owned());
    }
    schema
        .context()
        .get_module_latest(module)
        .map(|m| m.namespace().to_owned())
}

/// Writes RFC 7951 JSON as XML elements; a member's module (its `module:` prefix, else its
/// parent's) gives the element's namespace.
pub struct XmlWriter<'s> {
    schema: &'s Schema,
}

impl<'s> XmlWriter<'s> {
    pub fn new(schema: &'s Schema) -> Self {
        XmlWriter { schema }
    }

    /// Write `member: value` (`member` possibly module-qualified) under a parent of
    /// `parent_module`.
    pub fn member(
        &self,
        out: &mut String,
        member: &str,
        value: &Value,
        parent_module: Option<&str>,
    ) {
        if member.starts_with('@') {
            return; // metadata annotations have no element form here
        }
        let (module, name) = match member.split_once(':') {
            Some((m, n)) => (Some(m), n),
            None => (parent_module, member),
        };
        let ns_attr = match (module, parent_module) {
            (Some(m), p) if Some(m) != p => namespace_of(self.schema, m)
                .map(|ns| format!(" xmlns=\"{}\"", xml_escape(&ns)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        match value {
            Value::Array(items) => {
                for item in items {
                    self.element(out, name, &ns_attr, item, module);
                }
            }
            other => self.element(out, name, &ns_attr, other, module),
        }
    }

    fn element(
        &self,
        out: &mut String,
        name: &str,
        ns_attr: &str,
        value: &Value,
        module: Option<&str>,
    ) {
        match value {
            Value::Object(map) => {
                let _ = write!(out, "<{name}{ns_attr}>");
                for (k, v) in map {
                    self.member(out, k, v, module);
                }
                let _ = write!(out, "</{name}>");
            }
            Value::Null => {
                let _ = write!(out, "<{name}{ns_attr}/>");
            }
            Value::Array(a) if a.len() == 1 && a[0].is_null() => {
                let _ = write!(out, "<{name}{ns_attr}/>");
            }
            Value::String(s) => {
                // An identity value `module:name` needs its module's prefix declared.
                let mut attrs = ns_attr.to_owned();
                if let Some((m, _)) = s.split_once(':') {
                    if let Some(ns) = namespace_of(self.schema, m) {
                        let _ = write!(attrs, " xmlns:{m}=\"{}\"", xml_escape(&ns));
                    }
                }
                let _ = write!(out, "<{name}{attrs}>{}</{name}>", xml_escape(s));
            }
            Value::Number(n) => {
                let _ = write!(out, "<{name}{ns_attr}>{n}</{name}>");
            }
            Value::Bool(b) => {
                let _ = write!(out, "<{name}{ns_attr}>{b}</{name}>");
            }
            Value::Array(_) => {}
        }
    }

    /// A whole `{"member": value, ...}` object as sibling elements.
    pub fn document(&self, out: &mut String, doc: &Value) {
        if let Value::Object(map) = doc {
            for (k, v) in map {
                self.member(out, k, v, None);
            }
        }
    }
}

/// The first element of an XML document: its local name, namespace, and the byte range of
/// its content (between the start and end tags).
pub struct XmlRoot {
    pub name: String,
    pub namespace: Option<String>,
    pub inner: std::ops::Range<usize>,
}

pub fn xml_root(text: &str) -> Result<XmlRoot, Error> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut root: Option<(String, Option<String>, usize)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| Error::Malformed(format!("malformed XML: {e}")))?;
        match ev {
            Event::Start(s) => {
                if depth == 0 {
                    if root.is_some() {
                        return Err(Error::Malformed("more than one root element".into()));
                    }
                    let name = s.local_name().as_ref().to_owned();
                    let ns = s
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == "xmlns")
                        .map(|a| a.value.into_owned());
                    root = Some((name, ns, reader.buffer_position() as usize));
                }
                depth += 1;
                if depth > 64 {
                    return Err(Error::Malformed("XML nested too deeply".into()));
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if let Some((name, namespace, start)) = root.take() {
                        // Keep scanning: trailing elements are an error.
                        let inner = start..before;
                        loop {
                            match reader.read_event() {
                                Ok(Event::Eof) => break,
                                Ok(Event::Start(_) | Event::Empty(_)) => {
                                    return Err(Error::Malformed(
                                        "content after the root element".into(),
                                    ));
                                }
                                Ok(Event::Text(t)) if !t.trim().is_empty() => {
                                    return Err(Error::Malformed(
                                        "content after the root element".into(),
                                    ));
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    return Err(Error::Malformed(format!("malformed XML: {e}")))
                                }
                            }
                        }
                        return Ok(XmlRoot {
                            name,
                            namespace,
                            inner,
                        });
                    }
                }
            }
            Event::Empty(s) if depth == 0 => {
                let name = s.local_name().as_ref().to_owned();
                let ns = s
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "xmlns")
                    .map(|a| a.value.into_owned());
                let end = reader.buffer_position() as usize;
                return Ok(XmlRoot {
                    name,
                    namespace: ns,
                    inner: end..end,
                });
            }
            Event::Eof => return Err(Error::Malformed("no XML element".into())),
            _ => {}
        }
    }
}

/// Read an XML body whose root element is a child of `parent` (the datastore root when
/// empty) into RFC 7951 JSON: returns the root element's JSON member name and value. libyang
/// does the typing, so the body is wrapped in its ancestors (list keys included) first.
pub fn xml_child_of(
    schema: &Schema,
    parent: &DataPath,
    body: &str,
) -> Result<(String, Value), Error> {
    let root = xml_root(body)?;
    let mut open = String::new();
    let mut close = Vec::new();
    for seg in &parent.segments {
        let Some(node) = seg.node else { continue };
        let info = schema.node(node);
        let ns = namespace_of(schema, &info.module).unwrap_or_default();
        let _ = write!(open, "<{} xmlns=\"{}\">", info.name, xml_escape(&ns));
        for (k, v) in &seg.keys {
            let _ = write!(open, "<{k}>{}</{k}>", xml_escape(v));
        }
        close.push(format!("</{}>", info.name));
    }
    let mut doc = open;
    let body = body.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, r)| r).unwrap_or(""),
        None => body,
    };
    doc.push_str(body);
    for c in close.iter().rev() {
        doc.push_str(c);
    }
    let json = schema
        .convert(&doc, Encoding::Xml, Encoding::Json)
        .map_err(Error::from_yang)?;
    let mut value: Value =
        serde_json::from_str(&json).map_err(|e| Error::Malformed(e.to_string()))?;
    // Walk down through the ancestors to the body's element.
    for seg in &parent.segments {
        let Some(node) = seg.node else { continue };
        let member = if std::ptr::eq(seg, &parent.segments[0]) {
            let i = schema.node(node);
            format!("{}:{}", i.module, i.name)
        } else {
            schema.member_name(node)
        };
        let next = take_member(&mut value, &member)?;
        value = match (schema.node(node).kind, next) {
            (NodeKind::List, Value::Array(mut a)) if a.len() == 1 => a.remove(0),
            (_, v) => v,
        };
    }
    let Value::Object(map) = value else {
        return Err(Error::Malformed("the XML body holds no data".into()));
    };
    let mut found = map
        .into_iter()
        .filter(|(k, _)| k.rsplit(':').next() == Some(root.name.as_str()));
    let (member, v) = found
        .next()
        .ok_or_else(|| Error::Malformed(format!("element '{}' is not data here", root.name)))?;
    // Keys of a list child came in as members of the entry; the edit layer wants them there.
    Ok((member, v))
}

fn take_member(value: &mut Value, member: &str) -> Result<Value, Error> {
    value
        .as_object_mut()
        .and_then(|m: &mut Map<String, Value>| m.remove(member))
        .ok_or_else(|| Error::Malformed(format!("the XML body does not fit under '{member}'")))
}
