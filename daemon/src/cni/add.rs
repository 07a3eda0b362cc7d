//! ADD: resolve the pod's interfaces, lease their addresses (ledger first), program the
//! pod's netns, record the attachments, answer with the CNI result. Any failure undoes
//! what was done in reverse: dataplane, then leases.

use std::path::Path;

use netloom_northbound::cni::{CniCall, CniError};
use netloom_store::Attachment;
use serde_json::Value;

use super::resolve::{pod_identity, resolve};
use super::result::{self, Attached};
use super::spec::pod_spec;
use super::{dataplane_error, lock, CniService};
use crate::engine::now_ms;
use crate::ipam::Lease;

impl CniService {
    pub(super) fn add(&self, call: &CniCall) -> Result<Value, CniError> {
        let view = self.view();
        let wanted = resolve(call, &view)?;
        let cid = call.container_id.clone();
        let ifnames: Vec<String> = wanted.iter().map(|w| w.ifname.clone()).collect();
        let release = {
            let (cid, ifnames) = (cid.clone(), ifnames.clone());
            move || {
                let _ = self.on_engine(move |e, ipam| {
                    e.store_mut().batch(|store| {
                        for i in &ifnames {
                            ipam.release(store, &cid, Some(i))?;
                        }
                        Ok(())
                    })
                });
            }
        };
        let leases: Vec<Vec<Lease>> = {
            let (w, cid, view) = (wanted.clone(), cid.clone(), view.clone());
            self.on_engine(move |e, ipam| {
                let store = e.store_mut();
                let mut out = Vec::new();
                for one in &w {
                    match ipam.allocate(
                        store,
                        &one.network,
                        &one.fixed,
                        &view.reserved,
                        &cid,
                        &one.ifname,
                    ) {
                        Ok(l) => out.push(l),
                        Err(err) => {
                            for done in &w {
                                let _ = ipam.release(store, &cid, Some(&done.ifname));
                            }
                            return Err(err);
                        }
                    }
                }
                Ok(out)
            })?
        };
        let specs = match wanted
            .iter()
            .zip(&leases)
            .map(|(w, l)| pod_spec(&cid, w, l))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(s) => s,
            Err(e) => {
                release();
                return Err(e);
            }
        };
        let netns = Path::new(&call.netns);
        let states = match self.pods.attach(netns, &cid, &specs) {
            Ok(s) => s,
            Err(e) => {
                release();
                return Err(dataplane_error(e));
            }
        };
        let attached: Vec<Attached> = wanted
            .iter()
            .zip(&leases)
            .zip(&specs)
            .zip(&states)
            .map(|(((wanted, leases), spec), state)| Attached {
                wanted,
                leases,
                spec,
                state,
            })
            .collect();
        let cni_network = call
            .config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (ns, name) = pod_identity(call);
        let rows: Vec<Attachment> = attached
            .iter()
            .map(|a| Attachment {
                container_id: cid.clone(),
                interface: a.wanted.ifname.clone(),
                netns: call.netns.clone(),
                pod_namespace: ns.clone(),
                pod_name: name.clone(),
                network: a.wanted.network.name.clone(),
                result: result::stored(a, &call.netns, &call.ifname, cni_network).to_string(),
                created_ms: now_ms(),
            })
            .collect();
        let mut out = result::result(&attached, &call.netns, &call.cni_version);
        if let Some(prev) = call.config.get("prevResult").filter(|p| p.is_object()) {
            out = result::chained(prev, out, &call.cni_version);
        }
        let written = {
            let rows = rows.clone();
            self.on_engine(move |e, _| {
                e.store_mut().batch(|store| {
                    for r in &rows {
                        store.put_attachment(r)?;
                    }
                    Ok(())
                })
            })
        };
        if let Err(e) = written {
            if let Err(undo) = self.pods.detach(Some(netns), &cid, &specs) {
                tracing::error!(error = %undo, "undoing the dataplane of a failed ADD");
            }
            release();
            return Err(e);
        }
        let mut index = lock(&self.attachments);
        let list = index.entry(cid).or_default();
        list.retain(|a| !ifnames.contains(&a.interface));
        list.extend(rows);
        tracing::info!(interfaces = ifnames.len(), "attached");
        Ok(out)
    }
}
