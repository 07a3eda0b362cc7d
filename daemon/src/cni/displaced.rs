//! Pods on networks that went away. An operator's commit that deletes a network with pods
//! attached, or changes what they hang off, is refused by the engine (`in-use`); the
//! engine's own rollback of a confirmed commit is not (it must bring the old configuration
//! back), so the pods it cuts off are detached here after the commit: their interfaces
//! removed, leases released, rows forgotten. The runtime's DEL later finds nothing left,
//! and its CHECK reports the interface gone. The same sweep runs at start, for commits the
//! daemon did not live to follow.
//!
//! An ADD that read the configuration before such a commit re-checks its networks on the
//! engine thread before it records anything (`still_current`), so it cannot attach a pod
//! to what the commit took away.

use std::path::Path;
use std::sync::{Arc, Weak};

use netloom_northbound::api::CommitEvent;
use netloom_southbound::PodLinkKind;
use netloom_store::{Attachment, DatastoreId};
use netloom_yang::model::Network;
use tokio::sync::broadcast;

use super::reconcile::recorded_spec;
use super::resolve::Wanted;
use super::spec::link_kind;
use super::teardown::detach_spec;
use super::view::ConfigView;
use super::{lock, CniService};
use crate::checks::Lists;
use crate::engine::Engine;
use crate::error::Error;
use crate::plan::attach_point;

/// Whether two pod links hang off the same host object.
fn same_parent(a: &PodLinkKind, b: &PodLinkKind) -> bool {
    match (a, b) {
        (PodLinkKind::Veth { bridge: x, .. }, PodLinkKind::Veth { bridge: y, .. }) => x == y,
        (PodLinkKind::Macvlan { uplink: x, .. }, PodLinkKind::Macvlan { uplink: y, .. })
        | (PodLinkKind::Ipvlan { uplink: x, .. }, PodLinkKind::Ipvlan { uplink: y, .. }) => x == y,
        _ => false,
    }
}

/// Whether a commit deleted a network or moved its attach point. Only the commit's own
/// changes are read (a commit at 100k networks must not cost a parse of every one).
fn displaces(network_prefix: &str, event: &CommitEvent) -> bool {
    let network = |t: Option<&str>| t.and_then(|t| serde_json::from_str::<Network>(t).ok());
    event
        .changes
        .iter()
        .filter(|c| c.path.starts_with(network_prefix))
        .any(
            |c| match (network(c.old.as_deref()), network(c.new.as_deref())) {
                (Some(old), Some(new)) => attach_point(&old) != attach_point(&new),
                (Some(_), None) => true,
                _ => false,
            },
        )
}

/// Why attachment `a` no longer has a place in `view`, if it hasn't.
fn displaced_by(a: &Attachment, view: &ConfigView) -> Option<String> {
    // rows without a recorded spec (written by older versions) are settled at start, by
    // `rebuild`
    let spec = recorded_spec(a)?;
    let Some(network) = view.networks.get(&a.network) else {
        return Some(format!("network {} was deleted", a.network));
    };
    match link_kind(&a.container_id, &a.interface, network) {
        Ok(now) if same_parent(&now, &spec.kind) => None,
        _ => Some(format!(
            "network {} no longer offers what the interface hangs off",
            a.network
        )),
    }
}

/// On the engine thread, before an ADD records its leases and rows: every network the ADD
/// resolved from `view` still exists in running with the same attach point.
pub(super) fn still_current(
    engine: &Engine,
    lists: &Lists,
    view: &ConfigView,
    wanted: &[Wanted],
) -> Result<(), Error> {
    let running = engine.snapshot(DatastoreId::Running);
    if running.commit_id == view.commit {
        return Ok(());
    }
    for w in wanted {
        let key = engine
            .schema()
            .unit_key(lists.networks, &[&w.network.name])?;
        let now = running
            .units
            .get(&key)
            .and_then(|t| serde_json::from_str::<Network>(t).ok());
        match now {
            Some(n) if attach_point(&n) == attach_point(&w.network) => {}
            Some(_) => {
                return Err(Error::ConfigChanged(format!(
                    "network {} changed what its pods hang off while the ADD ran",
                    w.network.name
                )))
            }
            None => {
                return Err(Error::ConfigChanged(format!(
                    "network {} was deleted while the ADD ran",
                    w.network.name
                )))
            }
        }
    }
    Ok(())
}

impl CniService {
    /// Detach every attachment the running configuration no longer has a place for.
    /// Returns how many interfaces were detached.
    pub(super) fn detach_displaced(&self) -> usize {
        let view = self.view();
        let gone: Vec<(Attachment, String)> = lock(&self.attachments)
            .values()
            .flatten()
            .filter_map(|a| displaced_by(a, &view).map(|why| (a.clone(), why)))
            .collect();
        let mut detached = 0;
        for (a, why) in gone {
            let span = tracing::info_span!("displaced", container = %a.container_id, interface = %a.interface);
            let _enter = span.enter();
            let serial = self.serialize(&a.container_id);
            // the row may have gone while we waited for the container's turn (a DEL)
            let still = lock(&self.attachments)
                .get(&a.container_id)
                .is_some_and(|l| l.contains(&a));
            if !still {
                continue;
            }
            let netns = Path::new(&a.netns);
            let netns = (!a.netns.is_empty() && netns.exists()).then_some(netns);
            match self.remove_interfaces(serial, &a.container_id, netns, vec![detach_spec(&a)]) {
                Ok(()) => {
                    tracing::warn!(pod = %format!("{}/{}", a.pod_namespace, a.pod_name), why, "detached a pod interface whose network went away");
                    detached += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e.msg, why, "detaching a displaced pod interface")
                }
            }
        }
        detached
    }

    /// Follow commits: after each one that deleted a network or moved its attach point,
    /// detach what it displaced.
    /// The thread ends with the service or the engine.
    pub fn follow_commits(
        service: &Arc<CniService>,
        mut events: broadcast::Receiver<Arc<CommitEvent>>,
    ) -> std::io::Result<()> {
        let weak: Weak<CniService> = Arc::downgrade(service);
        std::thread::Builder::new()
            .name("netloom-cni-follow".into())
            .spawn(move || {
                loop {
                    let sweep = match events.blocking_recv() {
                        Ok(event) => weak
                            .upgrade()
                            .is_some_and(|s| displaces(&s.network_prefix, &event)),
                        // a lagging receiver missed commits: look at everything
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    let Some(service) = weak.upgrade() else {
                        return;
                    };
                    if sweep {
                        service.detach_displaced();
                    }
                }
            })
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netloom_northbound::api::Principal;
    use netloom_southbound::MemoryDriver;
    use netloom_yang::{DataPath, Edit, EditOp, Schema};
    use serde_json::json;

    fn edit(e: &mut Engine, op: EditOp, name: &str, value: Option<serde_json::Value>) {
        let path = format!("/netloom-host:networks/network[name='{name}']");
        let who = Principal {
            session: 1,
            user: "test".into(),
        };
        let edit = Edit {
            op,
            path: DataPath::parse_xpath(&path).unwrap(),
            value,
        };
        e.edit(&who, DatastoreId::Running, vec![edit], None)
            .unwrap();
    }

    #[test]
    fn an_add_sees_networks_that_went_away_after_it_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new().unwrap());
        let lists = Lists::resolve(&schema).unwrap();
        let mut e = Engine::open(
            schema,
            &dir.path().join("netloom.db"),
            Box::new(MemoryDriver::new()),
        )
        .unwrap();
        for n in ["a", "b", "c"] {
            edit(&mut e, EditOp::Merge, n, Some(json!({"type": "bridge"})));
        }
        let view = ConfigView::build(&e.snapshot(DatastoreId::Running), &lists);
        let wanted = |n: &str| Wanted {
            ifname: "eth0".into(),
            network: view.networks[n].clone(),
            fixed: Vec::new(),
            mac: None,
            default_route: true,
            routes: Vec::new(),
        };
        assert!(still_current(&e, &lists, &view, &[wanted("a")]).is_ok());
        // later commits: an in-place change of a, b renamed its bridge, c deleted
        edit(&mut e, EditOp::Merge, "a", Some(json!({"mtu": 1400})));
        edit(
            &mut e,
            EditOp::Merge,
            "b",
            Some(json!({"bridge": {"name": "br-b2"}})),
        );
        edit(&mut e, EditOp::Delete, "c", None);
        assert!(still_current(&e, &lists, &view, &[wanted("a")]).is_ok());
        for (n, why) in [
            ("b", "changed what its pods hang off"),
            ("c", "was deleted"),
        ] {
            match still_current(&e, &lists, &view, &[wanted("a"), wanted(n)]) {
                Err(Error::ConfigChanged(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{n}: {other:?}"),
            }
        }
    }
}
