//! Host links netloom owns (bridges, VXLAN devices, VLAN subinterfaces): made with the
//! alias [`MARK`] so reconcile and garbage collection only ever touch netloom's own, and
//! adopted as they are when a restarted daemon finds them already there.

use std::net::IpAddr;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVlan, LinkVxlan};

use super::fdb;
use crate::driver::DriverError;
use crate::spec::{LinkKind, LinkSpec};

/// The alias of every host link netloom made.
pub const MARK: &str = "netloom";

const ENOENT: i32 = 2;
const ENODEV: i32 = 19;
const EEXIST: i32 = 17;
const ESRCH: i32 = 3;
const EADDRNOTAVAIL: i32 = 99;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

pub(crate) fn is_exists(e: &rtnetlink::Error) -> bool {
    errno(e) == Some(EEXIST)
}

pub(crate) fn is_gone(e: &rtnetlink::Error) -> bool {
    matches!(errno(e), Some(ENOENT | ENODEV | ESRCH | EADDRNOTAVAIL))
}

pub(crate) fn nl_error(op: impl Into<String>, e: rtnetlink::Error) -> DriverError {
    let reason = match errno(&e) {
        Some(n) => format!("{} (errno {n})", std::io::Error::from_raw_os_error(n)),
        None => e.to_string(),
    };
    DriverError::Refused {
        op: op.into(),
        reason,
    }
}

/// A link by name, or `None`.
pub async fn find(h: &Handle, name: &str) -> Result<Option<LinkMessage>, DriverError> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(l) => Ok(l),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(nl_error(format!("find link {name}"), e)),
    }
}

/// Every link of the handle's namespace.
pub async fn all(h: &Handle) -> Result<Vec<LinkMessage>, DriverError> {
    h.link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| nl_error("dump links", e))
}

pub fn alias(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(s) => Some(s.as_str()),
        _ => None,
    })
}

pub fn name(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(s) => Some(s.as_str()),
        _ => None,
    })
}

pub fn mac(l: &LinkMessage) -> String {
    l.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(b) => Some(
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// `aa:bb:cc:dd:ee:ff` to bytes.
pub fn parse_mac(text: &str) -> Result<Vec<u8>, DriverError> {
    let bytes: Result<Vec<u8>, _> = text.split(':').map(|b| u8::from_str_radix(b, 16)).collect();
    match bytes {
        Ok(b) if b.len() == 6 => Ok(b),
        _ => Err(DriverError::Refused {
            op: format!("mac {text}"),
            reason: "not a MAC address".into(),
        }),
    }
}

pub(crate) async fn index(h: &Handle, name: &str) -> Result<u32, DriverError> {
    find(h, name)
        .await?
        .map(|l| l.header.index)
        .ok_or_else(|| DriverError::Refused {
            op: format!("find {name}"),
            reason: "no such interface".into(),
        })
}

/// Mark, enslave and bring up a link.
async fn finish(
    h: &Handle,
    index: u32,
    master: Option<u32>,
    alias_text: &str,
) -> Result<(), DriverError> {
    let mut b = LinkUnspec::new_with_index(index)
        .up()
        .append_extra_attribute(LinkAttribute::IfAlias(alias_text.to_owned()));
    if let Some(m) = master {
        b = b.controller(m);
    }
    h.link()
        .set(b.build())
        .execute()
        .await
        .map_err(|e| nl_error(format!("set up link {index}"), e))
}

pub async fn add_address(h: &Handle, index: u32, a: &ipnet::IpNet) -> Result<(), DriverError> {
    match h
        .address()
        .add(index, a.addr(), a.prefix_len())
        .execute()
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_exists(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("add address {a}"), e)),
    }
}

/// Make (or adopt) a host link as `spec` says.
pub async fn create(h: &Handle, spec: &LinkSpec) -> Result<(), DriverError> {
    let op = || format!("create {}", spec.name);
    if let Some(existing) = find(h, &spec.name).await? {
        if alias(&existing) != Some(MARK) {
            return Err(DriverError::Clash(format!(
                "{}: an interface of that name exists and is not netloom's",
                spec.name
            )));
        }
        tracing::info!(link = %spec.name, "adopting the existing link");
        // config may have changed while the daemon was down: an MTU it no longer sets
        // goes back to what the kernel gives a new link of the kind
        let mtu = match spec.mtu {
            Some(m) => Some(m),
            None => default_mtu(h, spec).await?,
        };
        if let Some(m) = mtu.filter(|m| Some(*m) != link_mtu(&existing)) {
            set_mtu(h, existing.header.index, m).await?;
        }
    } else {
        let msg = match &spec.kind {
            LinkKind::Bridge { .. } => built(LinkBridge::new(&spec.name), spec.mtu),
            LinkKind::Vxlan {
                vni,
                local,
                group,
                port,
                learning,
                uplink,
                ..
            } => {
                let mut b = LinkVxlan::new(&spec.name, *vni)
                    .port(*port)
                    .learning(*learning);
                if let Some(up) = uplink {
                    b = b.dev(index(h, up).await?);
                }
                match local {
                    Some(IpAddr::V4(a)) => b = b.local(*a),
                    Some(IpAddr::V6(a)) => b = b.local6(*a),
                    None => {}
                }
                match group {
                    Some(IpAddr::V4(a)) => b = b.group(*a),
                    Some(IpAddr::V6(a)) => b = b.group6(*a),
                    None => {}
                }
                built(b, spec.mtu)
            }
            LinkKind::Vlan { uplink, id } => built(
                LinkVlan::new(&spec.name, index(h, uplink).await?, *id),
                spec.mtu,
            ),
        };
        h.link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| nl_error(op(), e))?;
    }
    let idx = index(h, &spec.name).await?;
    let master = match &spec.master {
        Some(m) => Some(index(h, m).await?),
        None => None,
    };
    finish(h, idx, master, MARK).await?;
    if let LinkKind::Vxlan { remotes, group, .. } = &spec.kind {
        // an adopted device may still flood to remotes the config dropped while we were down
        fdb::sync_flood_list(h, idx, remotes, *group).await?;
    }
    for a in &spec.addresses {
        add_address(h, idx, a).await?;
    }
    remove_unlisted_addresses(h, idx, spec).await
}

fn link_mtu(l: &LinkMessage) -> Option<u16> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => u16::try_from(*m).ok(),
        _ => None,
    })
}

/// The MTU the kernel gives a new link of `spec`'s kind when none is asked for: a
/// bridge's and an unbound VXLAN device's 1500, a VLAN subinterface its uplink's, a VXLAN
/// device on an uplink the uplink's less the encapsulation (50 bytes over IPv4, 70 over
/// IPv6). `None` when the uplink is not there to ask.
async fn default_mtu(h: &Handle, spec: &LinkSpec) -> Result<Option<u16>, DriverError> {
    const ETH_DATA_LEN: u16 = 1500;
    let uplink_mtu = |name: String| async move {
        Ok::<_, DriverError>(find(h, &name).await?.as_ref().and_then(link_mtu))
    };
    Ok(match &spec.kind {
        LinkKind::Bridge { .. } => Some(ETH_DATA_LEN),
        LinkKind::Vlan { uplink, .. } => uplink_mtu(uplink.clone()).await?,
        LinkKind::Vxlan { uplink: None, .. } => Some(ETH_DATA_LEN),
        LinkKind::Vxlan {
            uplink: Some(up),
            local,
            group,
            ..
        } => {
            let v6 = matches!(local.or(*group), Some(IpAddr::V6(_)));
            let headroom = if v6 { 70 } else { 50 };
            uplink_mtu(up.clone())
                .await?
                .map(|m| m.saturating_sub(headroom))
        }
    })
}

/// Remove the addresses on netloom's link `index` that `spec` does not list (added by
/// hand, or by config since dropped while the daemon was down). What the kernel made is
/// left alone: IPv6 link-local addresses and autoconfigured (non-permanent) ones.
async fn remove_unlisted_addresses(
    h: &Handle,
    index: u32,
    spec: &LinkSpec,
) -> Result<(), DriverError> {
    use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags};
    let live: Vec<_> = h
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(|e| nl_error(format!("dump addresses of {}", spec.name), e))?;
    for m in live {
        let Some(ip) = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        }) else {
            continue;
        };
        let listed = spec
            .addresses
            .iter()
            .any(|a| a.addr() == ip && a.prefix_len() == m.header.prefix_len);
        let kernel_made = match ip {
            IpAddr::V6(v6) => {
                v6.is_unicast_link_local()
                    || !m.header.flags.contains(AddressHeaderFlags::Permanent)
            }
            IpAddr::V4(_) => false,
        };
        if listed || kernel_made {
            continue;
        }
        tracing::info!(link = %spec.name, address = %ip, prefix = m.header.prefix_len, "removing an address the config does not list");
        match h.address().del(m).execute().await {
            Ok(()) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => return Err(nl_error(format!("remove {ip} from {}", spec.name), e)),
        }
    }
    Ok(())
}

async fn set_mtu(h: &Handle, index: u32, mtu: u16) -> Result<(), DriverError> {
    h.link()
        .set(
            LinkUnspec::new_with_index(index)
                .mtu(u32::from(mtu))
                .build(),
        )
        .execute()
        .await
        .map_err(|e| nl_error(format!("set mtu {mtu} on link {index}"), e))
}

/// Change a live link from `old` to `new` in place (same kernel object: see
/// `LinkSpec::same_object`): MTU, master, addresses. An MTU dropped from config goes back
/// to the kernel's default for the kind ([`default_mtu`]). Returns the MTU the link had,
/// so the undo can put it back even when `old` did not say.
pub async fn update(
    h: &Handle,
    old: &LinkSpec,
    new: &LinkSpec,
) -> Result<Option<u16>, DriverError> {
    let live = find(h, &new.name)
        .await?
        .ok_or_else(|| DriverError::Refused {
            op: format!("update {}", new.name),
            reason: "no such interface".into(),
        })?;
    let idx = live.header.index;
    let was = link_mtu(&live);
    let mtu = match (new.mtu, old.mtu) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => default_mtu(h, new).await?,
        (None, None) => None,
    };
    if let Some(m) = mtu.filter(|m| Some(*m) != was) {
        set_mtu(h, idx, m).await?;
    }
    if new.master != old.master {
        let b = match &new.master {
            Some(m) => LinkUnspec::new_with_index(idx).controller(index(h, m).await?),
            None => LinkUnspec::new_with_index(idx).nocontroller(),
        };
        h.link()
            .set(b.build())
            .execute()
            .await
            .map_err(|e| nl_error(format!("set master of {}", new.name), e))?;
    }
    for a in old.addresses.iter().filter(|a| !new.addresses.contains(a)) {
        delete_address(h, idx, a.addr(), a.prefix_len()).await?;
    }
    for a in new.addresses.iter().filter(|a| !old.addresses.contains(a)) {
        add_address(h, idx, a).await?;
    }
    Ok(was)
}

/// Delete a link by name; an absent one counts as deleted. Refuses links that are not
/// netloom's.
pub async fn delete(h: &Handle, name: &str) -> Result<(), DriverError> {
    let Some(l) = find(h, name).await? else {
        return Ok(());
    };
    if alias(&l) != Some(MARK) && !alias(&l).is_some_and(|a| a.starts_with("netloom:")) {
        return Err(DriverError::Clash(format!(
            "{name} is not netloom's; left alone"
        )));
    }
    delete_index(h, l.header.index).await
}

pub async fn delete_index(h: &Handle, index: u32) -> Result<(), DriverError> {
    match h.link().del(index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("delete link {index}"), e)),
    }
}

/// Build a link message with the MTU set when given.
pub(crate) fn built<T>(b: rtnetlink::LinkMessageBuilder<T>, mtu: Option<u16>) -> LinkMessage {
    match mtu {
        Some(m) => b.mtu(u32::from(m)).build(),
        None => b.build(),
    }
}

/// Remove `ip/len` from interface `index` (as the kernel dumps it); one not there counts as
/// removed.
pub async fn delete_address(
    h: &Handle,
    index: u32,
    ip: IpAddr,
    len: u8,
) -> Result<(), DriverError> {
    use futures_util::TryStreamExt;
    use rtnetlink::packet_route::address::AddressAttribute;
    let mut dump = h
        .address()
        .get()
        .set_link_index_filter(index)
        .set_address_filter(ip)
        .execute();
    while let Some(m) = dump
        .try_next()
        .await
        .map_err(|e| nl_error("dump addresses", e))?
    {
        let same = m.header.prefix_len == len
            && m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Address(a) if *a == ip));
        if same {
            match h.address().del(m).execute().await {
                Ok(()) => {}
                Err(e) if is_gone(&e) => {}
                Err(e) => return Err(nl_error(format!("delete address {ip}/{len}"), e)),
            }
        }
    }
    Ok(())
}
