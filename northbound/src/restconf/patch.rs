//! YANG-Patch (RFC 8072) in JSON and XML: every edit of a patch goes to the engine in ONE
//! `Request::Edit` (all or nothing). Edit-level failures (data-exists, data-missing, bad
//! targets, insert/move on system-ordered data) are found first by applying the edits in
//! order to a copy of the snapshot, so each is reported under its edit-id; a validation
//! failure of the whole result is reported under the edit whose target holds the failing
//! path, else as a global error. `insert` and `move` are positioned against that copy, so
//! a later edit sees where an earlier one put its entry.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use netloom_yang::{DataPath, Edit, EditOp, Schema};
use serde_json::{json, Value};

use super::data::{self, DataRequest};
use super::encode::{xml_escape, MediaType};
use super::error::{Error, ErrorEntry};
use super::ordered::{self, Mode, Where};
use super::patch_doc::{self, RawEdit, RawValue, YANG_PATCH_NS};
use super::query::Insert;
use crate::api::Request;

/// One edit, parsed and resolved.
enum Change {
    Plain(Edit),
    /// `insert` (with the new entry's value) or `move` (without).
    Ordered {
        entry: DataPath,
        item: Option<Value>,
        at: Where,
        mode: Mode,
    },
}

struct PatchEdit {
    id: String,
    change: Change,
    xpath: String,
}

/// The outcome of a patch, in either encoding.
enum Status {
    Ok,
    Global(ErrorEntry),
    Edit(String, ErrorEntry),
}

fn status_json(patch_id: &str, status: &Status, schema: &Schema) -> String {
    let mut out = serde_json::Map::new();
    out.insert("patch-id".into(), json!(patch_id));
    match status {
        Status::Ok => {
            out.insert("ok".into(), json!([null]));
        }
        Status::Global(g) => {
            out.insert("errors".into(), json!({"error": [g.to_json(Some(schema))]}));
        }
        Status::Edit(id, e) => {
            out.insert(
                "edit-status".into(),
                json!({"edit": [{"edit-id": id, "errors": {"error": [e.to_json(Some(schema))]}}]}),
            );
        }
    }
    json!({"ietf-yang-patch:yang-patch-status": out}).to_string()
}

fn status_xml(patch_id: &str, status: &Status, schema: &Schema) -> String {
    let mut out = format!(
        "<yang-patch-status xmlns=\"{YANG_PATCH_NS}\"><patch-id>{}</patch-id>",
        xml_escape(patch_id)
    );
    match status {
        Status::Ok => out.push_str("<ok/>"),
        Status::Global(g) => {
            out.push_str("<errors>");
            g.to_xml(&mut out, Some(schema));
            out.push_str("</errors>");
        }
        Status::Edit(id, e) => {
            let _ = write!(
                out,
                "<edit-status><edit><edit-id>{}</edit-id><errors>",
                xml_escape(id)
            );
            e.to_xml(&mut out, Some(schema));
            out.push_str("</errors></edit></edit-status>");
        }
    }
    out.push_str("</yang-patch-status>");
    out
}

/// The answer's encoding: what `Accept` asked for, else the patch's own encoding.
fn answer_media(headers: &HeaderMap, negotiated: MediaType, patch: MediaType) -> MediaType {
    let asked = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| !a.trim().is_empty() && !a.contains("*/*"));
    match (asked, negotiated, patch) {
        (true, m, _) => m,
        (false, _, MediaType::PatchXml) => MediaType::Xml,
        _ => MediaType::Json,
    }
}

fn reply(
    http: StatusCode,
    patch_id: &str,
    status: &Status,
    media: MediaType,
    schema: &Schema,
) -> Response {
    let body = if media.is_xml() {
        status_xml(patch_id, status, schema)
    } else {
        status_json(patch_id, status, schema)
    };
    let mut resp = (http, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    resp
}

/// PATCH with `application/yang-patch+json` or `application/yang-patch+xml`.
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
    r.query.allow_only("PATCH", &[])?;
    let schema = &r.app.schema;
    let out = answer_media(r.headers, r.media, media);
    let base = data::resolve(schema, r.path)?;
    let patch = patch_doc::read(media, body)?;
    let failed = |id: &str, err: Error| {
        let status = Status::Edit(id.to_owned(), err.entry());
        reply(err.status(), &patch.id, &status, out, schema)
    };
    let mut edits = Vec::new();
    for e in &patch.edits {
        match parse_edit(schema, &base, e) {
            Ok(pe) => edits.push(pe),
            Err(err) => return Ok(failed(&e.id, err)),
        }
    }
    // Edit-level checks, in order, on a copy of the snapshot; ordered edits are placed
    // against what the edits before them made.
    let ds = datastore(&r);
    let snap = r.app.handle.snapshots().get(ds).clone();
    let mut units = snap.units.clone();
    let mut resolved = Vec::with_capacity(edits.len());
    for pe in &edits {
        let edit = match &pe.change {
            Change::Plain(e) => e.clone(),
            Change::Ordered {
                entry,
                item,
                at,
                mode,
            } => match ordered::position(schema, &units, entry, item.as_ref(), at, *mode) {
                Ok(e) => e,
                Err(err) => return Ok(failed(&pe.id, err)),
            },
        };
        if let Err(e) = schema.apply_edits(&mut units, std::slice::from_ref(&edit)) {
            return Ok(failed(&pe.id, Error::from_yang(e)));
        }
        resolved.push(edit);
    }
    let v = super::conditional::Validators::of(ds, &snap);
    let mut guard = super::conditional::check_write(r.headers, &v, true)?;
    if guard.is_none()
        && edits
            .iter()
            .any(|pe| matches!(pe.change, Change::Ordered { .. }))
    {
        // The order was computed from this snapshot: a commit in between must not be
        // silently overwritten by the whole leaf-list.
        guard = Some(snap.version);
    }
    let mut request = Request::Edit {
        datastore: ds,
        edits: resolved,
        comment: (!patch.id.is_empty()).then(|| format!("yang-patch {}", patch.id)),
    };
    if let Some(version) = guard {
        request = Request::IfVersion {
            datastore: ds,
            version,
            request: Box::new(request),
        };
    }
    match r.app.handle.call(&r.who, request).await {
        Ok(_) => Ok(reply(StatusCode::OK, &patch.id, &Status::Ok, out, schema)),
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
            let status = match owner {
                Some(pe) => Status::Edit(pe.id.clone(), entry),
                None => Status::Global(entry),
            };
            Ok(reply(err.status(), &patch.id, &status, out, schema))
        }
    }
}

fn datastore(r: &DataRequest<'_>) -> netloom_store::DatastoreId {
    match r.view {
        data::View::Config(ds) => ds,
        _ => netloom_store::DatastoreId::Running,
    }
}

/// A target or point: relative to the patch's target resource.
fn resolve_under(schema: &Schema, base: &DataPath, rel: &str) -> Result<DataPath, Error> {
    let joined = format!("{}/{}", base.to_restconf(), rel.trim_start_matches('/'));
    data::resolve(schema, joined.trim_start_matches('/'))
}

fn edit_value(schema: &Schema, path: &DataPath, e: &RawEdit) -> Result<Value, Error> {
    let raw = e
        .value
        .as_ref()
        .ok_or_else(|| Error::invalid(Some(e.target.clone()), "the edit has no value"))?;
    match raw {
        RawValue::Json(v) => data::target_value(schema, path, MediaType::Json, &v.to_string()),
        RawValue::Xml(elements) => {
            let mut values = Vec::with_capacity(elements.len());
            for el in elements {
                values.push(data::target_value(schema, path, MediaType::Xml, el)?);
            }
            Ok(match values.len() {
                1 => values.remove(0),
                _ => Value::Array(
                    values
                        .into_iter()
                        .flat_map(|v| match v {
                            Value::Array(a) => a,
                            other => vec![other],
                        })
                        .collect(),
                ),
            })
        }
    }
}

fn parse_edit(schema: &Schema, base: &DataPath, e: &RawEdit) -> Result<PatchEdit, Error> {
    if e.target.is_empty() {
        return Err(Error::invalid(None, "an edit needs a target"));
    }
    let path = resolve_under(schema, base, &e.target)?;
    let xpath = path.to_xpath().map_err(Error::from_yang)?;
    let plain = |op: EditOp, value: Option<Value>| {
        Change::Plain(Edit {
            op,
            path: path.clone(),
            value,
        })
    };
    let change = match e.operation.as_str() {
        "create" => plain(EditOp::Create, Some(edit_value(schema, &path, e)?)),
        "merge" => plain(EditOp::Merge, Some(edit_value(schema, &path, e)?)),
        "replace" => plain(EditOp::Replace, Some(edit_value(schema, &path, e)?)),
        "delete" => plain(EditOp::Delete, None),
        "remove" => plain(EditOp::Remove, None),
        op @ ("insert" | "move") => {
            ordered::check_user_ordered(schema, &path)?;
            let point = e
                .point
                .as_deref()
                .map(|p| resolve_under(schema, base, p))
                .transpose()?;
            let at = Where::parse(e.where_.as_deref().unwrap_or("last"), point)
                .map_err(|m| Error::invalid(Some(e.target.clone()), m))?;
            let (item, mode) = if op == "insert" {
                (Some(edit_value(schema, &path, e)?), Mode::Create)
            } else {
                (None, Mode::Move)
            };
            Change::Ordered {
                entry: path.clone(),
                item,
                at,
                mode,
            }
        }
        other => {
            return Err(Error::invalid(
                Some(e.target.clone()),
                format!("unknown operation '{other}'"),
            ))
        }
    };
    Ok(PatchEdit {
        id: e.id.clone(),
        change,
        xpath,
    })
}

/// With the `insert` (and `point`) query parameters on an ordered-by-user leaf-list entry:
/// the edit that puts it where asked. `None` without `insert`.
pub fn ordered_insert(
    r: &DataRequest<'_>,
    path: &DataPath,
    value: &Value,
    mode: Mode,
) -> Result<Option<Edit>, Error> {
    let Some(insert) = r.query.insert()? else {
        return Ok(None);
    };
    let schema = &r.app.schema;
    let point = |p: &str| data::resolve(schema, p.trim_start_matches('/'));
    let at = match &insert {
        Insert::First => Where::First,
        Insert::Last => Where::Last,
        Insert::Before(p) => Where::Before(point(p)?),
        Insert::After(p) => Where::After(point(p)?),
    };
    let snap = r.app.handle.snapshots().get(datastore(r)).clone();
    ordered::position(schema, &snap.units, path, Some(value), &at, mode).map(Some)
}
