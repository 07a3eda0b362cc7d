//! The flood list of a netloom VXLAN device: one all-zero-MAC FDB entry per remote VTEP
//! (head-end replication, `bridge fdb append 00:00:00:00:00:00 dev nlx<vni> dst <remote>`).
//! The committed config owns the whole list, so syncing it also removes remotes the config
//! no longer names (dropped by a commit, or while the daemon was down). Learned entries
//! (a real MAC behind a VTEP) are the kernel's and never touched.

use std::collections::BTreeSet;
use std::net::IpAddr;

use futures_util::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::Handle;

use super::links::{is_exists, is_gone, nl_error};
use crate::driver::DriverError;

const FLOOD_MAC: [u8; 6] = [0; 6];

fn ip_of(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        // in an AF_BRIDGE dump the parser cannot tell the family: the length does
        NeighbourAddress::Other(b) => match b.len() {
            4 => <[u8; 4]>::try_from(&b[..]).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(&b[..]).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

/// The remotes the flood list of device `index` sends to now.
pub async fn flood_list(h: &Handle, index: u32) -> Result<BTreeSet<IpAddr>, DriverError> {
    let entries: Vec<NeighbourMessage> = h
        .neighbours()
        .get()
        .set_address_family(AddressFamily::Bridge)
        .execute()
        .try_collect()
        .await
        .map_err(|e| nl_error("dump fdb", e))?;
    Ok(entries
        .iter()
        .filter(|m| m.header.ifindex == index)
        .filter(|m| {
            m.attributes.iter().any(
                |a| matches!(a, NeighbourAttribute::LinkLayerAddress(mac) if mac[..] == FLOOD_MAC),
            )
        })
        .filter_map(|m| {
            m.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(d) => ip_of(d),
                _ => None,
            })
        })
        .collect())
}

/// Send one neighbour request and wait for its acknowledgement; EEXIST (on add) and a
/// missing entry (on delete) count as done.
async fn send(
    h: &Handle,
    nl: NetlinkMessage<RouteNetlinkMessage>,
    op: String,
) -> Result<(), DriverError> {
    let mut h = h.clone();
    let mut replies = h.request(nl).map_err(|e| nl_error(op.clone(), e))?;
    while let Some(m) = replies.next().await {
        if let NetlinkPayload::Error(err) = m.payload {
            if err.code.is_some() {
                let e = rtnetlink::Error::NetlinkError(err);
                if !is_exists(&e) && !is_gone(&e) {
                    return Err(nl_error(op, e));
                }
            }
        }
    }
    Ok(())
}

fn flood_entry(index: u32, remote: IpAddr) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Bridge;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.header.flags = NeighbourFlags::Own;
    msg.attributes = vec![
        NeighbourAttribute::LinkLayerAddress(FLOOD_MAC.to_vec()),
        NeighbourAttribute::Destination(match remote {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }),
    ];
    msg
}

/// Add `remote` to the flood list. rtnetlink's request sets EXCL, which refuses a second
/// all-zero entry, so the message is sent with APPEND by hand.
async fn append(h: &Handle, index: u32, remote: IpAddr) -> Result<(), DriverError> {
    let mut nl = NetlinkMessage::from(RouteNetlinkMessage::NewNeighbour(flood_entry(
        index, remote,
    )));
    nl.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
    send(h, nl, format!("fdb append dst {remote}")).await
}

async fn remove(h: &Handle, index: u32, remote: IpAddr) -> Result<(), DriverError> {
    let mut nl = NetlinkMessage::from(RouteNetlinkMessage::DelNeighbour(flood_entry(
        index, remote,
    )));
    nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    send(h, nl, format!("fdb del dst {remote}")).await
}

/// Make the flood list of device `index` exactly `remotes` (plus the multicast `group`'s
/// entry, which the kernel made with the device); returns the remotes removed.
pub async fn sync_flood_list(
    h: &Handle,
    index: u32,
    remotes: &[IpAddr],
    group: Option<IpAddr>,
) -> Result<Vec<IpAddr>, DriverError> {
    let present = flood_list(h, index).await?;
    let mut removed = Vec::new();
    for stale in present
        .iter()
        .filter(|p| !remotes.contains(p) && Some(**p) != group)
    {
        remove(h, index, *stale).await?;
        tracing::info!(link = index, remote = %stale, "removed a VXLAN remote the config no longer lists");
        removed.push(*stale);
    }
    for r in remotes.iter().filter(|r| !present.contains(r)) {
        append(h, index, *r).await?;
    }
    Ok(removed)
}
