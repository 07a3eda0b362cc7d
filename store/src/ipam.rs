//! The IPAM ledger: every dynamically allocated address with its owner, written before the
//! CNI reply goes out, so a crash never hands one address out twice.

/// One allocated address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub network: String,
    pub pool: String,
    pub address: String,
    /// The owning container id.
    pub owner: String,
    pub interface: String,
    pub allocated_ms: i64,
}
