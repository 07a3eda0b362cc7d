//! Reconcile of one live attachment's pod interface (daemon start): what matches is
//! adopted as it is, so a working pod never flaps (same ifindex, no down/up); what drifted
//! is put back, adding only what is missing; an interface that is gone is made again from
//! its spec (same MAC and addresses, as the attachment table recorded them).

use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::LinkUnspec;

use super::links::{self, find, nl_error};
use super::netns::Sides;
use super::pods::{addresses_of, clear_leftover, configure, create, host_end_up, uplink_index};
use super::routes;
use crate::driver::DriverError;
use crate::pod::{PodInterfaceSpec, PodLinkKind, Reconciled};

pub(super) async fn repair(
    s: &Sides,
    spec: &PodInterfaceSpec,
    mark: &str,
) -> Result<Reconciled, DriverError> {
    let Some(l) = find(&s.pod, &spec.ifname).await? else {
        clear_leftover(s, spec, mark).await?;
        create(s, spec, mark).await?;
        configure(s, spec, mark).await?;
        return Ok(Reconciled::Recreated);
    };
    if links::alias(&l) != Some(mark) {
        return Err(DriverError::Clash(format!(
            "{} in the pod is not this attachment's; left alone",
            spec.ifname
        )));
    }
    let index = l.header.index;
    let mut fixed = Vec::new();
    if !l.header.flags.contains(LinkFlags::Up) {
        s.pod
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| nl_error(format!("set up {}", spec.ifname), e))?;
        fixed.push(format!("{} up", spec.ifname));
    }
    let have = addresses_of(&s.pod, index).await?;
    for a in &spec.addresses {
        if !have.contains(&(a.addr(), a.prefix_len())) {
            links::add_address(&s.pod, index, a).await?;
            fixed.push(format!("address {a}"));
        }
    }
    // what the spec does not list goes: an address or route added by hand on an
    // interface netloom owns would otherwise survive every restart (link-local IPv6 and
    // the kernel's own routes are the kernel's, not drift)
    for (ip, len) in &have {
        let link_local =
            matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if !link_local
            && !spec
                .addresses
                .iter()
                .any(|a| a.addr() == *ip && a.prefix_len() == *len)
        {
            links::delete_address(&s.pod, index, *ip, *len).await?;
            fixed.push(format!("extra address {ip}/{len} removed"));
        }
    }
    let mut tables: Vec<u32> = spec.routes.iter().map(|r| r.table).collect();
    tables.push(254);
    for m in routes::added_routes_via(&s.pod, index, &tables).await? {
        let (dst, len, table) = routes::route_key(&m);
        let wanted = spec.routes.iter().any(|r| {
            r.table == table
                && r.destination.prefix_len() == len
                && dst.is_none_or(|d| d == r.destination.network())
        });
        if !wanted {
            let shown = format!(
                "extra route {}/{len} table {table} removed",
                dst.map_or("default".to_owned(), |d| d.to_string())
            );
            routes::delete_dumped(&s.pod, m).await?;
            fixed.push(shown);
        }
    }
    for r in &spec.routes {
        if !routes::has_route(&s.pod, r).await? {
            routes::add_route(&s.pod, r, Some(index)).await?;
            fixed.push(format!("route {} table {}", r.destination, r.table));
        }
    }
    for r in &spec.rules {
        // EEXIST counts as added: a rule that is there stays untouched
        routes::add_rule(&s.pod, r).await?;
    }
    if let PodLinkKind::Veth {
        host_name,
        bridge,
        hairpin,
        ..
    } = &spec.kind
    {
        if let Some(host) = find(&s.host, host_name).await? {
            let master = host.attributes.iter().find_map(|a| match a {
                LinkAttribute::Controller(m) => Some(*m),
                _ => None,
            });
            let want = match bridge {
                Some(b) => Some(uplink_index(&s.host, b).await?),
                None => None,
            };
            if master != want || !host.header.flags.contains(LinkFlags::Up) {
                // e.g. the bridge was deleted and reconcile made it again: ports are gone
                host_end_up(s, host_name, bridge.as_deref(), *hairpin, mark).await?;
                fixed.push(format!(
                    "{host_name} back on {}",
                    bridge.as_deref().unwrap_or("-")
                ));
            }
        }
    }
    Ok(if fixed.is_empty() {
        Reconciled::Adopted
    } else {
        Reconciled::Repaired(fixed)
    })
}
