//! The unit model. A datastore is a sorted map of units: every entry of a list right under a
//! root container (a network, a pod, a service, ...) is one unit, and whatever else a root
//! container holds is that container's remainder unit. Each unit is the canonical RFC 7951
//! JSON of its node. Commits, persistence and validation all work unit by unit, which is what
//! makes a one-entry change cost O(change) in a 100k-entry datastore.

use std::io::{self, Write};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorTag};
use crate::schema::{NodeId, Schema};

/// Index of a unit definition in [`Schema::units`]; orders units in schema order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitListId(pub u16);

/// Where a unit lives: its definition and its instance path, e.g.
/// `/netloom-host:pods/pod[namespace='a'][name='b']`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitKey {
    pub list: UnitListId,
    pub path: Arc<str>,
}

impl std::fmt::Display for UnitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

/// A datastore's content: unit key to canonical JSON. Cloning is O(1), which is how
/// readers get snapshots without ever waiting for the writer.
pub type UnitMap = imbl::OrdMap<UnitKey, Arc<str>>;

/// A unit kind: a root container's remainder, or a list under a root container.
#[derive(Debug, Clone)]
pub struct UnitDef {
    root: NodeId,
    list: Option<NodeId>,
    path_prefix: String,
    keys: Vec<String>,
}

impl UnitDef {
    pub(crate) fn remainder(root: NodeId, path: String) -> Self {
        UnitDef {
            root,
            list: None,
            path_prefix: path,
            keys: Vec::new(),
        }
    }

    pub(crate) fn list(root: NodeId, list: NodeId, path: String, keys: Vec<String>) -> Self {
        UnitDef {
            root,
            list: Some(list),
            path_prefix: path,
            keys,
        }
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn list_node(&self) -> Option<NodeId> {
        self.list
    }

    pub fn is_remainder(&self) -> bool {
        self.list.is_none()
    }

    /// `/module:container/list` (or `/module:container` for a remainder).
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

/// Quote a key value for an XPath predicate.
pub(crate) fn quote(value: &str) -> Result<String, Error> {
    let q = quote_char(value)?;
    Ok(format!("{q}{value}{q}"))
}

/// The quote character a key value can be quoted with in an XPath predicate.
fn quote_char(value: &str) -> Result<char, Error> {
    if !value.contains('\'') {
        Ok('\'')
    } else if !value.contains('"') {
        Ok('"')
    } else {
        Err(Error::invalid(
            ErrorTag::InvalidValue,
            "",
            format!("key value {value:?} holds both quote characters"),
        ))
    }
}

/// A JSON scalar as the string a key predicate compares with.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The members of a remainder unit's object, without its braces, to splice into the
/// container object ("" when it has none).
pub fn remainder_members(text: &str) -> &str {
    text.trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .map(str::trim)
        .unwrap_or("")
}

impl Schema {
    /// The key of the unit of list `list` with these key values (in key order).
    pub fn unit_key(&self, list: UnitListId, values: &[&str]) -> Result<UnitKey, Error> {
        let def = self.unit(list);
        if def.keys.len() != values.len() {
            return Err(Error::path(
                def.path_prefix.clone(),
                format!(
                    "{} key values needed, {} given",
                    def.keys.len(),
                    values.len()
                ),
            ));
        }
        // Written in place: a bulk create makes one of these per entry.
        let len: usize = def
            .keys
            .iter()
            .zip(values)
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum();
        let mut path = String::with_capacity(def.path_prefix.len() + len);
        path.push_str(&def.path_prefix);
        for (k, v) in def.keys.iter().zip(values) {
            let q = quote_char(v)?;
            path.push('[');
            path.push_str(k);
            path.push('=');
            path.push(q);
            path.push_str(v);
            path.push(q);
            path.push(']');
        }
        Ok(UnitKey {
            list,
            path: path.into(),
        })
    }

    /// The remainder unit key of a root container's unit def.
    pub fn remainder_key(&self, list: UnitListId) -> UnitKey {
        UnitKey {
            list,
            path: self.unit(list).path_prefix.clone().into(),
        }
    }

    /// The key of a list entry object of unit list `list`.
    pub fn entry_key(
        &self,
        list: UnitListId,
        entry: &Map<String, Value>,
    ) -> Result<UnitKey, Error> {
        let def = self.unit(list);
        let mut values = Vec::with_capacity(def.keys.len());
        for k in &def.keys {
            let v = entry.get(k).and_then(scalar_text).ok_or_else(|| {
                Error::invalid(
                    ErrorTag::MissingElement,
                    def.path_prefix.clone(),
                    format!("list entry without its key '{k}'"),
                )
            })?;
            values.push(v);
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        self.unit_key(list, &refs)
    }

    /// The root container a top-level RFC 7951 member (`module:name`) names.
    pub fn root_of_member(&self, member: &str) -> Result<NodeId, Error> {
        let (module, name) = member.split_once(':').ok_or_else(|| {
            Error::invalid(
                ErrorTag::UnknownElement,
                format!("/{member}"),
                "a top-level member needs its module name",
            )
        })?;
        self.root(module, name).ok_or_else(|| {
            Error::invalid(
                ErrorTag::UnknownElement,
                format!("/{member}"),
                "unknown node",
            )
        })
    }

    /// Split an RFC 7951 document (an object of module-qualified root members) into units.
    pub fn split(&self, doc: Value) -> Result<Vec<(UnitKey, Value)>, Error> {
        let Value::Object(obj) = doc else {
            return Err(Error::Malformed {
                format: "JSON",
                reason: "the document is not an object".into(),
            });
        };
        let mut out = Vec::new();
        for (member, value) in obj {
            let root = self.root_of_member(&member)?;
            self.split_root(root, value, &mut out)?;
        }
        Ok(out)
    }

    /// Split the value of root container `root` into its units.
    pub fn split_root(
        &self,
        root: NodeId,
        value: Value,
        out: &mut Vec<(UnitKey, Value)>,
    ) -> Result<(), Error> {
        let root_path = self.schema_path(root);
        let Value::Object(obj) = value else {
            return Err(Error::invalid(
                ErrorTag::InvalidValue,
                root_path,
                "a container needs an object",
            ));
        };
        let rem_id = self.remainder_of(root).ok_or_else(|| {
            Error::invalid(
                ErrorTag::InvalidValue,
                root_path.clone(),
                "not configuration",
            )
        })?;
        let mut remainder = Map::new();
        for (member, v) in obj {
            let child = self.child_by_member(root, &member).ok_or_else(|| {
                Error::invalid(
                    ErrorTag::UnknownElement,
                    format!("{root_path}/{member}"),
                    "unknown node",
                )
            })?;
            match self.node(child).unit {
                Some(list) => {
                    let Value::Array(entries) = v else {
                        return Err(Error::invalid(
                            ErrorTag::InvalidValue,
                            format!("{root_path}/{member}"),
                            "a list needs an array",
                        ));
                    };
                    for e in entries {
                        let key = match &e {
                            Value::Object(eo) => self.entry_key(list, eo)?,
                            _ => {
                                return Err(Error::invalid(
                                    ErrorTag::InvalidValue,
                                    format!("{root_path}/{member}"),
                                    "a list entry needs an object",
                                ))
                            }
                        };
                        out.push((key, e));
                    }
                }
                None => {
                    remainder.insert(member, v);
                }
            }
        }
        if !remainder.is_empty() {
            out.push((self.remainder_key(rem_id), Value::Object(remainder)));
        }
        Ok(())
    }

    /// The unit key of a stored unit path (`/m:container` or `/m:container/list[...]`).
    pub fn unit_of_path(&self, path: &str) -> Option<UnitKey> {
        let (i, _) = self.units().iter().enumerate().find(|(_, u)| {
            path.strip_prefix(u.path_prefix()).is_some_and(|rest| {
                if u.is_remainder() {
                    rest.is_empty()
                } else {
                    rest.starts_with('[')
                }
            })
        })?;
        Some(UnitKey {
            list: UnitListId(i as u16),
            path: path.into(),
        })
    }

    /// The remainder unit def of a root container.
    pub fn remainder_of(&self, root: NodeId) -> Option<UnitListId> {
        self.units()
            .iter()
            .position(|u| u.is_remainder() && u.root() == root)
            .map(|i| UnitListId(i as u16))
    }

    /// Write units (sorted, as a [`UnitMap`] iterates) as one RFC 7951 document, streaming:
    /// unit texts are copied, never re-parsed, except remainders (spliced as members).
    pub fn write_json<'u, W: Write>(
        &self,
        units: impl IntoIterator<Item = (&'u UnitKey, &'u str)>,
        w: &mut W,
    ) -> io::Result<()> {
        let mut open_root: Option<NodeId> = None;
        let mut open_list: Option<UnitListId> = None;
        let mut first_in_root = true;
        let mut first_entry = true;
        w.write_all(b"{")?;
        for (key, text) in units {
            let def = self.unit(key.list);
            if open_root != Some(def.root()) {
                if open_list.take().is_some() {
                    w.write_all(b"]")?;
                }
                if open_root.is_some() {
                    w.write_all(b"},")?;
                }
                let r = self.node(def.root());
                write!(w, "\"{}:{}\":{{", r.module, r.name)?;
                open_root = Some(def.root());
                first_in_root = true;
            }
            match def.list_node() {
                None => {
                    // A remainder: splice its members into the container object.
                    let inner = remainder_members(text);
                    if !inner.is_empty() {
                        if !first_in_root {
                            w.write_all(b",")?;
                        }
                        w.write_all(inner.as_bytes())?;
                        first_in_root = false;
                    }
                }
                Some(list) => {
                    if open_list != Some(key.list) {
                        if open_list.is_some() {
                            w.write_all(b"]")?;
                        }
                        if !first_in_root {
                            w.write_all(b",")?;
                        }
                        write!(w, "\"{}\":[", self.node(list).name)?;
                        open_list = Some(key.list);
                        first_entry = true;
                        first_in_root = false;
                    }
                    if !first_entry {
                        w.write_all(b",")?;
                    }
                    w.write_all(text.as_bytes())?;
                    first_entry = false;
                }
            }
        }
        if open_list.is_some() {
            w.write_all(b"]")?;
        }
        if open_root.is_some() {
            w.write_all(b"}")?;
        }
        w.write_all(b"}")
    }

    /// [`Schema::write_json`] into a string.
    pub fn to_json<'u>(&self, units: impl IntoIterator<Item = (&'u UnitKey, &'u str)>) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_json(units, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Tests' way to a datastore: a JSON document validated and split into units, as a commit
/// leaves them.
#[cfg(test)]
pub(crate) fn units_of(schema: &Schema, doc: &Value) -> UnitMap {
    let canonical = schema
        .validate(&doc.to_string(), crate::validate::Encoding::Json)
        .unwrap();
    schema
        .split_canonical(&canonical)
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, Arc::from(t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_and_assemble_round_trip() {
        let s = Schema::new().unwrap();
        let doc = json!({
            "netloom-host:networks": {"network": [
                {"name": "b", "type": "bridge"}, {"name": "a", "type": "macvlan", "uplink": "eth0"}
            ]},
            "netloom-host:system": {"commit-history": 2000, "user": [{"name": "admin"}]}
        });
        let units = s.split(doc.clone()).unwrap();
        assert_eq!(units.len(), 4);
        let map: UnitMap = units
            .into_iter()
            .map(|(k, v)| (k, Arc::from(v.to_string())))
            .collect();
        let text = s.to_json(map.iter().map(|(k, v)| (k, &**v)));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["netloom-host:networks"]["network"][0]["name"], "a");
        assert_eq!(back["netloom-host:system"]["commit-history"], 2000);
        assert_eq!(back["netloom-host:system"]["user"][0]["name"], "admin");
        let key = s
            .unit_key(s.unit_by_names("networks", "network").unwrap(), &["a"])
            .unwrap();
        assert_eq!(&*key.path, "/netloom-host:networks/network[name='a']");
    }

    #[test]
    fn quotes_keys_with_apostrophes() {
        assert_eq!(quote("it's").unwrap(), "\"it's\"");
        assert!(quote("a'b\"c").is_err());
    }
}
