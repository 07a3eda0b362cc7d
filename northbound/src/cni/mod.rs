//! The CNI socket front end: `netloom-cni` (the shim a container runtime execs) sends one
//! length-prefixed JSON frame per call over a unix socket; this server decodes it into a
//! [`CniCall`], checks what the CNI specification requires of the environment and config,
//! hands the call to a [`CniBackend`] (the daemon's CNI service) and writes back one reply
//! frame. VERSION is answered here; everything else goes to the backend.

mod call;
mod framing;
mod server;

pub use call::{CniCall, CniError, Command, SUPPORTED_VERSIONS};
pub use framing::{read_frame, write_frame, MAX_FRAME};
pub use server::{bind, serve, version_result, CniBackend};
