//! Whole-read reply bodies of unchanged datastores. A get-config (or get-data) of a large list
//! renders the same `<data>` again and again while the datastore does not change: ~0.5 ms of
//! lookups and copying for 10k entries even with every entry's XML cached, plus the page
//! faults of a fresh 700 KB buffer. The body is kept, framed as a chunk of its own, keyed by
//! the datastore's unit map (an immutable map: the same root is the same content, and the
//! entry holds a clone, so the root cannot be freed and its address reused) and by what the
//! read selects; each reply sends the same bytes between its own `<rpc-reply>` head and tail.
//!
//! Only bodies of at least [`SHARE_FROM`] bytes are kept (below that rendering is cheap), at
//! most [`CAPACITY`] of them: a read of a newer version of a datastore replaces the body of
//! the same read of an older one, and the least recently used goes when the cache is full.

use std::collections::VecDeque;
use std::sync::Mutex;

use netloom_yang::{DefaultsMode, UnitMap};

use super::fast_read::Plan;
use super::message::SharedBody;

/// Bodies smaller than this are rendered into each reply.
pub(crate) const SHARE_FROM: usize = 32 * 1024;
/// Bodies kept at once.
const CAPACITY: usize = 4;

struct Entry {
    units: UnitMap,
    /// The `<data ...>` start tag the body begins with (get-config and get-data differ).
    open: String,
    plan: Plan,
    mode: Option<DefaultsMode>,
    body: SharedBody,
}

#[derive(Default)]
pub(crate) struct ReplyCache {
    /// Most recently used first.
    entries: Mutex<VecDeque<Entry>>,
}

impl std::fmt::Debug for ReplyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("ReplyCache").field("bodies", &n).finish()
    }
}

impl ReplyCache {
    /// The body of the read `plan` of `units` in with-defaults `mode` (`None`: as stored)
    /// that begins with `open`, if it is kept.
    pub fn get(
        &self,
        units: &UnitMap,
        open: &str,
        plan: &Plan,
        mode: Option<DefaultsMode>,
    ) -> Option<SharedBody> {
        let mut entries = self.entries.lock().ok()?;
        let i = entries.iter().position(|e| {
            e.units.ptr_eq(units) && e.open == open && &e.plan == plan && e.mode == mode
        })?;
        let entry = entries.remove(i)?;
        let body = entry.body.clone();
        entries.push_front(entry);
        Some(body)
    }

    /// Keep `body`, the read `plan` of `units` in `mode` that begins with `open`.
    pub fn put(
        &self,
        units: &UnitMap,
        open: &str,
        plan: Plan,
        mode: Option<DefaultsMode>,
        body: SharedBody,
    ) {
        if body.len() < SHARE_FROM {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // The same read of another version of the datastore (or of another datastore) is
        // superseded: the versions a session reads follow each other.
        entries.retain(|e| !(e.open == open && e.plan == plan && e.mode == mode));
        entries.truncate(CAPACITY - 1);
        entries.push_front(Entry {
            units: units.clone(),
            open: open.to_owned(),
            plan,
            mode,
            body,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use netloom_yang::{UnitKey, UnitListId};

    use super::*;

    fn units(n: usize) -> UnitMap {
        (0..n)
            .map(|i| {
                (
                    UnitKey {
                        list: UnitListId(0),
                        path: Arc::from(format!("/e[{i}]")),
                    },
                    Arc::from("{}"),
                )
            })
            .collect()
    }

    #[test]
    fn kept_for_the_same_map_and_read_only() {
        let cache = ReplyCache::default();
        let big = "x".repeat(SHARE_FROM);
        let (a, b) = (units(3), units(3));
        cache.put(&a, "<data>", Plan::All, None, SharedBody::from_text(&big));
        let got = cache.get(&a, "<data>", &Plan::All, None).expect("kept");
        assert_eq!(got.text(), big);
        // A clone is the same map; an equal map built apart is not known to be equal.
        assert!(cache.get(&a.clone(), "<data>", &Plan::All, None).is_some());
        assert!(cache.get(&b, "<data>", &Plan::All, None).is_none());
        assert!(cache
            .get(&a, "<data xmlns=\"x\">", &Plan::All, None)
            .is_none());
        // The same read in a with-defaults mode is another body.
        assert!(cache
            .get(&a, "<data>", &Plan::All, Some(DefaultsMode::ReportAll))
            .is_none());
        // A changed map is another version.
        let mut changed = a.clone();
        changed.remove(&UnitKey {
            list: UnitListId(0),
            path: Arc::from("/e[0]"),
        });
        assert!(cache.get(&changed, "<data>", &Plan::All, None).is_none());
        // Its read replaces the older version's.
        cache.put(
            &changed,
            "<data>",
            Plan::All,
            None,
            SharedBody::from_text(&big),
        );
        assert!(cache.get(&a, "<data>", &Plan::All, None).is_none());
        assert!(cache.get(&changed, "<data>", &Plan::All, None).is_some());
    }

    #[test]
    fn small_bodies_are_not_kept_and_the_cache_is_bounded() {
        let cache = ReplyCache::default();
        let m = units(1);
        cache.put(
            &m,
            "<data>",
            Plan::All,
            None,
            SharedBody::from_text("<data/>"),
        );
        assert!(cache.get(&m, "<data>", &Plan::All, None).is_none());
        let big = "x".repeat(SHARE_FROM);
        let opens: Vec<String> = (0..CAPACITY + 1)
            .map(|i| format!("<data n=\"{i}\">"))
            .collect();
        for open in &opens {
            cache.put(&m, open, Plan::All, None, SharedBody::from_text(&big));
        }
        assert!(
            cache.get(&m, &opens[0], &Plan::All, None).is_none(),
            "the oldest went"
        );
        for open in &opens[1..] {
            assert!(cache.get(&m, open, &Plan::All, None).is_some());
        }
    }
}
