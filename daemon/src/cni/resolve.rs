//! Which interfaces a CNI ADD makes: the pod's entry under `/pods` (eth0 plus net1..netN)
//! when there is one, else the networks the CNI config names (`network`, `networks`) or
//! `CNI_ARGS` names (`NETLOOM_NETWORKS=a,b`); the first becomes `CNI_IFNAME`, the others
//! net1, net2, ... — or, chained after a plugin that already made `CNI_IFNAME` (it is in
//! `prevResult`), all of them become net1, net2, ...

use std::collections::HashSet;
use std::net::IpAddr;

use netloom_northbound::cni::{CniCall, CniError};
use netloom_yang::model::{Network, Route};
use serde_json::Value;

use super::view::ConfigView;

/// One interface a call wants.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub ifname: String,
    pub network: Network,
    pub fixed: Vec<IpAddr>,
    pub mac: Option<String>,
    pub default_route: bool,
    pub routes: Vec<Route>,
}

/// The pod's namespace and name from `CNI_ARGS` (as Kubernetes runtimes pass them).
pub fn pod_identity(call: &CniCall) -> (String, String) {
    (
        call.arg("K8S_POD_NAMESPACE").unwrap_or_default().to_owned(),
        call.arg("K8S_POD_NAME").unwrap_or_default().to_owned(),
    )
}

fn network<'a>(view: &'a ConfigView, name: &str) -> Result<&'a Network, CniError> {
    view.networks.get(name).ok_or_else(|| {
        CniError::new(
            CniError::INVALID_CONFIG,
            format!("unknown network {name:?}"),
        )
        .with_details("the network is not in netloom's running configuration")
    })
}

pub fn resolve(call: &CniCall, view: &ConfigView) -> Result<Vec<Wanted>, CniError> {
    let (ns, name) = pod_identity(call);
    if let Some(pod) = view.pods.get(&(ns, name)) {
        let mut interfaces: Vec<_> = pod.interface.iter().collect();
        // eth0 (the runtime's interface) first, then net1, net2, ... in name order
        interfaces.sort_by_key(|i| (i.name != call.ifname, i.name.clone()));
        if interfaces.first().is_some_and(|i| i.name == call.ifname) {
            let primary = interfaces[0].name == call.ifname;
            let group: Vec<_> = if primary && call.ifname == "eth0" {
                interfaces
            } else {
                interfaces.into_iter().take(1).collect()
            };
            return group
                .into_iter()
                .map(|i| {
                    Ok(Wanted {
                        ifname: i.name.clone(),
                        network: network(view, &i.network)?.clone(),
                        fixed: i.address.clone(),
                        mac: i.mac.clone(),
                        default_route: i.default_route,
                        routes: i.route.clone(),
                    })
                })
                .collect();
        }
    }
    let mut names: Vec<String> = Vec::new();
    if let Some(n) = call.config.get("network").and_then(Value::as_str) {
        names.push(n.to_owned());
    }
    if let Some(list) = call.config.get("networks").and_then(Value::as_array) {
        names.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(list) = call.arg("NETLOOM_NETWORKS") {
        names.extend(list.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    if names.is_empty() {
        return Err(
            CniError::new(CniError::INVALID_CONFIG, "no network for this pod")
                .with_details("give the config a \"network\", or the pod an entry under /pods"),
        );
    }
    // chained after a plugin that already made CNI_IFNAME: netloom adds net1..netN beside
    // it (skipping names the chain used) and leaves the default route to that plugin
    let taken = chain_interfaces(call);
    let chained = taken.contains(&call.ifname);
    let mut next = 0;
    let mut spare = || loop {
        next += 1;
        let name = format!("net{next}");
        if !taken.contains(&name) {
            return name;
        }
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let primary = i == 0 && !chained;
            Ok(Wanted {
                ifname: if primary {
                    call.ifname.clone()
                } else {
                    spare()
                },
                network: network(view, n)?.clone(),
                fixed: Vec::new(),
                mac: None,
                default_route: primary,
                routes: Vec::new(),
            })
        })
        .collect()
}

/// Names of the pod interfaces in this sandbox that `prevResult` lists (chaining).
fn chain_interfaces(call: &CniCall) -> HashSet<String> {
    call.config
        .pointer("/prevResult/interfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("sandbox").and_then(Value::as_str) == Some(call.netns.as_str()))
        .filter_map(|i| i.get("name")?.as_str().map(str::to_owned))
        .collect()
}
