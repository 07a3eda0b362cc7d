//! Datastore names and the immutable snapshots readers are handed.

use std::fmt;

use netloom_yang::UnitMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatastoreId {
    Running,
    Candidate,
    Startup,
}

impl DatastoreId {
    pub fn as_str(self) -> &'static str {
        match self {
            DatastoreId::Running => "running",
            DatastoreId::Candidate => "candidate",
            DatastoreId::Startup => "startup",
        }
    }

    pub(crate) fn code(self) -> i64 {
        match self {
            DatastoreId::Running => 0,
            DatastoreId::Candidate => 1,
            DatastoreId::Startup => 2,
        }
    }
}

impl fmt::Display for DatastoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DatastoreId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "running" => Ok(DatastoreId::Running),
            "candidate" => Ok(DatastoreId::Candidate),
            "startup" => Ok(DatastoreId::Startup),
            other => Err(format!("unknown datastore '{other}'")),
        }
    }
}

/// One datastore's content at one moment. Cheap to clone (the unit map is persistent) and
/// never changes once made: a reader holding one is never blocked and never sees a
/// half-applied commit.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub units: UnitMap,
    /// The last commit reflected (running), or 0.
    pub commit_id: u64,
    /// Bumped on every change; entity tags derive from it.
    pub version: u64,
    /// When the content last changed, milliseconds since the Unix epoch.
    pub modified_ms: i64,
}
