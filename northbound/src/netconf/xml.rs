//! A NETCONF message as a namespace-resolved element tree, read with quick-xml. The reader is
//! deliberately small and strict: no DTDs (so no entity expansion, billion laughs included),
//! only the five predefined entities and character references, a nesting limit, and every
//! prefix must be bound.

use foldhash::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::errors::RpcError;

/// The base NETCONF namespace (RFC 6241).
pub const NS_BASE: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";

/// Deeper documents are refused; netloom's own data is far shallower.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ns: String,
    pub name: String,
    pub value: String,
}

/// Namespaces and names are shared within a message (one allocation per distinct string,
/// not per element): a 10k-entry edit-config has 40k elements but a dozen distinct names,
/// and allocating and freeing two strings per element cost more than the rest of the read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: Arc<str>,
    pub name: Arc<str>,
    pub attrs: Vec<Attr>,
    /// Prefixed namespace declarations made on this element (prefix, uri), kept so values
    /// that name things by prefix (identityrefs, XPath selects) can be resolved later.
    pub prefixes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn new(ns: &str, name: &str) -> Self {
        Element {
            ns: ns.into(),
            name: name.into(),
            ..Element::default()
        }
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        &*self.ns == ns && &*self.name == name
    }

    /// The first child with this name in this namespace.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// An operation parameter: in the base namespace, or unqualified (as clients that build
    /// `<config>` from a bare string send it).
    pub fn param(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| &*c.name == name && (&*c.ns == NS_BASE || c.ns.is_empty()))
    }

    /// An attribute by namespace ("" for unqualified) and name.
    pub fn attr(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The trimmed text content.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Append this element as XML: a default namespace declaration wherever the namespace
    /// changes, the prefixes it declared, its attributes (namespaced ones get a local prefix).
    pub fn write(&self, out: &mut String, parent_ns: &str) {
        out.push('<');
        out.push_str(&self.name);
        if &*self.ns != parent_ns {
            let _ = write!(out, " xmlns=\"{}\"", escape(&self.ns));
        }
        for (p, uri) in &self.prefixes {
            let _ = write!(out, " xmlns:{p}=\"{}\"", escape(uri));
        }
        for (i, a) in self.attrs.iter().enumerate() {
            if a.ns.is_empty() {
                let _ = write!(out, " {}=\"{}\"", a.name, escape(&a.value));
            } else {
                let _ = write!(
                    out,
                    " xmlns:a{i}=\"{}\" a{i}:{}=\"{}\"",
                    escape(&a.ns),
                    a.name,
                    escape(&a.value)
                );
            }
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for c in &self.children {
            c.write(out, &self.ns);
        }
        let _ = write!(out, "</{}>", self.name);
    }

    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, "");
        out
    }
}

/// Escape text for element content and attribute values.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\'']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out.into()
}

fn malformed(msg: impl Into<String>) -> RpcError {
    RpcError::malformed(msg)
}

/// The distinct namespaces and names of one message.
#[derive(Default)]
struct Names(HashSet<Arc<str>>);

impl Names {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

fn namespace(res: &ResolveResult<'_>, what: &str) -> Result<String, RpcError> {
    match res {
        ResolveResult::Bound(ns) => Ok(ns.as_ref().to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(malformed(format!(
            "the prefix '{p}' of {what} is not bound to a namespace"
        ))),
    }
}

fn start(
    reader: &NsReader<&[u8]>,
    e: &BytesStart<'_>,
    names: &mut Names,
) -> Result<Element, RpcError> {
    let (res, local) = reader.resolver().resolve_element(e.name());
    let ns = match &res {
        ResolveResult::Bound(ns) => names.get(ns.as_ref()),
        ResolveResult::Unbound => names.get(""),
        ResolveResult::Unknown(p) => {
            return Err(malformed(format!(
                "the prefix '{p}' of an element is not bound to a namespace"
            )))
        }
    };
    let mut el = Element {
        ns,
        name: names.get(local.as_ref()),
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| malformed(format!("bad attribute: {e}")))?;
        let key = a.key;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| malformed(format!("bad attribute value: {e}")))?
            .into_owned();
        if key.as_ref() == "xmlns" {
            continue;
        }
        if let Some(p) = key.as_ref().strip_prefix("xmlns:") {
            el.prefixes.push((p.to_owned(), value));
            continue;
        }
        let (res, local) = reader.resolver().resolve_attribute(key);
        el.attrs.push(Attr {
            ns: namespace(&res, "an attribute")?,
            name: local.as_ref().to_owned(),
            value,
        });
    }
    Ok(el)
}

pub(crate) fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

/// Parse one message into its root element.
pub fn parse(doc: &[u8]) -> Result<Element, RpcError> {
    let text = std::str::from_utf8(doc).map_err(|_| malformed("the message is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut names = Names::default();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| malformed(format!("not well-formed XML: {e}")))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(format!(
                        "elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                let el = start(&reader, e, &mut names)?;
                if matches!(ev, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => text_into(&mut stack, &t.xml10_content())?,
            Event::CData(t) => text_into(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        let name: &str = r.as_ref();
                        predefined(name).ok_or_else(|| {
                            malformed(format!("undeclared entity '&{name};' (DTDs are refused)"))
                        })?
                    }
                    Err(e) => return Err(malformed(format!("bad character reference: {e}"))),
                };
                text_into(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(malformed("document type declarations are refused")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the message ends inside an element"));
    }
    root.ok_or_else(|| malformed("the message has no element"))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn text_into(stack: &mut [Element], text: &str) -> Result<(), RpcError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_default_namespaces_resolve() {
        let doc = br#"<?xml version="1.0"?><nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7"><nc:get-config><nc:source><nc:running/></nc:source></nc:get-config></nc:rpc>"#;
        let rpc = parse(doc).unwrap();
        assert!(rpc.is(NS_BASE, "rpc"));
        assert_eq!(rpc.attr("", "message-id"), Some("7"));
        let gc = rpc.child(NS_BASE, "get-config").unwrap();
        assert!(gc
            .child(NS_BASE, "source")
            .unwrap()
            .child(NS_BASE, "running")
            .is_some());
    }

    #[test]
    fn entities_dtds_depth_and_prefixes_are_checked() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rpc>&lol2;</rpc>"#;
        assert!(parse(laughs).is_err());
        assert!(parse(b"<rpc>&lol;</rpc>").is_err());
        assert_eq!(parse(b"<a>&lt;&#65;&amp;</a>").unwrap().text, "<A&");
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(b"<x:a/>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
    }

    #[test]
    fn written_xml_reads_back() {
        let mut el = Element::new("urn:x", "a").with_text("1 < 2");
        el.attrs.push(Attr {
            ns: NS_BASE.into(),
            name: "operation".into(),
            value: "merge".into(),
        });
        el.children.push(Element::new("urn:y", "b"));
        let back = parse(el.to_xml().as_bytes()).unwrap();
        assert_eq!(back.text, "1 < 2");
        assert_eq!(back.attr(NS_BASE, "operation"), Some("merge"));
        assert!(back.child("urn:y", "b").is_some());
    }
}
