//! netloom's datastores on one SQLite file (WAL): running and startup as unit rows, the
//! candidate as an overlay on running (stored as a journal of edits), the commit log with each commit's diff (which is what
//! rollback replays), locks, the pending confirmed commit, the IPAM ledger and the CNI
//! attachment table. Every write that must be atomic is one SQLite transaction; a commit
//! writes only the units it changed. A config commit is durable when it returns; candidate
//! edits, running rows written after their commit's log row, and group commits (ledger,
//! attachments) are written without waiting for the disk, and synced soon after.

mod attachment;
mod checkpoint;
mod commit_log;
mod confirmed;
mod datastore;
mod db;
mod durable;
mod error;
mod ipam;
mod journal;
mod locks;
mod materialize;
mod store;

pub use attachment::Attachment;
pub use commit_log::{CommitMeta, CommitRecord, ConfirmState, UnitChange};
pub use confirmed::PendingConfirm;
pub use datastore::{DatastoreId, Snapshot};
pub use durable::Durable;
pub use error::Error;
pub use ipam::Allocation;
pub use locks::{LockHolder, Locks, SessionId};
pub use store::{Store, UnitValue, DEFER_ROWS};
