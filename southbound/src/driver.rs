//! The driver trait every dataplane implements.

use crate::spec::Op;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DriverError {
    /// The dataplane refused the op (a kernel errno, an OVSDB error, ...).
    #[error("{op}: {reason}")]
    Refused { op: String, reason: String },
    #[error("dataplane unavailable: {0}")]
    Unavailable(String),
    /// A pod's network namespace is not there.
    #[error("network namespace {0} does not exist")]
    NoNetns(String),
    /// An interface of that name exists and is not netloom's.
    #[error("{0}")]
    Clash(String),
}

/// A dataplane. `apply` either changes the dataplane and returns the op that undoes the
/// change, or changes nothing and fails.
pub trait DataplaneDriver: Send {
    fn name(&self) -> &'static str;
    fn apply(&mut self, op: &Op) -> Result<Op, DriverError>;

    /// Names of the host links this dataplane made (marked as netloom's), so reconcile at
    /// start can remove those no committed config owns any more. Never anyone else's.
    fn owned_links(&mut self) -> Result<Vec<String>, DriverError> {
        Ok(Vec::new())
    }
}
