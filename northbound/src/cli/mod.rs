//! The CLI socket: the daemon side of `netloom`. A unix socket whose peers are identified by
//! their kernel credentials (SO_PEERCRED), speaking line-delimited JSON (see [`protocol`]).
//! Each connection is one engine session with its own private candidate (see [`candidate`]);
//! the session ends (locks released, an unconfirmed commit rolled back) when the peer leaves.

mod candidate;
mod conflict;
mod history;
mod peer;
pub mod protocol;
mod read;
mod session;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netloom_yang::Schema;
use tokio::task::JoinSet;

use crate::accept::Acceptor;
use crate::api::Handle;

pub use peer::Role;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("CLI socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CLI socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Bind the socket now (so a bad path fails the daemon's start), readable and writable by
/// everyone: who may do what is decided from the peer's credentials, not file modes.
pub fn bind(path: &Path) -> Result<std::os::unix::net::UnixListener, CliError> {
    let fail = |source| CliError::Bind {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(fail)?;
        }
    }
    // A socket file left by a daemon that died; the data dir lock keeps two daemons apart.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    Ok(listener)
}

/// Accept CLI connections until the task is dropped; every session is a task of this one.
pub async fn serve(
    listener: std::os::unix::net::UnixListener,
    handle: Handle,
    schema: Arc<Schema>,
) -> Result<(), CliError> {
    let listener = tokio::net::UnixListener::from_std(listener)?;
    let mut sessions = JoinSet::new();
    let mut acceptor = Acceptor::new("CLI");
    loop {
        tokio::select! {
            (stream, _) = acceptor.next(|| listener.accept()) => {
                let handle = handle.clone();
                let schema = schema.clone();
                sessions.spawn(session::run(stream, handle, schema, crate::api::new_session_id()));
            }
            Some(done) = sessions.join_next() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "CLI session task failed");
                }
            }
        }
    }
}
