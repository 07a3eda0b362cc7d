//! IPAM: addresses for pod interfaces from the pools of their network (one per pool, so a
//! network with an IPv4 and an IPv6 pool is dual stack), fixed addresses from the pod's
//! `/pods` entry, and every allocation written to the store's ledger before it is handed
//! out. The in-memory view is rebuilt from the ledger at start, so an address is never
//! handed out twice, across restarts and crashes alike. Runs on the engine thread only.

mod pool;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use netloom_store::{Allocation, Store};
use netloom_yang::model::Network;

pub use pool::PoolRange;

use crate::engine::now_ms;
use crate::error::Error;

/// An address handed to one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub network: String,
    pub pool: String,
    /// The address with its subnet's prefix length.
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
}

/// Who holds an address: (container id, interface).
type Holder = (String, String);

#[derive(Debug, Default, Clone)]
pub struct Ipam {
    used: HashMap<String, HashMap<IpAddr, Holder>>,
    /// Where the next search of a pool starts (round robin, so a freed address is not
    /// handed out again at once).
    cursor: HashMap<(String, String), u128>,
}

impl Ipam {
    /// The view of the ledger.
    pub fn load(allocations: &[Allocation]) -> Ipam {
        let mut ipam = Ipam::default();
        for a in allocations {
            if let Ok(ip) = a.address.parse::<IpAddr>() {
                ipam.used
                    .entry(a.network.clone())
                    .or_default()
                    .insert(ip, (a.owner.clone(), a.interface.clone()));
            }
        }
        ipam
    }

    /// One address per pool of `network` for `owner`'s interface: the fixed one inside the
    /// pool when given, else the next free one. `reserved` are fixed addresses of other
    /// pods, never handed out dynamically. All or nothing: on failure, what this call
    /// recorded is released again.
    pub fn allocate(
        &mut self,
        store: &mut Store,
        network: &Network,
        fixed: &[IpAddr],
        reserved: &HashSet<IpAddr>,
        owner: &str,
        interface: &str,
    ) -> Result<Vec<Lease>, Error> {
        let mut leases = Vec::new();
        let mut recorded: Vec<IpAddr> = Vec::new();
        let result = self.allocate_pools(
            store,
            network,
            fixed,
            reserved,
            owner,
            interface,
            &mut leases,
            &mut recorded,
        );
        if let Err(e) = result {
            for ip in recorded {
                let _ = store.release_address(&network.name, &ip.to_string());
                if let Some(m) = self.used.get_mut(&network.name) {
                    m.remove(&ip);
                }
            }
            return Err(e);
        }
        Ok(leases)
    }

    #[allow(clippy::too_many_arguments)]
    fn allocate_pools(
        &mut self,
        store: &mut Store,
        network: &Network,
        fixed: &[IpAddr],
        reserved: &HashSet<IpAddr>,
        owner: &str,
        interface: &str,
        leases: &mut Vec<Lease>,
        recorded: &mut Vec<IpAddr>,
    ) -> Result<(), Error> {
        let me: Holder = (owner.to_owned(), interface.to_owned());
        for p in &network.ipam.pool {
            let pool = PoolRange::new(p);
            let used = self.used.entry(network.name.clone()).or_default();
            // a retried ADD keeps what it got the first time
            let held = used
                .iter()
                .find(|(ip, h)| **h == me && pool.subnet.contains(*ip))
                .map(|(ip, _)| *ip);
            let ip = if let Some(ip) = fixed.iter().copied().find(|a| pool.subnet.contains(a)) {
                match used.get(&ip) {
                    Some(h) if *h != me => {
                        return Err(Error::AddressTaken {
                            network: network.name.clone(),
                            address: ip.to_string(),
                            owner: format!("{}/{}", h.0, h.1),
                        })
                    }
                    Some(_) => ip,
                    None => {
                        if let Some(old) = held.filter(|o| *o != ip) {
                            // the pod's entry gained a fixed address since the first try
                            used.remove(&old);
                            store.release_address(&network.name, &old.to_string())?;
                        }
                        self.record(store, network, &pool, ip, owner, interface)?;
                        recorded.push(ip);
                        ip
                    }
                }
            } else if let Some(ip) = held {
                ip
            } else {
                let key = (network.name.clone(), pool.name.clone());
                let from = self.cursor.get(&key).copied().unwrap_or(0);
                let used = self.used.entry(network.name.clone()).or_default();
                let ip = pool
                    .next_free(from, |ip| {
                        !used.contains_key(&ip) && !reserved.contains(&ip)
                    })
                    .ok_or_else(|| Error::Exhausted {
                        network: network.name.clone(),
                        pool: pool.name.clone(),
                    })?;
                self.cursor.insert(key, pool::to_u128(ip).saturating_add(1));
                self.record(store, network, &pool, ip, owner, interface)?;
                recorded.push(ip);
                ip
            };
            leases.push(Lease {
                network: network.name.clone(),
                pool: pool.name.clone(),
                address: IpNet::new(ip, pool.subnet.prefix_len())
                    .map_err(|e| Error::Refused(format!("pool {}: {e}", pool.name)))?,
                gateway: pool.gateway,
            });
        }
        Ok(())
    }

    fn record(
        &mut self,
        store: &mut Store,
        network: &Network,
        pool: &PoolRange,
        ip: IpAddr,
        owner: &str,
        interface: &str,
    ) -> Result<(), Error> {
        let fresh = store.allocate(&Allocation {
            network: network.name.clone(),
            pool: pool.name.clone(),
            address: ip.to_string(),
            owner: owner.to_owned(),
            interface: interface.to_owned(),
            allocated_ms: now_ms(),
        })?;
        if !fresh {
            // the ledger knew better than memory: never hand out what it holds
            return Err(Error::AddressTaken {
                network: network.name.clone(),
                address: ip.to_string(),
                owner: "the ledger".into(),
            });
        }
        self.used
            .entry(network.name.clone())
            .or_default()
            .insert(ip, (owner.to_owned(), interface.to_owned()));
        Ok(())
    }

    /// Release what `owner` holds (for one interface, or all of them); returns how many.
    pub fn release(
        &mut self,
        store: &mut Store,
        owner: &str,
        interface: Option<&str>,
    ) -> Result<usize, Error> {
        let n = match interface {
            Some(i) => store.release_interface(owner, i)?,
            None => store.release(owner)?,
        };
        for m in self.used.values_mut() {
            m.retain(|_, (o, i)| !(o == owner && interface.is_none_or(|want| want == i)));
        }
        Ok(n)
    }

    /// The leases `owner`'s `interface` holds in `network`, one per pool that has one;
    /// nothing is recorded (reconcile rebuilding what an attachment was given).
    pub fn held(&self, network: &Network, owner: &str, interface: &str) -> Vec<Lease> {
        let Some(used) = self.used.get(&network.name) else {
            return Vec::new();
        };
        network
            .ipam
            .pool
            .iter()
            .filter_map(|p| {
                let pool = PoolRange::new(p);
                let ip = used
                    .iter()
                    .find(|(ip, (o, i))| o == owner && i == interface && pool.subnet.contains(*ip))
                    .map(|(ip, _)| *ip)?;
                Some(Lease {
                    network: network.name.clone(),
                    pool: pool.name.clone(),
                    address: IpNet::new(ip, pool.subnet.prefix_len()).ok()?,
                    gateway: pool.gateway,
                })
            })
            .collect()
    }

    /// How many addresses of `pool` are held.
    pub fn allocated(&self, network: &str, pool: &PoolRange) -> usize {
        self.used.get(network).map_or(0, |m| {
            m.keys().filter(|ip| pool.subnet.contains(*ip)).count()
        })
    }

    /// Every (owner, interface) holding an address.
    pub fn holders(&self) -> HashSet<Holder> {
        self.used
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// Pools with no address left for dynamic allocation: "network/pool".
    pub fn exhausted(&self, networks: &[Network], reserved: &HashSet<IpAddr>) -> Vec<String> {
        let mut out = Vec::new();
        for n in networks {
            let used = self.used.get(&n.name);
            for p in &n.ipam.pool {
                let pool = PoolRange::new(p);
                let free = pool.next_free(0, |ip| {
                    !used.is_some_and(|m| m.contains_key(&ip)) && !reserved.contains(&ip)
                });
                if free.is_none() {
                    out.push(format!("{}/{}", n.name, pool.name));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn network() -> Network {
        serde_json::from_str(
            r#"{"name":"n","type":"bridge","ipam":{"pool":[
                {"name":"v4","subnet":"10.9.0.0/29","gateway":"10.9.0.1","exclude":["10.9.0.2/32"]},
                {"name":"v6","subnet":"fd09::/120","gateway":"fd09::1"}]}}"#,
        )
        .unwrap()
    }

    fn store(dir: &std::path::Path) -> Store {
        let schema = Arc::new(netloom_yang::Schema::new().unwrap());
        Store::open(&dir.join("n.db"), schema).unwrap()
    }

    #[test]
    fn dual_stack_fixed_exhaustion_and_no_double_allocation_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let net = network();
        let reserved: HashSet<IpAddr> = ["10.9.0.3".parse().unwrap()].into();
        let mut got = Vec::new();
        {
            let mut s = store(dir.path());
            let mut ipam = Ipam::load(&s.allocations(None).unwrap());
            let a = ipam
                .allocate(&mut s, &net, &[], &reserved, "c1", "eth0")
                .unwrap();
            // .1 gateway, .2 excluded, .3 reserved for another pod's fixed address
            assert_eq!(a[0].address.to_string(), "10.9.0.4/29");
            assert_eq!(a[0].gateway, Some("10.9.0.1".parse().unwrap()));
            assert_eq!(a[1].address.to_string(), "fd09::2/120");
            // a retry keeps the same addresses
            assert_eq!(
                ipam.allocate(&mut s, &net, &[], &reserved, "c1", "eth0")
                    .unwrap(),
                a
            );
            // a fixed address is honoured, in its pool only
            let f = ipam
                .allocate(
                    &mut s,
                    &net,
                    &["10.9.0.3".parse().unwrap()],
                    &HashSet::new(),
                    "c2",
                    "eth0",
                )
                .unwrap();
            assert_eq!(f[0].address.to_string(), "10.9.0.3/29");
            // ... and refused to anyone else
            assert!(matches!(
                ipam.allocate(
                    &mut s,
                    &net,
                    &["10.9.0.3".parse().unwrap()],
                    &HashSet::new(),
                    "c3",
                    "eth0"
                ),
                Err(Error::AddressTaken { .. })
            ));
            got.extend(a.iter().chain(&f).map(|l| l.address.addr()));
        }
        // restart: a fresh view from the ledger hands out none of them again
        let mut s = store(dir.path());
        let mut ipam = Ipam::load(&s.allocations(None).unwrap());
        let mut more = Vec::new();
        loop {
            match ipam.allocate(
                &mut s,
                &net,
                &[],
                &reserved,
                &format!("d{}", more.len()),
                "eth0",
            ) {
                Ok(l) => more.push(l[0].address.addr()),
                Err(Error::Exhausted { pool, .. }) => {
                    assert_eq!(pool, "v4");
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(more.len(), 2, "{more:?}"); // .5 and .6
        assert!(more.iter().all(|m| !got.contains(m)));
        // the failed call left nothing in the ledger
        assert_eq!(s.allocations(Some("n")).unwrap().len(), 4 + 2 * 2);
        assert_eq!(
            ipam.exhausted(std::slice::from_ref(&net), &reserved),
            vec!["n/v4".to_string()]
        );
        // release frees for reuse
        assert_eq!(ipam.release(&mut s, "d0", None).unwrap(), 2);
        assert!(ipam
            .allocate(&mut s, &net, &[], &reserved, "e", "eth0")
            .is_ok());
    }
}
