//! CNI results (specification 1.1, "Success"): every interface (host end, then pod end
//! with its sandbox), every IP with the index of its interface, routes and DNS. The per
//! interface slice of a result is what the attachment table keeps, with what DEL and
//! GC need later under the `netloom` key.

use netloom_southbound::{PodInterfaceSpec, PodInterfaceState, RuleSpec};
use serde_json::{json, Map, Value};

use super::resolve::Wanted;
use crate::ipam::Lease;

const MAIN_TABLE: u32 = 254;

/// One attached interface, all a result needs.
pub struct Attached<'a> {
    pub wanted: &'a Wanted,
    pub leases: &'a [Lease],
    pub spec: &'a PodInterfaceSpec,
    pub state: &'a PodInterfaceState,
}

fn old_format(version: &str) -> bool {
    version.starts_with("0.")
}

/// The interfaces, ips and routes of `items`, appended to `out`.
fn push(out: &mut Map<String, Value>, a: &Attached, netns: &str, version: &str) {
    let interfaces = out.entry("interfaces").or_insert_with(|| json!([]));
    let Some(list) = interfaces.as_array_mut() else {
        return;
    };
    if let Some((name, mac)) = &a.state.host {
        list.push(json!({"name": name, "mac": mac}));
    }
    list.push(json!({"name": a.state.ifname, "mac": a.state.mac, "sandbox": netns}));
    let index = list.len() - 1;
    let ips = out.entry("ips").or_insert_with(|| json!([]));
    if let Some(ips) = ips.as_array_mut() {
        for l in a.leases {
            let mut ip = json!({"address": l.address.to_string(), "interface": index});
            if let Some(gw) = l.gateway {
                ip["gateway"] = json!(gw.to_string());
            }
            if old_format(version) {
                ip["version"] = json!(if l.address.addr().is_ipv4() { "4" } else { "6" });
            }
            ips.push(ip);
        }
    }
    let routes = out.entry("routes").or_insert_with(|| json!([]));
    if let Some(routes) = routes.as_array_mut() {
        for r in a.spec.routes.iter().filter(|r| r.table == MAIN_TABLE) {
            let mut route = json!({"dst": r.destination.to_string()});
            if let Some(gw) = r.next_hop {
                route["gw"] = json!(gw.to_string());
            }
            if r.metric > 0 && !old_format(version) {
                route["priority"] = json!(r.metric);
            }
            routes.push(route);
        }
    }
}

fn dns(w: &Wanted) -> Option<Value> {
    let d = w.network.ipam.dns.as_ref()?;
    let mut v = json!({});
    if !d.nameserver.is_empty() {
        v["nameservers"] = json!(d
            .nameserver
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>());
    }
    if let Some(domain) = &d.domain {
        v["domain"] = json!(domain);
    }
    if !d.search.is_empty() {
        v["search"] = json!(d.search);
    }
    Some(v)
}

/// The result of an ADD.
pub fn result(items: &[Attached], netns: &str, version: &str) -> Value {
    let mut out = Map::new();
    out.insert("cniVersion".into(), json!(version));
    for a in items {
        push(&mut out, a, netns, version);
    }
    if let Some(d) = items.first().and_then(|a| dns(a.wanted)) {
        out.insert("dns".into(), d);
    }
    Value::Object(out)
}

/// What the attachment table keeps for one interface.
pub fn stored(a: &Attached, netns: &str, group: &str, cni_network: &str) -> Value {
    let mut v = result(std::slice::from_ref(a), netns, "1.1.0");
    let rules: Vec<Value> = a.spec.rules.iter().map(rule_json).collect();
    v["netloom"] = json!({
        "group": group,
        "cniNetwork": cni_network,
        "hostName": a.spec.host_name(),
        "rules": rules,
        // everything reconcile needs to make the interface again as it was
        "spec": serde_json::to_value(a.spec).unwrap_or(Value::Null),
    });
    v
}

fn rule_json(r: &RuleSpec) -> Value {
    json!({
        "priority": r.priority,
        "from": r.from.map(|p| p.to_string()),
        "to": r.to.map(|p| p.to_string()),
        "fwmark": r.fwmark,
        "table": r.table,
    })
}

/// The rules back from [`stored`].
pub fn stored_rules(v: &Value) -> Vec<RuleSpec> {
    v.pointer("/netloom/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(RuleSpec {
                priority: u32::try_from(r.get("priority")?.as_u64()?).ok()?,
                from: r
                    .get("from")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok()),
                to: r
                    .get("to")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok()),
                fwmark: r
                    .get("fwmark")
                    .and_then(Value::as_u64)
                    .and_then(|m| u32::try_from(m).ok()),
                table: u32::try_from(r.get("table")?.as_u64()?).ok()?,
            })
        })
        .collect()
}
