//! Link dumps: `RTM_GETLINK` with `NLM_F_DUMP` answers every link of a namespace, counters
//! included, in one request.

use std::path::PathBuf;

use futures_util::TryStreamExt;
use nix::sched::CloneFlags;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};

use super::{LinkCounters, LinkObservation, OperStatus};
use crate::driver::DriverError;
use crate::kernel::netns;

/// Every link of the daemon's own namespace.
pub fn dump_host() -> Result<Vec<LinkObservation>, DriverError> {
    netns::in_host(|h| async move { dump(&h).await })
}

/// Every link of each namespace in `paths` (network namespace files), on one thread that
/// enters them in turn; a namespace that cannot be read answers its error, the others
/// still answer.
pub fn dump_namespaces(
    paths: &[PathBuf],
) -> Vec<(PathBuf, Result<Vec<LinkObservation>, DriverError>)> {
    if paths.is_empty() {
        return Vec::new();
    }
    let run = || -> Vec<(PathBuf, Result<Vec<LinkObservation>, DriverError>)> {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let e = DriverError::Unavailable(format!("netlink runtime: {e}"));
                return paths.iter().map(|p| (p.clone(), Err(e.clone()))).collect();
            }
        };
        paths
            .iter()
            .map(|p| (p.clone(), rt.block_on(dump_in(p))))
            .collect()
    };
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("netloom-observe".into())
            .spawn_scoped(s, run)
            .ok()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    })
}

/// Enter `path` (this thread only; it is a throwaway thread) and dump its links.
async fn dump_in(path: &PathBuf) -> Result<Vec<LinkObservation>, DriverError> {
    let ns = std::fs::File::open(path)
        .map_err(|e| DriverError::NoNetns(format!("{} ({e})", path.display())))?;
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| DriverError::NoNetns(format!("{} ({e})", path.display())))?;
    let (conn, h, _) = rtnetlink::new_connection()
        .map_err(|e| DriverError::Unavailable(format!("netlink socket: {e}")))?;
    let conn = tokio::spawn(conn);
    let out = dump(&h).await;
    conn.abort();
    out
}

async fn dump(h: &rtnetlink::Handle) -> Result<Vec<LinkObservation>, DriverError> {
    let links: Vec<LinkMessage> =
        h.link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| DriverError::Refused {
                op: "dump links".into(),
                reason: e.to_string(),
            })?;
    Ok(links.iter().filter_map(observe).collect())
}

/// A link message as an observation (`None` without a name, which the kernel always sends).
pub(super) fn observe(l: &LinkMessage) -> Option<LinkObservation> {
    let mut o = LinkObservation {
        ifindex: l.header.index,
        name: String::new(),
        oper: OperStatus::Unknown,
        admin_up: l.header.flags.contains(LinkFlags::Up),
        mtu: None,
        mac: None,
        counters: None,
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => o.name = n.clone(),
            LinkAttribute::OperState(s) => o.oper = oper(*s),
            LinkAttribute::Mtu(m) => o.mtu = Some(*m),
            LinkAttribute::Address(a) => o.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            LinkAttribute::Stats64(s) => {
                o.counters = Some(LinkCounters {
                    rx_bytes: s.rx_bytes,
                    rx_packets: s.rx_packets,
                    rx_errors: s.rx_errors,
                    rx_dropped: s.rx_dropped,
                    multicast: s.multicast,
                    tx_bytes: s.tx_bytes,
                    tx_packets: s.tx_packets,
                    tx_errors: s.tx_errors,
                    tx_dropped: s.tx_dropped,
                })
            }
            _ => {}
        }
    }
    (!o.name.is_empty()).then_some(o)
}

fn oper(s: State) -> OperStatus {
    match s {
        State::Up => OperStatus::Up,
        State::Down => OperStatus::Down,
        State::Testing => OperStatus::Testing,
        State::Dormant => OperStatus::Dormant,
        State::NotPresent => OperStatus::NotPresent,
        State::LowerLayerDown => OperStatus::LowerLayerDown,
        _ => OperStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_loopback_is_observed_with_counters() {
        // Every namespace has `lo`; reading it needs no privilege.
        let links = dump_host().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").unwrap();
        assert!(lo.mtu.is_some());
        assert!(lo.counters.is_some());
    }
}
