//! Interface state for the front ends: the southbound observer's link dumps mapped onto the
//! northbound's records (the host's namespace in one dump, each pod namespace in one more),
//! and the link watch that tells state subscribers when a link changed.

use std::path::PathBuf;

use netloom_northbound::api::StateNotifier;
use netloom_northbound::interfaces::{
    Counters, InterfaceSource, InterfaceState, OperStatus, PodSide,
};
use netloom_southbound::observe::{self, LinkEvent, LinkObservation, LinkWatch};

/// Reads links from the kernel on demand.
#[derive(Debug, Default)]
pub struct KernelInterfaces;

impl InterfaceSource for KernelInterfaces {
    fn read(&self, pods: &[PodSide]) -> Vec<InterfaceState> {
        let mut out: Vec<InterfaceState> = match observe::dump_host() {
            Ok(links) => links.iter().map(|l| state(l, l.name.clone())).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the host's links failed");
                Vec::new()
            }
        };
        let mut namespaces: Vec<PathBuf> = pods.iter().map(|p| PathBuf::from(&p.netns)).collect();
        namespaces.sort();
        namespaces.dedup();
        for (ns, links) in observe::dump_namespaces(&namespaces) {
            let links = match links {
                Ok(l) => l,
                Err(e) => {
                    // A pod being torn down: its namespace may go at any moment.
                    tracing::debug!(netns = %ns.display(), error = %e, "reading a pod's links failed");
                    continue;
                }
            };
            for pod in pods.iter().filter(|p| std::path::Path::new(&p.netns) == ns) {
                if let Some(l) = links.iter().find(|l| l.name == pod.ifname) {
                    out.push(state(l, pod.name()));
                }
            }
        }
        out
    }
}

fn state(l: &LinkObservation, name: String) -> InterfaceState {
    InterfaceState {
        name,
        ifindex: l.ifindex,
        oper: match l.oper {
            observe::OperStatus::Up => OperStatus::Up,
            observe::OperStatus::Down => OperStatus::Down,
            observe::OperStatus::Testing => OperStatus::Testing,
            observe::OperStatus::Unknown => OperStatus::Unknown,
            observe::OperStatus::Dormant => OperStatus::Dormant,
            observe::OperStatus::NotPresent => OperStatus::NotPresent,
            observe::OperStatus::LowerLayerDown => OperStatus::LowerLayerDown,
        },
        admin_up: l.admin_up,
        mtu: l.mtu,
        mac: l.mac.map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        }),
        counters: l.counters.map(|c| Counters {
            in_octets: c.rx_bytes,
            in_pkts: c.rx_packets,
            in_multicast_pkts: c.multicast,
            in_errors: c.rx_errors,
            in_discards: c.rx_dropped,
            out_octets: c.tx_bytes,
            out_pkts: c.tx_packets,
            out_errors: c.tx_errors,
            out_discards: c.tx_dropped,
        }),
    }
}

/// Watch the daemon's links; every change (new, changed, removed link: oper or admin
/// state, MTU, address) tells state subscribers to look again. `None`, logged, when the
/// kernel refuses the socket: interface state is then still read, just not pushed.
pub fn watch_links(state: StateNotifier) -> Option<LinkWatch> {
    let watch = LinkWatch::start(move |event| {
        if let LinkEvent::Changed(l) = &event {
            tracing::debug!(link = %l.name, oper = ?l.oper, admin_up = l.admin_up, "link event");
        }
        state.notify();
    });
    match watch {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "no link events; interface state is read on demand only");
            None
        }
    }
}
