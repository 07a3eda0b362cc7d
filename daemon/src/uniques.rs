//! Uniqueness across list entries that YANG cannot state: pool subnets never overlap (across
//! every network), a VNI is used once per uplink, a node port serves one service. Held as an
//! index of who holds what, so a commit checks only its changed entries — O(their claims ·
//! log n) — instead of reading every network and service again (which made a one-network
//! commit cost O(networks) and a bulk load of networks O(n²)).

use std::collections::BTreeMap;

// foldhash: the indexes hash 100k unit paths per bulk commit; SipHash showed in profiles
use foldhash::{HashMap, HashMapExt, HashSet};

use ipnet::IpNet;
use netloom_yang::model::{Network, Service};
use netloom_yang::{UnitKey, UnitMap};

use crate::checks::Lists;
use crate::error::Error;
use crate::scope::range;

/// Something only one entry may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Vni { uplink: Option<String>, vni: u32 },
    NodePort { protocol: String, port: u16 },
}

/// A pool's subnet as an address interval, per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    v6: bool,
    start: u128,
    end: u128,
}

impl Span {
    fn of(net: &IpNet) -> Span {
        match net {
            IpNet::V4(n) => Span {
                v6: false,
                start: u128::from(u32::from(n.network())),
                end: u128::from(u32::from(n.broadcast())),
            },
            IpNet::V6(n) => Span {
                v6: true,
                start: u128::from(n.network()),
                end: u128::from(n.broadcast()),
            },
        }
    }
}

#[derive(Debug, Clone)]
enum What {
    Pool {
        span: Span,
        pool: String,
        subnet: IpNet,
    },
    Slot(Slot),
}

/// One entry's claim, with where to report a conflict.
#[derive(Debug, Clone)]
pub struct UniqueClaim {
    owner: UnitKey,
    what: What,
    at: String,
}

/// Who holds each pool interval and slot.
#[derive(Debug, Default, Clone)]
pub struct Uniques {
    /// [v4, v6]: interval start -> (end, owner, pool name); intervals never overlap.
    pools: [BTreeMap<u128, (u128, UnitKey, String)>; 2],
    slots: HashMap<Slot, UnitKey>,
    held: HashMap<UnitKey, Vec<What>>,
}

fn parse<T: serde::de::DeserializeOwned>(key: &UnitKey, text: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::semantic(key.path.to_string(), format!("unreadable: {e}")))
}

fn conflict(c: &UniqueClaim, other: &UnitKey, other_pool: &str) -> Error {
    let message = match &c.what {
        What::Pool { subnet, .. } => {
            format!(
                "subnet {subnet} overlaps pool '{other_pool}' of {}",
                other.path
            )
        }
        What::Slot(Slot::Vni { vni, .. }) => {
            format!("VNI {vni} is already used on this uplink by {}", other.path)
        }
        What::Slot(Slot::NodePort { protocol, port }) => {
            format!(
                "node port {protocol}/{port} is already used by {}",
                other.path
            )
        }
    };
    Error::semantic(c.at.clone(), message)
}

impl Uniques {
    /// The index of a whole datastore (assumed valid).
    pub fn build(l: &Lists, units: &UnitMap) -> Result<Self, Error> {
        let keys: Vec<UnitKey> = range(units, l.networks)
            .chain(range(units, l.services))
            .map(|(k, _)| k.clone())
            .collect();
        let mut u = Uniques::default();
        u.update_with_claims(&[], &Self::claims_of(l, units, &keys)?);
        Ok(u)
    }

    /// The claims of the networks and services among `part` (safe to run in parallel).
    pub fn claims_of(
        l: &Lists,
        units: &UnitMap,
        part: &[UnitKey],
    ) -> Result<Vec<UniqueClaim>, Error> {
        let mut out = Vec::new();
        for key in part {
            let Some(text) = units.get(key) else { continue };
            if key.list == l.networks {
                let n: Network = parse(key, text)?;
                for p in &n.ipam.pool {
                    out.push(UniqueClaim {
                        owner: key.clone(),
                        what: What::Pool {
                            span: Span::of(&p.subnet),
                            pool: p.name.clone(),
                            subnet: p.subnet,
                        },
                        at: format!("{}/ipam/pool[name='{}']/subnet", key.path, p.name),
                    });
                }
                if let Some(v) = &n.vxlan {
                    out.push(UniqueClaim {
                        owner: key.clone(),
                        what: What::Slot(Slot::Vni {
                            uplink: n.uplink.clone(),
                            vni: v.vni,
                        }),
                        at: format!("{}/vxlan/vni", key.path),
                    });
                }
            } else if key.list == l.services {
                let s: Service = parse(key, text)?;
                for p in &s.port {
                    if let Some(port) = p.node_port {
                        out.push(UniqueClaim {
                            owner: key.clone(),
                            what: What::Slot(Slot::NodePort {
                                protocol: p.protocol.clone().unwrap_or_else(|| "tcp".into()),
                                port,
                            }),
                            at: format!("{}/port[name='{}']/node-port", key.path, p.name),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Check the claims of the changed entries against each other and against what the
    /// unchanged entries hold.
    pub fn check_claims(&self, claims: &[UniqueClaim], changed: &[UnitKey]) -> Result<(), Error> {
        let changed: HashSet<&UnitKey> = changed.iter().collect();
        let mut fresh: HashMap<&Slot, &UnitKey> = HashMap::new();
        let mut spans: Vec<(&Span, &UniqueClaim)> = Vec::new();
        for c in claims {
            match &c.what {
                What::Slot(slot) => {
                    if let Some(other) = fresh.insert(slot, &c.owner) {
                        return Err(conflict(c, other, ""));
                    }
                    if let Some(other) = self.slots.get(slot) {
                        if *other != c.owner && !changed.contains(other) {
                            return Err(conflict(c, other, ""));
                        }
                    }
                }
                What::Pool { span, .. } => {
                    spans.push((span, c));
                    self.check_span(c, span, &changed)?;
                }
            }
        }
        // Among the changed pools: sorted by start, a pool overlaps an earlier one exactly
        // when it starts before the furthest end seen so far.
        spans.sort_by_key(|(s, _)| (s.v6, s.start));
        let mut furthest: Option<(&Span, &UniqueClaim)> = None;
        for (s, c) in spans {
            if let Some((f, fc)) = furthest {
                if f.v6 == s.v6 && s.start <= f.end {
                    let pool = match &fc.what {
                        What::Pool { pool, .. } => pool.as_str(),
                        What::Slot(_) => "",
                    };
                    return Err(conflict(c, &fc.owner, pool));
                }
            }
            if furthest.is_none_or(|(f, _)| f.v6 != s.v6 || s.end > f.end) {
                furthest = Some((s, c));
            }
        }
        Ok(())
    }

    /// Whether an unchanged entry's pool overlaps `span`. Held intervals are disjoint, so the
    /// only candidate is the nearest one starting at or before the span's end (skipping those
    /// of changed entries, whose holdings are about to be replaced).
    fn check_span(
        &self,
        c: &UniqueClaim,
        span: &Span,
        changed: &HashSet<&UnitKey>,
    ) -> Result<(), Error> {
        let held = &self.pools[usize::from(span.v6)];
        for (_, (end, owner, pool)) in held.range(..=span.end).rev() {
            if changed.contains(owner) {
                continue;
            }
            if *end >= span.start {
                return Err(conflict(c, owner, pool));
            }
            break;
        }
        Ok(())
    }

    /// Follow a commit: the changed entries now hold exactly `claims`.
    pub fn update_with_claims(&mut self, changed: &[UnitKey], claims: &[UniqueClaim]) {
        for key in changed {
            for what in self.held.remove(key).unwrap_or_default() {
                match what {
                    What::Pool { span, .. } => {
                        let map = &mut self.pools[usize::from(span.v6)];
                        if map.get(&span.start).is_some_and(|(_, o, _)| o == key) {
                            map.remove(&span.start);
                        }
                    }
                    What::Slot(slot) => {
                        if self.slots.get(&slot) == Some(key) {
                            self.slots.remove(&slot);
                        }
                    }
                }
            }
        }
        for c in claims {
            match &c.what {
                What::Pool { span, pool, .. } => {
                    self.pools[usize::from(span.v6)]
                        .insert(span.start, (span.end, c.owner.clone(), pool.clone()));
                }
                What::Slot(slot) => {
                    self.slots.insert(slot.clone(), c.owner.clone());
                }
            }
            self.held
                .entry(c.owner.clone())
                .or_default()
                .push(c.what.clone());
        }
    }

    /// The same check over every network and service, without an index (full validation).
    pub fn check_all(l: &Lists, units: &UnitMap) -> Result<(), Error> {
        let keys: Vec<UnitKey> = range(units, l.networks)
            .chain(range(units, l.services))
            .map(|(k, _)| k.clone())
            .collect();
        let claims = Self::claims_of(l, units, &keys)?;
        Uniques::default().check_claims(&claims, &keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn claim(owner: usize, net: IpNet) -> UniqueClaim {
        UniqueClaim {
            owner: UnitKey {
                list: netloom_yang::UnitListId(1),
                path: Arc::from(format!("/n[name='{owner}']")),
            },
            what: What::Pool {
                span: Span::of(&net),
                pool: "p".into(),
                subnet: net,
            },
            at: format!("/n[name='{owner}']/pool"),
        }
    }

    fn random_net(rng: &mut impl Rng) -> IpNet {
        let v6 = rng.random_bool(0.3);
        let text = if v6 {
            format!(
                "2001:db8:{:x}::/{}",
                rng.random_range(0..4),
                rng.random_range(46..50)
            )
        } else {
            format!(
                "10.{}.{}.0/{}",
                rng.random_range(0..4),
                rng.random_range(0..8) * 32,
                rng.random_range(14..28)
            )
        };
        text.parse::<IpNet>().unwrap().trunc()
    }

    /// The index and the sort agree with comparing every pair, over random pools, whether
    /// the pools arrive all at once or one commit at a time.
    #[test]
    fn overlap_verdicts_match_pairwise_comparison() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let nets: Vec<IpNet> = (0..rng.random_range(1..6))
                .map(|_| random_net(&mut rng))
                .collect();
            let pairwise = nets.iter().enumerate().any(|(i, a)| {
                nets[..i]
                    .iter()
                    .any(|b| a.contains(&b.network()) || b.contains(&a.network()))
            });
            let claims: Vec<UniqueClaim> =
                nets.iter().enumerate().map(|(i, n)| claim(i, *n)).collect();
            let owners: Vec<UnitKey> = claims.iter().map(|c| c.owner.clone()).collect();
            let at_once = Uniques::default().check_claims(&claims, &owners).is_err();
            assert_eq!(at_once, pairwise, "{nets:?}");
            // one network per commit, through the index
            let mut idx = Uniques::default();
            let mut refused = false;
            for c in &claims {
                let one = std::slice::from_ref(c);
                let owner = std::slice::from_ref(&c.owner);
                if idx.check_claims(one, owner).is_err() {
                    refused = true;
                    break;
                }
                idx.update_with_claims(owner, one);
            }
            assert_eq!(refused, pairwise, "{nets:?}");
        }
    }

    /// A network that moves its pool is judged against the others, not its old self.
    #[test]
    fn a_changed_entry_does_not_conflict_with_its_old_holdings() {
        let a: IpNet = "10.0.0.0/16".parse().unwrap();
        let mut idx = Uniques::default();
        let c = claim(1, a);
        idx.update_with_claims(std::slice::from_ref(&c.owner), std::slice::from_ref(&c));
        let moved = claim(1, "10.0.1.0/24".parse().unwrap());
        idx.check_claims(
            std::slice::from_ref(&moved),
            std::slice::from_ref(&moved.owner),
        )
        .unwrap();
        let other = claim(2, "10.0.2.0/24".parse().unwrap());
        let e = idx
            .check_claims(
                std::slice::from_ref(&other),
                std::slice::from_ref(&other.owner),
            )
            .unwrap_err();
        assert!(e.to_string().contains("overlaps pool 'p'"), "{e}");
    }
}
