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
