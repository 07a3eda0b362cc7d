//! One address pool as arithmetic: the usable range of a configured pool (its `range`, else
//! the subnet without its network and broadcast addresses), minus the gateway and excludes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use netloom_yang::model::Pool;

/// Addresses as numbers, so v4 and v6 share the arithmetic.
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

pub fn from_u128(n: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolRange {
    pub name: String,
    pub subnet: IpNet,
    pub gateway: Option<IpAddr>,
    first: u128,
    last: u128,
    /// Excluded intervals (inclusive), sorted and merged.
    exclude: Vec<(u128, u128)>,
}

impl PoolRange {
    pub fn new(p: &Pool) -> PoolRange {
        let subnet = p.subnet.trunc();
        let net = to_u128(subnet.network());
        let bcast = to_u128(subnet.broadcast());
        // /31, /32, /127 and /128 have no network or broadcast address to skip
        let small = subnet.max_prefix_len() - subnet.prefix_len() <= 1;
        let v4 = subnet.addr().is_ipv4();
        let mut first = if small { net } else { net + 1 };
        let mut last = if small || !v4 { bcast } else { bcast - 1 };
        if let Some(r) = &p.range {
            if let Some(s) = r.start.filter(|s| subnet.contains(s)) {
                first = first.max(to_u128(s));
            }
            if let Some(e) = r.end.filter(|e| subnet.contains(e)) {
                last = last.min(to_u128(e));
            }
        }
        let mut exclude: Vec<(u128, u128)> = p
            .exclude
            .iter()
            .map(|e| (to_u128(e.network()), to_u128(e.broadcast())))
            .collect();
        if let Some(g) = p.gateway {
            exclude.push((to_u128(g), to_u128(g)));
        }
        exclude.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for (a, b) in exclude {
            match merged.last_mut() {
                Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        PoolRange {
            name: p.name.clone(),
            subnet,
            gateway: p.gateway,
            first,
            last,
            exclude: merged,
        }
    }

    pub fn is_v6(&self) -> bool {
        self.subnet.addr().is_ipv6()
    }

    /// Whether dynamic allocation may hand `ip` out.
    pub fn usable(&self, ip: IpAddr) -> bool {
        let n = to_u128(ip);
        self.subnet.contains(&ip)
            && n >= self.first
            && n <= self.last
            && self.excluded_until(n).is_none()
    }

    /// The last address of the exclude interval `n` falls in.
    fn excluded_until(&self, n: u128) -> Option<u128> {
        self.exclude
            .iter()
            .find(|(a, b)| *a <= n && n <= *b)
            .map(|(_, b)| *b)
    }

    /// How many addresses dynamic allocation can hand out (saturating).
    pub fn size(&self) -> u128 {
        if self.last < self.first {
            return 0;
        }
        let total = self.last - self.first + 1;
        let excluded: u128 = self
            .exclude
            .iter()
            .map(|(a, b)| {
                let (a, b) = ((*a).max(self.first), (*b).min(self.last));
                if a > b {
                    0
                } else {
                    b - a + 1
                }
            })
            .sum();
        total.saturating_sub(excluded)
    }

    /// The first usable address at or after `from` for which `free` holds, wrapping around
    /// once; skips excluded intervals in one step.
    pub fn next_free(&self, from: u128, mut free: impl FnMut(IpAddr) -> bool) -> Option<IpAddr> {
        if self.last < self.first {
            return None;
        }
        let start = if from < self.first || from > self.last {
            self.first
        } else {
            from
        };
        let mut n = start;
        let mut wrapped = false;
        loop {
            if let Some(end) = self.excluded_until(n) {
                n = end.saturating_add(1);
            } else {
                let ip = from_u128(n, self.is_v6());
                if free(ip) {
                    return Some(ip);
                }
                n = n.saturating_add(1);
            }
            if n > self.last {
                if wrapped {
                    return None;
                }
                wrapped = true;
                n = self.first;
            }
            if wrapped && n >= start {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(json: &str) -> PoolRange {
        PoolRange::new(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn v4_pool_skips_network_broadcast_gateway_and_excludes() {
        let p = pool(
            r#"{"name":"a","subnet":"10.0.0.0/29","gateway":"10.0.0.1","exclude":["10.0.0.4/31"]}"#,
        );
        // .1-.6 usable, minus the gateway .1 and .4-.5
        assert_eq!(p.size(), 3);
        let mut got = Vec::new();
        let mut from = 0;
        while let Some(ip) = p.next_free(from, |ip| !got.contains(&ip)) {
            got.push(ip);
            from = to_u128(ip) + 1;
        }
        let want: Vec<IpAddr> = ["10.0.0.2", "10.0.0.3", "10.0.0.6"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(!p.usable("10.0.0.7".parse().unwrap()));
    }

    #[test]
    fn v6_pool_with_a_range() {
        let p = pool(
            r#"{"name":"b","subnet":"fd00::/64","range":{"start":"fd00::10","end":"fd00::1f"}}"#,
        );
        assert_eq!(p.size(), 16);
        assert_eq!(p.next_free(0, |_| true), Some("fd00::10".parse().unwrap()));
        assert_eq!(
            p.next_free(0, |ip| ip != "fd00::10".parse::<IpAddr>().unwrap()),
            Some("fd00::11".parse().unwrap())
        );
        assert_eq!(p.next_free(0, |_| false), None);
    }
}
