//! Get: every path (joined with the prefix) selects nodes from the config snapshot and/or the
//! engine's state, per the request's data type; one notification per path.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tonic::Status;

use super::encode::{self, Enc};
use super::error::{invalid, status_of};
use super::path::{show, GPath, Origin};
use super::proto::gnmi::get_request::DataType;
use super::proto::gnmi::{GetRequest, GetResponse, Notification, Path, Update};
use super::tree::{config_doc, reads_config, reads_state, Content, Match, Walker};
use super::Inner;
use crate::api::Principal;
use crate::secrets::Reader;

pub async fn get(
    inner: &Inner,
    who: &Principal,
    reader: Reader,
    req: GetRequest,
) -> Result<GetResponse, Status> {
    let enc = encode::encoding(req.encoding)?;
    let content = match DataType::try_from(req.r#type) {
        Ok(DataType::All) => Content::All,
        Ok(DataType::Config) => Content::Config,
        Ok(DataType::State) | Ok(DataType::Operational) => Content::State,
        Err(_) => return Err(invalid(format!("unknown data type {}", req.r#type))),
    };
    let paths: Vec<Option<&Path>> = if req.path.is_empty() {
        vec![None]
    } else {
        req.path.iter().map(Some).collect()
    };
    let mut selected = Vec::with_capacity(paths.len());
    for p in paths {
        let g = GPath::join(req.prefix.as_ref(), p)?;
        g.check(&inner.schema)?;
        selected.push(g);
    }
    let mut notification = Vec::with_capacity(selected.len());
    for g in &selected {
        let update = if g.origin == Origin::OpenConfig {
            if content == Content::Config {
                // The OpenConfig tree netloom serves is all state.
                Vec::new()
            } else {
                super::openconfig::select(inner, who, g, enc, false)
                    .await?
                    .into_iter()
                    .map(|(elems, val)| Update {
                        path: Some(super::path::to_proto(g.origin, elems)),
                        val: Some(val),
                        ..Update::default()
                    })
                    .collect()
            }
        } else {
            updates(
                inner,
                g.origin,
                enc,
                &select(inner, who, reader, g, content, false).await?,
            )
        };
        if update.is_empty() && !g.has_wildcard() {
            return Err(Status::not_found(format!(
                "{} holds no data",
                show(&g.elems)
            )));
        }
        notification.push(Notification {
            timestamp: now_ns(),
            update,
            ..Notification::default()
        });
    }
    Ok(GetResponse {
        notification,
        ..GetResponse::default()
    })
}

/// Encode matches as updates with absolute paths.
pub fn updates(inner: &Inner, origin: Origin, enc: Enc, matches: &[Match]) -> Vec<Update> {
    let mut leaves = Vec::new();
    for m in matches {
        encode::encode(&inner.schema, enc, m, &mut leaves);
    }
    leaves
        .into_iter()
        .map(|(elems, val)| Update {
            path: Some(super::path::to_proto(origin, elems)),
            val: Some(val),
            ..Update::default()
        })
        .collect()
}

/// The nodes `path` selects now.
pub async fn select(
    inner: &Inner,
    who: &Principal,
    reader: Reader,
    path: &GPath,
    content: Content,
    expand: bool,
) -> Result<Vec<Match>, Status> {
    if path.origin == Origin::OpenConfig {
        // Served by `openconfig::select`, schema-less.
        return Ok(Vec::new());
    }
    let mut doc = Map::new();
    if reads_config(path, content) {
        let snaps = inner.handle.snapshots_for(&inner.schema, reader);
        doc.extend(config_doc(&inner.schema, &snaps.running.units, &path.elems));
    }
    if reads_state(path, content) {
        match inner.handle.state(who).await {
            Ok(Value::Object(state)) => doc.extend(state),
            Ok(_) => {}
            Err(e) => return Err(status_of(&e)),
        }
    }
    let walker = Walker {
        schema: &inner.schema,
        qualified: path.qualified,
        expand,
    };
    Ok(walker.walk(&Value::Object(doc), &path.elems))
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
