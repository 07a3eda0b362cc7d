//! The pending confirmed commit (RFC 6241 section 8.4): persisted, so a restart neither
//! forgets to roll back nor keeps an unconfirmed change for good.

/// A confirmed commit waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConfirm {
    /// The commit that needs confirming.
    pub commit_id: u64,
    /// The commit running returns to if no confirmation comes.
    pub rollback_to: u64,
    /// When it rolls back, milliseconds since the Unix epoch.
    pub deadline_ms: i64,
    /// Set for a persistent confirmed commit (any session may confirm with it).
    pub persist_id: Option<String>,
    /// The session that made it (a non-persistent one rolls back when it ends).
    pub session: u64,
}
