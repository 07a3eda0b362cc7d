//! Pod interfaces in the kernel: veths created directly with their pod end in the pod's
//! namespace (no create-then-move), macvlan/ipvlan created on the uplink straight into the
//! pod, then addresses, routes, rules and sysctls set from inside the pod's namespace.
//! Every pod interface carries the alias `netloom:<container id>`, so a retry after a crash
//! can tell its own leftover from someone else's interface of the same name.

use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    AfSpecInet6, AfSpecUnspec, BridgePortState, In6AddrGenMode, InfoBridgePort, InfoData, InfoKind,
    InfoPortData, InfoPortKind, InfoVeth, IpVlanMode, LinkAttribute, LinkFlags, MacVlanMode,
};
use rtnetlink::{Handle, LinkIpVlan, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth};

use super::links::{self, built, find, is_exists, nl_error};
use super::netns::{in_host, in_pod, Sides};
use super::timing::timed;
use super::{repair, routes};
use crate::driver::DriverError;
use crate::pod::{
    owner_mark, PodDriver, PodInterfaceSpec, PodInterfaceState, PodLinkKind, Reconciled,
};

const LOOPBACK_INDEX: u32 = 1;

/// Pod interfaces through rtnetlink.
#[derive(Debug, Default)]
pub struct KernelPods;

fn clash(ifname: &str, where_: &str) -> DriverError {
    DriverError::Clash(format!(
        "an interface named {ifname} already exists in {where_}"
    ))
}

/// Whether a pod-side link is this owner's: marked with its alias, or — when a crash came
/// between creating the link and marking it — in its link group, which is set in the very
/// request that creates the link.
fn is_ours(l: &rtnetlink::packet_route::link::LinkMessage, mark: &str) -> bool {
    links::alias(l) == Some(mark) || in_group(l, delete_group(mark))
}

fn in_group(l: &rtnetlink::packet_route::link::LinkMessage, group: u32) -> bool {
    l.attributes
        .iter()
        .any(|a| matches!(a, LinkAttribute::Group(g) if *g == group))
}

/// Remove what a failed earlier call for the same owner left; refuse foreign interfaces.
pub(super) async fn clear_leftover(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<(), DriverError> {
    if let Some(l) = find(&s.pod, &spec.ifname).await? {
        if !is_ours(&l, mark) {
            return Err(clash(&spec.ifname, "the pod"));
        }
        links::delete_index(&s.pod, l.header.index).await?;
    }
    if let Some(host) = spec.host_name() {
        if let Some(l) = find(&s.host, host).await? {
            if !links::alias(&l).is_some_and(|a| a.starts_with("netloom:")) {
                return Err(clash(host, "the host"));
            }
            links::delete_index(&s.host, l.header.index).await?;
        }
    }
    Ok(())
}

pub(super) async fn uplink_index(h: &Handle, uplink: &str) -> Result<u32, DriverError> {
    find(h, uplink)
        .await?
        .map(|l| l.header.index)
        .ok_or_else(|| DriverError::Refused {
            op: format!("find uplink {uplink}"),
            reason: "no such interface".into(),
        })
}

/// The request that makes `spec`'s link with everything the kernel takes at creation, so
/// an ADD needs few round trips: the pod side born in the pod's netns with its MAC and in
/// its owner's link group (see `is_ours`); a veth's host end with its MAC, already a port
/// of its bridge. Neither end of a veth can be born up (the kernel opens it before the two
/// ends know each other: ENOTCONN): the marking requests bring them up.
async fn link_request(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<rtnetlink::packet_route::link::LinkMessage, DriverError> {
    let fd = s.pod_ns.as_raw_fd();
    let mac = spec.mac.as_deref().map(links::parse_mac).transpose()?;
    let group = LinkAttribute::Group(delete_group(mark));
    let mut msg = match &spec.kind {
        PodLinkKind::Veth {
            host_name,
            bridge,
            host_mac,
            ..
        } => {
            let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
                .name(spec.ifname.clone())
                .setns_by_fd(fd)
                .append_extra_attribute(group.clone())
                .append_extra_attribute(LinkAttribute::NumTxQueues(1))
                .append_extra_attribute(LinkAttribute::NumRxQueues(1));
            if let Some(m) = spec.mtu {
                peer = peer.mtu(u32::from(m));
            }
            if let Some(mac) = &mac {
                peer = peer.address(mac.clone());
            }
            // one queue each way, said at creation: left out, the kernel makes one per CPU
            // and then cuts them to one, which waits out an RCU grace period under the
            // RTNL lock (every other pod's netlink request waits with it)
            let mut b = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(host_name.clone())
                .append_extra_attribute(LinkAttribute::NumTxQueues(1))
                .append_extra_attribute(LinkAttribute::NumRxQueues(1))
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
            if let Some(m) = host_mac.as_deref().map(links::parse_mac).transpose()? {
                b = b.address(m);
            }
            if let Some(br) = bridge {
                b = b.controller(uplink_index(&s.host, br).await?);
            }
            built(b, spec.mtu)
        }
        PodLinkKind::Macvlan { uplink, mode } => {
            let mode = match mode.as_str() {
                "private" => MacVlanMode::Private,
                "vepa" => MacVlanMode::Vepa,
                "passthru" => MacVlanMode::Passthrough,
                _ => MacVlanMode::Bridge,
            };
            let mut b = LinkMacVlan::new(&spec.ifname, uplink_index(&s.host, uplink).await?, mode)
                .setns_by_fd(fd)
                .up();
            if let Some(mac) = &mac {
                b = b.address(mac.clone());
            }
            built(b, spec.mtu)
        }
        PodLinkKind::Ipvlan { uplink, mode } => {
            let mode = match mode.as_str() {
                "l3" => IpVlanMode::L3,
                "l3s" => IpVlanMode::L3S,
                _ => IpVlanMode::L2,
            };
            let b = LinkIpVlan::new(&spec.ifname, uplink_index(&s.host, uplink).await?, mode)
                .setns_by_fd(fd)
                .up();
            built(b, spec.mtu)
        }
    };
    if !matches!(spec.kind, PodLinkKind::Veth { .. }) {
        msg.attributes.push(group);
    }
    Ok(msg)
}

/// Make `spec`'s link, the host end of a veth marked and up.
pub(super) async fn create(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<(), DriverError> {
    create_link(s, spec, mark).await?;
    finish_host_end(s, spec, mark).await
}

/// Make `spec`'s link (the host end of a veth is left down and unmarked: see
/// [`finish_host_end`]). The name is tried first and a leftover of this owner's earlier try
/// cleared only when the kernel says the name is taken, which saves two lookups per
/// interface on every ordinary ADD.
async fn create_link(s: &Sides, spec: &PodInterfaceSpec, mark: &str) -> Result<(), DriverError> {
    let msg = timed("build link request", link_request(s, spec, mark)).await?;
    match timed("create link", s.host.link().add(msg.clone()).execute()).await {
        Ok(()) => {}
        Err(e) if is_exists(&e) => {
            clear_leftover(s, spec, mark).await?;
            match s.host.link().add(msg).execute().await {
                Ok(()) => {}
                Err(e) if is_exists(&e) => return Err(clash(&spec.ifname, "the pod")),
                Err(e) => return Err(nl_error(format!("create {}", spec.ifname), e)),
            }
        }
        Err(e) => return Err(nl_error(format!("create {}", spec.ifname), e)),
    }
    Ok(())
}

/// A new veth's host end up, marked, hairpin set; nothing for other kinds.
async fn finish_host_end(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<(), DriverError> {
    match &spec.kind {
        PodLinkKind::Veth {
            host_name, hairpin, ..
        } => mark_host_end(s, host_name, *hairpin, mark).await,
        _ => Ok(()),
    }
}

/// Make and configure `spec`'s interface. The host end and the pod end are set up through
/// their own sockets at the same time (neither needs the other), saving round trips.
async fn attach_one(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<PodInterfaceState, DriverError> {
    create_link(s, spec, mark).await?;
    let (host, pod) = futures_util::join!(
        timed("host end up", finish_host_end(s, spec, mark)),
        configure(s, spec, mark)
    );
    host?;
    pod
}

/// No IPv6 address generation on a veth's host end. It is a bridge port and needs no
/// address of its own; a link-local one would put a route per pod into the host's IPv6
/// table, which the kernel walks whole whenever any interface goes down (every DEL), and
/// generating it (with its DAD and MLD work) adds to every ADD. Set in the request that
/// brings the end up, so no address is ever made.
fn no_host_end_ipv6() -> LinkAttribute {
    LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
        In6AddrGenMode::None,
    )])])
}

/// Hairpin mode on the bridge port `port` names (by name or index), so a pod reaches
/// itself through a service address.
async fn hairpin_on(
    s: &Sides,
    port: rtnetlink::LinkMessageBuilder<LinkUnspec>,
    host_name: &str,
) -> Result<(), DriverError> {
    let port = port
        .set_port_kind(InfoPortKind::Bridge)
        .set_port_data(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )]))
        .build();
    s.host
        .link()
        .set_port(port)
        .execute()
        .await
        .map_err(|e| nl_error(format!("hairpin on {host_name}"), e))
        .map(drop)
}

/// The host end of a new veth (already on its bridge): up, the owner mark, hairpin.
async fn mark_host_end(
    s: &Sides,
    host_name: &str,
    hairpin: bool,
    mark: &str,
) -> Result<(), DriverError> {
    let b = LinkUnspec::new_with_name(host_name)
        .up()
        .append_extra_attribute(LinkAttribute::IfAlias(mark.to_owned()))
        .append_extra_attribute(no_host_end_ipv6());
    s.host
        .link()
        .set(b.build())
        .execute()
        .await
        .map_err(|e| nl_error(format!("mark {host_name}"), e))?;
    if hairpin {
        hairpin_on(s, LinkUnspec::new_with_name(host_name), host_name).await?;
    }
    Ok(())
}

/// The host end of a veth: marked, up, a port of `bridge` (with hairpin when asked).
pub(super) async fn host_end_up(
    s: &Sides,
    host_name: &str,
    bridge: Option<&str>,
    hairpin: bool,
    mark: &str,
) -> Result<(), DriverError> {
    let Some(host) = find(&s.host, host_name).await? else {
        return Err(DriverError::Refused {
            op: format!("create {host_name}"),
            reason: "the host end vanished".into(),
        });
    };
    let mut b = LinkUnspec::new_with_index(host.header.index)
        .up()
        .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::IfAlias(
            mark.to_owned(),
        ))
        .append_extra_attribute(no_host_end_ipv6());
    if let Some(br) = bridge {
        b = b.controller(uplink_index(&s.host, br).await?);
    }
    s.host
        .link()
        .set(b.build())
        .execute()
        .await
        .map_err(|e| nl_error(format!("set up {host_name}"), e))?;
    if hairpin {
        hairpin_on(s, LinkUnspec::new_with_index(host.header.index), host_name).await?;
    }
    Ok(())
}

/// The addresses (address, prefix length) on the pod interface `index`.
pub(super) async fn addresses_of(
    pod: &Handle,
    index: u32,
) -> Result<Vec<(std::net::IpAddr, u8)>, DriverError> {
    pod.address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .map_ok(|m| {
            let len = m.header.prefix_len;
            m.attributes.into_iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some((ip, len)),
                _ => None,
            })
        })
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
        .map_err(|e| nl_error("dump addresses", e))
}

/// An address on a pod interface; IPv6 ones without duplicate address detection, so the
/// pod's first packet need not wait for it (what the `accept_dad` sysctl did, per address).
async fn add_pod_address(pod: &Handle, index: u32, a: &ipnet::IpNet) -> Result<(), DriverError> {
    let mut req = pod.address().add(index, a.addr(), a.prefix_len());
    if a.addr().is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_exists(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("add address {a}"), e)),
    }
}

/// Inside the pod: up, marked, addresses, routes, rules.
pub(super) async fn configure(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<PodInterfaceState, DriverError> {
    let b = LinkUnspec::new_with_name(&spec.ifname)
        .up()
        .append_extra_attribute(LinkAttribute::IfAlias(mark.to_owned()));
    if let Err(e) = timed("pod end up", s.pod.link().set(b.build()).execute()).await {
        return Err(if links::is_gone(&e) {
            DriverError::Refused {
                op: format!("configure {}", spec.ifname),
                reason: "the interface is not in the pod".into(),
            }
        } else {
            nl_error(format!("set up {}", spec.ifname), e)
        });
    }
    let Some(l) = timed("find pod end", find(&s.pod, &spec.ifname)).await? else {
        return Err(DriverError::Refused {
            op: format!("configure {}", spec.ifname),
            reason: "the interface is not in the pod".into(),
        });
    };
    let idx = l.header.index;
    for a in &spec.addresses {
        timed("add address", add_pod_address(&s.pod, idx, a)).await?;
    }
    for r in &spec.routes {
        timed("add route", routes::add_route(&s.pod, r, Some(idx))).await?;
    }
    for r in &spec.rules {
        routes::add_rule(&s.pod, r).await?;
    }
    let host = match &spec.kind {
        PodLinkKind::Veth {
            host_name,
            host_mac: Some(m),
            ..
        } => Some((host_name.clone(), m.clone())),
        PodLinkKind::Veth { host_name, .. } => find(&s.host, host_name)
            .await?
            .map(|l| (host_name.clone(), links::mac(&l))),
        _ => None,
    };
    Ok(PodInterfaceState {
        ifname: spec.ifname.clone(),
        mac: links::mac(&l),
        host,
    })
}

/// Remove one interface (both ends) and its rules; what is not there is fine.
async fn remove(s: &Sides, spec: &PodInterfaceSpec, mark: &str) -> Result<(), DriverError> {
    for r in &spec.rules {
        routes::delete_rule(&s.pod, r).await?;
    }
    if let Some(l) = find(&s.pod, &spec.ifname).await? {
        if links::alias(&l) == Some(mark) {
            links::delete_index(&s.pod, l.header.index).await?;
        }
    }
    if let Some(h) = spec.host_name() {
        links::delete(&s.host, h).await?;
    }
    Ok(())
}

/// The link group a DEL gathers an owner's pod interfaces in, so one request deletes them
/// all. Only this owner's interfaces are ever put in it, just before they are deleted.
fn delete_group(mark: &str) -> u32 {
    let h = mark.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    // never 0, the group every interface starts in
    h | 0x8000_0000
}

/// Remove a set of interfaces (both ends of veths) and their rules; what is not there is
/// fine. The pod ends go in one request (a link group): the kernel waits out one RCU grace
/// period for all of them instead of one per interface, which is most of a DEL's time.
async fn remove_all(s: &Sides, specs: &[PodInterfaceSpec], mark: &str) -> Result<(), DriverError> {
    for spec in specs {
        for r in &spec.rules {
            routes::delete_rule(&s.pod, r).await?;
        }
    }
    let group = delete_group(mark);
    let mut ours = Vec::new();
    // links made before pod ends were born in their owner's group join it now
    let mut regroup = Vec::new();
    for spec in specs {
        if let Some(l) = find(&s.pod, &spec.ifname).await? {
            if is_ours(&l, mark) {
                ours.push(l.header.index);
                if !in_group(&l, group) {
                    regroup.push(l.header.index);
                }
            }
        }
    }
    match ours.as_slice() {
        [] => {}
        [one] => links::delete_index(&s.pod, *one).await?,
        _ => {
            for index in &regroup {
                s.pod
                    .link()
                    .set(
                        LinkUnspec::new_with_index(*index)
                            .append_extra_attribute(LinkAttribute::Group(group))
                            .build(),
                    )
                    .execute()
                    .await
                    .map_err(|e| nl_error(format!("group link {index}"), e))?;
            }
            let mut req = s.pod.link().del(0);
            req.message_mut()
                .attributes
                .push(LinkAttribute::Group(group));
            match req.execute().await {
                Ok(()) => {}
                Err(e) if links::is_gone(&e) => {}
                Err(e) => return Err(nl_error("delete the pod's interfaces", e)),
            }
        }
    }
    for spec in specs {
        // normally gone with its pod end; left when the pod end was missing
        if let Some(h) = spec.host_name() {
            links::delete(&s.host, h).await?;
        }
    }
    Ok(())
}

/// Take one owner's interfaces off the network, fast: rules removed, every address of
/// its pod ends removed (one dump of the pod's addresses), each veth host end's bridge port
/// disabled (the bridge forwards nothing to or from it). Nothing here is set down: closing
/// a device waits out an RCU grace period under the RTNL lock, which every other pod's
/// netlink request then waits behind; the unregistering that follows (see
/// [`remove_all`]) closes them anyway.
async fn take_down(s: &Sides, specs: &[PodInterfaceSpec], mark: &str) -> Result<(), DriverError> {
    for spec in specs {
        for r in &spec.rules {
            routes::delete_rule(&s.pod, r).await?;
        }
    }
    let mut ours = Vec::new();
    for spec in specs {
        if let Some(l) = find(&s.pod, &spec.ifname).await? {
            if is_ours(&l, mark) {
                ours.push(l.header.index);
            }
        }
    }
    if !ours.is_empty() {
        let addresses: Vec<_> = s
            .pod
            .address()
            .get()
            .execute()
            .try_filter(|a| std::future::ready(ours.contains(&a.header.index)))
            .try_collect()
            .await
            .map_err(|e| nl_error("dump the pod's addresses", e))?;
        for a in addresses {
            match s.pod.address().del(a).execute().await {
                Ok(()) => {}
                Err(e) if links::is_gone(&e) => {}
                Err(e) => return Err(nl_error("remove a pod address", e)),
            }
        }
    }
    for spec in specs {
        if let Some(h) = spec.host_name() {
            port_disabled(s, h).await?;
        }
    }
    Ok(())
}

/// A veth host end out of its bridge's forwarding; one that is no bridge port is set down
/// instead, and one that is gone is fine. The disabled state alone does not last: the
/// bridge enables a disabled port again when the kernel's link watch reports its carrier
/// up, which for a veth brought up just before (an ADD moments earlier) may come after
/// this request. So in the same request the port stops learning and being flooded, and
/// the addresses it learned are flushed: even enabled again, nothing is sent to it.
async fn port_disabled(s: &Sides, host_name: &str) -> Result<(), DriverError> {
    let port = LinkUnspec::new_with_name(host_name)
        .set_port_kind(InfoPortKind::Bridge)
        .set_port_data(InfoPortData::BridgePort(vec![
            InfoBridgePort::Learning(false),
            InfoBridgePort::UnicastFlood(false),
            InfoBridgePort::MulticastFlood(false),
            InfoBridgePort::BroadcastFlood(false),
            InfoBridgePort::Flush,
            InfoBridgePort::State(BridgePortState::Disabled),
        ]))
        .build();
    match s.host.link().set_port(port).execute().await {
        Ok(()) => Ok(()),
        Err(e) if links::is_gone(&e) => Ok(()),
        Err(_) => set_down(&s.host, LinkUnspec::new_with_name(host_name), host_name).await,
    }
}

async fn set_down(
    h: &Handle,
    link: LinkMessageBuilder<LinkUnspec>,
    name: &str,
) -> Result<(), DriverError> {
    match h.link().set(link.down().build()).execute().await {
        Ok(()) => Ok(()),
        Err(e) if links::is_gone(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("set down {name}"), e)),
    }
}

/// Loopback up. It is interface 1 in every network namespace, so no lookup is needed;
/// setting up what is up already changes nothing.
async fn lo_up(pod: &Handle) -> Result<(), DriverError> {
    pod.link()
        .set(LinkUnspec::new_with_index(LOOPBACK_INDEX).up().build())
        .execute()
        .await
        .map_err(|e| nl_error("set up lo", e))
}

impl PodDriver for KernelPods {
    fn attach(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<PodInterfaceState>, DriverError> {
        let mark = owner_mark(owner);
        in_pod(netns, |s| async move {
            let each = async {
                let mut made = 0;
                let mut out = Vec::new();
                for spec in specs {
                    match attach_one(&s, spec, &mark).await {
                        Ok(st) => out.push(st),
                        Err(e) => {
                            // a clash made nothing; anything else may have made the link
                            if !matches!(e, DriverError::Clash(_)) {
                                made += 1;
                            }
                            return (made, out, Some(e));
                        }
                    }
                    made += 1;
                }
                (made, out, None)
            };
            // the pod's loopback comes up while its first interface is being made
            let (lo, (made, out, failure)) =
                futures_util::join!(timed("lo up", lo_up(&s.pod)), each);
            let failure = failure.or(lo.err());
            match failure {
                None => Ok(out),
                Some(e) => {
                    for spec in &specs[..made] {
                        if let Err(undo) = remove(&s, spec, &mark).await {
                            tracing::error!(error = %undo, ifname = %spec.ifname, "undoing a failed attach");
                        }
                    }
                    Err(e)
                }
            }
        })
    }

    fn detach(
        &self,
        netns: Option<&Path>,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError> {
        let mark = owner_mark(owner);
        let in_netns = match netns {
            Some(ns) => in_pod(ns, |s| async move {
                if timed("remove all", remove_all(&s, specs, &mark))
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
                // one by one, keeping going: report the first error after trying everything
                let mut first = None;
                for spec in specs {
                    if let Err(e) = remove(&s, spec, &mark).await {
                        first.get_or_insert(e);
                    }
                }
                first.map_or(Ok(()), Err)
            }),
            None => Err(DriverError::NoNetns(String::new())),
        };
        match in_netns {
            Err(DriverError::NoNetns(_)) => in_host(|h| async move {
                // the pod is gone, and with it the pod ends; host ends of veths went too,
                // unless the netns was only unmounted: remove them by name
                for spec in specs {
                    if let Some(name) = spec.host_name() {
                        links::delete(&h, name).await?;
                    }
                }
                Ok(())
            }),
            other => other,
        }
    }

    fn disconnect(
        &self,
        netns: Option<&Path>,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<bool, DriverError> {
        let mark = owner_mark(owner);
        let taken_down = match netns {
            Some(ns) => in_pod(ns, |s| async move {
                timed("take down", take_down(&s, specs, &mark)).await
            }),
            None => Err(DriverError::NoNetns(String::new())),
        };
        match taken_down {
            Ok(()) => Ok(true),
            // no pod netns: nothing can flow; what is left (host ends) goes now
            Err(DriverError::NoNetns(_)) => self.detach(None, owner, specs).map(|()| false),
            Err(e) => Err(e),
        }
    }

    fn check(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError> {
        let mark = owner_mark(owner);
        in_pod(netns, |s| async move {
            for spec in specs {
                let missing = |what: String| DriverError::Refused {
                    op: format!("check {}", spec.ifname),
                    reason: what,
                };
                let Some(l) = find(&s.pod, &spec.ifname).await? else {
                    return Err(missing("the interface is not in the pod".into()));
                };
                if links::alias(&l) != Some(mark.as_str()) {
                    return Err(missing("the interface is not netloom's".into()));
                }
                if !l.header.flags.contains(LinkFlags::Up) {
                    return Err(missing("the interface is down".into()));
                }
                let have = addresses_of(&s.pod, l.header.index).await?;
                for a in &spec.addresses {
                    if !have.contains(&(a.addr(), a.prefix_len())) {
                        return Err(missing(format!("address {a} is missing")));
                    }
                }
                for r in &spec.routes {
                    if !routes::has_route(&s.pod, r).await? {
                        return Err(missing(format!("route {} is missing", r.destination)));
                    }
                }
                if let Some(h) = spec.host_name() {
                    if find(&s.host, h).await?.is_none() {
                        return Err(missing(format!("host end {h} is missing")));
                    }
                }
            }
            Ok(())
        })
    }

    fn repair(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<Reconciled>, DriverError> {
        let mark = owner_mark(owner);
        in_pod(netns, |s| async move {
            lo_up(&s.pod).await?;
            let mut out = Vec::new();
            for spec in specs {
                out.push(repair::repair(&s, spec, &mark).await?);
            }
            Ok(out)
        })
    }

    fn host_ends(&self) -> Result<Vec<(String, String)>, DriverError> {
        in_host(|h| async move {
            Ok(links::all(&h)
                .await?
                .iter()
                .filter_map(|l| {
                    let mark = links::alias(l).filter(|a| a.starts_with("netloom:"))?;
                    Some((links::name(l)?.to_owned(), mark.to_owned()))
                })
                .collect())
        })
    }

    fn remove_host_end(&self, name: &str) -> Result<(), DriverError> {
        in_host(|h| async move { links::delete(&h, name).await })
    }
}
