//! Reads: configuration documents cut to a subtree, live list keys for completion, the
//! commit log. All served from snapshots, never through the engine's writer.

use std::sync::Arc;

use netloom_store::CommitRecord;
use netloom_yang::{DataPath, ErrorTag, Schema, UnitKey, UnitMap};
use serde_json::{json, Value};

use super::candidate::yang_error;
use crate::api::{date_and_time, ApiError};

/// The instance path that selects units for `path`: its first two steps (root container,
/// top-level list entry), as unit keys spell them.
fn unit_prefix(schema: &Schema, path: &str) -> Result<String, ApiError> {
    let parsed = DataPath::parse_xpath(path).map_err(yang_error)?;
    let resolved = schema.resolve(&parsed).map_err(yang_error)?;
    let mut prefix = String::new();
    for seg in resolved.segments.iter().take(2) {
        let one = DataPath {
            segments: vec![seg.clone()],
        };
        prefix.push_str(&one.to_xpath().map_err(yang_error)?);
    }
    Ok(prefix)
}

/// The units whose path starts with `prefix`, in map order; a range scan per unit list.
fn units_under<'u>(
    schema: &Schema,
    units: &'u UnitMap,
    prefix: &str,
) -> Vec<(&'u UnitKey, &'u str)> {
    let mut out = Vec::new();
    for (i, def) in schema.units().iter().enumerate() {
        let list = netloom_yang::UnitListId(i as u16);
        let dp = def.path_prefix();
        if !(dp.starts_with(prefix) || prefix.starts_with(dp)) {
            continue;
        }
        let from = UnitKey {
            list,
            path: Arc::from(prefix),
        };
        out.extend(
            units
                .range(from..)
                .take_while(|(k, _)| k.list == list && k.path.starts_with(prefix))
                .map(|(k, v)| (k, &**v)),
        );
    }
    out
}

/// The RFC 7951 document of the units under `path` (all of them without one).
pub fn document(schema: &Schema, units: &UnitMap, path: Option<&str>) -> Result<Value, ApiError> {
    let text = match path {
        None | Some("/") | Some("") => schema.to_json(units.iter().map(|(k, v)| (k, &**v))),
        Some(p) => {
            let prefix = unit_prefix(schema, p)?;
            schema.to_json(units_under(schema, units, &prefix))
        }
    };
    serde_json::from_str(&text).map_err(|e| ApiError::new(ErrorTag::OperationFailed, e.to_string()))
}

/// Distinct values of key number `fixed.len()` of top-level list `path` whose earlier keys
/// are `fixed` and which start with `prefix`; at most `limit`, and whether there were more.
pub fn keys(
    schema: &Schema,
    units: &UnitMap,
    path: &str,
    fixed: &[String],
    prefix: &str,
    limit: usize,
) -> Result<(Vec<String>, bool), ApiError> {
    let def_id = schema
        .units()
        .iter()
        .position(|u| !u.is_remainder() && u.path_prefix() == path)
        .ok_or_else(|| {
            ApiError::new(
                ErrorTag::UnknownElement,
                format!("{path} is not a top-level list"),
            )
        })?;
    let def = &schema.units()[def_id];
    let Some(key_name) = def.keys().get(fixed.len()) else {
        return Ok((Vec::new(), false));
    };
    // Unit paths spell keys as [k='v'] in key order (or [k="v"] when v holds a '), so a key
    // prefix is a path prefix: one lazy range scan per quote style, merged in order.
    let mut head = path.to_owned();
    for (k, v) in def.keys().iter().zip(fixed) {
        head.push_str(&format!("[{k}={}]", predicate(v)));
    }
    let list = netloom_yang::UnitListId(def_id as u16);
    let mut found: Vec<String> = Vec::new();
    let mut more = false;
    for quote in ['\'', '"'] {
        if quote == '\'' && prefix.contains('\'') {
            continue;
        }
        let scan = format!("{head}[{key_name}={quote}{prefix}");
        let start = scan.len() - prefix.len();
        let end = format!("{quote}]");
        let from = UnitKey {
            list,
            path: Arc::from(scan.as_str()),
        };
        // Stops after `limit` distinct matches even over 100k entries.
        let mut taken: Vec<String> = Vec::new();
        for (key, _) in units
            .range(from..)
            .take_while(|(k, _)| k.list == list && k.path.starts_with(scan.as_str()))
        {
            let Some(rest) = key.path.get(start..) else {
                continue;
            };
            let Some(stop) = rest.find(end.as_str()) else {
                continue;
            };
            let value = &rest[..stop];
            if taken.last().is_some_and(|l| l == value) {
                continue;
            }
            if taken.len() == limit {
                more = true;
                break;
            }
            taken.push(value.to_owned());
        }
        found.extend(taken);
    }
    found.sort();
    if found.len() > limit {
        found.truncate(limit);
        more = true;
    }
    Ok((found, more))
}

/// A key value in the quotes a unit path spells it with.
fn predicate(v: &str) -> String {
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}

/// The commit log for the CLI.
pub fn commits(records: Vec<CommitRecord>, diff: bool) -> Value {
    let list: Vec<Value> = records
        .into_iter()
        .map(|c| {
            let mut v = json!({
                "id": c.id,
                "time": date_and_time(c.time_ms),
                "user": c.user,
                "comment": c.comment,
                "confirmed": c.confirm.as_str(),
            });
            if diff {
                if let Some(obj) = v.as_object_mut() {
                    let changes: Vec<Value> = c
                        .changes
                        .iter()
                        .map(|u| json!({"path": &*u.path, "old": u.old.as_deref(), "new": u.new.as_deref()}))
                        .collect();
                    obj.insert("changes".into(), Value::Array(changes));
                }
            }
            v
        })
        .collect();
    json!({ "commits": list })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Completion reads keys straight off unit paths, so values holding quotes or spaces
    /// (which key types with a free string allow) come back whole and in order.
    #[test]
    fn keys_with_quotes_and_spaces_complete_whole() {
        let s = Schema::new().unwrap();
        let list = netloom_yang::UnitListId(
            s.units()
                .iter()
                .position(|u| u.path_prefix() == "/netloom-host:networks/network")
                .unwrap() as u16,
        );
        let mut units = UnitMap::new();
        for name in ["it's", "it is", "its", "plain"] {
            let key = s.unit_key(list, &[name]).unwrap();
            units.insert(key, Arc::from("{}"));
        }
        let p = "/netloom-host:networks/network";
        let all = keys(&s, &units, p, &[], "", 10).unwrap();
        assert_eq!(
            all,
            (
                vec!["it is".into(), "it's".into(), "its".into(), "plain".into()],
                false
            )
        );
        let quoted = keys(&s, &units, p, &[], "it'", 10).unwrap();
        assert_eq!(quoted.0, vec!["it's".to_owned()]);
        let spaced = keys(&s, &units, p, &[], "it ", 10).unwrap();
        assert_eq!(spaced.0, vec!["it is".to_owned()]);
        let limited = keys(&s, &units, p, &[], "i", 2).unwrap();
        assert_eq!(limited, (vec!["it is".into(), "it's".into()], true));
    }
}
