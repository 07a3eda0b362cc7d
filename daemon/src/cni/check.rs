//! CHECK: the container's interfaces are there, netloom's, up, with their addresses and
//! main-table routes, as the attachment table says they were handed out.

use std::path::Path;

use netloom_northbound::cni::{CniCall, CniError};
use netloom_southbound::RouteSpec;
use serde_json::Value;

use super::teardown::detach_spec;
use super::{dataplane_error, CniService};

impl CniService {
    pub(super) fn check(&self, call: &CniCall) -> Result<(), CniError> {
        let group = self.group(&call.container_id, &call.ifname);
        if group.is_empty() {
            return Err(CniError::new(
                CniError::UNKNOWN_CONTAINER,
                format!("no attachment of {} {}", call.container_id, call.ifname),
            ));
        }
        let specs: Vec<_> = group
            .iter()
            .map(|a| {
                let v: Value = serde_json::from_str(&a.result).unwrap_or(Value::Null);
                let mut spec = detach_spec(a);
                spec.addresses = v
                    .get("ips")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|ip| ip.get("address")?.as_str()?.parse().ok())
                    .collect();
                spec.routes = v
                    .get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        Some(RouteSpec {
                            destination: r.get("dst")?.as_str()?.parse().ok()?,
                            next_hop: r
                                .get("gw")
                                .and_then(Value::as_str)
                                .and_then(|g| g.parse().ok()),
                            device: None,
                            metric: 0,
                            table: 254,
                        })
                    })
                    .collect();
                spec
            })
            .collect();
        self.pods
            .check(Path::new(&call.netns), &call.container_id, &specs)
            .map_err(dataplane_error)
    }
}
