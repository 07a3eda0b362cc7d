//! DEL and GC. DEL is idempotent: it removes whatever of the container's interface group
//! is still there (nothing is fine, a vanished netns is fine), then releases the leases and
//! forgets the attachments. GC deletes every attachment of this CNI network that is not in
//! `cni.dev/valid-attachments`, then releases leases and removes host ends nobody owns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use netloom_northbound::cni::{CniCall, CniError};
use netloom_southbound::{PodInterfaceSpec, PodLinkKind};
use netloom_store::Attachment;
use serde_json::Value;

use super::result::stored_rules;
use super::spec::host_veth_name;
use super::{dataplane_error, lock, CniService, Serial};

fn stored(a: &Attachment) -> Value {
    serde_json::from_str(&a.result).unwrap_or(Value::Null)
}

fn group_of(a: &Attachment) -> String {
    stored(a)
        .pointer("/netloom/group")
        .and_then(Value::as_str)
        .unwrap_or(&a.interface)
        .to_owned()
}

/// What detaching an attachment needs, from its stored result.
pub(super) fn detach_spec(a: &Attachment) -> PodInterfaceSpec {
    let v = stored(a);
    let host = v.pointer("/netloom/hostName").and_then(Value::as_str);
    PodInterfaceSpec {
        ifname: a.interface.clone(),
        kind: match host {
            Some(h) => PodLinkKind::Veth {
                host_name: h.to_owned(),
                bridge: None,
                hairpin: false,
                host_mac: None,
            },
            None => PodLinkKind::Macvlan {
                uplink: String::new(),
                mode: String::new(),
            },
        },
        mtu: None,
        mac: None,
        addresses: Vec::new(),
        routes: Vec::new(),
        rules: stored_rules(&v),
    }
}

impl CniService {
    /// The attachments of `container_id` made by the ADD for `ifname`.
    pub(super) fn group(&self, container_id: &str, ifname: &str) -> Vec<Attachment> {
        lock(&self.attachments)
            .get(container_id)
            .into_iter()
            .flatten()
            .filter(|a| a.interface == ifname || group_of(a) == ifname)
            .cloned()
            .collect()
    }

    /// DEL. What the runtime can observe once this returns: the interfaces are off the
    /// network (without addresses, their rules gone, no bridge forwarding to them; see
    /// `PodDriver::disconnect`), their leases are released and
    /// their attachment rows removed, durably. Unregistering the links themselves (for a
    /// veth most of a DEL's time: the kernel waits out RCU grace periods) finishes on a
    /// thread that holds the container's turn (`serial`), so any later call for the same
    /// container waits for it, and other pods never see the names (they are per
    /// container). After a crash in between, reconcile removes the host ends no attachment
    /// owns (a veth's pod end goes with it); a macvlan pod end left without addresses
    /// goes with its netns.
    pub(super) fn del(
        &self,
        serial: Serial,
        container_id: &str,
        ifname: &str,
        netns: &str,
    ) -> Result<(), CniError> {
        let existing = self.group(container_id, ifname);
        let specs: Vec<PodInterfaceSpec> = if existing.is_empty() {
            // nothing recorded: still clear what an interrupted ADD may have left
            vec![PodInterfaceSpec {
                ifname: ifname.to_owned(),
                kind: PodLinkKind::Veth {
                    host_name: host_veth_name(container_id, ifname),
                    bridge: None,
                    hairpin: false,
                    host_mac: None,
                },
                mtu: None,
                mac: None,
                addresses: Vec::new(),
                routes: Vec::new(),
                rules: Vec::new(),
            }]
        } else {
            existing.iter().map(detach_spec).collect()
        };
        let netns = (!netns.is_empty()).then(|| Path::new(netns));
        self.remove_interfaces(serial, container_id, netns, specs)
    }

    /// Take `specs` (interfaces of `container_id`) off the network, release their leases,
    /// forget their rows, and leave unregistering the links to a thread holding `serial`
    /// (see [`CniService::del`]). A missing netns (`None`) is fine.
    pub(super) fn remove_interfaces(
        &self,
        serial: Serial,
        container_id: &str,
        netns: Option<&Path>,
        specs: Vec<PodInterfaceSpec>,
    ) -> Result<(), CniError> {
        let started = Instant::now();
        let unfinished = self
            .pods
            .disconnect(netns, container_id, &specs)
            .map_err(dataplane_error)?;
        let detached = started.elapsed();
        let ifnames: Vec<String> = specs.iter().map(|s| s.ifname.clone()).collect();
        {
            let (cid, ifnames) = (container_id.to_owned(), ifnames.clone());
            self.on_engine(move |e, ipam| {
                e.store_mut().batch(|store| {
                    for i in &ifnames {
                        ipam.release(store, &cid, Some(i))?;
                        store.remove_attachment(&cid, i)?;
                    }
                    Ok(())
                })
            })?;
        }
        {
            // not held past here: handing `serial` over may drop it (and so take `locks`)
            let mut index = lock(&self.attachments);
            if let Some(list) = index.get_mut(container_id) {
                list.retain(|a| !ifnames.contains(&a.interface));
                if list.is_empty() {
                    index.remove(container_id);
                }
            }
        }
        tracing::info!(
            interfaces = ifnames.len(),
            dataplane_us = detached.as_micros() as u64,
            release_us = (started.elapsed() - detached).as_micros() as u64,
            "detached"
        );
        if unfinished {
            self.finish_later(serial, container_id, netns.map(Path::to_owned), specs);
        }
        Ok(())
    }

    /// Unregister the links a DEL took off the network, holding the container's turn.
    fn finish_later(
        &self,
        serial: Serial,
        container_id: &str,
        netns: Option<PathBuf>,
        specs: Vec<PodInterfaceSpec>,
    ) {
        let pods = self.pods.clone();
        let cid = container_id.to_owned();
        let span = tracing::Span::current();
        let spawned = std::thread::Builder::new()
            .name("netloom-unlink".into())
            .spawn(move || {
                let _enter = span.enter();
                let started = Instant::now();
                if let Err(e) = pods.detach(netns.as_deref(), &cid, &specs) {
                    tracing::warn!(error = %e, "unregistering a deleted pod's links failed; reconcile or GC removes them");
                }
                tracing::debug!(
                    micros = started.elapsed().as_micros() as u64,
                    "links unregistered"
                );
                drop(serial);
            });
        let mut finishing = lock(&self.finishing);
        finishing.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => finishing.push(t),
            Err(e) => tracing::error!(error = %e, "no thread to unregister a deleted pod's links"),
        }
    }

    /// The containers with a call (or a DEL's unlinking) in flight, and the host ends the
    /// attachment index expects, at one instant.
    fn owners_now(&self) -> (HashSet<String>, HashSet<String>) {
        let locks = lock(&self.locks);
        let index = lock(&self.attachments);
        let busy = locks
            .iter()
            .filter(|(_, gate)| *lock(&gate.busy))
            .map(|(cid, _)| cid.clone())
            .collect();
        let expected = index
            .values()
            .flatten()
            .filter_map(|a| {
                stored(a)
                    .pointer("/netloom/hostName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        (busy, expected)
    }

    pub(super) fn gc(&self, call: &CniCall) -> Result<Option<Value>, CniError> {
        let valid: HashSet<(String, String)> = call
            .config
            .get("cni.dev/valid-attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some((
                    v.get("containerID")?.as_str()?.to_owned(),
                    v.get("ifname")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let network = call
            .config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("");
        // each stored result parsed once: GC reads every attachment
        let stale: Vec<(String, String, String)> = lock(&self.attachments)
            .values()
            .flatten()
            .filter_map(|a| {
                let v = stored(a);
                let of = v
                    .pointer("/netloom/cniNetwork")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let group = v
                    .pointer("/netloom/group")
                    .and_then(Value::as_str)
                    .unwrap_or(&a.interface)
                    .to_owned();
                ((of.is_empty() || of == network)
                    && !valid.contains(&(a.container_id.clone(), group.clone())))
                .then(|| (a.container_id.clone(), group, a.netns.clone()))
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut errors = Vec::new();
        for (cid, group, netns) in &stale {
            let serial = self.serialize(cid);
            // the netns may be gone: DEL copes
            let done = self.del(
                serial,
                cid,
                group,
                if Path::new(netns).exists() { netns } else { "" },
            );
            if let Err(e) = done {
                errors.push(format!("{cid}/{group}: {}", e.msg));
            }
        }
        // leases nobody owns, judged on the engine thread against the stored attachment
        // rows: an ADD records its leases and rows in one job and a DEL releases both in
        // one job, so there a lease without a row is a leftover, never an ADD in flight
        // (the in-memory index lags the store while an ADD programs the pod)
        let valid_ids: HashSet<String> = valid.iter().map(|(c, _)| c.clone()).collect();
        let ids = valid_ids.clone();
        let released = self.on_engine(move |e, ipam| {
            let store = e.store_mut();
            let owned: HashSet<(String, String)> = store
                .attachments()?
                .into_iter()
                .map(|a| (a.container_id, a.interface))
                .collect();
            let mut n = 0;
            for (owner, iface) in ipam.holders() {
                if !owned.contains(&(owner.clone(), iface.clone())) && !ids.contains(&owner) {
                    n += ipam.release(store, &owner, Some(&iface))?;
                }
            }
            Ok(n)
        })?;
        // host ends nobody owns: listed first, then who is mid-call and what the index
        // expects, both read at one instant (an ADD updates the index before it gives up
        // its turn), so a host end seen here is busy, expected, or really left over
        let ends = self.pods.host_ends().map_err(dataplane_error)?;
        let (busy, expected) = self.owners_now();
        let mut removed = 0;
        for (name, mark) in ends {
            let owner = mark.trim_start_matches("netloom:");
            if !expected.contains(&name) && !busy.contains(owner) && !valid_ids.contains(owner) {
                match self.pods.remove_host_end(&name) {
                    Ok(()) => removed += 1,
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
        }
        tracing::info!(
            deleted = stale.len(),
            released,
            removed,
            "garbage collected"
        );
        if errors.is_empty() {
            Ok(None)
        } else {
            Err(CniError::new(
                CniError::INTERFACE_FAILURE,
                "garbage collection left some objects",
            )
            .with_details(errors.join("; ")))
        }
    }
}
