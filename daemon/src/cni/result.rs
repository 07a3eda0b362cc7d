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

/// A chained ADD's result (CNI 1.1, "Chained Plugins"): the previous plugin's result
/// passed through with this plugin's interfaces appended after its own (IP `interface`
/// indexes shifted to match), its IPs and routes appended, DNS merged (the previous
/// plugin's settings first). Keys this plugin does not know are kept as they were.
pub fn chained(prev: &Value, ours: Value, version: &str) -> Value {
    let Some(mut out) = prev.as_object().cloned() else {
        return ours;
    };
    let shift = out
        .get("interfaces")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let append = |out: &mut Map<String, Value>, key: &str, items: Vec<Value>| {
        let list = out.entry(key).or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        if let Some(list) = list.as_array_mut() {
            list.extend(items);
        }
    };
    let take = |key: &str| ours.get(key).and_then(Value::as_array).cloned();
    append(
        &mut out,
        "interfaces",
        take("interfaces").unwrap_or_default(),
    );
    let ips = take("ips")
        .unwrap_or_default()
        .into_iter()
        .map(|mut ip| {
            if let Some(i) = ip.get("interface").and_then(Value::as_u64) {
                ip["interface"] = json!(i + shift as u64);
            }
            ip
        })
        .collect();
    append(&mut out, "ips", ips);
    append(&mut out, "routes", take("routes").unwrap_or_default());
    if let Some(d) = ours.get("dns") {
        let merged = merge_dns(out.get("dns").unwrap_or(&Value::Null), d);
        out.insert("dns".into(), merged);
    }
    out.insert("cniVersion".into(), json!(version));
    Value::Object(out)
}

fn merge_dns(prev: &Value, ours: &Value) -> Value {
    let mut out = prev.as_object().cloned().unwrap_or_default();
    for key in ["nameservers", "search", "options"] {
        let mut list: Vec<Value> = out
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for v in ours
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !list.contains(v) {
                list.push(v.clone());
            }
        }
        if !list.is_empty() {
            out.insert(key.into(), Value::Array(list));
        }
    }
    if !out.contains_key("domain") {
        if let Some(d) = ours.get("domain") {
            out.insert("domain".into(), d.clone());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_result_appends_after_the_previous_plugin() {
        let prev = json!({"cniVersion": "1.1.0",
            "interfaces": [{"name": "vethx"}, {"name": "eth0", "sandbox": "/ns"}],
            "ips": [{"address": "10.1.0.5/24", "interface": 1}],
            "dns": {"nameservers": ["10.1.0.53"]},
            "custom": 1});
        let ours = json!({"cniVersion": "1.1.0",
            "interfaces": [{"name": "nlab"}, {"name": "net1", "sandbox": "/ns"}],
            "ips": [{"address": "10.2.0.5/24", "interface": 1}],
            "routes": [{"dst": "10.9.0.0/16"}],
            "dns": {"nameservers": ["10.1.0.53", "10.2.0.53"], "domain": "x"}});
        let out = chained(&prev, ours, "1.0.0");
        assert_eq!(out["cniVersion"], "1.0.0");
        assert_eq!(out["interfaces"].as_array().unwrap().len(), 4);
        assert_eq!(
            out["ips"][1],
            json!({"address": "10.2.0.5/24", "interface": 3})
        );
        assert_eq!(out["routes"][0]["dst"], "10.9.0.0/16");
        assert_eq!(
            out["dns"],
            json!({"nameservers": ["10.1.0.53", "10.2.0.53"], "domain": "x"})
        );
        assert_eq!(out["custom"], 1);
    }
}
