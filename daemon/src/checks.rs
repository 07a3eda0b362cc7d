//! Semantic checks: what YANG cannot say. Pools must sit inside their subnet, a fixed pod
//! address lies in one of its network's pools and belongs to one pod only, one interface of a
//! pod carries its default route. Checks across entries use indexes (fixed addresses here;
//! pool overlap, VNIs and node ports in [`crate::uniques`]) so a commit's cost follows its
//! change, not the size of the lists.

use std::collections::BTreeSet;

// foldhash: the indexes hash 100k unit paths per bulk commit; SipHash showed in profiles
use foldhash::{HashMap, HashMapExt, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use netloom_yang::model::{self, Network, Pod};
use netloom_yang::{Schema, UnitKey, UnitListId, UnitMap};

use crate::error::Error;
use crate::scope::range;

/// The unit lists the checks look at, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Lists {
    pub networks: UnitListId,
    pub pods: UnitListId,
    pub services: UnitListId,
    pub users: UnitListId,
    pub physical_functions: UnitListId,
    pub policies: UnitListId,
}

impl Lists {
    pub fn resolve(schema: &Schema) -> Result<Self, Error> {
        let get = |c: &str, l: &str| {
            schema
                .unit_by_names(c, l)
                .ok_or_else(|| Error::Refused(format!("schema has no {c}/{l}")))
        };
        Ok(Lists {
            networks: get("networks", "network")?,
            pods: get("pods", "pod")?,
            services: get("services", "service")?,
            users: get("system", "user")?,
            physical_functions: get("sriov", "physical-function")?,
            policies: get("policies", "policy")?,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(key: &UnitKey, text: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::semantic(key.path.to_string(), format!("unreadable: {e}")))
}

fn same_family(a: &IpNet, b: &IpAddr) -> bool {
    a.addr().is_ipv4() == b.is_ipv4()
}

fn check_network(key: &UnitKey, n: &Network) -> Result<(), Error> {
    for p in &n.ipam.pool {
        let at = format!("{}/ipam/pool[name='{}']", key.path, p.name);
        let inside = |ip: &IpAddr| same_family(&p.subnet, ip) && p.subnet.contains(ip);
        if let Some(g) = &p.gateway {
            if !inside(g) {
                return Err(Error::semantic(
                    format!("{at}/gateway"),
                    format!("gateway {g} is outside subnet {}", p.subnet),
                ));
            }
        }
        if let Some(r) = &p.range {
            for (name, ip) in [("start", &r.start), ("end", &r.end)] {
                if let Some(ip) = ip {
                    if !inside(ip) {
                        return Err(Error::semantic(
                            format!("{at}/range/{name}"),
                            format!("{ip} is outside subnet {}", p.subnet),
                        ));
                    }
                }
            }
            if let (Some(s), Some(e)) = (r.start, r.end) {
                if s > e {
                    return Err(Error::semantic(
                        format!("{at}/range"),
                        format!("range start {s} is after end {e}"),
                    ));
                }
            }
        }
        for x in &p.exclude {
            if !(same_family(&p.subnet, &x.addr()) && p.subnet.contains(x)) {
                return Err(Error::semantic(
                    format!("{at}/exclude"),
                    format!("{x} is outside subnet {}", p.subnet),
                ));
            }
        }
    }
    Ok(())
}

/// Check every network and pod unit in `scope` (against the content `units`).
pub fn check(
    schema: &Schema,
    l: &Lists,
    units: &UnitMap,
    scope: &BTreeSet<UnitKey>,
) -> Result<(), Error> {
    let mut nets = NetworkCache::default();
    for key in scope {
        let Some(text) = units.get(key) else { continue };
        if key.list == l.networks {
            check_network(key, &parse::<Network>(key, text)?)?;
        } else if key.list == l.pods {
            check_pod(schema, l, units, key, &parse::<Pod>(key, text)?, &mut nets)?;
        }
    }
    Ok(())
}

/// Networks read once per check, however many pods name them.
#[derive(Default)]
struct NetworkCache(HashMap<String, Option<Network>>);

impl NetworkCache {
    fn get(
        &mut self,
        schema: &Schema,
        l: &Lists,
        units: &UnitMap,
        name: &str,
    ) -> Result<Option<&Network>, Error> {
        if !self.0.contains_key(name) {
            let key = schema.unit_key(l.networks, &[name])?;
            let net = match units.get(&key) {
                Some(text) => Some(parse::<Network>(&key, text)?),
                None => None,
            };
            self.0.insert(name.to_owned(), net);
        }
        Ok(self.0.get(name).and_then(Option::as_ref))
    }
}

fn check_pod(
    schema: &Schema,
    l: &Lists,
    units: &UnitMap,
    key: &UnitKey,
    pod: &Pod,
    nets: &mut NetworkCache,
) -> Result<(), Error> {
    let mut defaults = 0;
    for i in &pod.interface {
        let at = format!("{}/interface[name='{}']", key.path, i.name);
        if i.default_route {
            defaults += 1;
            if defaults > 1 {
                return Err(Error::semantic(
                    format!("{at}/default-route"),
                    "only one interface of a pod can carry its default route",
                ));
            }
        }
        if i.address.is_empty() {
            continue;
        }
        let Some(net) = nets.get(schema, l, units, &i.network)? else {
            // a dangling reference is the leafref's error, reported by libyang
            continue;
        };
        for a in &i.address {
            let pool = net
                .ipam
                .pool
                .iter()
                .find(|p| same_family(&p.subnet, a) && p.subnet.contains(a));
            match pool {
                None => {
                    return Err(Error::semantic(
                        format!("{at}/address"),
                        format!("{a} is in no pool of network '{}'", i.network),
                    ))
                }
                Some(p) if p.gateway == Some(*a) => {
                    return Err(Error::semantic(
                        format!("{at}/address"),
                        format!("{a} is the gateway of pool '{}'", p.name),
                    ))
                }
                Some(p)
                    if *a == p.subnet.network()
                        && p.subnet.prefix_len() < p.subnet.max_prefix_len() - 1 =>
                {
                    return Err(Error::semantic(
                        format!("{at}/address"),
                        format!("{a} is the network address of {}", p.subnet),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// A pod's fixed-address claims: (network, address, interface).
fn claims(pod: &Pod) -> Vec<(String, IpAddr, String)> {
    pod.interface
        .iter()
        .flat_map(|i| {
            i.address
                .iter()
                .map(move |a| (i.network.clone(), *a, i.name.clone()))
        })
        .collect()
}

/// A pod interface's claim on a fixed address.
#[derive(Debug, Clone)]
pub struct Claim {
    pub pod: UnitKey,
    pub network: String,
    pub address: IpAddr,
    pub interface: String,
}

/// Who holds each fixed address, so a one-pod commit checks uniqueness in O(its addresses).
#[derive(Debug, Default, Clone)]
pub struct FixedIps {
    owner: HashMap<(String, IpAddr), UnitKey>,
    held: HashMap<UnitKey, Vec<(String, IpAddr)>>,
}

fn conflict(key: &UnitKey, iface: &str, net: &str, ip: &IpAddr, other: &UnitKey) -> Error {
    Error::semantic(
        format!("{}/interface[name='{iface}']/address", key.path),
        format!(
            "{ip} on network '{net}' is already fixed for {}",
            other.path
        ),
    )
}

impl FixedIps {
    pub fn build(l: &Lists, units: &UnitMap) -> Self {
        let mut f = FixedIps::default();
        let keys: Vec<UnitKey> = range(units, l.pods).map(|(k, _)| k.clone()).collect();
        f.update(l, units, &keys);
        f
    }

    /// The fixed-address claims of the pods among `part` (parsed; safe to run in parallel).
    pub fn claims_of(l: &Lists, units: &UnitMap, part: &[UnitKey]) -> Result<Vec<Claim>, Error> {
        let mut out = Vec::new();
        for key in part.iter().filter(|k| k.list == l.pods) {
            let Some(text) = units.get(key) else {
                continue;
            };
            let pod: Pod = parse(key, text)?;
            out.extend(claims(&pod).into_iter().map(|(net, ip, iface)| Claim {
                pod: key.clone(),
                network: net,
                address: ip,
                interface: iface,
            }));
        }
        Ok(out)
    }

    /// Check the claims of the changed pods against each other and against the index (pods
    /// not changed keep their claims).
    pub fn check_claims(
        &self,
        l: &Lists,
        claims: &[Claim],
        changed: &[UnitKey],
    ) -> Result<(), Error> {
        let changed_pods: HashSet<&UnitKey> = changed.iter().filter(|k| k.list == l.pods).collect();
        let mut fresh: HashMap<(&str, IpAddr), &UnitKey> = HashMap::with_capacity(claims.len());
        for c in claims {
            if let Some(other) = fresh.insert((&c.network, c.address), &c.pod) {
                return Err(conflict(
                    &c.pod,
                    &c.interface,
                    &c.network,
                    &c.address,
                    other,
                ));
            }
            if let Some(other) = self.owner.get(&(c.network.clone(), c.address)) {
                if *other != c.pod && !changed_pods.contains(other) {
                    return Err(conflict(
                        &c.pod,
                        &c.interface,
                        &c.network,
                        &c.address,
                        other,
                    ));
                }
            }
        }
        Ok(())
    }

    /// The same check over every pod, without the index (full validation).
    pub fn check_all(l: &Lists, units: &UnitMap) -> Result<(), Error> {
        let mut seen: HashMap<(String, IpAddr), UnitKey> = HashMap::new();
        for (key, text) in range(units, l.pods) {
            let pod: Pod = parse(key, text)?;
            for (net, ip, iface) in claims(&pod) {
                if let Some(other) = seen.insert((net.clone(), ip), key.clone()) {
                    return Err(conflict(key, &iface, &net, &ip, &other));
                }
            }
        }
        Ok(())
    }

    /// Forget what the changed pods held.
    fn release(&mut self, l: &Lists, changed: &[UnitKey]) {
        for key in changed.iter().filter(|k| k.list == l.pods) {
            if let Some(old) = self.held.remove(key) {
                for slot in old {
                    if self.owner.get(&slot) == Some(key) {
                        self.owner.remove(&slot);
                    }
                }
            }
        }
    }

    /// Follow a commit whose changed pods' claims are already known (from validation), so
    /// no pod is parsed again.
    pub fn update_with_claims(&mut self, l: &Lists, changed: &[UnitKey], claims: &[Claim]) {
        self.release(l, changed);
        for c in claims {
            let slot = (c.network.clone(), c.address);
            self.owner.insert(slot.clone(), c.pod.clone());
            self.held.entry(c.pod.clone()).or_default().push(slot);
        }
    }

    pub fn update(&mut self, l: &Lists, units: &UnitMap, changed: &[UnitKey]) {
        self.release(l, changed);
        for key in changed.iter().filter(|k| k.list == l.pods) {
            let Some(pod) = units.get(key).and_then(|t| model::read::<Pod>(t).ok()) else {
                continue;
            };
            let slots: Vec<(String, IpAddr)> =
                claims(&pod).into_iter().map(|(n, a, _)| (n, a)).collect();
            for s in &slots {
                self.owner.insert(s.clone(), key.clone());
            }
            self.held.insert(key.clone(), slots);
        }
    }
}
