//! The executor: apply a plan through a driver, keeping the undo of every op that took
//! effect. When an op fails, everything already applied is undone in reverse order and the
//! driver's error fails the commit; the dataplane is left as it was.

use netloom_southbound::{DataplaneDriver, DriverError, Op};

/// Undo ops of what a commit applied, oldest first.
#[derive(Debug, Default)]
pub struct Journal {
    undo: Vec<Op>,
}

impl Journal {
    pub fn len(&self) -> usize {
        self.undo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.undo.is_empty()
    }

    /// Undo everything, newest first. Keeps going past failures and reports each one: a
    /// partial undo beats none, and the operator needs to know what is left.
    pub fn revert(self, driver: &mut dyn DataplaneDriver) -> Vec<DriverError> {
        let mut errors = Vec::new();
        for op in self.undo.into_iter().rev() {
            if let Err(e) = driver.apply(&op) {
                tracing::error!(error = %e, "undo failed; the dataplane differs from running until the next resync");
                errors.push(e);
            }
        }
        errors
    }
}

/// Apply `ops` in order. On failure, undo what was applied and return the failing op's error.
pub fn execute(driver: &mut dyn DataplaneDriver, ops: &[Op]) -> Result<Journal, DriverError> {
    let mut journal = Journal {
        undo: Vec::with_capacity(ops.len()),
    };
    for op in ops {
        match driver.apply(op) {
            Ok(undo) => journal.undo.push(undo),
            Err(e) => {
                tracing::warn!(error = %e, applied = journal.len(), "op refused; unwinding");
                journal.revert(driver);
                return Err(e);
            }
        }
    }
    Ok(journal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netloom_southbound::{LinkKind, LinkSpec, MemoryDriver};

    fn link(n: &str) -> Op {
        Op::CreateLink(LinkSpec {
            name: n.into(),
            kind: LinkKind::Bridge { hairpin: false },
            mtu: None,
            master: None,
            addresses: vec![],
        })
    }

    #[test]
    fn failure_at_each_op_leaves_nothing_behind() {
        let ops: Vec<Op> = (0..5).map(|i| link(&format!("br{i}"))).collect();
        for n in 0..ops.len() {
            let mut d = MemoryDriver::new();
            d.fail_after(n);
            assert!(execute(&mut d, &ops).is_err());
            assert!(d.present().is_empty(), "fail at {n}: {:?}", d.present());
        }
        let mut d = MemoryDriver::new();
        let j = execute(&mut d, &ops).unwrap();
        assert_eq!(d.present().len(), 5);
        assert!(j.revert(&mut d).is_empty());
        assert!(d.present().is_empty());
    }
}
