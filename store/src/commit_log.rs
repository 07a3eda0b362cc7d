//! The commit log: one row per commit with who, when, why and the diff (every changed unit's
//! text before and after). Rollback to commit N replays the diffs after N backwards, so any
//! retained commit can be returned to.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One unit's change: `None` on a side means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChange {
    #[serde(rename = "p")]
    pub path: Arc<str>,
    #[serde(rename = "o")]
    pub old: Option<Arc<str>>,
    #[serde(rename = "n")]
    pub new: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmState {
    NotRequired,
    Pending,
    Confirmed,
    RolledBack,
}

impl ConfirmState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmState::NotRequired => "not-required",
            ConfirmState::Pending => "pending",
            ConfirmState::Confirmed => "confirmed",
            ConfirmState::RolledBack => "rolled-back",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "pending" => ConfirmState::Pending,
            "confirmed" => ConfirmState::Confirmed,
            "rolled-back" => ConfirmState::RolledBack,
            _ => ConfirmState::NotRequired,
        }
    }
}

/// What the committer says about a commit.
#[derive(Debug, Clone, Default)]
pub struct CommitMeta {
    pub user: String,
    pub comment: Option<String>,
    /// Keep at most this many commits (the oldest go).
    pub history: u32,
}

/// A commit as the log keeps it.
#[derive(Debug, Clone)]
pub struct CommitRecord {
    pub id: u64,
    pub time_ms: i64,
    pub user: String,
    pub comment: Option<String>,
    pub changes: Vec<UnitChange>,
    pub confirm: ConfirmState,
}

pub(crate) fn encode(changes: &[UnitChange]) -> String {
    // Serializing plain strings and options cannot fail.
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn decode(text: &str) -> Result<Vec<UnitChange>, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("commit diff: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_round_trips() {
        let c = vec![UnitChange {
            path: "/m:a/b[k='1']".into(),
            old: None,
            new: Some("{\"k\":\"1\"}".into()),
        }];
        assert_eq!(decode(&encode(&c)).unwrap(), c);
        assert!(decode("{").is_err());
    }
}
