//! Where an entry of an ordered-by-user leaf-list goes: RFC 8040's `insert`/`point` query
//! parameters (POST, PUT) and RFC 8072's `insert`/`move` edits with `where`/`point`. The
//! new order is computed against the data the edit applies to and becomes ONE replace of
//! the whole leaf-list, so the engine sees a plain edit and the unit keeps the order as
//! written.

use netloom_yang::{DataPath, Edit, EditOp, ErrorTag, NodeKind, Schema, UnitMap};
use serde_json::Value;

use super::error::Error;
use super::tree;
use crate::api::ApiError;

/// Where the entry goes; the point is a resolved path to an entry of the same leaf-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    First,
    Last,
    Before(DataPath),
    After(DataPath),
}

/// What the entry must be before the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST, YANG-Patch `insert`: a new entry (data-exists otherwise).
    Create,
    /// PUT: new or already there (then it moves).
    Put,
    /// YANG-Patch `move`: an existing entry (data-missing otherwise).
    Move,
}

impl Where {
    /// `first`/`last`/`before`/`after` with its point (needed by the last two only).
    pub fn parse(word: &str, point: Option<DataPath>) -> Result<Where, String> {
        match (word, point) {
            ("first", None) => Ok(Where::First),
            ("last", None) => Ok(Where::Last),
            ("before", Some(p)) => Ok(Where::Before(p)),
            ("after", Some(p)) => Ok(Where::After(p)),
            ("before" | "after", None) => Err(format!("'{word}' needs a point")),
            ("first" | "last", Some(_)) => Err(format!("'{word}' takes no point")),
            _ => Err(format!("'{word}' is not first, last, before or after")),
        }
    }
}

fn shown(path: &DataPath) -> String {
    format!("/{}", path.to_restconf())
}

fn invalid(path: &DataPath, message: String) -> Error {
    Error::invalid(Some(shown(path)), message)
}

/// Insert and move apply to ordered-by-user data only (RFC 7950 section 7.7.7); netloom's
/// user-ordered data are leaf-lists.
pub fn check_user_ordered(schema: &Schema, entry: &DataPath) -> Result<(), Error> {
    let node = entry.segments.last().and_then(|s| s.node).ok_or_else(|| {
        invalid(
            entry,
            "insert and move need a list or leaf-list entry".into(),
        )
    })?;
    let info = schema.node(node);
    if !matches!(info.kind, NodeKind::LeafList | NodeKind::List) {
        return Err(invalid(
            entry,
            format!("'{}' is not a list or leaf-list entry", info.name),
        ));
    }
    if !info.user_ordered {
        return Err(invalid(
            entry,
            format!(
                "'{}' is ordered by the system: insert and move apply to ordered-by user data only",
                info.name
            ),
        ));
    }
    if info.kind == NodeKind::List {
        return Err(Error::Api(
            ApiError {
                path: Some(shown(entry)),
                ..ApiError::new(
                    ErrorTag::OperationNotSupported,
                    "insert and move are supported on ordered-by-user leaf-lists",
                )
            },
            false,
        ));
    }
    Ok(())
}

fn entry_value(path: &DataPath) -> Option<String> {
    let last = path.segments.last()?;
    last.value
        .clone()
        .or_else(|| last.keys.first().map(|k| k.1.clone()))
}

/// The leaf-list (the entry's path without its value) and its entries in `units`.
fn current(schema: &Schema, units: &UnitMap, entry: &DataPath) -> (DataPath, Vec<Value>) {
    let mut whole = entry.clone();
    if let Some(s) = whole.segments.last_mut() {
        s.value = None;
        s.keys.clear();
    }
    let items = match tree::Target::of(schema, &whole) {
        tree::Target::Inner { unit, steps } => {
            let entry_unit = schema.unit(unit.list).list_node().is_some();
            tree::unit_value(units, &unit)
                .and_then(|v| tree::dig(schema, v, &steps, entry_unit))
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    (whole, items)
}

/// The edit that puts `entry` where asked. `item` is the entry's value from the body
/// (None for a move).
pub fn position(
    schema: &Schema,
    units: &UnitMap,
    entry: &DataPath,
    item: Option<&Value>,
    at: &Where,
    mode: Mode,
) -> Result<Edit, Error> {
    check_user_ordered(schema, entry)?;
    let text = entry_value(entry)
        .ok_or_else(|| invalid(entry, "the target names no leaf-list entry".into()))?;
    let item = match item {
        None => Value::String(text.clone()),
        Some(v) => {
            let v = match v {
                Value::Array(a) if a.len() == 1 => &a[0],
                other => other,
            };
            if tree::scalar(v).as_deref() != Some(text.as_str()) {
                return Err(invalid(
                    entry,
                    format!("the value does not match the target entry '{text}'"),
                ));
            }
            v.clone()
        }
    };
    let (whole, items) = current(schema, units, entry);
    let existed = items
        .iter()
        .any(|v| tree::scalar(v).as_deref() == Some(text.as_str()));
    match (mode, existed) {
        (Mode::Create, true) => {
            return Err(Error::Api(
                ApiError {
                    path: Some(shown(entry)),
                    ..ApiError::new(ErrorTag::DataExists, "the entry already exists")
                },
                false,
            ))
        }
        (Mode::Move, false) => {
            return Err(Error::Api(
                ApiError {
                    path: Some(shown(entry)),
                    ..ApiError::new(ErrorTag::DataMissing, "the entry to move does not exist")
                },
                false,
            ))
        }
        _ => {}
    }
    let mut list: Vec<Value> = items
        .into_iter()
        .filter(|v| tree::scalar(v).as_deref() != Some(text.as_str()))
        .collect();
    let index = match at {
        Where::First => 0,
        Where::Last => list.len(),
        Where::Before(p) | Where::After(p) => {
            let same_list = p.segments.len() == entry.segments.len()
                && p.segments.last().and_then(|s| s.node)
                    == entry.segments.last().and_then(|s| s.node)
                && p.segments[..p.segments.len() - 1] == entry.segments[..entry.segments.len() - 1];
            if !same_list {
                return Err(invalid(
                    p,
                    "the point is not an entry of the target's leaf-list".into(),
                ));
            }
            let pv = entry_value(p).ok_or_else(|| invalid(p, "the point names no entry".into()))?;
            let i = list
                .iter()
                .position(|v| tree::scalar(v).as_deref() == Some(pv.as_str()))
                .ok_or_else(|| invalid(p, format!("the point '{pv}' is not an existing entry")))?;
            if matches!(at, Where::After(_)) {
                i + 1
            } else {
                i
            }
        }
    };
    list.insert(index, item);
    Ok(Edit {
        op: EditOp::Replace,
        path: whole,
        value: Some(Value::Array(list)),
    })
}
