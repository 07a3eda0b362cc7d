//! From what a pod wants (network, leases) to the pod-level dataplane spec: link kind,
//! addresses, routes in the main table, and for networks with policy routes the same
//! routes in each rule's table plus the rules.

use std::collections::BTreeSet;

use ipnet::IpNet;
use netloom_northbound::cni::CniError;
use netloom_southbound::{PodInterfaceSpec, PodLinkKind, RouteSpec, RuleSpec};
use netloom_yang::model::{Network, NetworkType};

use super::resolve::Wanted;
use crate::ipam::Lease;
use crate::plan::vlan_link_name;

const MAIN_TABLE: u32 = 254;

/// The host end of a pod's veth: stable for (container, interface), so DEL and a retried
/// ADD find it without any record.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let h = format!("{container_id}/{ifname}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("nl{:012x}", h & 0xffff_ffff_ffff)
}

/// A MAC for one end of (container, interface): locally administered, unicast, stable, so
/// it is known before the kernel is touched (the attachment is recorded first) and a
/// retried ADD or a recreated interface gets the same one.
pub fn derived_mac(container_id: &str, ifname: &str, end: &str) -> String {
    let h = format!("{container_id}/{ifname}/{end}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let b = h.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        (b[0] & 0xfe) | 0x02,
        b[1],
        b[2],
        b[3],
        b[4],
        b[5]
    )
}

fn default_destination(a: &IpNet) -> IpNet {
    if a.addr().is_ipv4() {
        IpNet::V4(Default::default())
    } else {
        IpNet::V6(Default::default())
    }
}

/// Routes of one interface in `table`: default routes via the gateways (when wanted), the
/// network's and the pod entry's routes.
fn routes_in(w: &Wanted, leases: &[Lease], table: u32, connected: bool) -> Vec<RouteSpec> {
    let mut out = Vec::new();
    if connected {
        for l in leases {
            out.push(RouteSpec {
                destination: l.address.trunc(),
                next_hop: None,
                device: None,
                metric: 0,
                table,
            });
        }
    }
    if w.default_route || connected {
        for l in leases {
            if let Some(gw) = l.gateway {
                out.push(RouteSpec {
                    destination: default_destination(&l.address),
                    next_hop: Some(gw),
                    device: None,
                    metric: 0,
                    table,
                });
            }
        }
    }
    for r in w.network.route.iter().chain(&w.routes) {
        out.push(RouteSpec {
            destination: r.destination.trunc(),
            next_hop: r.next_hop,
            device: None,
            metric: r.metric,
            table,
        });
    }
    out
}

/// The kind of link a pod interface `ifname` of container `container_id` gets on network
/// `n`, with the host object it hangs off; an error for networks pods cannot attach to.
pub fn link_kind(container_id: &str, ifname: &str, n: &Network) -> Result<PodLinkKind, CniError> {
    let unsupported = || {
        CniError::new(
            CniError::INVALID_CONFIG,
            format!(
                "network {}: pods cannot attach to a {:?} network yet",
                n.name, n.kind
            ),
        )
    };
    let mode = |m: &Option<netloom_yang::model::ModeSettings>, d: &str| {
        m.as_ref()
            .and_then(|s| s.mode.clone())
            .unwrap_or_else(|| d.to_owned())
    };
    let uplink = || n.uplink.clone().ok_or_else(unsupported);
    Ok(match n.kind {
        NetworkType::Bridge | NetworkType::Vxlan => PodLinkKind::Veth {
            host_name: host_veth_name(container_id, ifname),
            bridge: Some(n.bridge_name()),
            hairpin: n.bridge.as_ref().is_some_and(|b| b.hairpin),
            host_mac: Some(derived_mac(container_id, ifname, "host")),
        },
        NetworkType::Macvlan => PodLinkKind::Macvlan {
            uplink: uplink()?,
            mode: mode(&n.macvlan, "bridge"),
        },
        NetworkType::Ipvlan => PodLinkKind::Ipvlan {
            uplink: uplink()?,
            mode: mode(&n.ipvlan, "l2"),
        },
        // pods of a VLAN network get macvlans of the host's VLAN subinterface
        NetworkType::Vlan => PodLinkKind::Macvlan {
            uplink: vlan_link_name(&uplink()?, n.vlan_id.ok_or_else(unsupported)?),
            mode: "bridge".into(),
        },
        _ => return Err(unsupported()),
    })
}

pub fn pod_spec(
    container_id: &str,
    w: &Wanted,
    leases: &[Lease],
) -> Result<PodInterfaceSpec, CniError> {
    let n = &w.network;
    let kind = link_kind(container_id, &w.ifname, n)?;
    let mut routes = routes_in(w, leases, MAIN_TABLE, false);
    let tables: BTreeSet<u32> = n.policy_route.iter().map(|p| p.table).collect();
    for t in tables {
        routes.extend(routes_in(w, leases, t, true));
    }
    let rules = n
        .policy_route
        .iter()
        .map(|p| RuleSpec {
            priority: p.priority,
            from: p.from,
            to: p.to,
            fwmark: p.fwmark,
            table: p.table,
        })
        .collect();
    // an ipvlan shares its uplink's MAC and cannot have its own
    let mac = match kind {
        PodLinkKind::Ipvlan { .. } => None,
        _ => Some(
            w.mac
                .clone()
                .unwrap_or_else(|| derived_mac(container_id, &w.ifname, "pod")),
        ),
    };
    Ok(PodInterfaceSpec {
        ifname: w.ifname.clone(),
        kind,
        mtu: n.mtu,
        mac,
        addresses: leases.iter().map(|l| l.address).collect(),
        routes,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_stable_and_fit_linux() {
        let a = host_veth_name("0123456789abcdef0123456789abcdef", "eth0");
        assert_eq!(
            a,
            host_veth_name("0123456789abcdef0123456789abcdef", "eth0")
        );
        assert_ne!(
            a,
            host_veth_name("0123456789abcdef0123456789abcdef", "net1")
        );
        assert!(a.len() <= 15);
    }

    #[test]
    fn derived_macs_are_local_unicast_stable_and_distinct() {
        let m = derived_mac("c1", "eth0", "pod");
        assert_eq!(m, derived_mac("c1", "eth0", "pod"));
        assert_ne!(m, derived_mac("c1", "eth0", "host"));
        assert_ne!(m, derived_mac("c2", "eth0", "pod"));
        let first = u8::from_str_radix(&m[..2], 16).unwrap();
        assert_eq!(first & 0x03, 0x02, "{m}");
        assert_eq!(m.len(), 17);
    }
}
