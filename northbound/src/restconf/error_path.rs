//! `error-path` as RFC 8040 section 7.1 wants it: an instance-identifier in the encoding of
//! the answer. The engine and libyang report paths in the JSON form (module names as
//! prefixes, only where the module changes), RESTCONF's own checks in the URI form; both
//! are read back into a [`DataPath`] and written again: JSON as RFC 7951 section 6.11
//! says, XML with every step prefixed and each prefix declared on the element.

use std::fmt::Write as _;

use netloom_yang::{DataPath, Schema};

use super::encode::xml_escape;

/// An error path read into a resolved path (steps know their schema nodes).
fn parse(schema: &Schema, raw: &str) -> Option<DataPath> {
    let read = if raw.contains('[') || !raw.contains('=') {
        DataPath::parse_xpath(raw).ok()
    } else {
        None
    };
    let read = match read {
        Some(p) => p,
        None => DataPath::parse_restconf(raw.trim_start_matches('/')).ok()?,
    };
    schema.resolve(&read).ok()
}

/// The JSON instance-identifier (`/netloom-host:networks/network[name='a']`).
pub fn json(schema: &Schema, raw: &str) -> Option<String> {
    parse(schema, raw)?.to_xpath().ok()
}

/// An XML instance-identifier and the namespace declarations its prefixes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPath {
    pub text: String,
    pub namespaces: Vec<(String, String)>,
}

impl XmlPath {
    /// `<error-path xmlns:p="...">/p:a/p:b</error-path>`.
    pub fn write_element(&self, out: &mut String) {
        out.push_str("<error-path");
        for (prefix, ns) in &self.namespaces {
            let _ = write!(out, " xmlns:{prefix}=\"{}\"", xml_escape(ns));
        }
        // Element text: the quotes of the predicates stay as they are.
        let text = self
            .text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let _ = write!(out, ">{text}</error-path>");
    }
}

fn literal(v: &str) -> Option<String> {
    if !v.contains('\'') {
        Some(format!("'{v}'"))
    } else if !v.contains('"') {
        Some(format!("\"{v}\""))
    } else {
        None
    }
}

/// The XML instance-identifier, each step prefixed with its module's YANG prefix.
pub fn xml(schema: &Schema, raw: &str) -> Option<XmlPath> {
    let path = parse(schema, raw)?;
    let mut out = XmlPath {
        text: String::new(),
        namespaces: Vec::new(),
    };
    if path.segments.is_empty() {
        out.text.push('/');
        return Some(out);
    }
    for seg in &path.segments {
        let info = schema.node(seg.node?);
        let module = schema.context().get_module_latest(&info.module)?;
        let prefix = module.prefix().to_owned();
        if !out.namespaces.iter().any(|(p, _)| *p == prefix) {
            out.namespaces
                .push((prefix.clone(), module.namespace().to_owned()));
        }
        let _ = write!(out.text, "/{prefix}:{}", seg.name);
        for (k, v) in &seg.keys {
            let _ = write!(out.text, "[{prefix}:{k}={}]", literal(v)?);
        }
        if let Some(v) = &seg.value {
            let _ = write!(out.text, "[.={}]", literal(v)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_forms_become_prefixed_instance_identifiers() {
        let s = Schema::new().unwrap();
        let want = XmlPath {
            text: "/nl:networks/nl:network[nl:name='a b']/nl:mtu".into(),
            namespaces: vec![("nl".into(), "urn:netloom:yang:netloom-host".into())],
        };
        assert_eq!(
            xml(&s, "/netloom-host:networks/network[name='a b']/mtu").unwrap(),
            want
        );
        assert_eq!(
            xml(&s, "/netloom-host:networks/network=a%20b/mtu").unwrap(),
            want
        );
        assert_eq!(
            json(&s, "/netloom-host:networks/network=a%20b/mtu").unwrap(),
            "/netloom-host:networks/network[name='a b']/mtu"
        );
        let ns = xml(
            &s,
            "/netloom-host:networks/network[name='a']/ipam/dns/nameserver[.='10.0.0.1']",
        )
        .unwrap();
        assert!(ns.text.ends_with("/nl:nameserver[.='10.0.0.1']"), "{ns:?}");
        let mut el = String::new();
        ns.write_element(&mut el);
        assert!(
            el.starts_with("<error-path xmlns:nl=\"urn:netloom:yang:netloom-host\">/nl:networks"),
            "{el}"
        );
        assert!(xml(&s, "/nope:x").is_none());
    }
}
