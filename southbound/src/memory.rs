//! A dataplane held in memory: the objects it would program, with faults that can be
//! injected. It is what `netloomd --dataplane none` runs on (config management without a
//! dataplane) and what engine tests use to prove that a failed op unwinds a commit.

use crate::driver::{DataplaneDriver, DriverError};
use crate::spec::Op;

#[derive(Debug, Default)]
pub struct MemoryDriver {
    /// Every op applied so far, in order (undos included).
    pub applied: Vec<Op>,
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

    /// The net objects present: ops applied minus those undone.
    pub fn present(&self) -> Vec<Op> {
        let mut out: Vec<Op> = Vec::new();
        for op in &self.applied {
            let inv = op.inverse();
            if let Some(i) = out.iter().position(|o| *o == inv) {
                out.remove(i);
            } else {
                out.push(op.clone());
            }
        }
        out
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
        self.applied.push(op.clone());
        Ok(op.inverse())
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
}
