//! Attachment rows without a recorded spec (written before specs were stored, or whose
//! result no longer parses). Such a row still stands for a live pod interface with leased
//! addresses, so skipping it would leave the pod unrepaired forever, and releasing its
//! leases while the pod keeps using them would hand the same address out twice.
//!
//! So reconcile rebuilds the spec from the committed config (the row's network) and the
//! row itself (the addresses, MACs and default route it was given), provided the ledger
//! still holds exactly the addresses the row lists; the rebuilt spec is stored in the row
//! and the interface is reconciled like any other. When it cannot be rebuilt (the network
//! is no longer configured, or the ledger disagrees with the row), the attachment is
//! released as a DEL would: its interface is taken out of the pod, its leases released,
//! its row removed, and the reason logged.

use std::collections::BTreeSet;
use std::path::Path;

use netloom_southbound::{PodInterfaceSpec, PodLinkKind};
use netloom_store::Attachment;
use serde_json::Value;

use super::resolve::Wanted;
use super::spec::pod_spec;
use super::teardown::detach_spec;
use super::view::ConfigView;
use super::{lock, CniService};
use crate::ipam::Lease;

fn is_default(dst: &str) -> bool {
    dst == "0.0.0.0/0" || dst == "::/0"
}

/// The spec `a`'s ADD programmed, rebuilt from the committed config and the row, given the
/// leases the ledger holds for it; or why it cannot be.
pub(super) fn rebuilt_spec(
    a: &Attachment,
    view: &ConfigView,
    leases: &[Lease],
) -> Result<PodInterfaceSpec, String> {
    let network = view
        .networks
        .get(&a.network)
        .ok_or_else(|| format!("its network {:?} is no longer configured", a.network))?;
    let v: Value =
        serde_json::from_str(&a.result).map_err(|e| format!("its result does not parse: {e}"))?;
    let given: BTreeSet<String> = v
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.get("address")?.as_str().map(str::to_owned))
        .collect();
    let held: BTreeSet<String> = leases.iter().map(|l| l.address.to_string()).collect();
    if given != held {
        return Err(format!(
            "the ledger holds {held:?} for it but it was given {given:?}"
        ));
    }
    let interfaces = v.get("interfaces").and_then(Value::as_array);
    let mac_of = |sandboxed: bool, name: &str| {
        interfaces
            .into_iter()
            .flatten()
            .find(|i| i.get("sandbox").is_some() == sandboxed && i["name"] == name)
            .and_then(|i| i.get("mac")?.as_str())
            .map(str::to_owned)
    };
    let pod_entry = view
        .pods
        .get(&(a.pod_namespace.clone(), a.pod_name.clone()))
        .and_then(|p| p.interface.iter().find(|i| i.name == a.interface));
    let wanted = Wanted {
        ifname: a.interface.clone(),
        network: network.clone(),
        fixed: Vec::new(),
        mac: mac_of(true, &a.interface),
        default_route: v
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| r.get("dst").and_then(Value::as_str).is_some_and(is_default)),
        routes: pod_entry.map(|i| i.route.clone()).unwrap_or_default(),
    };
    let mut spec = pod_spec(&a.container_id, &wanted, leases).map_err(|e| e.msg)?;
    if let PodLinkKind::Veth {
        host_name,
        host_mac,
        ..
    } = &mut spec.kind
    {
        // the host end keeps the MAC it was given, whatever derived one the spec proposes
        if let Some(m) = mac_of(false, host_name) {
            *host_mac = Some(m);
        }
    }
    Ok(spec)
}

/// `a` with `spec` recorded in its result.
fn with_spec(a: &Attachment, spec: &PodInterfaceSpec) -> Attachment {
    let mut v: Value =
        serde_json::from_str(&a.result).unwrap_or_else(|_| Value::Object(Default::default()));
    if !v.get("netloom").is_some_and(Value::is_object) {
        v["netloom"] = Value::Object(Default::default());
    }
    v["netloom"]["spec"] = serde_json::to_value(spec).unwrap_or(Value::Null);
    Attachment {
        result: v.to_string(),
        ..a.clone()
    }
}

impl CniService {
    /// Rebuild the spec of each row in `rows` (rows without one) or release the row; the
    /// rebuilt ones come back with their specs, for reconcile.
    pub(super) fn settle_unspecified(
        &self,
        rows: Vec<Attachment>,
    ) -> Vec<(Attachment, PodInterfaceSpec)> {
        if rows.is_empty() {
            return Vec::new();
        }
        let view = self.view();
        let asked: Vec<(String, String, String)> = rows
            .iter()
            .map(|a| {
                (
                    a.network.clone(),
                    a.container_id.clone(),
                    a.interface.clone(),
                )
            })
            .collect();
        let networks = view.networks.clone();
        let held = self
            .on_engine(move |_, ipam| {
                Ok(asked
                    .iter()
                    .map(|(n, cid, i)| {
                        networks
                            .get(n)
                            .map(|n| ipam.held(n, cid, i))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>())
            })
            .unwrap_or_default();
        let mut rebuilt = Vec::new();
        let mut released = Vec::new();
        for (i, a) in rows.into_iter().enumerate() {
            let leases = held.get(i).map(Vec::as_slice).unwrap_or_default();
            match rebuilt_spec(&a, &view, leases) {
                Ok(spec) => {
                    tracing::info!(container = %a.container_id, interface = %a.interface,
                        "attachment without a recorded spec: rebuilt from the config and its row");
                    rebuilt.push((with_spec(&a, &spec), spec));
                }
                Err(why) => {
                    tracing::warn!(container = %a.container_id, interface = %a.interface, reason = %why,
                        "attachment without a recorded spec cannot be rebuilt: released");
                    released.push(a);
                }
            }
        }
        for a in &released {
            let netns = Path::new(&a.netns);
            if !a.netns.is_empty() && netns.exists() {
                if let Err(e) = self
                    .pods
                    .detach(Some(netns), &a.container_id, &[detach_spec(a)])
                {
                    tracing::error!(container = %a.container_id, error = %e, "taking a released attachment's interface out");
                }
            }
        }
        let (keep, drop): (Vec<Attachment>, Vec<(String, String)>) = (
            rebuilt.iter().map(|(a, _)| a.clone()).collect(),
            released
                .iter()
                .map(|a| (a.container_id.clone(), a.interface.clone()))
                .collect(),
        );
        let gone = drop.clone();
        let written = self.on_engine(move |e, ipam| {
            e.store_mut().batch(|store| {
                for a in &keep {
                    store.put_attachment(a)?;
                }
                for (cid, i) in &gone {
                    ipam.release(store, cid, Some(i))?;
                    store.remove_attachment(cid, i)?;
                }
                Ok(())
            })
        });
        if let Err(e) = written {
            tracing::error!(error = %e.msg, "recording settled attachments");
        }
        let mut index = lock(&self.attachments);
        for (a, _) in &rebuilt {
            if let Some(list) = index.get_mut(&a.container_id) {
                for row in list.iter_mut().filter(|r| r.interface == a.interface) {
                    *row = a.clone();
                }
            }
        }
        for (cid, i) in &drop {
            if let Some(list) = index.get_mut(cid) {
                list.retain(|a| &a.interface != i);
                if list.is_empty() {
                    index.remove(cid);
                }
            }
        }
        rebuilt
    }
}
