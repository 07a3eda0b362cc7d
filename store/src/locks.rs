//! Datastore locks (RFC 6241 section 7.5), each owned by one session. Locks live in memory:
//! they belong to sessions, and no session outlives the daemon.

use std::collections::HashMap;

use crate::datastore::DatastoreId;
use crate::error::Error;

/// A management session, as the front ends number them.
pub type SessionId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub session: SessionId,
    pub user: String,
    /// When the lock was taken, milliseconds since the epoch (ietf-netconf-monitoring).
    pub since_ms: i64,
}

#[derive(Debug, Default)]
pub struct Locks {
    held: HashMap<DatastoreId, LockHolder>,
}

impl Locks {
    pub fn lock(&mut self, ds: DatastoreId, session: SessionId, user: &str) -> Result<(), Error> {
        match self.held.get(&ds) {
            Some(h) => Err(Error::Locked {
                datastore: ds,
                session: h.session,
                user: h.user.clone(),
            }),
            None => {
                self.held.insert(
                    ds,
                    LockHolder {
                        session,
                        user: user.to_owned(),
                        since_ms: std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or(0),
                    },
                );
                Ok(())
            }
        }
    }

    pub fn unlock(&mut self, ds: DatastoreId, session: SessionId) -> Result<(), Error> {
        match self.held.get(&ds) {
            Some(h) if h.session == session => {
                self.held.remove(&ds);
                Ok(())
            }
            _ => Err(Error::NotLockHolder { datastore: ds }),
        }
    }

    /// Fail unless `session` may write `ds`: unlocked, or locked by `session` itself.
    pub fn check_write(&self, ds: DatastoreId, session: SessionId) -> Result<(), Error> {
        match self.held.get(&ds) {
            Some(h) if h.session != session => Err(Error::Locked {
                datastore: ds,
                session: h.session,
                user: h.user.clone(),
            }),
            _ => Ok(()),
        }
    }

    pub fn holder(&self, ds: DatastoreId) -> Option<&LockHolder> {
        self.held.get(&ds)
    }

    /// Drop every lock of a session that ended (or was killed).
    pub fn release_session(&mut self, session: SessionId) -> Vec<DatastoreId> {
        let mine: Vec<DatastoreId> = self
            .held
            .iter()
            .filter(|(_, h)| h.session == session)
            .map(|(d, _)| *d)
            .collect();
        for d in &mine {
            self.held.remove(d);
        }
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_gets_the_holder() {
        let mut l = Locks::default();
        l.lock(DatastoreId::Running, 1, "alice").unwrap();
        let e = l.lock(DatastoreId::Running, 2, "bob").unwrap_err();
        assert_eq!(e.to_string(), "running is locked by session 1 (alice)");
        assert!(l.check_write(DatastoreId::Running, 2).is_err());
        assert!(l.check_write(DatastoreId::Running, 1).is_ok());
        assert!(l.unlock(DatastoreId::Running, 2).is_err());
        assert_eq!(l.release_session(1), vec![DatastoreId::Running]);
        l.lock(DatastoreId::Running, 2, "bob").unwrap();
    }
}
