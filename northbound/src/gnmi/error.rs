//! gNMI's errors: the server's own (start-up), and the one mapping of the request API's
//! errors to gRPC statuses every RPC uses.

use std::net::SocketAddr;

use netloom_yang::ErrorTag;
use tonic::{Code, Status};

use crate::api::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum GnmiError {
    #[error("--gnmi-plaintext serves only loopback addresses, not {0}")]
    PlaintextNotLoopback(SocketAddr),
    #[error("binding the gNMI listener {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gNMI listener: {0}")]
    Serve(std::io::Error),
    #[error("gNMI server: {0}")]
    Tls(tonic::transport::Error),
}

/// The gRPC code of a NETCONF error-tag.
pub fn code_of(tag: ErrorTag) -> Code {
    match tag {
        ErrorTag::InvalidValue
        | ErrorTag::UnknownElement
        | ErrorTag::MissingElement
        | ErrorTag::BadElement
        | ErrorTag::MalformedMessage => Code::InvalidArgument,
        ErrorTag::DataMissing => Code::NotFound,
        ErrorTag::DataExists => Code::AlreadyExists,
        ErrorTag::AccessDenied => Code::PermissionDenied,
        ErrorTag::LockDenied => Code::FailedPrecondition,
        ErrorTag::InUse => Code::Aborted,
        ErrorTag::ResourceDenied => Code::ResourceExhausted,
        ErrorTag::OperationNotSupported => Code::Unimplemented,
        // The engine refused the commit as a whole (a semantic check, the kernel).
        ErrorTag::OperationFailed => Code::Aborted,
    }
}

/// A request-API error as a gRPC status; the message leads with the path that failed.
pub fn status_of(e: &ApiError) -> Status {
    let message = match &e.path {
        Some(p) if !p.is_empty() => format!("{p}: {}", e.message),
        _ => e.message.clone(),
    };
    Status::new(code_of(e.tag), message)
}

/// A yang-layer error (a path or value the schema refused) as a gRPC status.
pub fn status_of_yang(e: &netloom_yang::Error) -> Status {
    let message = match e.error_path() {
        Some(p) if !p.is_empty() && !e.to_string().starts_with(p) => format!("{p}: {e}"),
        _ => e.to_string(),
    };
    Status::new(code_of(e.tag()), message)
}

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}
