//! YANG-Patch (RFC 8072) in JSON: every edit of a patch goes to the engine in ONE
//! `Request::Edit` (all or nothing). Edit-level failures (data-exists, data-missing, bad
//! targets) are found first by applying the edits in order to a copy of the snapshot, so
//! each is reported under its edit-id; a validation failure of the whole result is reported
//! under the edit whose target holds the failing path, else as a global error.
//! Also `insert`/`point` for ordered-by-user leaf-lists, which become a replace of the
//! whole leaf-list in its new order.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use netloom_yang::{DataPath, Edit, EditOp, NodeKind};
use serde_json::{json, Value};

use super::data::{self, DataRequest};
use super::encode::{MediaType, PATCH_JSON};
use super::error::{Error, ErrorEntry};
use super::query::Insert;
use super::tree;
use crate::api::Request;

struct PatchEdit {
    id: String,
    edit: Edit,
    xpath: String,
}

fn patch_status(
    patch_id: &str,
    global: Option<ErrorEntry>,
    failed: Option<(&str, ErrorEntry)>,
) -> Value {
    let mut status = serde_json::Map::new();
    status.insert("patch-id".into(), json!(patch_id));
    match (global, failed) {
        (None, None) => {
            status.insert("ok".into(), json!([null]));
        }
        (Some(g), _) => {
            status.insert("errors".into(), json!({"error": [g.to_json()]}));
        }
        (None, Some((id, e))) => {
            status.insert(
                "edit-status".into(),
                json!({"edit": [{"edit-id": id, "errors": {"error": [e.to_json()]}}]}),
            );
        }
    }
    json!({"ietf-yang-patch:yang-patch-status": status})
}

fn reply(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yang-data+json"),
    );
    resp
}

/// PATCH with `application/yang-patch+json`.
pub async fn yang_patch(
    r: DataRequest<'_>,
    media: MediaType,
    body: &str,
) -> Result<Response, Error> {
    if !matches!(r.view, data::View::Unified | data::View::Config(_)) {
        return Err(Error::MethodNotAllowed {
            method: "PATCH".into(),
            allow: r.view.allow(),
        });
    }
    if media != MediaType::PatchJson {
        return Err(Error::UnsupportedMediaType(format!(
            "{}: YANG-Patch is accepted as {PATCH_JSON}",
            media.content_type()
        )));
    }
    r.query.allow_only("PATCH", &[])?;
    let schema = &r.app.schema;
    let base = data::resolve(schema, r.path)?;
    let doc = data::parse_json(body)?;
    let patch = doc
        .get("ietf-yang-patch:yang-patch")
        .ok_or_else(|| Error::invalid(None, "the body is not an ietf-yang-patch:yang-patch"))?;
    let patch_id = patch
        .get("patch-id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let raw_edits = patch
        .get("edit")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(None, "a yang-patch needs its edit list"))?;
    let mut edits = Vec::new();
    for e in raw_edits {
        let id = e
            .get("edit-id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match parse_edit(&r, &base, e) {
            Ok(pe) => edits.push(PatchEdit { id, ..pe }),
            Err(err) => {
                let status = err.status();
                return Ok(reply(
                    status,
                    patch_status(&patch_id, None, Some((&id, err.entry()))),
                ));
            }
        }
    }
    // Edit-level checks, in order, on a copy of the snapshot.
    let snap = r.app.handle.snapshots().get(datastore(&r)).clone();
    let mut units = snap.units.clone();
    for pe in &edits {
        if let Err(e) = schema.apply_edits(&mut units, std::slice::from_ref(&pe.edit)) {
            let err = Error::from_yang(e);
            return Ok(reply(
                err.status(),
                patch_status(&patch_id, None, Some((&pe.id, err.entry()))),
            ));
        }
    }
    let v = super::conditional::Validators::of(datastore(&r), &snap);
    let guard = super::conditional::check_write(r.headers, &v, true)?;
    let ds = datastore(&r);
    let mut request = Request::Edit {
        datastore: ds,
        edits: edits.iter().map(|pe| pe.edit.clone()).collect(),
        comment: (!patch_id.is_empty()).then(|| format!("yang-patch {patch_id}")),
    };
    if let Some(version) = guard {
        request = Request::IfVersion {
            datastore: ds,
            version,
            request: Box::new(request),
        };
    }
    match r.app.handle.call(&r.who, request).await {
        Ok(_) => Ok(reply(StatusCode::OK, patch_status(&patch_id, None, None))),
        Err(e) => {
            let err = Error::from_api(e, false);
            if matches!(err, Error::Precondition(_)) {
                return Err(err);
            }
            let entry = err.entry();
            let owner = entry.path.as_deref().and_then(|p| {
                edits
                    .iter()
                    .filter(|pe| p.starts_with(&pe.xpath))
                    .max_by_key(|pe| pe.xpath.len())
            });
            Ok(match owner {
                Some(pe) => reply(
                    err.status(),
                    patch_status(&patch_id, None, Some((&pe.id, entry))),
                ),
                None => reply(err.status(), patch_status(&patch_id, Some(entry), None)),
            })
        }
    }
}

fn datastore(r: &DataRequest<'_>) -> netloom_store::DatastoreId {
    match r.view {
        data::View::Config(ds) => ds,
        _ => netloom_store::DatastoreId::Running,
    }
}

fn parse_edit(r: &DataRequest<'_>, base: &DataPath, e: &Value) -> Result<PatchEdit, Error> {
    let schema = &r.app.schema;
    let op = match e.get("operation").and_then(Value::as_str) {
        Some("create") | Some("insert") => EditOp::Create,
        Some("merge") => EditOp::Merge,
        Some("replace") => EditOp::Replace,
        Some("delete") => EditOp::Delete,
        Some("remove") => EditOp::Remove,
        Some("move") => {
            return Err(Error::Api(
                crate::api::ApiError::new(
                    netloom_yang::ErrorTag::OperationNotSupported,
                    "'move' is not supported",
                ),
                false,
            ))
        }
        other => return Err(Error::invalid(None, format!("unknown operation {other:?}"))),
    };
    let target = e
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(None, "an edit needs a target"))?;
    let joined = format!("{}/{}", base.to_restconf(), target.trim_start_matches('/'));
    let path = data::resolve(schema, joined.trim_start_matches('/'))?;
    let xpath = path.to_xpath().map_err(Error::from_yang)?;
    let value = match op {
        EditOp::Delete | EditOp::Remove => None,
        _ => {
            let v = e
                .get("value")
                .ok_or_else(|| Error::invalid(Some(target.into()), "the edit has no value"))?;
            Some(data::target_value(
                schema,
                &path,
                MediaType::Json,
                &v.to_string(),
            )?)
        }
    };
    Ok(PatchEdit {
        id: String::new(),
        edit: Edit { op, path, value },
        xpath,
    })
}

/// With `insert` (and `point`) on an ordered-by-user leaf-list entry: the edits that put the
/// entry where asked (a replace of the whole leaf-list in its new order). `None` without
/// `insert`.
pub fn ordered_insert(
    r: &DataRequest<'_>,
    path: &DataPath,
    value: &Value,
) -> Result<Option<Vec<Edit>>, Error> {
    let Some(insert) = r.query.insert()? else {
        return Ok(None);
    };
    let schema = &r.app.schema;
    let last = path
        .segments
        .last()
        .ok_or_else(|| Error::BadQuery("'insert' needs a list entry".into()))?;
    let node = last
        .node
        .ok_or_else(|| Error::BadQuery("unresolved path".into()))?;
    let info = schema.node(node);
    if !info.user_ordered {
        return Err(Error::BadQuery(format!(
            "'{}' is not ordered-by user",
            info.name
        )));
    }
    if info.kind != NodeKind::LeafList {
        return Err(Error::Api(
            crate::api::ApiError::new(
                netloom_yang::ErrorTag::OperationNotSupported,
                "insert is supported on ordered-by-user leaf-lists",
            ),
            false,
        ));
    }
    let item = match value {
        Value::Array(a) if a.len() == 1 => a[0].clone(),
        other => other.clone(),
    };
    let item_text = tree::scalar(&item)
        .ok_or_else(|| Error::invalid(None, "a leaf-list entry needs a value"))?;
    let mut whole = path.clone();
    if let Some(s) = whole.segments.last_mut() {
        s.value = None;
    }
    let snap = r.app.handle.snapshots().get(datastore(r)).clone();
    let current: Vec<Value> = match tree::Target::of(schema, &whole) {
        tree::Target::Inner { unit, steps } => {
            let entry_unit = schema.unit(unit.list).list_node().is_some();
            tree::unit_value(&snap.units, &unit)
                .and_then(|v| tree::dig(schema, v, &steps, entry_unit))
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let mut list: Vec<Value> = current
        .into_iter()
        .filter(|v| tree::scalar(v).as_deref() != Some(&item_text))
        .collect();
    let point_value = |p: &str| -> Result<String, Error> {
        let pp = DataPath::parse_restconf(p).map_err(Error::from_yang)?;
        pp.segments
            .last()
            .and_then(|s| s.keys.first().map(|k| k.1.clone()))
            .ok_or_else(|| Error::BadQuery(format!("point '{p}' names no entry")))
    };
    let at = match &insert {
        Insert::First => 0,
        Insert::Last => list.len(),
        Insert::Before(p) | Insert::After(p) => {
            let pv = point_value(p)?;
            let i = list
                .iter()
                .position(|v| tree::scalar(v).as_deref() == Some(&pv))
                .ok_or_else(|| Error::missing(p.clone()))?;
            if matches!(insert, Insert::After(_)) {
                i + 1
            } else {
                i
            }
        }
    };
    list.insert(at, item);
    Ok(Some(vec![Edit {
        op: EditOp::Replace,
        path: whole,
        value: Some(Value::Array(list)),
    }]))
}
