//! WAL checkpoints off the commit path.
//!
//! A commit is durable once its frames are in the write-ahead log and the log is synced; copying
//! them into the database file (the checkpoint) can happen later. SQLite's automatic checkpoint
//! runs inside the commit that crosses its threshold, so that commit pays for writing every page
//! twice — a 100k-entry commit spent as long checkpointing as logging. The writer's connection
//! therefore has automatic checkpoints off, and this thread checkpoints on its own connection:
//! woken by every write transaction, it lets the writes of one interval share a checkpoint, and a
//! PASSIVE checkpoint never blocks the writer. The log stays bounded by what is written in one
//! interval; after a crash, SQLite replays the log on open as always.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{Error, SqlContext};

/// Writes within this interval of each other share one checkpoint.
const INTERVAL: Duration = Duration::from_millis(200);

pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Turn off `writer`'s automatic checkpoints and start checkpointing `path` on a thread.
    pub(crate) fn start(path: &Path, writer: &mut Connection) -> Result<Self, Error> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).db(&shown)?;
        writer
            .pragma_update(None, "wal_autocheckpoint", 0)
            .db(&shown)?;
        let (wake, woken) = sync_channel(1);
        let hook = wake.clone();
        writer
            .commit_hook(Some(move || {
                // full means a wake-up is already pending; that one covers this write too
                let _ = hook.try_send(());
                false
            }))
            .db(&shown)?;
        let thread = std::thread::Builder::new()
            .name("netloom-checkpoint".into())
            .spawn(move || run(&conn, &woken, &shown))
            .map_err(|e| Error::Refused {
                path: path.display().to_string(),
                reason: format!("starting the checkpoint thread: {e}"),
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Stop the thread once it has checkpointed what it was woken for. The writer's commit hook
    /// must be gone first (it holds a sender).
    pub(crate) fn stop(&mut self) {
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>, shown: &str) {
    while woken.recv().is_ok() {
        let due = Instant::now() + INTERVAL;
        let closing = loop {
            match woken.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break false,
                Err(RecvTimeoutError::Disconnected) => break true,
            }
        };
        checkpoint(conn, shown);
        if closing {
            return;
        }
    }
}

fn checkpoint(conn: &Connection, shown: &str) {
    let started = Instant::now();
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    }) {
        Ok((busy, log, copied)) => {
            tracing::debug!(db = shown, busy, log, copied, took = ?started.elapsed(), "checkpoint")
        }
        // the log keeps the data durable; the next write retries
        Err(e) => tracing::warn!(db = shown, error = %e, "checkpoint failed"),
    }
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("running", &self.thread.is_some())
            .finish()
    }
}
