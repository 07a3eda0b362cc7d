//! Values on the wire: matches encoded as gNMI TypedValues (JSON_IETF and JSON as one value
//! per match; PROTO as scalar TypedValues and ASCII as text, one per leaf), and a Set's
//! TypedValue decoded into the RFC 7951 JSON an edit carries.

use netloom_yang::{NodeId, NodeKind, Schema};
use serde_json::{Map, Value};
use tonic::Status;

use super::error::invalid;
use super::proto::gnmi::typed_value::Value as Tv;
use super::proto::gnmi::{Encoding, PathElem, ScalarArray, TypedValue};
use super::tree::{text, Match};

/// The encodings netloom answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Enc {
    JsonIetf,
    Json,
    Proto,
    Ascii,
}

/// A request's encoding; gNMI section 3.3.1: an unsupported one is UNIMPLEMENTED.
pub fn encoding(code: i32) -> Result<Enc, Status> {
    match Encoding::try_from(code) {
        Ok(Encoding::JsonIetf) => Ok(Enc::JsonIetf),
        Ok(Encoding::Json) => Ok(Enc::Json),
        Ok(Encoding::Proto) => Ok(Enc::Proto),
        Ok(Encoding::Ascii) => Ok(Enc::Ascii),
        Ok(Encoding::Bytes) => Err(Status::unimplemented("encoding BYTES is not supported")),
        Err(_) => Err(Status::unimplemented(format!("unknown encoding {code}"))),
    }
}

/// One path and its value.
pub type Leaf = (Vec<PathElem>, TypedValue);

/// Encode a match into one value (JSON encodings) or one per leaf (PROTO, ASCII).
pub fn encode(schema: &Schema, enc: Enc, m: &Match, out: &mut Vec<Leaf>) {
    match enc {
        Enc::JsonIetf => out.push((m.path.clone(), json_value(m.value.to_string(), true))),
        Enc::Json => {
            let v = if m.node.is_none() {
                unqualified(&m.value)
            } else {
                m.value.clone()
            };
            out.push((m.path.clone(), json_value(v.to_string(), false)));
        }
        Enc::Proto | Enc::Ascii => {
            let mut path = m.path.clone();
            leaves(schema, m.node, &m.value, enc, &mut path, out);
        }
    }
}

fn json_value(text: String, ietf: bool) -> TypedValue {
    TypedValue {
        value: Some(if ietf {
            Tv::JsonIetfVal(text.into_bytes())
        } else {
            Tv::JsonVal(text.into_bytes())
        }),
    }
}

/// The document with its top-level members' module prefixes removed (plain JSON).
fn unqualified(doc: &Value) -> Value {
    match doc {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| {
                    let name = k.split_once(':').map_or(k.as_str(), |(_, n)| n);
                    (name.to_owned(), v.clone())
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn leaves(
    schema: &Schema,
    node: Option<NodeId>,
    value: &Value,
    enc: Enc,
    path: &mut Vec<PathElem>,
    out: &mut Vec<Leaf>,
) {
    let kind = node.map(|n| schema.node(n).kind);
    match kind {
        Some(NodeKind::Leaf) => out.push((path.clone(), scalar(schema, node, value, enc))),
        Some(NodeKind::LeafList) => {
            let items = value.as_array().cloned().unwrap_or_default();
            let tv = if enc == Enc::Ascii {
                let texts: Vec<String> = items.iter().filter_map(text).collect();
                Tv::AsciiVal(texts.join(","))
            } else {
                Tv::LeaflistVal(ScalarArray {
                    element: items.iter().map(|v| scalar(schema, node, v, enc)).collect(),
                })
            };
            out.push((path.clone(), TypedValue { value: Some(tv) }));
        }
        _ => {
            let Some(obj) = value.as_object() else { return };
            for (member, v) in obj {
                let child = match node {
                    Some(n) => schema.child_by_member(n, member),
                    None => member
                        .split_once(':')
                        .and_then(|(m, name)| schema.root(m, name)),
                };
                let Some(c) = child else { continue };
                let info = schema.node(c);
                if info.kind == NodeKind::List {
                    for entry in v.as_array().into_iter().flatten() {
                        let key = info
                            .keys
                            .iter()
                            .filter_map(|k| Some((k.clone(), entry.get(k).and_then(text)?)))
                            .collect();
                        path.push(PathElem {
                            name: info.name.clone(),
                            key,
                        });
                        leaves(schema, Some(c), entry, enc, path, out);
                        path.pop();
                    }
                } else {
                    path.push(PathElem {
                        name: info.name.clone(),
                        key: Default::default(),
                    });
                    leaves(schema, Some(c), v, enc, path, out);
                    path.pop();
                }
            }
        }
    }
}

/// Whether a leaf's type is a 64-bit unsigned or signed integer (RFC 7951 writes those as
/// strings; PROTO sends them as numbers).
fn wide_integer(schema: &Schema, node: Option<NodeId>) -> Option<bool> {
    let t = node.and_then(|n| schema.node(n).type_name.as_deref())?;
    match t {
        "Uint64" | "counter64" | "gauge64" | "zero-based-counter64" | "timeticks64" => Some(true),
        "Int64" => Some(false),
        _ => None,
    }
}

/// A scalar leaf value as a TypedValue.
fn scalar(schema: &Schema, node: Option<NodeId>, v: &Value, enc: Enc) -> TypedValue {
    let tv = match (enc, v) {
        (Enc::Ascii, _) => Tv::AsciiVal(text(v).unwrap_or_default()),
        (_, Value::Bool(b)) => Tv::BoolVal(*b),
        (_, Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Tv::UintVal(u),
            (None, Some(i)) => Tv::IntVal(i),
            _ => Tv::DoubleVal(n.as_f64().unwrap_or_default()),
        },
        (_, Value::String(s)) => match wide_integer(schema, node) {
            Some(true) => s
                .parse()
                .map_or_else(|_| Tv::StringVal(s.clone()), Tv::UintVal),
            Some(false) => s
                .parse()
                .map_or_else(|_| Tv::StringVal(s.clone()), Tv::IntVal),
            None => Tv::StringVal(s.clone()),
        },
        // The YANG `empty` type: `[null]` in RFC 7951.
        (_, Value::Array(_)) => Tv::BoolVal(true),
        (_, other) => Tv::StringVal(other.to_string()),
    };
    TypedValue { value: Some(tv) }
}

/// A Set value as RFC 7951 JSON for the node at its path (`None`: the datastore root).
pub fn decode(schema: &Schema, node: Option<NodeId>, tv: &TypedValue) -> Result<Value, Status> {
    let number = node.is_some_and(|n| schema.node(n).json_number);
    let v = match tv.value.as_ref() {
        None => return Err(invalid("an update has no value")),
        Some(Tv::JsonIetfVal(b)) => parse(b)?,
        Some(Tv::JsonVal(b)) => {
            let v = parse(b)?;
            if node.is_none() {
                qualified(v)
            } else {
                v
            }
        }
        Some(Tv::StringVal(s)) | Some(Tv::AsciiVal(s)) => Value::String(s.clone()),
        Some(Tv::BoolVal(b)) => Value::Bool(*b),
        Some(Tv::IntVal(i)) if number => Value::from(*i),
        Some(Tv::UintVal(u)) if number => Value::from(*u),
        Some(Tv::IntVal(i)) => Value::String(i.to_string()),
        Some(Tv::UintVal(u)) => Value::String(u.to_string()),
        Some(Tv::DoubleVal(d)) => Value::String(d.to_string()),
        Some(Tv::LeaflistVal(a)) => Value::Array(
            a.element
                .iter()
                .map(|e| decode(schema, node, e))
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => {
            return Err(invalid(
                "unsupported TypedValue: use json_ietf_val, json_val or a scalar",
            ))
        }
    };
    if node.is_some_and(|n| schema.node(n).kind == NodeKind::Leaf)
        && !v.is_string()
        && !v.is_number()
        && !v.is_boolean()
        && !v.is_array()
    {
        return Err(invalid("a leaf takes a scalar value"));
    }
    Ok(v)
}

fn parse(bytes: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(bytes).map_err(|e| invalid(format!("malformed JSON value: {e}")))
}

/// Plain JSON at the root names top-level members without their module: add it.
fn qualified(v: Value) -> Value {
    match v {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .map(|(k, v)| {
                    if k.contains(':') {
                        (k, v)
                    } else {
                        (format!("{}:{k}", super::path::MODULE), v)
                    }
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn proto_flattens_to_typed_leaves() {
        let s = Schema::new().unwrap();
        let root = s.root("netloom-host", "networks").unwrap();
        let m = Match {
            path: vec![],
            node: Some(root),
            value: json!({"network": [{"name": "a", "mtu": 1400, "type": "bridge"}]}),
        };
        let mut out = Vec::new();
        encode(&s, Enc::Proto, &m, &mut out);
        let mtu = out
            .iter()
            .find(|(p, _)| p.last().unwrap().name == "mtu")
            .unwrap();
        assert_eq!(mtu.0[0].key["name"], "a");
        assert_eq!(mtu.1.value, Some(Tv::UintVal(1400)));
        assert!(encoding(Encoding::Bytes as i32).is_err());
        assert!(encoding(77).is_err());
        let net = s.child(root, None, "network").unwrap();
        let mtu_node = s.child(net, None, "mtu").unwrap();
        let v = decode(
            &s,
            Some(mtu_node),
            &TypedValue {
                value: Some(Tv::UintVal(1500)),
            },
        )
        .unwrap();
        assert_eq!(v, json!(1500));
        let bad = TypedValue {
            value: Some(Tv::JsonIetfVal(b"{nope".to_vec())),
        };
        assert_eq!(
            decode(&s, Some(net), &bad).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
