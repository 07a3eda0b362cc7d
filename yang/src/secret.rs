//! Secret data: nodes the model marks `nacm:default-deny-all` (RFC 8341 3.5.1; netloom marks
//! `/system/user/password`), which only admins may read. Readers who are not admins get
//! their data with those nodes left out: whole documents, single units, or a unit map (where
//! only the units of lists that hold secrets are touched, so redacting a 100k-entry datastore
//! costs as many units as there are users).
#![allow(unsafe_code)] // libyang FFI: yang3 does not expose a schema node's extension instances.

use std::ffi::CStr;
use std::sync::Arc;

use serde_json::{Map, Value};
use yang3::schema::SchemaNode;

use crate::schema::{NodeId, NodeKind, Schema};
use crate::unit::{UnitKey, UnitListId, UnitMap};

const NACM_MODULE: &str = "ietf-netconf-acm";

/// Whether `node` carries a `nacm:default-deny-all` extension instance.
pub(crate) fn default_deny_all(node: &SchemaNode<'_>) -> bool {
    let raw = node.as_raw();
    // SAFETY: the node belongs to a live context; `exts` is a libyang sized array (its count
    // precedes its first item) of instances whose `def` and its module are compiled
    // definitions owned by the same context.
    unsafe {
        if raw.is_null() || (*raw).exts.is_null() {
            return false;
        }
        let exts = (*raw).exts;
        let count = (exts as *const u64).offset(-1).read() as usize;
        (0..count).any(|i| {
            let def = (*exts.add(i)).def;
            if def.is_null() || (*def).name.is_null() || (*def).module.is_null() {
                return false;
            }
            let module = (*(*def).module).name;
            !module.is_null()
                && CStr::from_ptr((*def).name).to_bytes() == b"default-deny-all"
                && CStr::from_ptr(module).to_bytes() == NACM_MODULE.as_bytes()
        })
    }
}

impl Schema {
    /// Whether `node` or anything under it is secret.
    pub fn holds_secrets(&self, node: NodeId) -> bool {
        let info = self.node(node);
        info.secret || info.children.iter().any(|&c| self.holds_secrets(c))
    }

    /// Whether units of `list` can hold secrets (a remainder: its root's members other than
    /// unit lists).
    fn list_holds_secrets(&self, list: UnitListId) -> bool {
        let def = self.unit(list);
        match def.list_node() {
            Some(node) => self.holds_secrets(node),
            None => self
                .node(def.root())
                .children
                .iter()
                .any(|&c| self.node(c).unit.is_none() && self.holds_secrets(c)),
        }
    }

    /// Unit `text` of `key` without its secret members; None when it has none.
    pub fn redact_unit(&self, key: &UnitKey, text: &str) -> Option<String> {
        if !self.list_holds_secrets(key.list) {
            return None;
        }
        let def = self.unit(key.list);
        let node = def.list_node().unwrap_or(def.root());
        let mut value: Value = serde_json::from_str(text).ok()?;
        self.strip(node, &mut value).then(|| value.to_string())
    }

    /// `units` with every unit that holds secrets redacted; the others are shared.
    pub fn redact_units(&self, units: &UnitMap) -> UnitMap {
        let mut out = units.clone();
        let lists: Vec<UnitListId> = (0..self.units_len())
            .map(|i| UnitListId(i as u16))
            .filter(|&l| self.list_holds_secrets(l))
            .collect();
        for list in lists {
            let start = UnitKey {
                list,
                path: Arc::from(""),
            };
            for (k, v) in units.range(start..).take_while(|(k, _)| k.list == list) {
                if let Some(text) = self.redact_unit(k, v) {
                    out.insert(k.clone(), Arc::from(text));
                }
            }
        }
        out
    }

    /// An RFC 7951 document (top-level members `module:container`) without its secret
    /// members.
    pub fn redact_document(&self, doc: &mut Value) {
        let Value::Object(members) = doc else {
            return;
        };
        members.retain(|name, value| match self.root_of_member(name) {
            Ok(root) if self.node(root).secret => false,
            Ok(root) => {
                self.strip(root, value);
                true
            }
            Err(_) => true,
        });
    }

    /// Remove secret members under `node` from its instance `value`; true when any went.
    fn strip(&self, node: NodeId, value: &mut Value) -> bool {
        if !self.holds_secrets(node) {
            return false;
        }
        match (self.node(node).kind, value) {
            (NodeKind::List, Value::Array(entries)) => {
                let mut any = false;
                for e in entries {
                    any |= self.strip_members(node, e);
                }
                any
            }
            (NodeKind::Container { .. } | NodeKind::List, v @ Value::Object(_)) => {
                self.strip_members(node, v)
            }
            _ => false,
        }
    }

    fn strip_members(&self, node: NodeId, value: &mut Value) -> bool {
        let Value::Object(members) = value else {
            return false;
        };
        let mut any = false;
        let names: Vec<String> = members.keys().cloned().collect();
        let mut kept = Map::with_capacity(members.len());
        for name in names {
            let Some(mut v) = members.remove(&name) else {
                continue;
            };
            let child = match name.split_once(':') {
                Some((m, n)) => self.child(node, Some(m), n),
                None => self.child(node, None, &name),
            };
            match child {
                Some(c) if self.node(c).secret => any = true,
                Some(c) => {
                    any |= self.strip(c, &mut v);
                    kept.insert(name, v);
                }
                None => {
                    kept.insert(name, v);
                }
            }
        }
        *members = kept;
        any
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::Encoding;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn units(s: &Schema) -> UnitMap {
        let doc = json!({
            "netloom-host:networks": {"network": [{"name": "n1", "type": "bridge"}]},
            "netloom-host:system": {"commit-history": 5000, "user": [
                {"name": "ann", "password": HASH, "role": "admin"},
                {"name": "bob", "authorized-key": ["ssh-ed25519 AAA bob"]}
            ]}
        });
        crate::unit::units_of(s, &doc)
    }

    #[test]
    fn the_password_leaf_is_secret_and_nothing_else() {
        let s = Schema::new().unwrap();
        let user = s.unit_by_names("system", "user").unwrap();
        let list = s.unit(user).list_node().unwrap();
        let password = s.child(list, None, "password").unwrap();
        assert!(s.node(password).secret);
        for name in ["name", "role", "authorized-key"] {
            assert!(!s.node(s.child(list, None, name).unwrap()).secret, "{name}");
        }
        let networks = s.unit_by_names("networks", "network").unwrap();
        assert!(!s.list_holds_secrets(networks));
    }

    #[test]
    fn units_and_documents_lose_only_the_hash() {
        let s = Schema::new().unwrap();
        let m = units(&s);
        let red = s.redact_units(&m);
        let text = s.to_json(red.iter().map(|(k, v)| (k, &**v)));
        assert!(!text.contains("argon2"), "{text}");
        assert!(text.contains("\"ann\"") && text.contains("ssh-ed25519 AAA bob"));
        // Units without secrets are the very same texts (the XML cache keeps hitting).
        for (k, v) in m.iter() {
            if !k.path.contains("user[name='ann']") {
                assert!(Arc::ptr_eq(v, &red[k]), "{k}");
            }
        }
        let mut doc: Value =
            serde_json::from_str(&s.to_json(m.iter().map(|(k, v)| (k, &**v)))).unwrap();
        s.redact_document(&mut doc);
        let expected: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc, expected);
        // Redacted XML is what libyang prints for the redacted document.
        let mut xml = String::new();
        assert!(s
            .write_units_xml(red.iter().map(|(k, v)| (k, &**v)), &mut xml)
            .unwrap());
        assert_eq!(
            xml,
            s.convert(&text, Encoding::Json, Encoding::Xml).unwrap()
        );
    }
}
