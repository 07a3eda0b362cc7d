//! The store's errors.

use crate::datastore::DatastoreId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{datastore} is locked by session {session} ({user})")]
    Locked {
        datastore: DatastoreId,
        session: u64,
        user: String,
    },
    #[error("{datastore} is not locked by this session")]
    NotLockHolder { datastore: DatastoreId },
    #[error("commit {0} is not in the retained commit history")]
    UnknownCommit(u64),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A commit its caller called off after its rows were written (nothing was stored).
    #[error("the commit was abandoned before it was stored")]
    Abandoned,
    #[error(transparent)]
    Yang(#[from] netloom_yang::Error),
}

pub(crate) trait SqlContext<T> {
    fn db(self, path: &str) -> Result<T, Error>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn db(self, path: &str) -> Result<T, Error> {
        self.map_err(|source| Error::Sqlite {
            path: path.to_owned(),
            source,
        })
    }
}
