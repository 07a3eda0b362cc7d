//! The planner: a commit's changed units, old and new, become an ordered list of dataplane
//! ops. What goes away is removed first (dependents before what they depend on), then what
//! is new is made (what others depend on first). Host-level objects follow config here;
//! pod-level objects follow CNI calls elsewhere.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use netloom_southbound::{LinkKind, LinkSpec, Op, VfSpec};
use netloom_yang::model::{Network, NetworkType, PhysicalFunction, VirtualFunction};
use netloom_yang::UnitKey;

use crate::checks::Lists;
use crate::error::Error;

/// A changed unit: its text before and after (`None`: absent).
#[derive(Debug, Clone)]
pub struct UnitDiff {
    pub key: UnitKey,
    pub old: Option<Arc<str>>,
    pub new: Option<Arc<str>>,
}

fn read<T: serde::de::DeserializeOwned>(
    key: &UnitKey,
    t: &Option<Arc<str>>,
) -> Result<Option<T>, Error> {
    t.as_deref()
        .map(|t| {
            serde_json::from_str(t)
                .map_err(|e| Error::semantic(key.path.to_string(), e.to_string()))
        })
        .transpose()
}

/// `vlan` network host subinterface name: `<uplink>.<id>` when it fits in 15 characters.
pub fn vlan_link_name(uplink: &str, id: u16) -> String {
    let name = format!("{uplink}.{id}");
    if name.len() <= 15 {
        name
    } else {
        format!(
            "nlv{id}.{}",
            &uplink[..uplink.len().min(15 - 4 - id.to_string().len())]
        )
    }
}

/// The host links a network needs, in creation order.
pub fn network_links(n: &Network) -> Vec<LinkSpec> {
    let gateways: Vec<IpNet> = n
        .ipam
        .pool
        .iter()
        .filter_map(|p| {
            p.gateway
                .and_then(|g: IpAddr| IpNet::new(g, p.subnet.prefix_len()).ok())
        })
        .collect();
    let bridge = || {
        let settings = n.bridge.clone();
        LinkSpec {
            name: n.bridge_name(),
            kind: LinkKind::Bridge {
                hairpin: settings.as_ref().is_some_and(|b| b.hairpin),
            },
            mtu: n.mtu,
            master: None,
            addresses: if settings.as_ref().is_none_or(|b| b.gateway) {
                gateways.clone()
            } else {
                Vec::new()
            },
        }
    };
    match n.kind {
        NetworkType::Bridge => vec![bridge()],
        NetworkType::Vxlan => {
            let mut out = vec![bridge()];
            if let Some(v) = &n.vxlan {
                out.push(LinkSpec {
                    name: format!("nlx{}", v.vni),
                    kind: LinkKind::Vxlan {
                        vni: v.vni,
                        local: v.local,
                        group: v.group,
                        remotes: v.remote.clone(),
                        port: v.port,
                        learning: v.learning,
                        uplink: n.uplink.clone(),
                    },
                    mtu: n.mtu,
                    master: Some(n.bridge_name()),
                    addresses: Vec::new(),
                });
            }
            out
        }
        NetworkType::Vlan => match (&n.uplink, n.vlan_id) {
            (Some(up), Some(id)) => vec![LinkSpec {
                name: vlan_link_name(up, id),
                kind: LinkKind::Vlan {
                    uplink: up.clone(),
                    id,
                },
                mtu: n.mtu,
                master: None,
                addresses: Vec::new(),
            }],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The host object a network's pod interfaces hang off: its bridge, its VLAN
/// subinterface or its uplink, by kind. Pods keep working across any change of the network
/// that leaves this the same (in-place settings, pools, routes, the VXLAN tunnel under a
/// bridge).
pub fn attach_point(n: &Network) -> (NetworkType, Option<String>) {
    let parent = match n.kind {
        NetworkType::Bridge | NetworkType::Vxlan => Some(n.bridge_name()),
        NetworkType::Vlan => n
            .uplink
            .as_deref()
            .zip(n.vlan_id)
            .map(|(up, id)| vlan_link_name(up, id)),
        _ => n.uplink.clone(),
    };
    (n.kind, parent)
}

/// A network a change takes away from the pods attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Displaced {
    /// The network entry's data path.
    pub path: String,
    pub network: String,
    /// What the change does to it, for messages ("cannot be deleted", ...).
    pub what: String,
}

/// Networks that `diffs` delete or whose attach point (see [`attach_point`]) they change.
pub fn displaced(l: &Lists, diffs: &[UnitDiff]) -> Result<Vec<Displaced>, Error> {
    let mut out = Vec::new();
    for d in diffs.iter().filter(|d| d.key.list == l.networks) {
        let Some(old) = read::<Network>(&d.key, &d.old)? else {
            continue;
        };
        let what = match read::<Network>(&d.key, &d.new)? {
            None => "cannot be deleted".to_owned(),
            Some(new) if attach_point(&new) != attach_point(&old) => {
                let show = |n: &Network| {
                    let (kind, parent) = attach_point(n);
                    format!("{kind:?} on {}", parent.as_deref().unwrap_or("nothing")).to_lowercase()
                };
                format!(
                    "cannot change what its pods hang off ({} to {})",
                    show(&old),
                    show(&new)
                )
            }
            Some(_) => continue,
        };
        out.push(Displaced {
            path: d.key.path.to_string(),
            network: old.name,
            what,
        });
    }
    Ok(out)
}

/// Host sysctls a network needs: forwarding for each address family whose pools route
/// through a gateway on the host's bridge (pods reach other subnets through the host).
/// Never turned off again when the network goes: the host or another network may rely on
/// it (the reference CNI plugins behave the same).
pub fn network_sysctls(n: &Network) -> Vec<&'static str> {
    let routed = matches!(n.kind, NetworkType::Bridge | NetworkType::Vxlan)
        && n.bridge.as_ref().is_none_or(|b| b.gateway);
    let mut out = Vec::new();
    if !routed {
        return out;
    }
    let gateways = || n.ipam.pool.iter().filter_map(|p| p.gateway);
    if gateways().any(|g| g.is_ipv4()) {
        out.push("net.ipv4.ip_forward");
    }
    if gateways().any(|g| g.is_ipv6()) {
        out.push("net.ipv6.conf.all.forwarding");
    }
    out
}

fn vf_spec(pf: &str, vf: &VirtualFunction) -> VfSpec {
    VfSpec {
        pf: pf.to_owned(),
        id: vf.id,
        mac: vf.mac.clone(),
        vlan: vf.vlan,
        qos: vf.qos,
        trust: vf.trust,
        spoof_check: vf.spoof_check,
        link_state: vf.link_state.clone().unwrap_or_else(|| "auto".into()),
        min_tx_rate: vf.min_tx_rate,
        max_tx_rate: vf.max_tx_rate,
        driver: vf.driver.clone().unwrap_or_else(|| "netdev".into()),
    }
}

/// The op that takes VXLAN device `old` to `new` when they differ only in their remotes.
fn remotes_change(old: &LinkSpec, new: &LinkSpec) -> Option<Op> {
    let (
        LinkKind::Vxlan {
            remotes: from,
            group,
            ..
        },
        LinkKind::Vxlan { remotes: to, .. },
    ) = (&old.kind, &new.kind)
    else {
        return None;
    };
    let mut same = new.clone();
    if let LinkKind::Vxlan { remotes, .. } = &mut same.kind {
        remotes.clone_from(from);
    }
    (old.name == new.name && from != to && same == *old).then(|| Op::SetVxlanRemotes {
        link: new.name.clone(),
        group: *group,
        from: from.clone(),
        to: to.clone(),
    })
}

/// Ops to take the dataplane from the old to the new side of `diffs`.
pub fn plan(l: &Lists, diffs: &[UnitDiff]) -> Result<Vec<Op>, Error> {
    // An op is a few hundred bytes: a bulk change's vectors are sized once, not doubled
    // (each doubling copied and page-faulted megabytes).
    let mut removals: Vec<Op> =
        Vec::with_capacity(diffs.iter().filter(|d| d.old.is_some()).count());
    let mut creations: Vec<Op> =
        Vec::with_capacity(diffs.iter().filter(|d| d.new.is_some()).count());
    let mut settings: Vec<Op> = Vec::new();
    for d in diffs {
        if d.key.list == l.networks {
            let old_net = read::<Network>(&d.key, &d.old)?;
            let new_net = read::<Network>(&d.key, &d.new)?;
            let old: Vec<LinkSpec> = old_net.as_ref().map(network_links).unwrap_or_default();
            let new: Vec<LinkSpec> = new_net.as_ref().map(network_links).unwrap_or_default();
            let before = old_net.as_ref().map(network_sysctls).unwrap_or_default();
            for key in new_net.as_ref().map(network_sysctls).unwrap_or_default() {
                if !before.contains(&key) {
                    settings.push(Op::Sysctl {
                        key: key.to_owned(),
                        from: None,
                        to: "1".into(),
                    });
                }
            }
            // a VXLAN device whose remotes alone changed keeps running: only its flood
            // list is synced (recreating it would cut every pod on its bridge off)
            let mut synced: Vec<&str> = Vec::new();
            for n in &new {
                if let Some(op) = old.iter().find_map(|o| remotes_change(o, n)) {
                    synced.push(n.name.as_str());
                    settings.push(op);
                }
            }
            let unsynced = |l: &&LinkSpec| !synced.contains(&l.name.as_str());
            // any other link that stays the same kernel object is changed in place, never
            // made again: its ports and subinterfaces (the pods) hang off it
            let kept = |l: &LinkSpec, others: &[LinkSpec]| {
                others.iter().find(|o| o.same_object(l)).cloned()
            };
            for link in old.iter().rev().filter(unsynced) {
                if kept(link, &new).is_none() {
                    removals.push(Op::DeleteLink(link.clone()));
                }
            }
            for link in new.iter().filter(unsynced) {
                match kept(link, &old) {
                    None => creations.push(Op::CreateLink(link.clone())),
                    Some(before) if before != *link => creations.push(Op::UpdateLink {
                        old: before,
                        new: link.clone(),
                    }),
                    Some(_) => {}
                }
            }
        } else if d.key.list == l.physical_functions {
            let old = read::<PhysicalFunction>(&d.key, &d.old)?;
            let new = read::<PhysicalFunction>(&d.key, &d.new)?;
            let name = old
                .as_ref()
                .or(new.as_ref())
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let (from, to) = (
                old.as_ref().map_or(0, |p| p.num_vfs),
                new.as_ref().map_or(0, |p| p.num_vfs),
            );
            if from != to {
                settings.push(Op::SetNumVfs {
                    pf: name.clone(),
                    from,
                    to,
                });
            }
            let old_vfs: Vec<VfSpec> = old
                .iter()
                .flat_map(|p| p.vf.iter().map(|v| vf_spec(&p.name, v)))
                .collect();
            for p in new.iter() {
                for v in &p.vf {
                    let spec = vf_spec(&p.name, v);
                    let before = old_vfs.iter().find(|o| o.id == v.id).cloned();
                    if before.as_ref() != Some(&spec) {
                        settings.push(Op::SetVf {
                            old: before,
                            new: spec,
                        });
                    }
                }
            }
            for o in old_vfs {
                let still = new.iter().any(|p| p.vf.iter().any(|v| v.id == o.id));
                if !still && o.id < to {
                    // back to the driver's defaults
                    let undo = Op::SetVf {
                        old: None,
                        new: o.clone(),
                    }
                    .inverse();
                    settings.push(undo);
                }
            }
        }
    }
    // removals: dependents first (each unit's links were pushed in reverse creation order)
    let mut ops = removals;
    ops.reserve_exact(creations.len() + settings.len());
    ops.append(&mut creations);
    ops.append(&mut settings);
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netloom_yang::Schema;

    #[test]
    fn displaced_networks_are_the_deleted_and_the_moved() {
        let s = Schema::new().unwrap();
        let l = Lists::resolve(&s).unwrap();
        let diff = |name: &str, old: Option<&str>, new: Option<&str>| UnitDiff {
            key: s.unit_key(l.networks, &[name]).unwrap(),
            old: old.map(Arc::from),
            new: new.map(Arc::from),
        };
        let blue = r#"{"name":"b","type":"bridge","mtu":1500}"#;
        let blue_mtu = r#"{"name":"b","type":"bridge","mtu":1400,"bridge":{"hairpin":true}}"#;
        let blue_renamed = r#"{"name":"b","type":"bridge","bridge":{"name":"br-other"}}"#;
        let vx = r#"{"name":"v","type":"vxlan","vxlan":{"vni":1}}"#;
        let vx_vni = r#"{"name":"v","type":"vxlan","vxlan":{"vni":2}}"#;
        let mv = r#"{"name":"m","type":"macvlan","uplink":"eth1"}"#;
        let mv_up = r#"{"name":"m","type":"macvlan","uplink":"eth2"}"#;
        let vl = r#"{"name":"l","type":"vlan","uplink":"eth1","vlan-id":10}"#;
        let vl_id = r#"{"name":"l","type":"vlan","uplink":"eth1","vlan-id":11}"#;
        let found = displaced(
            &l,
            &[
                diff("b", Some(blue), Some(blue_mtu)),
                diff("v", Some(vx), Some(vx_vni)),
                diff("new", None, Some(blue)),
            ],
        )
        .unwrap();
        assert!(
            found.is_empty(),
            "in-place changes displace nobody: {found:?}"
        );
        let found = displaced(
            &l,
            &[
                diff("b", Some(blue), Some(blue_renamed)),
                diff("m", Some(mv), Some(mv_up)),
                diff("l", Some(vl), Some(vl_id)),
                diff("x", Some(mv), None),
            ],
        )
        .unwrap();
        let names: Vec<&str> = found.iter().map(|d| d.network.as_str()).collect();
        assert_eq!(names, ["b", "m", "l", "m"]);
        assert!(
            found[0].what.contains("nl-b to bridge on br-other"),
            "{}",
            found[0].what
        );
        assert!(found[2].what.contains("eth1.10") && found[2].what.contains("eth1.11"));
        assert_eq!(found[3].what, "cannot be deleted");
        assert_eq!(
            found[3].path,
            s.unit_key(l.networks, &["x"]).unwrap().path.to_string()
        );
    }

    #[test]
    fn vxlan_network_plans_bridge_then_tunnel_and_unwinds_in_reverse() {
        let s = Schema::new().unwrap();
        let l = Lists::resolve(&s).unwrap();
        let key = s.unit_key(l.networks, &["x"]).unwrap();
        let text: Arc<str> =
            r#"{"name":"x","type":"vxlan","vxlan":{"vni":42,"remote":["192.0.2.2"]},
            "ipam":{"pool":[{"name":"p","subnet":"10.1.0.0/24","gateway":"10.1.0.1"}]}}"#
                .into();
        let add = plan(
            &l,
            &[UnitDiff {
                key: key.clone(),
                old: None,
                new: Some(text.clone()),
            }],
        )
        .unwrap();
        assert_eq!(add.len(), 3);
        assert!(
            matches!(&add[2], Op::Sysctl { key, to, .. } if key == "net.ipv4.ip_forward" && to == "1"),
            "a routed network turns on forwarding: {add:?}"
        );
        assert!(
            matches!(&add[0], Op::CreateLink(b) if b.name == "nl-x" && b.addresses[0].to_string() == "10.1.0.1/24")
        );
        assert!(
            matches!(&add[1], Op::CreateLink(v) if v.name == "nlx42" && v.master.as_deref() == Some("nl-x"))
        );
        let del = plan(
            &l,
            &[UnitDiff {
                key,
                old: Some(text),
                new: None,
            }],
        )
        .unwrap();
        assert!(matches!(&del[0], Op::DeleteLink(v) if v.name == "nlx42"));
        assert!(matches!(&del[1], Op::DeleteLink(b) if b.name == "nl-x"));
    }

    #[test]
    fn changed_vxlan_remotes_sync_the_flood_list_without_recreating_the_device() {
        let s = Schema::new().unwrap();
        let l = Lists::resolve(&s).unwrap();
        let key = s.unit_key(l.networks, &["x"]).unwrap();
        let net = |remotes: &str, vni: u32| -> Arc<str> {
            format!(
                r#"{{"name":"x","type":"vxlan","vxlan":{{"vni":{vni},"remote":[{remotes}]}},
                "ipam":{{"pool":[{{"name":"p","subnet":"10.1.0.0/24","gateway":"10.1.0.1"}}]}}}}"#
            )
            .into()
        };
        let diff = |old: Arc<str>, new: Arc<str>| {
            plan(
                &l,
                &[UnitDiff {
                    key: key.clone(),
                    old: Some(old),
                    new: Some(new),
                }],
            )
            .unwrap()
        };
        let ops = diff(
            net(r#""192.0.2.2","192.0.2.3""#, 42),
            net(r#""192.0.2.3","192.0.2.4""#, 42),
        );
        assert_eq!(ops.len(), 1, "{ops:?}");
        let Op::SetVxlanRemotes { link, from, to, .. } = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(link, "nlx42");
        assert_eq!(from.len(), 2);
        assert_eq!(to[1].to_string(), "192.0.2.4");
        // the undo puts the old list back
        assert!(matches!(ops[0].inverse(), Op::SetVxlanRemotes { to, .. } if to == *from));
        // another VNI is another device: replaced, not synced
        let ops = diff(net(r#""192.0.2.2""#, 42), net(r#""192.0.2.3""#, 43));
        assert!(
            matches!(&ops[0], Op::DeleteLink(v) if v.name == "nlx42"),
            "{ops:?}"
        );
        assert!(
            matches!(&ops[1], Op::CreateLink(v) if v.name == "nlx43"),
            "{ops:?}"
        );
    }

    #[test]
    fn settings_of_a_live_link_change_in_place_and_an_identity_change_remakes_it() {
        let s = Schema::new().unwrap();
        let l = Lists::resolve(&s).unwrap();
        let key = s.unit_key(l.networks, &["v"]).unwrap();
        let vlan = |id: u16, mtu: u16| -> Option<Arc<str>> {
            Some(
                format!(
                    r#"{{"name":"v","type":"vlan","uplink":"eth0","vlan-id":{id},"mtu":{mtu}}}"#
                )
                .into(),
            )
        };
        let diff = |old, new| {
            plan(
                &l,
                &[UnitDiff {
                    key: key.clone(),
                    old,
                    new,
                }],
            )
            .unwrap()
        };
        let ops = diff(vlan(7, 1500), vlan(7, 1400));
        assert!(
            matches!(&ops[..], [Op::UpdateLink { old, new }]
                if old.name == "eth0.7" && old.mtu == Some(1500) && new.mtu == Some(1400)),
            "{ops:?}"
        );
        assert!(diff(vlan(7, 1500), vlan(7, 1500)).is_empty());
        let ops = diff(vlan(7, 1500), vlan(9, 1500));
        assert!(
            matches!(&ops[..], [Op::DeleteLink(a), Op::CreateLink(b)]
                if a.name == "eth0.7" && b.name == "eth0.9"),
            "{ops:?}"
        );
    }

    #[test]
    fn long_vlan_names_fit_linux() {
        assert_eq!(vlan_link_name("eth0", 100), "eth0.100");
        assert!(vlan_link_name("enp129s0f1np1", 4094).len() <= 15);
    }
}
