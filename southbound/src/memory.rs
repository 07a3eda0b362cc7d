//! A dataplane held in memory: the objects it would program, with faults that can be
//! injected. It is what `netloomd --dataplane none` runs on (config management without a
//! dataplane) and what engine tests use to prove that a failed op unwinds a commit.

// foldhash: a bulk commit hashes every op it applies
use foldhash::HashMap;

use crate::driver::{DataplaneDriver, DriverError};
use crate::spec::Op;

#[derive(Debug, Default)]
pub struct MemoryDriver {
    /// The objects present: every op applied, less those a later inverse op undid (a create
    /// and its delete cancel out), each with the order it came in. Only the net state is
    /// kept, not a log of every op: a config-only daemon applies ops for as long as it runs.
    /// (Boxed: an op is a few hundred bytes, and the table moves its entries as it grows.)
    present: HashMap<Box<Op>, Vec<u64>>,
    next: u64,
    /// Fail the op with this 0-based index among all ops applied (counting failures too).
    pub fail_at: Option<usize>,
    seen: usize,
}

impl MemoryDriver {
    pub fn new() -> Self {
        MemoryDriver::default()
    }

    /// Fail the `n`th op from now on (0 = the next one).
    pub fn fail_after(&mut self, n: usize) {
        self.fail_at = Some(self.seen + n);
    }

    /// The net objects present, in the order they were applied.
    pub fn present(&self) -> Vec<Op> {
        let mut out: Vec<(u64, &Op)> = self
            .present
            .iter()
            .flat_map(|(op, at)| at.iter().map(move |&n| (n, &**op)))
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out.into_iter().map(|(_, op)| op.clone()).collect()
    }
}

impl DataplaneDriver for MemoryDriver {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn apply(&mut self, op: &Op) -> Result<Op, DriverError> {
        let index = self.seen;
        self.seen += 1;
        if self.fail_at == Some(index) {
            self.fail_at = None;
            return Err(DriverError::Refused {
                op: format!("{op:?}"),
                reason: "injected failure".into(),
            });
        }
        let inverse = op.inverse();
        // An op that undoes one present takes the earliest such away.
        if let Some(at) = self.present.get_mut(&inverse) {
            at.remove(0);
            if at.is_empty() {
                self.present.remove(&inverse);
            }
        } else {
            self.present
                .entry(Box::new(op.clone()))
                .or_default()
                .push(self.next);
            self.next += 1;
        }
        Ok(inverse)
    }

    fn owned_links(&mut self) -> Result<Vec<String>, DriverError> {
        Ok(self
            .present()
            .into_iter()
            .filter_map(|op| match op {
                Op::CreateLink(l) => Some(l.name),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LinkKind, LinkSpec};

    #[test]
    fn undo_cancels_and_faults_fire_once() {
        let link = Op::CreateLink(LinkSpec {
            name: "br0".into(),
            kind: LinkKind::Bridge { hairpin: false },
            mtu: None,
            master: None,
            addresses: vec![],
        });
        let mut d = MemoryDriver::new();
        let undo = d.apply(&link).unwrap();
        assert_eq!(d.present(), vec![link.clone()]);
        d.apply(&undo).unwrap();
        assert!(d.present().is_empty());
        d.fail_after(0);
        assert!(d.apply(&link).is_err());
        assert!(d.apply(&link).is_ok());
    }

    #[test]
    fn only_the_net_state_is_kept() {
        let link = |n: u32| {
            Op::CreateLink(LinkSpec {
                name: format!("br{n}"),
                kind: LinkKind::Bridge { hairpin: false },
                mtu: None,
                master: None,
                addresses: vec![],
            })
        };
        let mut d = MemoryDriver::new();
        for round in 0..50 {
            for n in 0..100 {
                d.apply(&link(n)).unwrap();
            }
            assert_eq!(d.present().len(), 100, "round {round}");
            for n in (0..100).rev() {
                d.apply(&link(n).inverse()).unwrap();
            }
        }
        assert!(d.present().is_empty());
        assert!(
            d.present.is_empty(),
            "nothing kept of 10000 ops that cancelled out"
        );
        // the same object twice: the first delete takes the earliest away
        d.apply(&link(1)).unwrap();
        d.apply(&link(2)).unwrap();
        d.apply(&link(1)).unwrap();
        d.apply(&link(1).inverse()).unwrap();
        assert_eq!(d.present(), vec![link(2), link(1)]);
    }
}
