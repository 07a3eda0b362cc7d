//! Set: the deletes, replaces, union_replaces and updates of one request become one
//! `Request::Edit` of running, so the engine commits all of them or none (gNMI section
//! 3.4.3). Deletes with wildcards are expanded against running first.

use netloom_store::DatastoreId;
use netloom_yang::{Edit, EditOp};
use tonic::Status;

use super::encode;
use super::error::{invalid, status_of, status_of_yang};
use super::get::now_ns;
use super::path::{GPath, Origin};
use super::proto::gnmi::update_result::Operation;
use super::proto::gnmi::{Path, SetRequest, SetResponse, Update, UpdateResult};
use super::proto::gnmi_ext::commit::Action;
use super::proto::gnmi_ext::extension::Ext;
use super::proto::gnmi_ext::{Commit, Extension};
use super::tree::{config_doc, Walker};
use super::Inner;
use crate::api::{Confirmed, Principal, Request};
use crate::auth::Identity;

pub async fn set(
    inner: &Inner,
    who: &Identity,
    principal: &Principal,
    req: SetRequest,
) -> Result<SetResponse, Status> {
    if !who.may_write() {
        return Err(Status::permission_denied(format!(
            "user {} may not change the configuration",
            who.user
        )));
    }
    let commit = commit_extension(&req.extension)?;
    let prefix = req.prefix.as_ref();
    let mut edits = Vec::new();
    let mut response = Vec::new();
    for p in &req.delete {
        let g = config_path(prefix, p)?;
        if g.has_wildcard() {
            for concrete in expand(inner, &g) {
                edits.push(delete(inner, &concrete)?);
            }
        } else {
            edits.push(delete(inner, &g)?);
        }
        response.push(result(p.clone(), Operation::Delete));
    }
    for (op, updates, edit_op) in [
        (Operation::Replace, &req.replace, EditOp::Replace),
        (Operation::UnionReplace, &req.union_replace, EditOp::Replace),
        (Operation::Update, &req.update, EditOp::Merge),
    ] {
        for u in updates {
            edits.push(write(inner, prefix, u, edit_op)?);
            response.push(result(u.path.clone().unwrap_or_default(), op));
        }
    }
    if let Some(commit) = commit {
        let request = confirmed_request(commit, edits)?;
        let outcome = inner.handle.call(principal, request).await;
        let _ = inner.handle.call(principal, Request::EndSession).await;
        outcome.map_err(|e| {
            tracing::info!(error = %e, "gNMI Set (commit extension) refused");
            status_of(&e)
        })?;
    } else if !edits.is_empty() {
        let outcome = inner
            .handle
            .call(
                principal,
                Request::Edit {
                    datastore: DatastoreId::Running,
                    edits,
                    comment: Some("gNMI Set".into()),
                },
            )
            .await;
        // The RPC was the session: release whatever it might hold.
        let _ = inner.handle.call(principal, Request::EndSession).await;
        outcome.map_err(|e| {
            tracing::info!(error = %e, "gNMI Set refused");
            status_of(&e)
        })?;
    }
    Ok(SetResponse {
        prefix: req.prefix,
        response,
        timestamp: now_ns(),
        ..SetResponse::default()
    })
}

/// The one extension Set understands: gNMI's commit-confirmed `Commit`; any other is
/// UNIMPLEMENTED (gNMI extensions spec: a target refuses extensions it does not support).
fn commit_extension(extensions: &[Extension]) -> Result<Option<Commit>, Status> {
    let mut commit = None;
    for e in extensions {
        match &e.ext {
            Some(Ext::Commit(c)) if commit.is_none() => commit = Some(c.clone()),
            Some(Ext::Commit(_)) => return Err(invalid("more than one commit extension")),
            _ => {
                return Err(Status::unimplemented(
                    "only the commit extension is supported on Set",
                ))
            }
        }
    }
    Ok(commit)
}

/// The default rollback duration when the client names none (NETCONF's confirm-timeout).
const DEFAULT_ROLLBACK_SECS: u32 = 600;

fn seconds(d: Option<&prost_types::Duration>) -> Result<u32, Status> {
    let Some(d) = d else {
        return Ok(DEFAULT_ROLLBACK_SECS);
    };
    if d.seconds < 0 || d.nanos < 0 || (d.seconds == 0 && d.nanos == 0) {
        return Err(invalid("rollback_duration must be positive"));
    }
    // Whole seconds, rounded up: the rollback never comes earlier than asked.
    let secs = d.seconds.saturating_add(i64::from(d.nanos > 0));
    u32::try_from(secs).map_err(|_| invalid("rollback_duration is too long"))
}

/// The engine request a Set with the commit extension makes: a commit starts a confirmed
/// commit of the Set's edits whose persist id is the client's id; confirm, cancel and a new
/// rollback duration act on that pending commit and carry no edits.
fn confirmed_request(commit: Commit, edits: Vec<Edit>) -> Result<Request, Status> {
    if commit.id.is_empty() {
        return Err(invalid("the commit extension needs an id"));
    }
    let id = commit.id;
    let no_edits = |what: &str| {
        if edits.is_empty() {
            Ok(())
        } else {
            Err(invalid(format!(
                "a commit {what} carries no updates or deletes"
            )))
        }
    };
    match commit.action {
        Some(Action::Commit(c)) => Ok(Request::EditConfirmed {
            edits,
            comment: Some(format!("gNMI Set, commit {id}")),
            confirmed: Confirmed {
                timeout_secs: seconds(c.rollback_duration.as_ref())?,
                persist: Some(id),
            },
        }),
        Some(Action::Confirm(_)) => {
            no_edits("confirm")?;
            Ok(Request::Confirm { persist_id: id })
        }
        Some(Action::Cancel(_)) => {
            no_edits("cancel")?;
            Ok(Request::CancelCommit {
                persist_id: Some(id),
            })
        }
        Some(Action::SetRollbackDuration(d)) => {
            no_edits("set_rollback_duration")?;
            Ok(Request::ExtendConfirm {
                persist_id: id,
                timeout_secs: seconds(d.rollback_duration.as_ref())?,
            })
        }
        None => Err(invalid("the commit extension names no action")),
    }
}

fn result(path: Path, op: Operation) -> UpdateResult {
    UpdateResult {
        path: Some(path),
        op: op.into(),
        ..UpdateResult::default()
    }
}

/// A path Set may change: netloom's configuration.
fn config_path(prefix: Option<&Path>, path: &Path) -> Result<GPath, Status> {
    let g = GPath::join(prefix, Some(path))?;
    if g.origin != Origin::Netloom {
        return Err(invalid("only netloom-host configuration can be set"));
    }
    Ok(g)
}

/// The concrete paths a wildcard delete names in running.
fn expand(inner: &Inner, g: &GPath) -> Vec<GPath> {
    let snaps = inner.handle.snapshots();
    let doc = serde_json::Value::Object(config_doc(&inner.schema, &snaps.running.units, &g.elems));
    let walker = Walker {
        schema: &inner.schema,
        qualified: false,
        expand: false,
    };
    walker
        .walk(&doc, &g.elems)
        .into_iter()
        .map(|m| GPath {
            origin: Origin::Netloom,
            elems: m
                .path
                .into_iter()
                .map(|e| super::path::Elem {
                    name: e.name,
                    keys: e.key.into_iter().collect(),
                })
                .collect(),
            qualified: false,
        })
        .collect()
}

/// gNMI deletes of absent data succeed silently (section 3.4.6): a NETCONF `remove`.
fn delete(inner: &Inner, g: &GPath) -> Result<Edit, Status> {
    g.check(&inner.schema)?;
    Ok(Edit {
        op: EditOp::Remove,
        path: g.to_data_path(&inner.schema)?,
        value: None,
    })
}

fn write(inner: &Inner, prefix: Option<&Path>, u: &Update, op: EditOp) -> Result<Edit, Status> {
    let path = u
        .path
        .as_ref()
        .ok_or_else(|| invalid("an update has no path"))?;
    let g = config_path(prefix, path)?;
    let data_path = g.to_data_path(&inner.schema)?;
    let node = if data_path.is_root() {
        None
    } else {
        let resolved = inner
            .schema
            .resolve(&data_path)
            .map_err(|e| status_of_yang(&e))?;
        resolved.segments.last().and_then(|s| s.node)
    };
    let tv = u.val.as_ref().ok_or_else(|| {
        invalid(format!(
            "the update of {} has no value",
            super::path::show(&g.elems)
        ))
    })?;
    let value = encode::decode(&inner.schema, node, tv)?;
    Ok(Edit {
        op,
        path: data_path,
        value: Some(value),
    })
}
