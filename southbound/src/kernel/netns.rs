//! Where netlink work runs. A netlink socket belongs to the network namespace of the thread
//! that opened it, so every operation runs on a short-lived thread of its own: sockets for
//! the daemon's namespace are opened first, then the thread enters the pod's namespace
//! (setns affects only that thread) and opens the pod's socket. The daemon's other threads
//! never change namespace.

use std::fs::File;
use std::future::Future;
use std::path::Path;

use nix::sched::CloneFlags;
use rtnetlink::Handle;

use crate::driver::DriverError;

fn unavailable(what: &str, e: impl std::fmt::Display) -> DriverError {
    DriverError::Unavailable(format!("{what}: {e}"))
}

fn connect() -> Result<Handle, DriverError> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| unavailable("netlink socket", e))?;
    tokio::spawn(conn);
    Ok(handle)
}

fn on_thread<T: Send>(
    work: impl FnOnce() -> Result<T, DriverError> + Send,
) -> Result<T, DriverError> {
    // the caller's span (the CNI call) goes along, so the thread's events belong to it
    let span = tracing::Span::current();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("netloom-netlink".into())
            .spawn_scoped(s, move || span.in_scope(work))
            .map_err(|e| unavailable("netlink thread", e))?
            .join()
            .unwrap_or_else(|_| Err(DriverError::Unavailable("netlink thread panicked".into())))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, DriverError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| unavailable("netlink runtime", e))
}

/// Run `f` with a netlink handle in the daemon's own namespace.
pub fn in_host<T, F, Fut>(f: F) -> Result<T, DriverError>
where
    T: Send,
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T, DriverError>>,
{
    on_thread(move || {
        let rt = runtime()?;
        rt.block_on(async move { f(connect()?).await })
    })
}

/// Both sides of a pod operation.
#[derive(Debug)]
pub struct Sides {
    /// A handle in the daemon's namespace.
    pub host: Handle,
    /// A handle in the pod's namespace.
    pub pod: Handle,
    /// The pod's namespace (for creating links directly in it).
    pub pod_ns: File,
}

/// Run `f` with handles in the daemon's namespace and in the pod's namespace at `netns`.
/// The thread's `/proc/sys/net` is the pod's while `f` runs.
pub fn in_pod<T, F, Fut>(netns: &Path, f: F) -> Result<T, DriverError>
where
    T: Send,
    F: FnOnce(Sides) -> Fut + Send,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let pod_ns = File::open(netns).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DriverError::NoNetns(netns.display().to_string()),
        _ => unavailable(&format!("opening {}", netns.display()), e),
    })?;
    let started = std::time::Instant::now();
    on_thread(move || {
        let rt = runtime()?;
        rt.block_on(async move {
            let host = connect()?;
            nix::sched::setns(&pod_ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| DriverError::NoNetns(format!("{} ({e})", netns.display())))?;
            let pod = connect()?;
            super::timing::since("enter pod netns", started);
            f(Sides { host, pod, pod_ns }).await
        })
    })
}

/// Write a sysctl of the calling thread's network namespace (`net.ipv6.conf.eth0.accept_dad`).
pub fn sysctl(key: &str, value: &str) -> Result<(), DriverError> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| DriverError::Refused {
        op: format!("sysctl {key}={value}"),
        reason: e.to_string(),
    })
}
