//! Splitting libyang's canonical JSON into unit texts without building a JSON tree: each list
//! entry's text is the exact slice libyang printed, so a bulk commit of 100k entries copies
//! 100k slices instead of parsing, cloning and re-printing 100k objects.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorTag};
use crate::schema::{NodeId, Schema};
use crate::unit::UnitKey;

/// The members of one JSON object in document order, values unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((k, v)) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn malformed(e: serde_json::Error) -> Error {
    Error::Malformed {
        format: "JSON",
        reason: e.to_string(),
    }
}

fn members(text: &str) -> Result<Members<'_>, Error> {
    serde_json::from_str(text).map_err(malformed)
}

/// A key leaf's value as text: strings unquoted, numbers and booleans as printed.
fn key_text(raw: &RawValue) -> Result<String, Error> {
    let t = raw.get();
    if t.starts_with('"') {
        serde_json::from_str::<String>(t).map_err(malformed)
    } else {
        Ok(t.to_owned())
    }
}

impl Schema {
    /// Split a canonical RFC 7951 document (as libyang prints it) into unit texts, in
    /// document order, each a slice of the input.
    pub fn split_canonical(&self, text: &str) -> Result<Vec<(UnitKey, String)>, Error> {
        let mut out = Vec::new();
        for (member, value) in members(text)?.0 {
            let root = self.root_of_member(&member)?;
            self.split_canonical_root(root, value, &mut out)?;
        }
        Ok(out)
    }

    fn split_canonical_root(
        &self,
        root: NodeId,
        value: &RawValue,
        out: &mut Vec<(UnitKey, String)>,
    ) -> Result<(), Error> {
        let root_path = self.schema_path(root);
        let rem_id = self.remainder_of(root).ok_or_else(|| {
            Error::invalid(
                ErrorTag::InvalidValue,
                root_path.clone(),
                "not configuration",
            )
        })?;
        let mut remainder = String::new();
        for (member, v) in members(value.get())?.0 {
            let child = self.child_by_member(root, &member).ok_or_else(|| {
                Error::invalid(
                    ErrorTag::UnknownElement,
                    format!("{root_path}/{member}"),
                    "unknown node",
                )
            })?;
            match self.node(child).unit {
                Some(list) => {
                    let entries: Vec<&RawValue> =
                        serde_json::from_str(v.get()).map_err(malformed)?;
                    let def = self.unit(list);
                    for e in entries {
                        let fields = members(e.get())?.0;
                        let mut values = Vec::with_capacity(def.keys().len());
                        for k in def.keys() {
                            let raw = fields
                                .iter()
                                .find(|(m, _)| m == k)
                                .map(|(_, r)| *r)
                                .ok_or_else(|| {
                                    Error::invalid(
                                        ErrorTag::MissingElement,
                                        def.path_prefix().to_owned(),
                                        format!("list entry without its key '{k}'"),
                                    )
                                })?;
                            values.push(key_text(raw)?);
                        }
                        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                        out.push((self.unit_key(list, &refs)?, e.get().to_owned()));
                    }
                }
                None => {
                    remainder.push(if remainder.is_empty() { '{' } else { ',' });
                    // Member names are YANG identifiers (with an optional module prefix):
                    // nothing in them needs escaping.
                    remainder.push('"');
                    remainder.push_str(&member);
                    remainder.push_str("\":");
                    remainder.push_str(v.get());
                }
            }
        }
        if !remainder.is_empty() {
            remainder.push('}');
            out.push((self.remainder_key(rem_id), remainder));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Encoding;

    /// The slicing split gives exactly what parsing and re-printing gives.
    #[test]
    fn slices_equal_reprinted_units() {
        let s = Schema::new().unwrap();
        let doc = r#"{"netloom-host:networks":{"network":[
            {"name":"b","type":"bridge","mtu":1500,
             "ipam":{"pool":[{"name":"p","subnet":"10.0.0.0/24","gateway":"10.0.0.1"}]}},
            {"name":"c","type":"bridge"}]},
          "netloom-host:system":{"commit-history":2000,
            "user":[{"name":"admin","role":"admin","authorized-key":["k \"q\" \u00e9\t/ \u2028"]}]},
          "netloom-host:pods":{"pod":[{"namespace":"n","name":"p",
            "interface":[{"name":"eth0","network":"c"}]}]}}"#;
        let canonical = s.validate(doc, Encoding::Json).unwrap();
        let sliced = s.split_canonical(&canonical).unwrap();
        let value: serde_json::Value = serde_json::from_str(&canonical).unwrap();
        let reprinted: Vec<(UnitKey, String)> = s
            .split(value)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        assert_eq!(sliced, reprinted);
        assert_eq!(sliced.len(), 5, "{sliced:#?}");
        assert!(s.split_canonical("[1]").is_err());
        assert!(s.split_canonical(r#"{"netloom-host:bogus":{}}"#).is_err());
    }
}
