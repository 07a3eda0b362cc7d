//! Where a pod call's time goes, at debug level under the target `netloom::timing`: each
//! netlink request's time (the RTNL lock's wait plus the kernel's work) and the namespace
//! entry. A bench run with `--log warn,netloom::timing=debug` shows where concurrent calls
//! wait; the events carry the call's span (container, command), so they group per call.

use std::future::Future;
use std::time::Instant;

/// Run `f`, then log how long it took as `op`.
pub(super) async fn timed<T>(op: &'static str, f: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    tracing::debug!(target: "netloom::timing", op, us = started.elapsed().as_micros() as u64);
    out
}

/// Log the time since `started` as `op`.
pub(super) fn since(op: &'static str, started: Instant) {
    tracing::debug!(target: "netloom::timing", op, us = started.elapsed().as_micros() as u64);
}
