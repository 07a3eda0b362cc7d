//! The operational state the engine knows: CNI attachments, pool usage and the commit log, as the
//! `/netloom-host:state` container in RFC 7951 JSON. Front ends serve it for `get`,
//! `content=nonconfig`, gNMI STATE and `show`.

use std::collections::HashMap;

use netloom_northbound::api::date_and_time;
use netloom_store::DatastoreId;
use netloom_yang::model::Network;
use serde_json::{json, Map, Value};

use crate::engine::Engine;
use crate::error::Error;
use crate::ipam::PoolRange;

/// How many commits the state lists (the newest).
const COMMITS_LISTED: usize = 1000;

impl Engine {
    /// `{"netloom-host:state": {...}}` as of now.
    pub fn state(&self) -> Result<Value, Error> {
        let mut state = Map::new();
        let attachments: Vec<Value> = self
            .store()
            .attachments()?
            .into_iter()
            .map(|a| {
                let result: Value = serde_json::from_str(&a.result).unwrap_or(Value::Null);
                let mut entry = json!({
                    "container-id": a.container_id,
                    "interface": a.interface,
                    "pod-namespace": a.pod_namespace,
                    "pod-name": a.pod_name,
                    "network": a.network,
                    "netns": a.netns,
                    "created": date_and_time(a.created_ms),
                });
                if let Some(obj) = entry.as_object_mut() {
                    attachment_result(obj, &result);
                }
                entry
            })
            .collect();
        if !attachments.is_empty() {
            state.insert("attachment".into(), Value::Array(attachments));
        }
        let usage = self.pool_usage()?;
        if !usage.is_empty() {
            state.insert("pool-usage".into(), Value::Array(usage));
        }
        let mut commits: Vec<Value> = self
            .store()
            .commits(COMMITS_LISTED, false)?
            .into_iter()
            .map(|c| {
                let mut entry = json!({
                    "id": c.id.to_string(),
                    "time": date_and_time(c.time_ms),
                    "user": c.user,
                    "confirmed": c.confirm.as_str(),
                });
                if let (Some(obj), Some(comment)) = (entry.as_object_mut(), c.comment) {
                    obj.insert("comment".into(), Value::String(comment));
                }
                entry
            })
            .collect();
        commits.reverse();
        if !commits.is_empty() {
            state.insert("commit".into(), Value::Array(commits));
        }
        Ok(json!({ "netloom-host:state": state }))
    }
}

impl Engine {
    /// Addresses per pool of running config: how many it can hand out, how many it has.
    fn pool_usage(&self) -> Result<Vec<Value>, Error> {
        let mut held: HashMap<(String, String), u64> = HashMap::new();
        for a in self.store().allocations(None)? {
            *held.entry((a.network, a.pool)).or_default() += 1;
        }
        let running = self.snapshot(DatastoreId::Running);
        let mut out = Vec::new();
        for (_, text) in running
            .units
            .iter()
            .filter(|(k, _)| k.path.starts_with("/netloom-host:networks/"))
            // Only a network with an `ipam` container has pools: the rest (most of 10k
            // networks, each a few microseconds to parse) are passed over unparsed, since
            // this runs on the engine's thread for every `<get>`.
            .filter(|(_, text)| text.contains("ipam\""))
        {
            let Ok(n) = serde_json::from_str::<Network>(text) else {
                continue;
            };
            for p in &n.ipam.pool {
                let size = u64::try_from(PoolRange::new(p).size()).unwrap_or(u64::MAX);
                let allocated = held
                    .get(&(n.name.clone(), p.name.clone()))
                    .copied()
                    .unwrap_or(0);
                out.push(json!({
                    "network": n.name,
                    "pool": p.name,
                    "size": size.to_string(),
                    "allocated": allocated.to_string(),
                }));
            }
        }
        Ok(out)
    }
}

/// The MAC, addresses and host-side interface of an attachment, from its CNI result.
fn attachment_result(entry: &mut Map<String, Value>, result: &Value) {
    let Some(interfaces) = result.get("interfaces").and_then(Value::as_array) else {
        return;
    };
    let pod_if = interfaces
        .iter()
        .position(|i| i.get("sandbox").is_some_and(|s| !s.is_null()));
    if let Some(mac) = pod_if
        .and_then(|i| interfaces[i].get("mac"))
        .and_then(Value::as_str)
    {
        entry.insert("mac".into(), Value::String(mac.into()));
    }
    if let Some(host) = interfaces
        .iter()
        .find(|i| i.get("sandbox").is_none_or(Value::is_null))
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
    {
        entry.insert("host-interface".into(), Value::String(host.into()));
    }
    let addresses: Vec<Value> = result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.get("address").cloned())
        .collect();
    if !addresses.is_empty() {
        entry.insert("address".into(), Value::Array(addresses));
    }
}
