//! Stored units straight to RFC 7950 XML, the encoding NETCONF reads answer in. The canonical
//! RFC 7951 text of each unit is streamed through a schema-guided serde visitor that writes
//! elements as it reads members: no libyang tree, no JSON tree. The output is what libyang's
//! printer gives for the same data (element order, namespace declarations, `<x/>` for empty
//! values, escaping), which the tests check against libyang itself. Values whose XML form
//! differs from their JSON form beyond escaping (identityref, instance-identifier: module
//! prefixes) and metadata are not handled here: [`Schema::write_units_xml`] then says so and
//! the caller converts through libyang instead.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::Error;
use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::{remainder_members, UnitKey};

/// Why the fast writer gave up on a document (the caller converts through libyang).
pub(crate) const NEEDS_LIBYANG: &str = "netloom: value needs libyang's XML encoding";

/// XML text escaping as libyang's printer does it (element content).
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// The output and the default namespace in effect at the current element.
pub(crate) struct Out<'s> {
    schema: &'s Schema,
    xml: String,
    /// Default namespaces of the open elements, innermost last.
    ns: Vec<&'static str>,
}

impl Out<'_> {
    /// `<name` plus the default namespace declaration when it changes here.
    fn open(&mut self, node: NodeId) -> Result<(), String> {
        let info = self.schema.node(node);
        let ns = info.namespace.ok_or_else(|| NEEDS_LIBYANG.to_owned())?;
        self.xml.push('<');
        self.xml.push_str(&info.name);
        if self.ns.last() != Some(&ns) {
            self.xml.push_str(" xmlns=\"");
            self.xml.push_str(ns);
            self.xml.push('"');
        }
        self.ns.push(ns);
        Ok(())
    }

    fn close(&mut self, node: NodeId) {
        self.ns.pop();
        self.xml.push_str("</");
        self.xml.push_str(&self.schema.node(node).name);
        self.xml.push('>');
    }

    /// The child of `parent` named by RFC 7951 member name `member`, looked for from
    /// position `hint` on: members come in schema order, so the next one is usually just
    /// after the last.
    fn child(&self, parent: NodeId, member: &str, hint: &mut usize) -> Option<NodeId> {
        let p = self.schema.node(parent);
        let (module, name) = match member.split_once(':') {
            Some((m, n)) => (Some(m), n),
            None => (None, member),
        };
        let n = p.children.len();
        let start = *hint;
        let i = (0..n).map(|i| (start + i) % n).find(|&i| {
            let c = self.schema.node(p.children[i]);
            c.name == name
                && match module {
                    Some(m) => c.module == m,
                    // Same module as the parent: the same static namespace (or none, then
                    // by name).
                    None => match (c.namespace, p.namespace) {
                        (Some(a), Some(b)) => std::ptr::eq(a, b),
                        _ => c.module == p.module,
                    },
                }
        })?;
        *hint = i + 1;
        Some(p.children[i])
    }

    /// An inner node: its members through `body`, `<x/>` when it has none.
    fn inner<E>(
        &mut self,
        node: NodeId,
        err: impl FnOnce(String) -> E,
        body: impl FnOnce(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.open(node).map_err(err)?;
        self.xml.push('>');
        let start = self.xml.len();
        body(self)?;
        if self.xml.len() == start {
            self.xml.pop();
            self.xml.push_str("/>");
            self.ns.pop();
        } else {
            self.close(node);
        }
        Ok(())
    }

    fn term(&mut self, node: NodeId, text: &str) -> Result<(), String> {
        if self.schema.node(node).xml_prefixed {
            return Err(NEEDS_LIBYANG.to_owned());
        }
        self.open(node)?;
        if text.is_empty() {
            self.xml.push_str("/>");
            self.ns.pop();
        } else {
            self.xml.push('>');
            escape_into(&mut self.xml, text);
            self.close(node);
        }
        Ok(())
    }
}

/// The members of a container or list entry object of `node`.
struct Members<'a, 's> {
    out: &'a mut Out<'s>,
    node: NodeId,
}

impl<'de> DeserializeSeed<'de> for Members<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of data nodes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error as _;
        let mut hint = 0;
        while let Some(member) = map.next_key::<Cow<'de, str>>()? {
            if member.starts_with('@') {
                return Err(A::Error::custom(NEEDS_LIBYANG));
            }
            let child = self
                .out
                .child(self.node, &member, &mut hint)
                .ok_or_else(|| A::Error::custom(format!("unknown member {member}")))?;
            map.next_value_seed(Node {
                out: &mut *self.out,
                node: child,
            })?;
        }
        Ok(())
    }
}

/// The value of one member: a container's object, a list's or leaf-list's array, a leaf's
/// scalar.
struct Node<'a, 's> {
    out: &'a mut Out<'s>,
    node: NodeId,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        use serde::de::Error as _;
        let node = self.node;
        match self.out.schema.node(node).kind {
            NodeKind::Container { .. } => self.out.inner(node, D::Error::custom, |out| {
                Members { out, node }.deserialize(d)
            }),
            NodeKind::List | NodeKind::LeafList => d.deserialize_seq(self),
            NodeKind::Leaf => {
                let text = d.deserialize_any(Scalar)?;
                self.out.term(node, &text).map_err(D::Error::custom)
            }
        }
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of instances")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        use serde::de::Error as _;
        let node = self.node;
        if self.out.schema.node(node).kind == NodeKind::List {
            while let Some(()) = seq.next_element_seed(Entry {
                out: &mut *self.out,
                node,
            })? {}
        } else {
            while let Some(text) = seq.next_element_seed(ScalarSeed)? {
                self.out.term(node, &text).map_err(A::Error::custom)?;
            }
        }
        Ok(())
    }
}

/// One list entry.
struct Entry<'a, 's> {
    out: &'a mut Out<'s>,
    node: NodeId,
}

impl<'de> DeserializeSeed<'de> for Entry<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        use serde::de::Error as _;
        let node = self.node;
        self.out.inner(node, D::Error::custom, |out| {
            Members { out, node }.deserialize(d)
        })
    }
}

/// A leaf value as its XML text: strings as they are, numbers and booleans printed, the
/// `empty` type's `[null]` as no text.
struct Scalar;

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_any(Scalar)
    }
}

impl<'de> Visitor<'de> for Scalar {
    // Borrowed from the unit's text when it has no escapes: no allocation per leaf.
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a leaf value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(if v { "true" } else { "false" }))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        // RFC 7951 writes decimal64 as a string; a bare fraction is not canonical data.
        Err(E::custom(NEEDS_LIBYANG))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // `empty`: [null]
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cow::Borrowed(""))
    }
}

/// How a list entry unit reaches the output: rendered from its JSON here, or copied from a
/// rendering made earlier (see [`crate::XmlCache`]). Entries are always written right inside
/// their root container, so an entry's XML does not depend on what surrounds it.
pub(crate) trait EntrySource<T: ?Sized> {
    /// Append the XML of one entry of `list` (a unit list node under `root`) whose canonical
    /// JSON is `text`.
    fn write_entry(&mut self, w: &mut Out<'_>, list: NodeId, text: &T) -> Result<(), String>;
}

/// Every entry rendered on the spot.
struct Render;

impl EntrySource<str> for Render {
    fn write_entry(&mut self, w: &mut Out<'_>, list: NodeId, text: &str) -> Result<(), String> {
        render_entry(w, list, text)
    }
}

/// One list entry's JSON as XML, appended to `w`.
pub(crate) fn render_entry(w: &mut Out<'_>, list: NodeId, text: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(text);
    Entry {
        out: &mut *w,
        node: list,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())
}

impl<'s> Out<'s> {
    /// A writer appending to `xml`, with `ns` the default namespace in effect (none at the
    /// top).
    pub(crate) fn new(schema: &'s Schema, xml: String, ns: Option<&'static str>) -> Self {
        Out {
            schema,
            xml,
            ns: ns.into_iter().collect(),
        }
    }

    pub(crate) fn schema(&self) -> &'s Schema {
        self.schema
    }

    /// The default namespace in effect where the next element goes.
    pub(crate) fn namespace(&self) -> Option<&'static str> {
        self.ns.last().copied()
    }

    pub(crate) fn into_xml(self) -> String {
        self.xml
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.xml.push_str(s);
    }
}

/// Whether a writer's error means "some value needs libyang's encoding".
pub(crate) fn needs_libyang(e: &str) -> bool {
    e.contains(NEEDS_LIBYANG)
}

impl Schema {
    /// Write units (sorted, as a [`crate::UnitMap`] iterates) as XML elements, each root
    /// container once, its members in schema order. `Ok(false)`: some value needs libyang's
    /// encoding and `out` is left as it was.
    pub fn write_units_xml<'u>(
        &self,
        units: impl IntoIterator<Item = (&'u UnitKey, &'u str)>,
        out: &mut String,
    ) -> Result<bool, Error> {
        self.write_units_with(units, &mut Render, out)
    }

    /// [`Schema::write_units_xml`] with list entries from `source`.
    pub(crate) fn write_units_with<'u, T: ?Sized + AsRef<str> + 'u>(
        &self,
        units: impl IntoIterator<Item = (&'u UnitKey, &'u T)>,
        source: &mut impl EntrySource<T>,
        out: &mut String,
    ) -> Result<bool, Error> {
        let mut w = Out::new(self, std::mem::take(out), None);
        let start = w.xml.len();
        let mut units = units.into_iter().peekable();
        let mut result = Ok(true);
        while let Some((first, _)) = units.peek() {
            let root = self.unit(first.list).root();
            // This root's units: contiguous in map order.
            let mut mine: Vec<(&UnitKey, &T)> = Vec::new();
            while let Some((k, t)) = units.next_if(|(k, _)| self.unit(k.list).root() == root) {
                mine.push((k, t));
            }
            match self.write_root(&mut w, root, &mine, source) {
                Ok(()) => {}
                Err(e) if needs_libyang(&e) => {
                    result = Ok(false);
                    break;
                }
                Err(e) => {
                    result = Err(Error::Malformed {
                        format: "stored JSON",
                        reason: e,
                    });
                    break;
                }
            }
        }
        if !matches!(result, Ok(true)) {
            w.xml.truncate(start);
        }
        *out = w.xml;
        result
    }

    /// One root container: its remainder's members and its unit lists, in schema order.
    fn write_root<T: ?Sized + AsRef<str>>(
        &self,
        w: &mut Out<'_>,
        root: NodeId,
        units: &[(&UnitKey, &T)],
        source: &mut impl EntrySource<T>,
    ) -> Result<(), String> {
        let remainder: Option<serde_json::Map<String, serde_json::Value>> = units
            .iter()
            .find(|(k, _)| self.unit(k.list).is_remainder())
            .map(|(_, t)| {
                serde_json::from_str(&format!("{{{}}}", remainder_members(t.as_ref())))
                    .map_err(|e| e.to_string())
            })
            .transpose()?;
        let children = &self.node(root).children;
        w.inner(
            root,
            |e| e,
            |w| -> Result<(), String> {
                for &child in children {
                    let info = self.node(child);
                    if let Some(list) = info.unit {
                        for (_, text) in units.iter().filter(|(k, _)| k.list == list) {
                            source.write_entry(w, child, text)?;
                        }
                    } else if let Some(v) = remainder
                        .as_ref()
                        .and_then(|r| r.get(&self.member_name(child)))
                    {
                        Node {
                            out: &mut *w,
                            node: child,
                        }
                        .deserialize(v)
                        .map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::unit::UnitMap;
    use crate::validate::Encoding;

    /// Units of a validated document, as the datastores hold them.
    fn units(s: &Schema, doc: serde_json::Value) -> UnitMap {
        crate::unit::units_of(s, &doc)
    }

    fn both(s: &Schema, m: &UnitMap) -> (String, String) {
        let mut fast = String::new();
        assert!(s
            .write_units_xml(m.iter().map(|(k, v)| (k, &**v)), &mut fast)
            .unwrap());
        let json = s.to_json(m.iter().map(|(k, v)| (k, &**v)));
        let slow = s.convert(&json, Encoding::Json, Encoding::Xml).unwrap();
        (fast, slow)
    }

    #[test]
    fn matches_libyang_printer() {
        let s = Schema::new().unwrap();
        // Keys that sort differently as text and as numbers, nested lists, leaf-lists,
        // escaping, a remainder next to a list, several roots.
        let doc = json!({
            "netloom-host:networks": {"network": [
                {"name": "n10", "type": "bridge", "mtu": 1500},
                {"name": "n2", "type": "vxlan", "vxlan": {"vni": 7, "remote": ["192.0.2.9", "192.0.2.1"]}},
                {"name": "ab", "type": "bridge", "description": "a&b<c> \"q\"", "ipam": {"pool": [
                    {"name": "p", "subnet": "10.0.0.0/24", "exclude": ["10.0.0.9/32", "10.0.0.3/32"]}]},
                 "route": [{"destination": "10.9.0.0/16", "next-hop": "10.0.0.1", "metric": 20}]}
            ]},
            "netloom-host:system": {"commit-history": 5000, "user": [{"name": "zed"}, {"name": "ann", "authorized-key": ["ssh-ed25519 AAA x", ""]}]},
            "netloom-host:pods": {"pod": [{"namespace": "ns", "name": "p1",
                "interface": [{"name": "eth0", "network": "n10"}]}]}
        });
        let m = units(&s, doc);
        let (fast, slow) = both(&s, &m);
        assert_eq!(fast, slow);
        assert!(fast.contains("a&amp;b&lt;c&gt; \"q\""), "{fast}");
    }

    #[test]
    fn empty_and_single() {
        let s = Schema::new().unwrap();
        let mut out = String::new();
        assert!(s.write_units_xml(std::iter::empty(), &mut out).unwrap());
        assert_eq!(out, "");
        let m = units(
            &s,
            json!({"netloom-host:networks": {"network": [{"name": "x", "type": "bridge"}]}}),
        );
        let (fast, slow) = both(&s, &m);
        assert_eq!(fast, slow);
    }
}
