//! The yang crate's errors. Each carries what a user needs to fix the input: the path that
//! failed and the constraint or reason; front ends map `ErrorTag` to rpc-error tags, RFC 8040
//! error tags and gRPC codes.

/// The NETCONF error-tag class of an error (RFC 6241 appendix A), so every front end maps it
/// the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTag {
    InvalidValue,
    UnknownElement,
    MissingElement,
    DataExists,
    DataMissing,
    MalformedMessage,
    OperationFailed,
    OperationNotSupported,
    InUse,
    LockDenied,
    AccessDenied,
    ResourceDenied,
    BadElement,
}

impl ErrorTag {
    /// The tag as NETCONF and RESTCONF spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorTag::InvalidValue => "invalid-value",
            ErrorTag::UnknownElement => "unknown-element",
            ErrorTag::MissingElement => "missing-element",
            ErrorTag::DataExists => "data-exists",
            ErrorTag::DataMissing => "data-missing",
            ErrorTag::MalformedMessage => "malformed-message",
            ErrorTag::OperationFailed => "operation-failed",
            ErrorTag::OperationNotSupported => "operation-not-supported",
            ErrorTag::InUse => "in-use",
            ErrorTag::LockDenied => "lock-denied",
            ErrorTag::AccessDenied => "access-denied",
            ErrorTag::ResourceDenied => "resource-denied",
            ErrorTag::BadElement => "bad-element",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("schema context: {0}")]
    Context(String),
    #[error("{path}: {message}")]
    Invalid {
        tag: ErrorTag,
        path: String,
        message: String,
        app_tag: Option<String>,
    },
    #[error("malformed path '{path}': {reason}")]
    Path { path: String, reason: String },
    #[error("malformed {format} data: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
}

impl Error {
    pub fn invalid(tag: ErrorTag, path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            tag,
            path: path.into(),
            message: message.into(),
            app_tag: None,
        }
    }

    pub fn path(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Path {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub fn tag(&self) -> ErrorTag {
        match self {
            Error::Context(_) => ErrorTag::OperationFailed,
            Error::Invalid { tag, .. } => *tag,
            Error::Path { .. } => ErrorTag::InvalidValue,
            Error::Malformed { .. } => ErrorTag::MalformedMessage,
        }
    }

    /// The data path the error is about, when there is one.
    pub fn error_path(&self) -> Option<&str> {
        match self {
            Error::Invalid { path, .. } if !path.is_empty() => Some(path),
            Error::Path { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Turn a libyang error into one of ours, keeping its path and message.
    pub(crate) fn from_libyang(err: yang3::Error, fallback_path: &str) -> Self {
        let message = err.msg.unwrap_or_else(|| "validation failed".to_owned());
        let tag = if message.contains("Mandatory") || message.contains("mandatory") {
            ErrorTag::MissingElement
        } else if message.contains("not found as a child")
            || message.contains("Node \"")
            || message.contains("unknown")
        {
            ErrorTag::UnknownElement
        } else {
            ErrorTag::InvalidValue
        };
        Error::Invalid {
            tag,
            path: err.path.unwrap_or_else(|| fallback_path.to_owned()),
            message,
            app_tag: err.apptag,
        }
    }
}
