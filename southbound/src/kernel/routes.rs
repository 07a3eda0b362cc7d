//! Routes and policy rules, in whichever namespace the handle is in.

use std::net::IpAddr;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteScope};
use rtnetlink::packet_route::rule::{RuleAction, RuleMessage};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::links::{is_exists, is_gone, nl_error};
use crate::driver::DriverError;
use crate::spec::{RouteSpec, RuleSpec};

fn route_message(r: &RouteSpec, dev: Option<u32>) -> Result<RouteMessage, DriverError> {
    let bad = |e: String| DriverError::Refused {
        op: format!("route {}", r.destination),
        reason: e,
    };
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.destination.network(), r.destination.prefix_len())
        .map_err(|e| bad(e.to_string()))?
        .table_id(r.table);
    if let Some(gw) = r.next_hop {
        b = b.gateway(gw).map_err(|e| bad(e.to_string()))?;
    } else {
        b = b.scope(RouteScope::Link);
    }
    if let Some(i) = dev {
        b = b.output_interface(i);
    }
    if r.metric > 0 {
        b = b.priority(r.metric);
    }
    Ok(b.build())
}

/// Add a route; one that is already there counts as added.
pub async fn add_route(h: &Handle, r: &RouteSpec, dev: Option<u32>) -> Result<(), DriverError> {
    let msg = route_message(r, dev)?;
    match h.route().add(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_exists(&e) => Ok(()),
        Err(e) => Err(nl_error(
            format!("add route {} table {}", r.destination, r.table),
            e,
        )),
    }
}

/// Delete a route; one that is not there counts as deleted.
pub async fn delete_route(h: &Handle, r: &RouteSpec, dev: Option<u32>) -> Result<(), DriverError> {
    let msg = route_message(r, dev)?;
    match h.route().del(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("delete route {}", r.destination), e)),
    }
}

fn rule_message(h: &Handle, r: &RuleSpec) -> Result<RuleMessage, DriverError> {
    let v6 = r.from.or(r.to).is_some_and(|p| p.addr().is_ipv6());
    let base = h
        .rule()
        .add()
        .priority(r.priority)
        .table_id(r.table)
        // without an explicit action the kernel refuses the rule (EINVAL)
        .action(RuleAction::ToTable);
    let base = match r.fwmark {
        Some(m) => base.fw_mark(m),
        None => base,
    };
    let mismatch = || DriverError::Refused {
        op: format!("rule {}", r.priority),
        reason: "from and to are of different address families".into(),
    };
    let msg = if v6 {
        let mut req = base.v6();
        for (p, src) in [(r.from, true), (r.to, false)] {
            if let Some(p) = p {
                let IpAddr::V6(a) = p.network() else {
                    return Err(mismatch());
                };
                req = if src {
                    req.source_prefix(a, p.prefix_len())
                } else {
                    req.destination_prefix(a, p.prefix_len())
                };
            }
        }
        req.message_mut().clone()
    } else {
        let mut req = base.v4();
        for (p, src) in [(r.from, true), (r.to, false)] {
            if let Some(p) = p {
                let IpAddr::V4(a) = p.network() else {
                    return Err(mismatch());
                };
                req = if src {
                    req.source_prefix(a, p.prefix_len())
                } else {
                    req.destination_prefix(a, p.prefix_len())
                };
            }
        }
        req.message_mut().clone()
    };
    Ok(msg)
}

pub async fn add_rule(h: &Handle, r: &RuleSpec) -> Result<(), DriverError> {
    let msg = rule_message(h, r)?;
    let mut req = h.rule().add();
    *req.message_mut() = msg;
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_exists(&e) => Ok(()),
        Err(e) => Err(nl_error(
            format!("add rule {} table {}", r.priority, r.table),
            e,
        )),
    }
}

pub async fn delete_rule(h: &Handle, r: &RuleSpec) -> Result<(), DriverError> {
    let msg = rule_message(h, r)?;
    match h.rule().del(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(nl_error(format!("delete rule {}", r.priority), e)),
    }
}

/// Whether a route to `destination` exists in `table` (used by CHECK).
pub async fn has_route(h: &Handle, r: &RouteSpec) -> Result<bool, DriverError> {
    // no destination in the request: with one, the kernel answers a lookup, not a dump
    let probe = match r.destination {
        ipnet::IpNet::V4(_) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .table_id(r.table)
            .build(),
        ipnet::IpNet::V6(_) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
            .table_id(r.table)
            .build(),
    };
    let mut routes = h.route().get(probe).execute();
    while let Some(m) = routes
        .try_next()
        .await
        .map_err(|e| nl_error("route dump", e))?
    {
        let table = table_of(&m);
        if table == r.table && m.header.destination_prefix_length == r.destination.prefix_len() {
            let dst = m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
                RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
                _ => None,
            });
            if dst.is_none_or(|d| d == r.destination.network()) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Routes someone added through interface `index` in `tables` (the kernel's own connected
/// and link-local routes excluded), as the dump gave them, so each can be deleted as is.
pub async fn added_routes_via(
    h: &Handle,
    index: u32,
    tables: &[u32],
) -> Result<Vec<RouteMessage>, DriverError> {
    use rtnetlink::packet_route::route::RouteProtocol;
    let mut out = Vec::new();
    for probe in [
        RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
        RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
    ] {
        let mut routes = h.route().get(probe).execute();
        while let Some(m) = routes
            .try_next()
            .await
            .map_err(|e| nl_error("route dump", e))?
        {
            let table = table_of(&m);
            let via = m
                .attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Oif(i) if *i == index));
            if via && tables.contains(&table) && m.header.protocol != RouteProtocol::Kernel {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// Destination and table of a dumped route, to compare with a spec.
pub fn route_key(m: &RouteMessage) -> (Option<IpAddr>, u8, u32) {
    let dst = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    });
    let table = table_of(m);
    (dst, m.header.destination_prefix_length, table)
}

/// Delete a route exactly as dumped.
pub async fn delete_dumped(h: &Handle, m: RouteMessage) -> Result<(), DriverError> {
    match h.route().del(m).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(nl_error("delete extra route", e)),
    }
}

/// The routing table a dumped route is in: the 32-bit attribute when present (tables above
/// 255 only have that), else the header's byte.
fn table_of(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table))
}
