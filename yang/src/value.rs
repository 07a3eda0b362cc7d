//! One leaf value as a person typed it (the CLI's `set ... mtu 1500`), checked against the
//! leaf's type by libyang (range, length, pattern, enumeration, address syntax) and turned
//! into the RFC 7951 JSON value an edit carries, in canonical form.

use serde_json::Value;
use yang3::data::{DataFormat, DataPrinterFlags, DataTree};

use crate::error::{Error, ErrorTag};
use crate::path::DataPath;
use crate::schema::{NodeKind, Schema};

impl Schema {
    /// The JSON value of leaf (or leaf-list) `path` holding `text`; the path's list steps
    /// carry their keys. An error says why the value does not fit the type.
    pub fn leaf_json(&self, path: &DataPath, text: &str) -> Result<Value, Error> {
        if text.contains('\0') {
            return Err(Error::invalid(
                ErrorTag::InvalidValue,
                "",
                "NUL character in value",
            ));
        }
        let mut resolved = self.resolve(path)?;
        let mut leaf = resolved.clone();
        if let Some(last) = leaf.segments.last_mut() {
            last.value = None;
        }
        // A list key is checked where libyang reads it: in its entry's predicate.
        let n = leaf.segments.len();
        let key_of_parent = n >= 2 && {
            let name = &leaf.segments[n - 1].name;
            leaf.segments[n - 2].keys.iter().any(|(k, _)| k == name)
        };
        let value = if key_of_parent {
            let name = leaf.segments[n - 1].name.clone();
            leaf.segments.pop();
            for seg in [&mut leaf.segments[n - 2], &mut resolved.segments[n - 2]] {
                for (k, v) in seg.keys.iter_mut() {
                    if *k == name {
                        *v = text.to_owned();
                    }
                }
            }
            None
        } else {
            Some(text)
        };
        let xpath = leaf.to_xpath()?;
        let mut tree = DataTree::new(self.context());
        tree.new_path(&xpath, value, false)
            .map_err(|e| Error::from_libyang(e, &xpath))?;
        let printed = crate::print_data(
            &tree,
            DataFormat::JSON,
            DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK,
        )
        .map_err(|e| Error::from_libyang(e, &xpath))?;
        let doc: Value = serde_json::from_str(&printed).map_err(|e| Error::Malformed {
            format: "JSON",
            reason: e.to_string(),
        })?;
        let mut cur = &doc;
        for seg in &resolved.segments {
            let Some(node) = seg.node else { break };
            cur = &cur[self.member_name(node)];
            if matches!(self.node(node).kind, NodeKind::List | NodeKind::LeafList) {
                cur = &cur[0];
            }
        }
        if cur.is_null() && text != "null" {
            return Err(Error::invalid(
                ErrorTag::OperationFailed,
                xpath,
                "the value did not come back from libyang",
            ));
        }
        Ok(cur.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(path: &str) -> DataPath {
        DataPath::parse_xpath(path).unwrap()
    }

    #[test]
    fn typed_values_and_type_errors() {
        let s = Schema::new().unwrap();
        let mtu = leaf("/netloom-host:networks/network[name='a']/mtu");
        assert_eq!(s.leaf_json(&mtu, "1500").unwrap(), Value::from(1500));
        let err = s.leaf_json(&mtu, "70000").unwrap_err().to_string();
        assert!(err.contains("70000"), "{err}");
        assert!(s.leaf_json(&mtu, "big").is_err());
        let ty = leaf("/netloom-host:networks/network[name='a']/type");
        assert_eq!(s.leaf_json(&ty, "bridge").unwrap(), Value::from("bridge"));
        assert!(s.leaf_json(&ty, "banana").is_err());
        let gw = leaf("/netloom-host:networks/network[name='a']/bridge/gateway");
        assert_eq!(s.leaf_json(&gw, "false").unwrap(), Value::Bool(false));
        let remote = leaf("/netloom-host:networks/network[name='a']/vxlan/remote");
        assert_eq!(
            s.leaf_json(&remote, "10.0.0.1").unwrap(),
            Value::from("10.0.0.1")
        );
        assert!(s.leaf_json(&remote, "10.0.0.300").is_err());
        let name = leaf("/netloom-host:networks/network[name='a']/name");
        assert!(s.leaf_json(&name, "bad name!").is_err());
    }
}
