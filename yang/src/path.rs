//! Instance paths. One type, [`DataPath`], read from and written to the two forms front ends
//! speak: XPath instance-identifiers (`/m:pods/pod[namespace='a'][name='b']`, NETCONF, gNMI
//! after conversion, the store) and RESTCONF data resource paths (`m:pods/pod=a,b`, RFC 8040
//! section 3.5.3). Resolving a path against the schema names positional RESTCONF keys and
//! checks every step.

use std::fmt::Write as _;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::{Error, ErrorTag};
use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::quote;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub module: Option<String>,
    pub name: String,
    /// Key predicates; names are empty until resolved when read from a RESTCONF path.
    pub keys: Vec<(String, String)>,
    /// A leaf-list instance's value (`[.='v']`).
    pub value: Option<String>,
    /// The schema node, once resolved.
    pub node: Option<NodeId>,
}

/// An instance path; no segments means the datastore root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataPath {
    pub segments: Vec<Segment>,
}

/// Characters RFC 8040 section 3.5.3 requires encoded in key values.
const KEY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'/')
    .add(b',')
    .add(b'=')
    .add(b'?')
    .add(b'#')
    .add(b'[')
    .add(b']')
    .add(b'"')
    .add(b'\'');

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn split_qualified(path: &str, text: &str) -> Result<(Option<String>, String), Error> {
    let (module, name) = match text.split_once(':') {
        Some((m, n)) => (Some(m), n),
        None => (None, text),
    };
    if !is_identifier(name) || module.is_some_and(|m| !is_identifier(m)) {
        return Err(Error::path(path, format!("'{text}' is not a node name")));
    }
    Ok((module.map(str::to_owned), name.to_owned()))
}

impl DataPath {
    pub fn root() -> Self {
        DataPath::default()
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Read an XPath instance-identifier.
    pub fn parse_xpath(path: &str) -> Result<Self, Error> {
        if path.contains('\0') {
            return Err(Error::path(path, "NUL character"));
        }
        let bytes = path.as_bytes();
        if path.is_empty() || path == "/" {
            return Ok(DataPath::root());
        }
        if bytes[0] != b'/' {
            return Err(Error::path(path, "must start with '/'"));
        }
        let mut segments = Vec::new();
        let mut i = 1;
        while i <= bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i] != b'/' && bytes[i] != b'[' {
                i += 1;
            }
            let (module, name) = split_qualified(path, &path[start..i])?;
            let mut seg = Segment {
                module,
                name,
                keys: Vec::new(),
                value: None,
                node: None,
            };
            while i < bytes.len() && bytes[i] == b'[' {
                i += 1;
                let eq = path[i..]
                    .find('=')
                    .ok_or_else(|| Error::path(path, "predicate without '='"))?
                    + i;
                let lhs = path[i..eq].trim();
                let mut j = eq + 1;
                while j < bytes.len() && bytes[j] == b' ' {
                    j += 1;
                }
                let q = *bytes
                    .get(j)
                    .ok_or_else(|| Error::path(path, "unterminated predicate"))?;
                if q != b'\'' && q != b'"' {
                    return Err(Error::path(path, "predicate value must be quoted"));
                }
                let close = path[j + 1..]
                    .find(q as char)
                    .ok_or_else(|| Error::path(path, "unterminated quote"))?
                    + j
                    + 1;
                let value = path[j + 1..close].to_owned();
                let mut k = close + 1;
                while k < bytes.len() && bytes[k] == b' ' {
                    k += 1;
                }
                if bytes.get(k) != Some(&b']') {
                    return Err(Error::path(path, "predicate not closed by ']'"));
                }
                if lhs == "." {
                    seg.value = Some(value);
                } else {
                    let (_, key) = split_qualified(path, lhs)?;
                    seg.keys.push((key, value));
                }
                i = k + 1;
            }
            segments.push(seg);
            if i < bytes.len() && bytes[i] != b'/' {
                return Err(Error::path(
                    path,
                    format!("unexpected '{}'", bytes[i] as char),
                ));
            }
            i += 1;
        }
        Ok(DataPath { segments })
    }

    /// Read a RESTCONF data resource path (what follows `/restconf/data/`).
    pub fn parse_restconf(path: &str) -> Result<Self, Error> {
        let trimmed = path.trim_start_matches('/');
        if trimmed.is_empty() {
            return Ok(DataPath::root());
        }
        let mut segments = Vec::new();
        for raw in trimmed.split('/') {
            let (id, keys) = match raw.split_once('=') {
                Some((id, keys)) => (id, Some(keys)),
                None => (raw, None),
            };
            let id = percent_decode_str(id)
                .decode_utf8()
                .map_err(|_| Error::path(path, "invalid UTF-8"))?;
            let (module, name) = split_qualified(path, &id)?;
            let mut values = Vec::new();
            if let Some(keys) = keys {
                for v in keys.split(',') {
                    let v = percent_decode_str(v)
                        .decode_utf8()
                        .map_err(|_| Error::path(path, "invalid UTF-8"))?;
                    if v.contains('\0') {
                        return Err(Error::path(path, "NUL character"));
                    }
                    values.push((String::new(), v.into_owned()));
                }
            }
            segments.push(Segment {
                module,
                name,
                keys: values,
                value: None,
                node: None,
            });
        }
        Ok(DataPath { segments })
    }

    /// The XPath form; keys must be named (read from XPath, or resolved).
    pub fn to_xpath(&self) -> Result<String, Error> {
        if self.segments.is_empty() {
            return Ok("/".into());
        }
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            if let Some(m) = &s.module {
                let _ = write!(out, "{m}:");
            }
            out.push_str(&s.name);
            for (k, v) in &s.keys {
                let _ = write!(out, "[{k}={}]", quote(v)?);
            }
            if let Some(v) = &s.value {
                let _ = write!(out, "[.={}]", quote(v)?);
            }
        }
        Ok(out)
    }

    /// The RESTCONF form (without a leading slash).
    pub fn to_restconf(&self) -> String {
        let mut parts = Vec::new();
        for s in &self.segments {
            let mut p = match &s.module {
                Some(m) => format!("{m}:{}", s.name),
                None => s.name.clone(),
            };
            let values: Vec<String> = s
                .keys
                .iter()
                .map(|(_, v)| v.as_str())
                .chain(s.value.as_deref())
                .map(|v| utf8_percent_encode(v, KEY_VALUE).to_string())
                .collect();
            if !values.is_empty() {
                p.push('=');
                p.push_str(&values.join(","));
            }
            parts.push(p);
        }
        parts.join("/")
    }
}

impl std::fmt::Display for DataPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_xpath() {
            Ok(p) => f.write_str(&p),
            Err(_) => write!(f, "/{}", self.to_restconf()),
        }
    }
}

impl Schema {
    /// Check a path against the schema, naming positional keys, normalising modules to the
    /// form XPath needs (module on the first step and wherever it changes), and recording
    /// each step's node.
    pub fn resolve(&self, path: &DataPath) -> Result<DataPath, Error> {
        let shown = path.to_restconf();
        let shown = format!("/{shown}");
        let mut out = DataPath::default();
        let mut parent: Option<NodeId> = None;
        for (i, seg) in path.segments.iter().enumerate() {
            let node = match parent {
                None => {
                    let m = seg.module.as_deref().ok_or_else(|| {
                        Error::path(shown.clone(), "the first step needs a module name")
                    })?;
                    self.root(m, &seg.name)
                }
                Some(p) => self.child(p, seg.module.as_deref(), &seg.name),
            }
            .ok_or_else(|| {
                Error::invalid(
                    ErrorTag::UnknownElement,
                    shown.clone(),
                    format!("no node '{}' here", seg.name),
                )
            })?;
            let info = self.node(node);
            let mut s = Segment {
                module: None,
                name: info.name.clone(),
                keys: Vec::new(),
                value: None,
                node: Some(node),
            };
            if parent.is_none_or(|p| self.node(p).module != info.module) {
                s.module = Some(info.module.clone());
            }
            match info.kind {
                NodeKind::List if !seg.keys.is_empty() => {
                    if seg.keys.len() != info.keys.len() {
                        return Err(Error::path(
                            shown,
                            format!(
                                "'{}' needs {} key value(s), {} given",
                                info.name,
                                info.keys.len(),
                                seg.keys.len()
                            ),
                        ));
                    }
                    let named = seg.keys.iter().all(|(k, _)| !k.is_empty());
                    for (pos, key) in info.keys.iter().enumerate() {
                        let v = if named {
                            seg.keys
                                .iter()
                                .find(|(k, _)| k == key)
                                .map(|(_, v)| v.clone())
                                .ok_or_else(|| {
                                    Error::path(shown.clone(), format!("key '{key}' missing"))
                                })?
                        } else {
                            seg.keys[pos].1.clone()
                        };
                        s.keys.push((key.clone(), v));
                    }
                }
                NodeKind::LeafList => {
                    s.value = seg
                        .value
                        .clone()
                        .or_else(|| seg.keys.first().map(|k| k.1.clone()));
                    if seg.keys.len() > 1 {
                        return Err(Error::path(shown, "a leaf-list entry has one value"));
                    }
                }
                NodeKind::List => {}
                _ if !seg.keys.is_empty() || seg.value.is_some() => {
                    return Err(Error::path(
                        shown,
                        format!("'{}' is not a list and takes no keys", info.name),
                    ));
                }
                _ => {}
            }
            if matches!(info.kind, NodeKind::Leaf) && i + 1 < path.segments.len() {
                return Err(Error::path(shown, format!("'{}' is a leaf", info.name)));
            }
            out.segments.push(s);
            parent = Some(node);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xpath_round_trip() {
        let p = DataPath::parse_xpath(
            "/netloom-host:pods/pod[namespace='a'][name=\"b'c\"]/interface[name='eth0']/address[.='10.0.0.1']",
        )
        .unwrap();
        assert_eq!(p.segments.len(), 4);
        assert_eq!(p.segments[1].keys[1], ("name".into(), "b'c".into()));
        assert_eq!(p.segments[3].value.as_deref(), Some("10.0.0.1"));
        let again = DataPath::parse_xpath(&p.to_xpath().unwrap()).unwrap();
        assert_eq!(p, again);
    }

    #[test]
    fn restconf_keys_are_positional_and_decoded() {
        let s = Schema::new().unwrap();
        let p =
            DataPath::parse_restconf("netloom-host:pods/pod=kube%2Csystem,web-0/interface=eth0")
                .unwrap();
        let r = s.resolve(&p).unwrap();
        assert_eq!(
            r.to_xpath().unwrap(),
            "/netloom-host:pods/pod[namespace='kube,system'][name='web-0']/interface[name='eth0']"
        );
        assert_eq!(
            r.to_restconf(),
            "netloom-host:pods/pod=kube%2Csystem,web-0/interface=eth0"
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        let s = Schema::new().unwrap();
        for bad in [
            "pods",
            "/netloom-host:pods/pod[name='x'",
            "/netloom-host:pods/p od",
        ] {
            assert!(DataPath::parse_xpath(bad).is_err(), "{bad}");
        }
        let unknown = DataPath::parse_xpath("/netloom-host:pods/nope").unwrap();
        assert_eq!(
            s.resolve(&unknown).unwrap_err().tag(),
            ErrorTag::UnknownElement
        );
        let wrong_keys = DataPath::parse_restconf("netloom-host:pods/pod=a").unwrap();
        assert!(s.resolve(&wrong_keys).is_err());
        let no_module = DataPath::parse_xpath("/pods").unwrap();
        assert!(s.resolve(&no_module).is_err());
    }
}
