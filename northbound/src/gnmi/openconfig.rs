//! The OpenConfig paths collectors query (`origin: "openconfig"`, or an unnamed origin
//! starting at `/interfaces`): interface state and counters from the daemon's observer,
//! rendered as the `openconfig-interfaces` tree and walked without a schema (lists are
//! arrays keyed by `name`). Read-only: a Set on these paths is refused elsewhere.

use std::collections::HashMap;

use serde_json::Value;
use tonic::Status;

use super::encode::{Enc, Leaf};
use super::error::status_of;
use super::path::{Elem, GPath};
use super::proto::gnmi::typed_value::Value as Tv;
use super::proto::gnmi::{PathElem, TypedValue};
use super::Inner;
use crate::api::Principal;
use crate::interfaces::openconfig_doc;

/// The module the tree's top node belongs to (named in JSON_IETF at the root).
const MODULE: &str = "openconfig-interfaces";

/// The values `path` selects now: one per match in the JSON encodings (unless `expand`, as
/// subscriptions ask, which gives one per leaf), one per leaf in PROTO and ASCII.
pub async fn select(
    inner: &Inner,
    who: &Principal,
    path: &GPath,
    enc: Enc,
    expand: bool,
) -> Result<Vec<Leaf>, Status> {
    let interfaces = inner
        .handle
        .interfaces(who)
        .await
        .map_err(|e| status_of(&e))?;
    let doc = openconfig_doc(&interfaces);
    let mut matches = Vec::new();
    walk(&doc, &path.elems, &mut Vec::new(), &mut matches);
    let mut out = Vec::new();
    for (p, v) in matches {
        let whole = matches!(enc, Enc::Json | Enc::JsonIetf) && !expand;
        if whole {
            let v = if p.is_empty() && enc == Enc::JsonIetf {
                qualify(v)
            } else {
                v.clone()
            };
            let text = if enc == Enc::JsonIetf {
                ietf(&v, false)
            } else {
                v
            }
            .to_string()
            .into_bytes();
            let value = if enc == Enc::JsonIetf {
                Tv::JsonIetfVal(text)
            } else {
                Tv::JsonVal(text)
            };
            out.push((p, TypedValue { value: Some(value) }));
        } else {
            let mut here = p;
            let counters = here.iter().any(|e| e.name == "counters");
            flatten(v, enc, counters, &mut here, &mut out);
        }
    }
    Ok(out)
}

fn qualify(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (format!("{MODULE}:{k}"), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// RFC 7951 writes the 64-bit counters as strings.
fn ietf(v: &Value, counters: bool) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), ietf(v, counters || k == "counters")))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| ietf(v, counters)).collect()),
        Value::Number(n) if counters => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// Every leaf under `v`, with its path.
fn flatten(v: &Value, enc: Enc, counters: bool, here: &mut Vec<PathElem>, out: &mut Vec<Leaf>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                visit(k, child, here, |here, c| {
                    flatten(c, enc, counters || k == "counters", here, out)
                });
            }
        }
        Value::Array(_) => {}
        leaf => out.push((here.clone(), scalar(leaf, enc, counters))),
    }
}

fn scalar(v: &Value, enc: Enc, counter: bool) -> TypedValue {
    let value = match enc {
        Enc::Proto => match v {
            Value::Number(n) => n.as_u64().map_or(Tv::StringVal(n.to_string()), Tv::UintVal),
            Value::Bool(b) => Tv::BoolVal(*b),
            Value::String(s) => Tv::StringVal(s.clone()),
            other => Tv::StringVal(other.to_string()),
        },
        Enc::Ascii => Tv::AsciiVal(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Enc::Json => Tv::JsonVal(v.to_string().into_bytes()),
        Enc::JsonIetf => Tv::JsonIetfVal(ietf(v, counter).to_string().into_bytes()),
    };
    TypedValue { value: Some(value) }
}

/// Step into member `name` holding `child`: a list (array) entry by entry with its key.
fn visit(
    name: &str,
    child: &Value,
    here: &mut Vec<PathElem>,
    mut f: impl FnMut(&mut Vec<PathElem>, &Value),
) {
    match child {
        Value::Array(entries) => {
            for entry in entries {
                let key: HashMap<String, String> = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .map(|n| HashMap::from([("name".to_owned(), n.to_owned())]))
                    .unwrap_or_default();
                here.push(PathElem {
                    name: name.to_owned(),
                    key,
                });
                f(here, entry);
                here.pop();
            }
        }
        _ => {
            here.push(PathElem {
                name: name.to_owned(),
                key: HashMap::new(),
            });
            f(here, child);
            here.pop();
        }
    }
}

/// The nodes of `v` that `elems` select (`*` any child, `...` any depth, keys filter
/// list entries).
fn walk<'v>(
    v: &'v Value,
    elems: &[Elem],
    here: &mut Vec<PathElem>,
    out: &mut Vec<(Vec<PathElem>, &'v Value)>,
) {
    let Some((e, rest)) = elems.split_first() else {
        out.push((here.clone(), v));
        return;
    };
    let Value::Object(o) = v else { return };
    if e.is_deep() {
        if rest.is_empty() {
            out.push((here.clone(), v));
            return;
        }
        walk(v, rest, here, out);
        for (k, child) in o {
            step(k, child, &BTreeKeys::default(), elems, here, out);
        }
        return;
    }
    for (k, child) in o {
        if e.is_any() || *k == e.name {
            step(k, child, &e.keys, rest, here, out);
        }
    }
}

type BTreeKeys = std::collections::BTreeMap<String, String>;

fn step<'v>(
    name: &str,
    child: &'v Value,
    keys: &BTreeKeys,
    rest: &[Elem],
    here: &mut Vec<PathElem>,
    out: &mut Vec<(Vec<PathElem>, &'v Value)>,
) {
    match child {
        Value::Array(entries) => {
            for entry in entries {
                let wanted = keys.iter().all(|(k, want)| {
                    want == "*" || entry.get(k).and_then(Value::as_str) == Some(want.as_str())
                });
                if !wanted {
                    continue;
                }
                let key = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .map(|n| HashMap::from([("name".to_owned(), n.to_owned())]))
                    .unwrap_or_default();
                here.push(PathElem {
                    name: name.to_owned(),
                    key,
                });
                walk(entry, rest, here, out);
                here.pop();
            }
        }
        _ if keys.is_empty() => {
            here.push(PathElem {
                name: name.to_owned(),
                key: HashMap::new(),
            });
            walk(child, rest, here, out);
            here.pop();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::interfaces::{Counters, InterfaceState, OperStatus};

    fn elems(text: &[(&str, Option<&str>)]) -> Vec<Elem> {
        text.iter()
            .map(|(n, k)| Elem {
                name: (*n).to_owned(),
                keys: k
                    .map(|k| BTreeKeys::from([("name".to_owned(), k.to_owned())]))
                    .unwrap_or_default(),
            })
            .collect()
    }

    #[test]
    fn wildcards_keys_and_leaves() {
        let i = |name: &str| InterfaceState {
            name: name.into(),
            ifindex: 1,
            oper: OperStatus::Up,
            admin_up: true,
            mtu: Some(1500),
            mac: None,
            counters: Some(Counters {
                in_pkts: 5,
                ..Counters::default()
            }),
        };
        let doc = openconfig_doc(&[i("a"), i("b")]);
        let mut out = Vec::new();
        let p = elems(&[
            ("interfaces", None),
            ("interface", Some("*")),
            ("state", None),
            ("counters", None),
            ("in-pkts", None),
        ]);
        walk(&doc, &p, &mut Vec::new(), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].0[1].key["name"], "b");
        let mut out = Vec::new();
        let p = elems(&[("...", None), ("oper-status", None)]);
        walk(&doc, &p, &mut Vec::new(), &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        let mut leaves = Vec::new();
        flatten(&doc, Enc::Proto, false, &mut Vec::new(), &mut leaves);
        let pkts = leaves
            .iter()
            .find(|(p, _)| p.last().unwrap().name == "in-pkts")
            .unwrap();
        assert_eq!(pkts.1.value, Some(Tv::UintVal(5)));
        let mut leaves = Vec::new();
        flatten(&doc, Enc::JsonIetf, false, &mut Vec::new(), &mut leaves);
        let pkts = leaves
            .iter()
            .find(|(p, _)| p.last().unwrap().name == "in-pkts")
            .unwrap();
        assert_eq!(pkts.1.value, Some(Tv::JsonIetfVal(b"\"5\"".to_vec())));
    }
}
