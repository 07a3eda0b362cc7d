//! Plain descriptions of dataplane objects and the operations on them.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// What kind of link to make.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum LinkKind {
    Bridge {
        hairpin: bool,
    },
    Vxlan {
        vni: u32,
        local: Option<IpAddr>,
        group: Option<IpAddr>,
        remotes: Vec<IpAddr>,
        port: u16,
        learning: bool,
        uplink: Option<String>,
    },
    Vlan {
        uplink: String,
        id: u16,
    },
}

/// A host link netloom owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LinkSpec {
    pub name: String,
    pub kind: LinkKind,
    pub mtu: Option<u16>,
    /// The bridge this link is a port of.
    pub master: Option<String>,
    /// Addresses set on the link (e.g. a bridge's gateway addresses).
    pub addresses: Vec<IpNet>,
}

impl LinkSpec {
    /// Whether `other` describes the same kernel object, differing at most in what can be
    /// changed on the live link (MTU, master, addresses, a bridge's hairpin default, which
    /// only its ports carry). Making such a link again would drop what hangs off it: a
    /// bridge's ports, a VLAN subinterface's macvlans.
    pub fn same_object(&self, other: &LinkSpec) -> bool {
        self.name == other.name
            && match (&self.kind, &other.kind) {
                (LinkKind::Bridge { .. }, LinkKind::Bridge { .. }) => true,
                (a, b) => a == b,
            }
    }
}

/// A route in the host's routing tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteSpec {
    pub destination: IpNet,
    pub next_hop: Option<IpAddr>,
    pub device: Option<String>,
    pub metric: u32,
    pub table: u32,
}

/// A policy routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleSpec {
    pub priority: u32,
    pub from: Option<IpNet>,
    pub to: Option<IpNet>,
    pub fwmark: Option<u32>,
    pub table: u32,
}

/// Settings of one SR-IOV virtual function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct VfSpec {
    pub pf: String,
    pub id: u16,
    pub mac: Option<String>,
    pub vlan: Option<u16>,
    pub qos: u8,
    pub trust: bool,
    pub spoof_check: bool,
    pub link_state: String,
    pub min_tx_rate: u32,
    pub max_tx_rate: u32,
    pub driver: String,
}

/// One nftables table's full content, replaced in one batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NftBatch {
    pub table: String,
    /// The ruleset in `nft -f` syntax.
    pub ruleset: String,
}

/// A port on an OVS-DPDK bridge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OvsPortSpec {
    pub bridge: String,
    pub port: String,
    pub port_type: String,
    pub vlan: Option<u16>,
}

/// One change to the dataplane.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Op {
    CreateLink(LinkSpec),
    DeleteLink(LinkSpec),
    /// Take a live link from `old` to `new` settings (see [`LinkSpec::same_object`]) in
    /// place: the kernel object, and what hangs off it, stays.
    UpdateLink {
        old: LinkSpec,
        new: LinkSpec,
    },
    AddRoute(RouteSpec),
    DeleteRoute(RouteSpec),
    AddRule(RuleSpec),
    DeleteRule(RuleSpec),
    /// Set the PF's VF count (old, new).
    SetNumVfs {
        pf: String,
        from: u16,
        to: u16,
    },
    /// Apply VF settings (the undo carries the previous settings).
    SetVf {
        old: Option<VfSpec>,
        new: VfSpec,
    },
    /// Replace an nftables table (`None`: the table is absent).
    ReplaceTable {
        old: Option<NftBatch>,
        new: Option<NftBatch>,
    },
    AddOvsPort(OvsPortSpec),
    DeleteOvsPort(OvsPortSpec),
    /// Make the flood list of the netloom VXLAN device `link` exactly `to` (stale remotes
    /// removed, new ones added) without recreating the device, so its bridge's pods keep
    /// their traffic; `from` is the list it had (the undo sets it back).
    SetVxlanRemotes {
        link: String,
        group: Option<IpAddr>,
        from: Vec<IpAddr>,
        to: Vec<IpAddr>,
    },
    /// Set a host sysctl (`net.ipv4.ip_forward`) to `to`. `from` is what it was, known
    /// once applied: the driver's undo carries it, so a failed commit puts it back.
    Sysctl {
        key: String,
        from: Option<String>,
        to: String,
    },
}

impl Op {
    /// The op that undoes this one.
    pub fn inverse(&self) -> Op {
        match self {
            Op::CreateLink(l) => Op::DeleteLink(l.clone()),
            Op::DeleteLink(l) => Op::CreateLink(l.clone()),
            Op::UpdateLink { old, new } => Op::UpdateLink {
                old: new.clone(),
                new: old.clone(),
            },
            Op::AddRoute(r) => Op::DeleteRoute(r.clone()),
            Op::DeleteRoute(r) => Op::AddRoute(r.clone()),
            Op::AddRule(r) => Op::DeleteRule(r.clone()),
            Op::DeleteRule(r) => Op::AddRule(r.clone()),
            Op::SetNumVfs { pf, from, to } => Op::SetNumVfs {
                pf: pf.clone(),
                from: *to,
                to: *from,
            },
            Op::SetVf { old, new } => match old {
                Some(o) => Op::SetVf {
                    old: Some(new.clone()),
                    new: o.clone(),
                },
                // VF had no explicit settings: restore the driver defaults.
                None => Op::SetVf {
                    old: Some(new.clone()),
                    new: VfSpec {
                        mac: None,
                        vlan: None,
                        qos: 0,
                        trust: false,
                        spoof_check: true,
                        link_state: "auto".into(),
                        min_tx_rate: 0,
                        max_tx_rate: 0,
                        driver: "netdev".into(),
                        ..new.clone()
                    },
                },
            },
            Op::ReplaceTable { old, new } => Op::ReplaceTable {
                old: new.clone(),
                new: old.clone(),
            },
            Op::Sysctl { key, from, to } => Op::Sysctl {
                key: key.clone(),
                from: Some(to.clone()),
                to: from.clone().unwrap_or_else(|| to.clone()),
            },
            Op::SetVxlanRemotes {
                link,
                group,
                from,
                to,
            } => Op::SetVxlanRemotes {
                link: link.clone(),
                group: *group,
                from: to.clone(),
                to: from.clone(),
            },
            Op::AddOvsPort(p) => Op::DeleteOvsPort(p.clone()),
            Op::DeleteOvsPort(p) => Op::AddOvsPort(p.clone()),
        }
    }

    /// Whether this op takes something away (planned before anything is added).
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Op::DeleteLink(_) | Op::DeleteRoute(_) | Op::DeleteRule(_) | Op::DeleteOvsPort(_)
        )
    }
}
