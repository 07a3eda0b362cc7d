//! Reconcile of pod interfaces at start, before the CNI socket serves: every live
//! attachment (the store's attachment table) whose netns still exists is brought back to
//! what its ADD made — adopted untouched when it matches, repaired when an address or route
//! went missing, made again (same MAC, same addresses) when the interface was deleted —
//! and host ends marked as netloom's that no attachment owns are removed. Attachments whose
//! netns is gone are left to the runtime's DEL or GC, which cope with a missing netns.
//! Attachments without a recorded spec are first rebuilt or released (`rebuild`).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use netloom_southbound::{PodInterfaceSpec, Reconciled};
use netloom_store::Attachment;
use serde_json::Value;

use super::{lock, CniService};

/// The spec an attachment's ADD programmed, with the MAC the pod interface got, so a
/// recreated interface looks the same to the pod's peers.
pub(super) fn recorded_spec(a: &Attachment) -> Option<PodInterfaceSpec> {
    let v: Value = serde_json::from_str(&a.result).ok()?;
    let mut spec: PodInterfaceSpec =
        serde_json::from_value(v.pointer("/netloom/spec")?.clone()).ok()?;
    if spec.mac.is_none() {
        spec.mac = v
            .get("interfaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|i| i.get("sandbox").is_some() && i["name"] == a.interface.as_str())
            .and_then(|i| i.get("mac")?.as_str())
            .map(str::to_owned);
    }
    Some(spec)
}

#[derive(Debug, Default)]
struct Tally {
    adopted: usize,
    repaired: usize,
    recreated: usize,
    skipped: usize,
    failed: usize,
    /// Attachments without a recorded spec, rebuilt or released (see `rebuild`).
    rebuilt: usize,
    released: usize,
}

impl CniService {
    pub(super) fn reconcile(&self) {
        let mut groups: BTreeMap<(String, String), Vec<PodInterfaceSpec>> = BTreeMap::new();
        let mut tally = Tally::default();
        let unspecified: Vec<Attachment> = {
            let index = lock(&self.attachments);
            for a in index.values().flatten() {
                if let Some(spec) = recorded_spec(a) {
                    groups
                        .entry((a.container_id.clone(), a.netns.clone()))
                        .or_default()
                        .push(spec);
                }
            }
            index
                .values()
                .flatten()
                .filter(|a| recorded_spec(a).is_none())
                .cloned()
                .collect()
        };
        let asked = unspecified.len();
        for (a, spec) in self.settle_unspecified(unspecified) {
            tally.rebuilt += 1;
            groups
                .entry((a.container_id.clone(), a.netns.clone()))
                .or_default()
                .push(spec);
        }
        tally.released = asked - tally.rebuilt;
        let owners: HashSet<String> = lock(&self.attachments).keys().cloned().collect();
        for ((cid, netns), specs) in &groups {
            let span = tracing::info_span!("reconcile", container = %cid, netns = %netns);
            let _enter = span.enter();
            if netns.is_empty() || !Path::new(netns).exists() {
                tracing::info!("netns gone; left to the runtime's DEL or GC");
                tally.skipped += specs.len();
                continue;
            }
            match self.pods.repair(Path::new(netns), cid, specs) {
                Ok(found) => {
                    for (spec, r) in specs.iter().zip(found) {
                        match r {
                            Reconciled::Adopted => tally.adopted += 1,
                            Reconciled::Repaired(what) => {
                                tracing::info!(interface = %spec.ifname, repaired = ?what, "drift repaired");
                                tally.repaired += 1;
                            }
                            Reconciled::Recreated => {
                                tracing::info!(interface = %spec.ifname, "interface made again");
                                tally.recreated += 1;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reconciling the pod failed");
                    tally.failed += specs.len();
                }
            }
        }
        let mut removed = 0;
        match self.pods.host_ends() {
            Ok(ends) => {
                for (name, mark) in ends {
                    let owner = mark.trim_start_matches("netloom:");
                    if owners.contains(owner) {
                        continue;
                    }
                    match self.pods.remove_host_end(&name) {
                        Ok(()) => removed += 1,
                        Err(e) => {
                            tracing::error!(link = %name, error = %e, "removing an orphan host end")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "listing host ends"),
        }
        tracing::info!(
            adopted = tally.adopted,
            repaired = tally.repaired,
            recreated = tally.recreated,
            skipped = tally.skipped,
            failed = tally.failed,
            rebuilt = tally.rebuilt,
            released = tally.released,
            orphan_host_ends = removed,
            "reconciled pod interfaces"
        );
    }
}
