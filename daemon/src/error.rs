//! The daemon's errors, and their one mapping to the API's error (tag, path, message).

use netloom_northbound::api::ApiError;
use netloom_southbound::DriverError;
use netloom_yang::ErrorTag;

/// error-app-tag of a commit refused because pods are attached to a network it takes away.
pub const NETWORK_IN_USE: &str = "network-in-use";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Yang(#[from] netloom_yang::Error),
    #[error(transparent)]
    Store(#[from] netloom_store::Error),
    /// A semantic check failed (pool overlap, duplicate VNI, address outside its network...).
    #[error("{path}: {message}")]
    Semantic { path: String, message: String },
    /// The dataplane refused a change; the commit was unwound.
    #[error("the dataplane refused the change: {0}")]
    Dataplane(#[from] DriverError),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    InUse(String),
    /// A commit would take away a network live pods are attached to.
    #[error("{path}: {message}")]
    NetworkInUse { path: String, message: String },
    /// What a CNI call read of running changed before it could record its work: the
    /// runtime retries and gets an answer from the new configuration.
    #[error("{0}")]
    ConfigChanged(String),
    /// A pool has no address left to hand out.
    #[error("pool {pool} of network {network} is exhausted")]
    Exhausted { network: String, pool: String },
    /// A fixed address is already someone else's.
    #[error("address {address} of network {network} is held by {owner}")]
    AddressTaken {
        network: String,
        address: String,
        owner: String,
    },
    /// A conditional request's datastore changed since the client looked.
    #[error("{datastore} is at version {now}, not {expected}")]
    Stale {
        datastore: netloom_store::DatastoreId,
        expected: u64,
        now: u64,
    },
}

impl Error {
    pub fn semantic(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Semantic {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The error as front ends report it.
    pub fn to_api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Error::Yang(e) => ApiError {
                tag: e.tag(),
                path: e.error_path().map(str::to_owned),
                message: match e {
                    netloom_yang::Error::Invalid { message, .. } => message.clone(),
                    other => other.to_string(),
                },
                app_tag: match e {
                    netloom_yang::Error::Invalid { app_tag, .. } => app_tag.clone(),
                    _ => None,
                },
            },
            Error::Semantic { path, message } => ApiError {
                tag: ErrorTag::InvalidValue,
                path: Some(path.clone()),
                message: message.clone(),
                app_tag: None,
            },
            Error::Store(netloom_store::Error::Locked { .. }) => {
                ApiError::new(ErrorTag::LockDenied, message)
            }
            Error::Store(netloom_store::Error::NotLockHolder { .. }) => {
                ApiError::new(ErrorTag::OperationFailed, message)
            }
            Error::Store(netloom_store::Error::UnknownCommit(_)) => {
                ApiError::new(ErrorTag::InvalidValue, message)
            }
            Error::InUse(_) => ApiError::new(ErrorTag::InUse, message),
            Error::NetworkInUse { path, message } => ApiError {
                tag: ErrorTag::InUse,
                path: Some(path.clone()),
                message: message.clone(),
                app_tag: Some(NETWORK_IN_USE.into()),
            },
            Error::ConfigChanged(_) => ApiError::new(ErrorTag::OperationFailed, message),
            Error::Exhausted { .. } | Error::AddressTaken { .. } => {
                ApiError::new(ErrorTag::ResourceDenied, message)
            }
            Error::Stale { .. } => ApiError {
                app_tag: Some(netloom_northbound::api::STALE_VERSION.into()),
                ..ApiError::new(ErrorTag::OperationFailed, message)
            },
            Error::Refused(_) => ApiError::new(ErrorTag::OperationFailed, message),
            Error::Store(_) | Error::Dataplane(_) => {
                ApiError::new(ErrorTag::OperationFailed, message)
            }
        }
    }
}
