//! The XML rendering of each stored list entry, kept beside its canonical JSON so a read of a
//! whole list is concatenation. Entries are found by the address of the unit's `Arc<str>`:
//! a unit's text never changes once made (a change makes a new `Arc`), so an entry found at
//! the same live address is the same text, whichever datastore (running, candidate, startup)
//! or commit (rollback reinstalls old `Arc`s) it came from, and a change invalidates exactly
//! the units it replaced. The entry holds a `Weak` of the text: the allocation, and so the
//! address, cannot be reused while the entry exists; entries of texts no datastore holds any
//! more are swept once they outnumber the live ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, Weak};

use crate::error::Error;
use crate::schema::{NodeId, Schema};
use imbl::ordmap::DiffItem;

use crate::unit::{UnitKey, UnitMap};
use crate::xml_out::{needs_libyang, render_entry, EntrySource, Out};

/// Unit text addresses are unique and well spread once multiplied: no SipHash per lookup.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// One entry's rendering; `None` when a value needs libyang's encoding (the caller then
/// answers through libyang, every time, without rendering again).
struct Rendered {
    text: Weak<str>,
    xml: Option<Box<str>>,
}

#[derive(Default)]
struct Entries {
    by_address: HashMap<usize, Rendered, BuildHasherDefault<AddrHasher>>,
    /// How many were left by the last sweep: the next comes when twice as many are held.
    after_sweep: usize,
}

/// Renderings of list entry units, shared by every reader.
#[derive(Default)]
pub struct XmlCache {
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for XmlCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.by_address.len()).unwrap_or(0);
        f.debug_struct("XmlCache").field("entries", &n).finish()
    }
}

impl XmlCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many renderings are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.by_address.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn address(text: &Arc<str>) -> usize {
    Arc::as_ptr(text) as *const u8 as usize
}

/// The cache during one read: locked while renderings are found and copied, unlocked while
/// a missing one is rendered (a first read right after a large change renders many), so the
/// warmer, rendering the same change from the other end, can store what it made meanwhile and
/// the two meet halfway instead of both rendering everything.
struct Cached<'c> {
    cache: &'c XmlCache,
    entries: Option<std::sync::MutexGuard<'c, Entries>>,
}

impl<'c> Cached<'c> {
    fn entries(&mut self) -> &mut Entries {
        self.entries.get_or_insert_with(|| self.cache.lock())
    }
}

impl EntrySource<Arc<str>> for Cached<'_> {
    fn write_entry(
        &mut self,
        w: &mut Out<'_>,
        list: NodeId,
        text: &Arc<str>,
    ) -> Result<(), String> {
        let at = address(text);
        let hit = self
            .entries()
            .by_address
            .get(&at)
            .filter(|r| std::ptr::addr_eq(r.text.as_ptr(), Arc::as_ptr(text)))
            .map(|r| r.xml.as_deref());
        let written = match hit {
            Some(Some(xml)) => {
                w.push_str(xml);
                true
            }
            Some(None) => false,
            None => {
                self.entries = None;
                let xml = render(w.schema(), list, w.namespace(), text)?;
                if let Some(xml) = &xml {
                    w.push_str(xml);
                }
                let written = xml.is_some();
                self.entries().by_address.insert(
                    at,
                    Rendered {
                        text: Arc::downgrade(text),
                        xml,
                    },
                );
                written
            }
        };
        if written {
            Ok(())
        } else {
            Err(crate::xml_out::NEEDS_LIBYANG.to_owned())
        }
    }
}

impl Schema {
    /// [`Schema::write_units_xml`] with list entries copied from `cache` where it has them
    /// (and kept there when it does not): the same bytes.
    pub fn write_units_xml_cached<'u>(
        &self,
        units: impl IntoIterator<Item = (&'u UnitKey, &'u Arc<str>)>,
        cache: &XmlCache,
        out: &mut String,
    ) -> Result<bool, Error> {
        let mut cached = Cached {
            cache,
            entries: Some(cache.lock()),
        };
        let result = self.write_units_with(units, &mut cached, out);
        sweep_if_due(cached.entries());
        result
    }
}

/// Drop the renderings of texts no datastore holds any more, once they may outnumber the
/// live ones.
fn sweep_if_due(entries: &mut Entries) {
    if entries.by_address.len() > 2 * entries.after_sweep + 4096 {
        entries.by_address.retain(|_, r| r.text.strong_count() > 0);
        entries.after_sweep = entries.by_address.len();
    }
}

/// One entry of list node `list` rendered alone with `ns` (its root container's namespace)
/// in effect: the bytes it gets inside the root container. `None` when a value needs
/// libyang's encoding.
fn render(
    schema: &Schema,
    list: NodeId,
    ns: Option<&'static str>,
    text: &str,
) -> Result<Option<Box<str>>, String> {
    let mut one = Out::new(schema, String::new(), ns);
    match render_entry(&mut one, list, text) {
        Ok(()) => Ok(Some(one.into_xml().into_boxed_str())),
        Err(e) if needs_libyang(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How many entries are rendered between two looks at the cache: readers wait for the lock
/// at most for one batch's lookups or inserts, never for rendering.
const WARM_BATCH: usize = 256;

impl XmlCache {
    /// Render ahead the list entries that `new` holds and `old` did not (added, or a new
    /// text for a key), so the next read copies them. Shared subtrees of the two maps are
    /// not visited: a commit of a few entries costs a few lookups, not a walk of the
    /// datastore. The lock is held only to look up and to insert, never while rendering; an
    /// entry a racing read rendered meanwhile is kept and this rendering dropped, so an
    /// address never has two entries. Returns how many renderings were added.
    pub fn warm(&self, schema: &Schema, old: &UnitMap, new: &UnitMap) -> usize {
        // From the last changed entry back: a read that comes meanwhile renders what it
        // misses from the first on, and the two meet halfway.
        let changed: Vec<_> = old
            .diff(new)
            .filter_map(|d| match d {
                DiffItem::Add(k, v) | DiffItem::Update { new: (k, v), .. } => Some((k, v)),
                DiffItem::Remove(..) => None,
            })
            .filter_map(|(k, v)| {
                let unit = schema.unit(k.list);
                let list = unit.list_node()?;
                Some((list, schema.node(unit.root()).namespace, v))
            })
            .collect();
        let mut changed = changed.into_iter().rev().peekable();
        let mut added = 0;
        while changed.peek().is_some() {
            let batch: Vec<_> = changed.by_ref().take(WARM_BATCH).collect();
            let missing: Vec<_> = {
                let entries = self.lock();
                batch
                    .into_iter()
                    .filter(|(_, _, v)| !entries.by_address.contains_key(&address(v)))
                    .collect()
            };
            let rendered: Vec<_> = missing
                .into_iter()
                .filter_map(|(list, ns, v)| match render(schema, list, ns, v) {
                    Ok(xml) => Some((v, xml)),
                    // Not stored data's fault to fix here: the read reports it.
                    Err(_) => None,
                })
                .collect();
            let mut entries = self.lock();
            for (v, xml) in rendered {
                if let std::collections::hash_map::Entry::Vacant(e) =
                    entries.by_address.entry(address(v))
                {
                    e.insert(Rendered {
                        text: Arc::downgrade(v),
                        xml,
                    });
                    added += 1;
                }
            }
            sweep_if_due(&mut entries);
        }
        added
    }

    /// Whether the cache holds a rendering of exactly this text (this allocation).
    pub fn holds(&self, text: &Arc<str>) -> bool {
        self.lock().by_address.contains_key(&address(text))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn units(s: &Schema, doc: serde_json::Value) -> UnitMap {
        crate::unit::units_of(s, &doc)
    }

    /// The cached reply and a fresh rendering of the same map, which must be the same bytes.
    fn check(s: &Schema, cache: &XmlCache, m: &UnitMap) -> String {
        let mut cached = String::from("<data>");
        assert!(s
            .write_units_xml_cached(m.iter(), cache, &mut cached)
            .unwrap());
        let mut fresh = String::from("<data>");
        assert!(s
            .write_units_xml(m.iter().map(|(k, v)| (k, &**v)), &mut fresh)
            .unwrap());
        assert_eq!(cached, fresh);
        cached
    }

    /// The unit of network `name` with `doc`'s content in place of the stored one.
    fn replace(s: &Schema, m: &UnitMap, doc: serde_json::Value) -> UnitMap {
        let mut out = m.clone();
        for (k, v) in units(s, doc) {
            out.insert(k, v);
        }
        out
    }

    #[test]
    fn byte_identical_through_create_modify_delete_rollback() {
        let s = Schema::new().unwrap();
        let cache = XmlCache::new();
        let v1 = units(
            &s,
            json!({
                "netloom-host:networks": {"network": [
                    {"name": "n10", "type": "bridge", "mtu": 1500},
                    {"name": "n2", "type": "vxlan", "vxlan": {"vni": 7, "remote": ["192.0.2.1"]}}
                ]},
                "netloom-host:system": {"commit-history": 5000, "user": [{"name": "ann"}]},
                "netloom-host:pods": {"pod": [{"namespace": "ns", "name": "p1",
                    "interface": [{"name": "eth0", "network": "n10"}]}]}
            }),
        );
        let first = check(&s, &cache, &v1);
        let held = cache.len();
        assert_eq!(check(&s, &cache, &v1), first, "a second read is the same");
        assert_eq!(cache.len(), held, "a second read renders nothing new");

        // Modify one entry (a new text for the same key), create one.
        let v2 = replace(
            &s,
            &v1,
            json!({"netloom-host:networks": {"network": [
                {"name": "n10", "type": "bridge", "mtu": 9000, "description": "a<b&c"},
                {"name": "n3", "type": "bridge"}
            ]}}),
        );
        let second = check(&s, &cache, &v2);
        assert!(second.contains("<mtu>9000</mtu>") && second.contains("a&lt;b&amp;c"));
        assert!(
            !second.contains("<mtu>1500</mtu>"),
            "the old rendering is not used"
        );

        // Delete one: gone from the reply.
        let mut v3 = v2.clone();
        let gone = v3.keys().find(|k| k.path.contains("n2")).cloned().unwrap();
        v3.remove(&gone);
        let third = check(&s, &cache, &v3);
        assert!(!third.contains("<name>n2</name>"));

        // Rollback: the old map (its very Arcs) again, and the candidate beside running.
        assert_eq!(check(&s, &cache, &v1), first);
        assert_eq!(check(&s, &cache, &v3), third);

        // A text equal in content but newly allocated (a restart, a reload) renders the same.
        let reloaded: UnitMap = v1
            .iter()
            .map(|(k, v)| (k.clone(), Arc::from(&**v)))
            .collect();
        assert_eq!(check(&s, &cache, &reloaded), first);
    }

    #[test]
    fn warming_renders_exactly_the_changed_entries_ahead_of_reads() {
        let s = Schema::new().unwrap();
        let cache = XmlCache::new();
        let net =
            |i: usize, mtu: u32| json!({"name": format!("n{i}"), "type": "bridge", "mtu": mtu});
        let v1 = units(
            &s,
            json!({"netloom-host:networks": {"network": (0..500).map(|i| net(i, 1500)).collect::<Vec<_>>()},
                   "netloom-host:system": {"commit-history": 5000}}),
        );
        // From nothing: every list entry (not the system remainder, which is no entry).
        assert_eq!(cache.warm(&s, &UnitMap::new(), &v1), 500);
        assert!(v1
            .iter()
            .filter(|(k, _)| s.unit(k.list).list_node().is_some())
            .all(|(_, v)| cache.holds(v)));
        // A read then renders nothing and gives the bytes of a fresh rendering.
        check(&s, &cache, &v1);
        assert_eq!(cache.len(), 500);

        // Two entries changed, one added, one removed: three renderings, shared ones skipped.
        let mut v2 = replace(
            &s,
            &v1,
            json!({"netloom-host:networks": {"network": [net(7, 9000), net(300, 9000), net(900, 1400)]}}),
        );
        let gone = v2.keys().find(|k| k.path.contains("'n8'")).cloned();
        v2.remove(&gone.unwrap());
        assert_eq!(cache.warm(&s, &v1, &v2), 3);
        assert!(v2
            .iter()
            .filter(|(k, _)| s.unit(k.list).list_node().is_some())
            .all(|(_, v)| cache.holds(v)));
        let before = cache.len();
        let read = check(&s, &cache, &v2);
        assert_eq!(cache.len(), before, "the read found every entry rendered");
        assert!(
            read.contains("<name>n900</name><type>bridge</type><mtu>1400</mtu>"),
            "{read}"
        );

        // Warming what a read already rendered adds nothing (no second entry per text).
        assert_eq!(cache.warm(&s, &v1, &v2), 0);
    }

    #[test]
    fn renderings_of_dropped_units_are_swept() {
        let s = Schema::new().unwrap();
        let cache = XmlCache::new();
        let net = |i: usize| json!({"name": format!("n{i}"), "type": "bridge"});
        for round in 0..3 {
            let m = units(
                &s,
                json!({"netloom-host:networks": {"network": (0..3000).map(|i| net(i + round)).collect::<Vec<_>>()}}),
            );
            check(&s, &cache, &m);
        }
        // 9000 renderings made, 6000 of them for texts no map holds now: the sweep ran.
        assert!(cache.len() < 9000, "{}", cache.len());
    }
}
