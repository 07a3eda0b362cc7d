//! ADD: resolve the pod's interfaces; in one engine round trip (one SQLite transaction,
//! shared with the calls that arrived together) lease their addresses and record the
//! attachments as they will be, MACs included; only then program the pod's netns, while
//! the transaction is synced to disk, and answer with the CNI result once both are done.
//! Any failure undoes what was done in reverse: dataplane, then leases and rows.
//!
//! Crash safety: the ledger entries and attachment rows are committed (in the WAL, which a
//! crash of the daemon does not lose) before the kernel is touched, so a crash mid-ADD
//! leaves a recorded attachment, never an unrecorded address; a crash of the host before
//! the sync may lose them, but takes the pod's interfaces with it, and no answer was given.
//! The runtime, which got no answer, retries the ADD (which keeps the same leases and
//! clears its own leftovers) or calls DEL (which releases everything).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use netloom_northbound::cni::{CniCall, CniError};
use netloom_southbound::{PodInterfaceSpec, PodInterfaceState, PodLinkKind};
use netloom_store::Attachment;
use serde_json::Value;

use super::displaced::still_current;
use super::resolve::{pod_identity, resolve, Wanted};
use super::result::{self, Attached};
use super::spec::pod_spec;
use super::view::ConfigView;
use super::{dataplane_error, lock, CniService};
use crate::engine::now_ms;
use crate::error::Error;
use crate::ipam::{Ipam, Lease};

/// What the attachment rows of one ADD share.
struct Recording {
    container_id: String,
    netns: String,
    group: String,
    cni_network: String,
    pod_namespace: String,
    pod_name: String,
}

/// What the kernel will report once `spec` is attached: the MACs are chosen in the spec.
fn planned_state(spec: &PodInterfaceSpec) -> PodInterfaceState {
    PodInterfaceState {
        ifname: spec.ifname.clone(),
        mac: spec.mac.clone().unwrap_or_default(),
        host: match &spec.kind {
            PodLinkKind::Veth {
                host_name,
                host_mac,
                ..
            } => Some((host_name.clone(), host_mac.clone().unwrap_or_default())),
            _ => None,
        },
    }
}

fn rows(
    r: &Recording,
    wanted: &[Wanted],
    leases: &[Vec<Lease>],
    specs: &[PodInterfaceSpec],
    states: &[PodInterfaceState],
) -> Vec<Attachment> {
    wanted
        .iter()
        .zip(leases)
        .zip(specs)
        .zip(states)
        .map(|(((wanted, leases), spec), state)| {
            let a = Attached {
                wanted,
                leases,
                spec,
                state,
            };
            Attachment {
                container_id: r.container_id.clone(),
                interface: wanted.ifname.clone(),
                netns: r.netns.clone(),
                pod_namespace: r.pod_namespace.clone(),
                pod_name: r.pod_name.clone(),
                network: wanted.network.name.clone(),
                result: result::stored(&a, &r.netns, &r.group, &r.cni_network).to_string(),
                created_ms: now_ms(),
            }
        })
        .collect()
}

/// Per interface: its leases, its spec and its attachment row.
type Recorded = (Vec<Vec<Lease>>, Vec<PodInterfaceSpec>, Vec<Attachment>);

/// On the engine thread: every interface's leases, its spec and its attachment row, all
/// or nothing.
fn lease_and_record(
    store: &mut netloom_store::Store,
    ipam: &mut Ipam,
    view: &ConfigView,
    wanted: &[Wanted],
    r: &Recording,
) -> Result<Recorded, Error> {
    let cid = &r.container_id;
    let mut leases = Vec::new();
    for one in wanted {
        match ipam.allocate(
            store,
            &one.network,
            &one.fixed,
            &view.reserved,
            cid,
            &one.ifname,
        ) {
            Ok(l) => leases.push(l),
            Err(err) => {
                for done in wanted {
                    let _ = ipam.release(store, cid, Some(&done.ifname));
                }
                return Err(err);
            }
        }
    }
    let specs = wanted
        .iter()
        .zip(&leases)
        .map(|(w, l)| pod_spec(cid, w, l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Refused(e.msg));
    let specs = match specs {
        Ok(s) => s,
        Err(e) => {
            for done in wanted {
                let _ = ipam.release(store, cid, Some(&done.ifname));
            }
            return Err(e);
        }
    };
    let states: Vec<PodInterfaceState> = specs.iter().map(planned_state).collect();
    let rows = rows(r, wanted, &leases, &specs, &states);
    for row in &rows {
        store.put_attachment(row)?;
    }
    Ok((leases, specs, rows))
}

impl CniService {
    pub(super) fn add(&self, call: &CniCall) -> Result<Value, CniError> {
        let started = Instant::now();
        let view = self.view();
        let wanted = resolve(call, &view)?;
        let cid = call.container_id.clone();
        // a network pods cannot attach to fails here, before anything is leased
        for w in &wanted {
            pod_spec(&cid, w, &[])?;
        }
        let ifnames: Vec<String> = wanted.iter().map(|w| w.ifname.clone()).collect();
        let (pod_namespace, pod_name) = pod_identity(call);
        let recording = Arc::new(Recording {
            container_id: cid.clone(),
            netns: call.netns.clone(),
            group: call.ifname.clone(),
            cni_network: call
                .config
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            pod_namespace,
            pod_name,
        });
        let undo_records = {
            let (cid, ifnames) = (cid.clone(), ifnames.clone());
            move || {
                let _ = self.on_engine(move |e, ipam| {
                    e.store_mut().batch(|store| {
                        for i in &ifnames {
                            ipam.release(store, &cid, Some(i))?;
                            store.remove_attachment(&cid, i)?;
                        }
                        Ok(())
                    })
                });
            }
        };
        // the pod is programmed while the leases and rows are synced to disk: once
        // committed they survive a crash of the daemon, and a crash of the host takes the
        // pod's interfaces with it; the answer waits for both
        let ((leases, specs, mut rows), durable) = {
            let (w, view, r) = (wanted.clone(), view.clone(), recording.clone());
            let lists = self.lists;
            self.on_engine_written(move |e, ipam| {
                still_current(e, &lists, &view, &w)?;
                e.store_mut()
                    .batch(|store| lease_and_record(store, ipam, &view, &w, &r))
            })?
        };
        let recorded = started.elapsed();
        let netns = Path::new(&call.netns);
        let states = match self.pods.attach(netns, &cid, &specs) {
            Ok(s) => s,
            Err(e) => {
                undo_records();
                return Err(dataplane_error(e));
            }
        };
        let programmed = started.elapsed();
        if !durable.wait() {
            if let Err(undo) = self.pods.detach(Some(netns), &cid, &specs) {
                tracing::error!(error = %undo, "undoing the dataplane of a failed ADD");
            }
            undo_records();
            return Err(super::not_durable());
        }
        if states != specs.iter().map(planned_state).collect::<Vec<_>>() {
            // a MAC the kernel chose (an ipvlan's is its uplink's): record what it is
            rows = self::rows(&recording, &wanted, &leases, &specs, &states);
            let again = rows.clone();
            let written = self.on_engine(move |e, _| {
                e.store_mut().batch(|store| {
                    for r in &again {
                        store.put_attachment(r)?;
                    }
                    Ok(())
                })
            });
            if let Err(e) = written {
                if let Err(undo) = self.pods.detach(Some(netns), &cid, &specs) {
                    tracing::error!(error = %undo, "undoing the dataplane of a failed ADD");
                }
                undo_records();
                return Err(e);
            }
        }
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
        let mut out = result::result(&attached, &call.netns, &call.cni_version);
        if let Some(prev) = call.config.get("prevResult").filter(|p| p.is_object()) {
            out = result::chained(prev, out, &call.cni_version);
        }
        let mut index = lock(&self.attachments);
        let list = index.entry(cid).or_default();
        list.retain(|a| !ifnames.contains(&a.interface));
        list.extend(rows);
        tracing::info!(
            interfaces = ifnames.len(),
            record_us = recorded.as_micros() as u64,
            dataplane_us = (programmed - recorded).as_micros() as u64,
            sync_wait_us = (started.elapsed() - programmed).as_micros() as u64,
            "attached"
        );
        Ok(out)
    }
}
