//! CHECK: the container's interfaces are there, netloom's, up, with their addresses and
//! main-table routes, as the attachment table says they were handed out. With a
//! `prevResult` (CNI 1.1: the result the runtime holds for the chain), that result must
//! list each of the group's interfaces in this sandbox with the addresses netloom handed
//! out, and every address it lists on those interfaces must be on them in the kernel.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use netloom_northbound::cni::{CniCall, CniError};
use netloom_southbound::{PodInterfaceSpec, RouteSpec};
use netloom_store::Attachment;
use serde_json::Value;

use super::teardown::detach_spec;
use super::{dataplane_error, CniService};

fn addresses(v: &Value, interface: Option<u64>) -> Vec<IpNet> {
    v.get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|ip| {
            interface.is_none() || ip.get("interface").and_then(Value::as_u64) == interface
        })
        .filter_map(|ip| ip.get("address")?.as_str()?.parse().ok())
        .collect()
}

fn routes(v: &Value) -> Vec<RouteSpec> {
    v.get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(RouteSpec {
                destination: r.get("dst")?.as_str()?.parse().ok()?,
                next_hop: r
                    .get("gw")
                    .and_then(Value::as_str)
                    .and_then(|g| g.parse::<IpAddr>().ok()),
                device: None,
                metric: 0,
                table: 254,
            })
        })
        .collect()
}

/// The addresses `prev` lists on the pod interface `ifname` in `netns`, or the mismatch.
fn expected_in_prev(prev: &Value, ifname: &str, netns: &str) -> Result<Vec<IpNet>, CniError> {
    let index = prev
        .get("interfaces")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter().position(|i| {
                i.get("name").and_then(Value::as_str) == Some(ifname)
                    && i.get("sandbox").and_then(Value::as_str) == Some(netns)
            })
        })
        .ok_or_else(|| {
            CniError::new(
                CniError::INVALID_CONFIG,
                format!("prevResult does not list interface {ifname} in {netns}"),
            )
        })?;
    Ok(addresses(prev, Some(index as u64)))
}

fn expected(a: &Attachment, call: &CniCall) -> Result<PodInterfaceSpec, CniError> {
    let v: Value = serde_json::from_str(&a.result).unwrap_or(Value::Null);
    let mut spec = detach_spec(a);
    spec.addresses = addresses(&v, None);
    spec.routes = routes(&v);
    if let Some(prev) = call.config.get("prevResult").filter(|p| p.is_object()) {
        let listed = expected_in_prev(prev, &a.interface, &call.netns)?;
        if let Some(missing) = spec.addresses.iter().find(|a| !listed.contains(a)) {
            return Err(CniError::new(
                CniError::INVALID_CONFIG,
                format!(
                    "prevResult does not list address {missing} of {}",
                    a.interface
                ),
            ));
        }
        // a plugin earlier in the chain may have put more addresses on it: those too
        spec.addresses = listed;
    }
    Ok(spec)
}

impl CniService {
    pub(super) fn check(&self, call: &CniCall) -> Result<(), CniError> {
        let group = self.group(&call.container_id, &call.ifname);
        if group.is_empty() {
            return Err(CniError::new(
                CniError::UNKNOWN_CONTAINER,
                format!("no attachment of {} {}", call.container_id, call.ifname),
            ));
        }
        let specs = group
            .iter()
            .map(|a| expected(a, call))
            .collect::<Result<Vec<_>, _>>()?;
        self.pods
            .check(Path::new(&call.netns), &call.container_id, &specs)
            .map_err(dataplane_error)
    }
}
