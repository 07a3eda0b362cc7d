//! Durability of group commits off the writer's thread. A group ([`crate::Store::begin_group`])
//! is committed to the WAL without an fsync, so the writer goes straight on to the next
//! group; a syncer thread then makes the WAL durable for every group committed before the
//! sync started, and each group's callers wait for that ([`Durable::wait`]) on their own
//! threads. Until then a group's writes survive a crash of the daemon (they are in the
//! kernel's page cache), not a crash of the host.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

#[derive(Debug, Default)]
struct State {
    /// Groups committed (each one ticket, counting from 1).
    issued: u64,
    /// Every ticket up to here has had its sync (successful or not).
    done: u64,
    /// Tickets up to here saw a failed sync: their writes may be lost.
    failed_through: u64,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    wal: PathBuf,
    db: PathBuf,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// fsync the WAL (or the database file when there is no WAL: everything was
    /// checkpointed into it).
    fn sync(&self) -> std::io::Result<()> {
        match File::open(&self.wal) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::open(&self.db)?.sync_data(),
            Err(e) => Err(e),
        }
    }

    fn run(&self) {
        let mut st = self.lock();
        loop {
            while st.done == st.issued && !st.stop {
                st = self
                    .changed
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if st.done == st.issued {
                return;
            }
            // one sync covers every group committed so far
            let target = st.issued;
            drop(st);
            let synced = self.sync();
            st = self.lock();
            if let Err(e) = &synced {
                tracing::error!(error = %e, wal = %self.wal.display(), "fsync of the WAL failed; the groups it covered are reported as failed");
                st.failed_through = target;
            }
            st.done = target;
            self.changed.notify_all();
        }
    }
}

/// The syncer thread of one database; stopped (after a last sync) on drop.
#[derive(Debug)]
pub(crate) struct WalSyncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl WalSyncer {
    pub(crate) fn start(db: PathBuf) -> std::io::Result<WalSyncer> {
        let mut wal = db.clone().into_os_string();
        wal.push("-wal");
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: Condvar::new(),
            wal: wal.into(),
            db,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("netloom-walsync".into())
            .spawn(move || worker.run())?;
        Ok(WalSyncer {
            shared,
            thread: Some(thread),
        })
    }

    /// A group was committed: its ticket, which a sync starting from now covers.
    pub(crate) fn issue(&self) -> Durable {
        let mut st = self.shared.lock();
        st.issued += 1;
        self.shared.changed.notify_all();
        Durable {
            shared: Some(self.shared.clone()),
            ticket: st.issued,
        }
    }
}

impl Drop for WalSyncer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A committed group's durability, to wait for.
#[derive(Debug, Clone)]
pub struct Durable {
    shared: Option<Arc<Shared>>,
    ticket: u64,
}

impl Durable {
    /// Writes that were durable when committed (an fsync'd transaction of their own).
    pub fn already() -> Durable {
        Durable {
            shared: None,
            ticket: 0,
        }
    }

    /// Wait until the group's writes are on disk; false when the fsync failed (they may be
    /// lost with the host).
    pub fn wait(&self) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        let mut st = shared.lock();
        while st.done < self.ticket {
            st = shared
                .changed
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        self.ticket > st.failed_through
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_durable_after_a_sync_and_fail_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"db").unwrap();
        let syncer = WalSyncer::start(db.clone()).unwrap();
        // no WAL yet: the database file is synced instead
        assert!(syncer.issue().wait());
        std::fs::write(dir.path().join("x.db-wal"), b"wal").unwrap();
        let tickets: Vec<Durable> = (0..10).map(|_| syncer.issue()).collect();
        assert!(tickets.iter().all(Durable::wait));
        // neither file there: the sync fails and so does the ticket
        std::fs::remove_file(dir.path().join("x.db-wal")).unwrap();
        std::fs::remove_file(&db).unwrap();
        assert!(!syncer.issue().wait());
        std::fs::write(&db, b"db").unwrap();
        assert!(syncer.issue().wait());
        assert!(Durable::already().wait());
    }
}
