//! Accepting connections on every front end's listener (TCP or Unix). A failed accept (out
//! of file descriptors, most often) is never the end of a listener, and never a busy loop:
//! it is retried every [`RETRY`], with one warning for the run of failures and one line when
//! accepting works again.

use std::future::Future;
use std::time::Duration;

/// How long a failed accept waits before the next attempt.
pub(crate) const RETRY: Duration = Duration::from_millis(50);

/// A listener's accept loop state: the run of failed accepts in progress.
#[derive(Debug)]
pub(crate) struct Acceptor {
    what: &'static str,
    failing: u64,
}

impl Acceptor {
    /// For the listener of front end `what` (as the log names it).
    pub(crate) fn new(what: &'static str) -> Self {
        Acceptor { what, failing: 0 }
    }

    /// The next connection `accept` gives, retrying it after failures. Cancel-safe when
    /// `accept`'s future is (tokio's listeners' are): a select may drop it at any point.
    pub(crate) async fn next<T, F>(&mut self, mut accept: impl FnMut() -> F) -> T
    where
        F: Future<Output = std::io::Result<T>>,
    {
        loop {
            match accept().await {
                Ok(c) => {
                    if self.failing > 0 {
                        tracing::info!(failed = self.failing, "{} accepting again", self.what);
                        self.failing = 0;
                    }
                    return c;
                }
                Err(e) => {
                    if self.failing == 0 {
                        tracing::warn!(error = %e, "{} accept failed; retrying every {RETRY:?}", self.what);
                    }
                    self.failing += 1;
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}
