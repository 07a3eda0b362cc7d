//! What readers who are not admins see: the datastores without the nodes the model marks
//! `nacm:default-deny-all` (RFC 8341 3.5.1; the password hashes under `/system/user`). Every
//! front end reads configuration through [`Handle::snapshots_for`] and passes commit events'
//! unit texts through [`redact_changes`], so the hashes reach admins only, on every read path
//! (fast XML, JSON documents, telemetry, the CLI's diffs).
//!
//! The redacted snapshots are made once per set of snapshots and shared by all readers: the
//! units without secrets stay the same `Arc`s (the XML cache keeps hitting), and only the
//! units of lists that hold secrets (the users) are rewritten.

use std::sync::{Arc, Mutex};

use netloom_store::{Snapshot, UnitChange};
use netloom_yang::Schema;

use crate::api::{Handle, Snapshots};

/// Whether a reader may read secret nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Admin,
    Other,
}

/// The last snapshots redacted, and their redaction.
#[derive(Default)]
pub(crate) struct Redacted {
    last: Mutex<Option<(Arc<Snapshots>, Arc<Snapshots>)>>,
}

impl Redacted {
    fn get(&self, schema: &Schema, full: Arc<Snapshots>) -> Arc<Snapshots> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((of, red)) = last.as_ref() {
            if Arc::ptr_eq(of, &full) {
                return red.clone();
            }
        }
        let one = |s: &Arc<Snapshot>| {
            Arc::new(Snapshot {
                units: schema.redact_units(&s.units),
                ..(**s).clone()
            })
        };
        let red = Arc::new(Snapshots {
            running: one(&full.running),
            candidate: one(&full.candidate),
            startup: one(&full.startup),
        });
        *last = Some((full, red.clone()));
        red
    }
}

impl Handle {
    /// The datastores as `reader` may see them.
    pub fn snapshots_for(&self, schema: &Schema, reader: Reader) -> Arc<Snapshots> {
        let full = self.snapshots();
        match reader {
            Reader::Admin => full,
            Reader::Other => self.redacted().get(schema, full),
        }
    }
}

/// Commit changes as `reader` may see them (the old and new unit texts redacted).
pub fn redact_changes(schema: &Schema, reader: Reader, changes: &[UnitChange]) -> Vec<UnitChange> {
    let redact = |path: &str, text: &Option<Arc<str>>| -> Option<Arc<str>> {
        let text = text.as_ref()?;
        match schema.unit_of_path(path) {
            Some(key) => schema
                .redact_unit(&key, text)
                .map(Arc::from)
                .or_else(|| Some(text.clone())),
            None => Some(text.clone()),
        }
    };
    changes
        .iter()
        .map(|c| match reader {
            Reader::Admin => c.clone(),
            Reader::Other => UnitChange {
                path: c.path.clone(),
                old: redact(&c.path, &c.old),
                new: redact(&c.path, &c.new),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use netloom_yang::Encoding;
    use serde_json::json;

    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn snapshots(s: &Schema) -> Arc<Snapshots> {
        let doc = json!({"netloom-host:system": {"user": [{"name": "ann", "password": HASH}]}});
        let canonical = s.validate(&doc.to_string(), Encoding::Json).unwrap();
        let units = s
            .split_canonical(&canonical)
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, Arc::from(t)))
            .collect();
        let snap = Arc::new(Snapshot {
            units,
            ..Default::default()
        });
        Arc::new(Snapshots {
            running: snap.clone(),
            candidate: snap.clone(),
            startup: snap,
        })
    }

    fn text(s: &Schema, snap: &Snapshot) -> String {
        s.to_json(snap.units.iter().map(|(k, v)| (k, &**v)))
    }

    #[test]
    fn redacted_once_per_snapshots_for_others_only() {
        let s = Schema::new().unwrap();
        let full = snapshots(&s);
        let memo = Redacted::default();
        let red = memo.get(&s, full.clone());
        for snap in [&red.running, &red.candidate, &red.startup] {
            let t = text(&s, snap);
            assert!(!t.contains("argon2") && t.contains("ann"), "{t}");
        }
        assert!(Arc::ptr_eq(&red, &memo.get(&s, full.clone())), "memoised");
        assert!(
            text(&s, &full.running).contains("argon2"),
            "the original is untouched"
        );
    }

    #[test]
    fn changes_lose_the_hash_for_others() {
        let s = Schema::new().unwrap();
        let full = snapshots(&s);
        let (key, unit) = full
            .running
            .units
            .iter()
            .find(|(k, _)| k.path.contains("user"))
            .unwrap();
        let changes = vec![UnitChange {
            path: key.path.clone(),
            old: None,
            new: Some(unit.clone()),
        }];
        let other = redact_changes(&s, Reader::Other, &changes);
        assert!(!other[0].new.as_deref().unwrap().contains("argon2"));
        assert!(other[0].new.as_deref().unwrap().contains("ann"));
        let admin = redact_changes(&s, Reader::Admin, &changes);
        assert!(admin[0].new.as_deref().unwrap().contains("argon2"));
    }
}
