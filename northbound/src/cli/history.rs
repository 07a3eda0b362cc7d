//! Past configurations for configure mode's `rollback N`: running as it was right after
//! commit N, rebuilt from the commit log's unit diffs, and the edits that turn one
//! configuration into another (so a rollback is loaded into the private candidate like any
//! other change, to `compare` and `commit`).

use std::collections::BTreeMap;
use std::sync::Arc;

use netloom_store::CommitRecord;
use netloom_yang::{DataPath, Edit, EditOp, ErrorTag, Schema, UnitKey, UnitMap};
use serde_json::{Map, Value};

use super::candidate::yang_error;
use crate::api::ApiError;

/// Running right after commit `id`, given running now (after commit `newest`) and the
/// commit records (with diffs) newer than `id` and `id` itself.
pub fn units_at(
    schema: &Schema,
    running: &UnitMap,
    newest: u64,
    records: &[CommitRecord],
    id: u64,
) -> Result<UnitMap, ApiError> {
    if id > newest {
        return Err(ApiError::new(
            ErrorTag::InvalidValue,
            format!("there is no commit {id} (the newest is {newest})"),
        ));
    }
    if !records.iter().any(|r| r.id == id) {
        return Err(ApiError::new(
            ErrorTag::InvalidValue,
            format!("commit {id} is no longer in the commit log (see `show commits`)"),
        ));
    }
    // Each unit takes its value from before the oldest change after `id`.
    let mut back: BTreeMap<UnitKey, Option<Arc<str>>> = BTreeMap::new();
    let mut newer: Vec<&CommitRecord> = records.iter().filter(|r| r.id > id).collect();
    newer.sort_by_key(|r| std::cmp::Reverse(r.id));
    for record in newer {
        for change in &record.changes {
            if let Some(key) = schema.unit_of_path(&change.path) {
                back.insert(key, change.old.clone());
            }
        }
    }
    let mut units = running.clone();
    for (key, value) in back {
        match value {
            Some(text) => units.insert(key, text),
            None => units.remove(&key),
        };
    }
    Ok(units)
}

fn parsed(text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            ErrorTag::OperationFailed,
            format!("stored configuration: {e}"),
        )
    })
}

fn at(path: &str) -> Result<DataPath, ApiError> {
    DataPath::parse_xpath(path).map_err(yang_error)
}

/// Edits that make `from` into `to`: a list entry replaced or removed as a whole, a root
/// container's other members one by one (replacing the container would take its lists).
pub fn edits_between(schema: &Schema, from: &UnitMap, to: &UnitMap) -> Result<Vec<Edit>, ApiError> {
    let mut edits = Vec::new();
    for item in from.diff(to) {
        let (key, old, new) = match item {
            imbl::ordmap::DiffItem::Add(k, v) => (k, None, Some(v)),
            imbl::ordmap::DiffItem::Remove(k, v) => (k, Some(v), None),
            imbl::ordmap::DiffItem::Update { old, new } => (new.0, Some(old.1), Some(new.1)),
        };
        if !schema.unit(key.list).is_remainder() {
            edits.push(match new {
                Some(text) => Edit {
                    op: EditOp::Replace,
                    path: at(&key.path)?,
                    value: Some(parsed(text)?),
                },
                None => Edit {
                    op: EditOp::Remove,
                    path: at(&key.path)?,
                    value: None,
                },
            });
            continue;
        }
        let members = |text: Option<&Arc<str>>| -> Result<Map<String, Value>, ApiError> {
            match text.map(|t| parsed(t)).transpose()? {
                Some(Value::Object(m)) => Ok(m),
                _ => Ok(Map::new()),
            }
        };
        let (old, new) = (members(old)?, members(new)?);
        for (member, value) in &new {
            if old.get(member) != Some(value) {
                edits.push(Edit {
                    op: EditOp::Replace,
                    path: at(&format!("{}/{member}", key.path))?,
                    value: Some(value.clone()),
                });
            }
        }
        for member in old.keys().filter(|m| !new.contains_key(*m)) {
            edits.push(Edit {
                op: EditOp::Remove,
                path: at(&format!("{}/{member}", key.path))?,
                value: None,
            });
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use netloom_store::{ConfirmState, UnitChange};
    use serde_json::json;

    fn record(id: u64, changes: Vec<UnitChange>) -> CommitRecord {
        CommitRecord {
            id,
            time_ms: 0,
            user: "t".into(),
            comment: None,
            changes,
            confirm: ConfirmState::NotRequired,
        }
    }

    #[test]
    fn rebuilds_an_old_configuration_and_the_edits_back_to_it() {
        let s = Schema::new().unwrap();
        let blue = "/netloom-host:networks/network[name='blue']";
        let red = "/netloom-host:networks/network[name='red']";
        let mut now = UnitMap::new();
        s.apply_edits(
            &mut now,
            vec![
                Edit {
                    op: EditOp::Merge,
                    path: DataPath::parse_xpath(blue).unwrap(),
                    value: Some(json!({"name": "blue", "type": "bridge", "mtu": 9000})),
                },
                Edit {
                    op: EditOp::Merge,
                    path: DataPath::parse_xpath("/netloom-host:system/commit-history").unwrap(),
                    value: Some(json!(50)),
                },
            ],
        )
        .unwrap();
        let old_blue: Arc<str> = Arc::from(r#"{"name":"blue","type":"bridge"}"#);
        let old_red: Arc<str> = Arc::from(r#"{"name":"red","type":"macvlan"}"#);
        let change = |p: &str, old: Option<Arc<str>>| UnitChange {
            path: Arc::from(p),
            old,
            new: None,
        };
        // Commit 3 changed blue's mtu; commit 2 removed red and set commit-history.
        let records = vec![
            record(3, vec![change(blue, Some(old_blue.clone()))]),
            record(
                2,
                vec![
                    change(red, Some(old_red.clone())),
                    change("/netloom-host:system", None),
                ],
            ),
            record(1, vec![]),
        ];
        let at1 = units_at(&s, &now, 3, &records, 1).unwrap();
        let get = |m: &UnitMap, p: &str| m.get(&s.unit_of_path(p).unwrap()).cloned();
        assert_eq!(get(&at1, blue), Some(old_blue));
        assert_eq!(get(&at1, red), Some(old_red));
        assert_eq!(get(&at1, "/netloom-host:system"), None);
        let at2 = units_at(&s, &now, 3, &records, 2).unwrap();
        assert_eq!(get(&at2, red), None);
        assert!(units_at(&s, &now, 3, &records[..1], 1).is_err());
        assert!(units_at(&s, &now, 3, &records, 4).is_err());

        let edits = edits_between(&s, &now, &at1).unwrap();
        let mut replayed = now.clone();
        s.apply_edits(&mut replayed, edits).unwrap();
        let doc = |m: &UnitMap| -> Value {
            serde_json::from_str(&s.to_json(m.iter().map(|(k, v)| (k, &**v)))).unwrap()
        };
        assert_eq!(doc(&replayed), doc(&at1));
    }
}
