//! The XML rendering of each stored list entry, kept beside its canonical JSON so a read of a
//! whole list is concatenation. Entries are found by the address of the unit's `Arc<str>`:
//! a unit's text never changes once made (a change makes a new `Arc`), so an entry found at
//! the same live address is the same text, whichever datastore (running, candidate, startup)
//! or commit (rollback reinstalls old `Arc`s) it came from, and a change invalidates exactly
//! the units it replaced. The entry holds a `Weak` of the text: the allocation, and so the
//! address, cannot be reused while the entry exists; entries of texts no datastore holds any
//! more are swept once they outnumber the live ones. Beside the entry as stored, the cache
//! keeps it as each with-defaults mode shows it ([`crate::DefaultsMode`]), once such a read
//! has come.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, Weak};

use crate::error::Error;
use crate::schema::{NodeId, Schema};
use imbl::ordmap::DiffItem;

use crate::defaults_xml::DefaultsMode;
use crate::unit::{UnitKey, UnitListId, UnitMap};
use crate::xml_out::{needs_libyang, render_entry, EntrySource, Out};
use crate::xml_template::Templates;

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

/// Renderings of one kind, by text address.
#[derive(Default)]
pub(crate) struct Renderings {
    by_address: HashMap<usize, Rendered, BuildHasherDefault<AddrHasher>>,
    /// How many were left by the last sweep: the next comes when twice as many are held.
    after_sweep: usize,
}

impl Renderings {
    /// The rendering of exactly this text (this allocation), if held: `Some(None)` when
    /// the text cannot be rendered this way.
    pub(crate) fn get(&self, text: &Arc<str>) -> Option<Option<&str>> {
        self.by_address
            .get(&address(text))
            .filter(|r| std::ptr::addr_eq(r.text.as_ptr(), Arc::as_ptr(text)))
            .map(|r| r.xml.as_deref())
    }

    /// Keep `xml` for `text` unless a rendering is held already (a racing reader's or
    /// warmer's, the same bytes); whether it was added.
    pub(crate) fn insert(&mut self, text: &Arc<str>, xml: Option<Box<str>>) -> bool {
        match self.by_address.entry(address(text)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Rendered {
                    text: Arc::downgrade(text),
                    xml,
                });
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    /// Drop the renderings of texts no datastore holds any more, once they may outnumber
    /// the live ones.
    pub(crate) fn sweep_if_due(&mut self) {
        if self.by_address.len() > 2 * self.after_sweep + 4096 {
            self.by_address.retain(|_, r| r.text.strong_count() > 0);
            self.after_sweep = self.by_address.len();
        }
    }
}

#[derive(Default)]
pub(crate) struct Entries {
    /// Entries as stored (get-config's plain read).
    pub(crate) plain: Renderings,
    /// Entries as each with-defaults mode shows them, indexed by
    /// [`crate::DefaultsMode::index`]; empty until such a read comes.
    pub(crate) modes: [Renderings; 3],
}

impl Entries {
    /// The renderings of one kind (`None`: as stored).
    pub(crate) fn kind(&mut self, mode: Option<DefaultsMode>) -> &mut Renderings {
        match mode {
            None => &mut self.plain,
            Some(m) => &mut self.modes[m.index()],
        }
    }
}

/// Renderings of list entry units, shared by every reader.
#[derive(Default)]
pub struct XmlCache {
    entries: Mutex<Entries>,
    /// How entries of each shape look in each with-defaults mode.
    pub(crate) templates: Templates,
}

impl std::fmt::Debug for XmlCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .entries
            .lock()
            .map(|e| e.plain.by_address.len())
            .unwrap_or(0);
        f.debug_struct("XmlCache").field("entries", &n).finish()
    }
}

impl XmlCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many plain renderings are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .map(|e| e.plain.by_address.len())
            .unwrap_or(0)
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
        let hit = self.entries().plain.get(text);
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
                self.entries().plain.insert(text, xml);
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
        cached.entries().plain.sweep_if_due();
        result
    }
}

/// One entry of list node `list` rendered alone with `ns` (its root container's namespace)
/// in effect: the bytes it gets inside the root container. `None` when a value needs
/// libyang's encoding.
pub(crate) fn render(
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
pub(crate) const WARM_BATCH: usize = 256;

impl XmlCache {
    /// Render ahead the list entries that `new` holds and `old` did not (added, or a new
    /// text for a key), so the next read copies them: as stored, and as each with-defaults
    /// mode shows them once a read in that mode has come (most hosts never ask for one).
    /// Shared subtrees of the two maps are not visited: a commit of a few entries costs a
    /// few lookups, not a walk of the datastore. The lock is held only to look up and to
    /// insert, never while rendering; an entry a racing read rendered meanwhile is kept and
    /// this rendering dropped, so an address never has two entries. Returns how many
    /// renderings were added.
    pub fn warm(&self, schema: &Schema, old: &UnitMap, new: &UnitMap) -> usize {
        // From the last changed entry back: a read that comes meanwhile renders what it
        // misses from the first on, and the two meet halfway.
        let changed: Vec<_> = old
            .diff(new)
            .filter_map(|d| match d {
                DiffItem::Add(k, v) | DiffItem::Update { new: (k, v), .. } => Some((k.list, v)),
                DiffItem::Remove(..) => None,
            })
            .filter(|(list, _)| schema.unit(*list).list_node().is_some())
            .collect();
        if changed.is_empty() {
            return 0;
        }
        let in_use: Vec<DefaultsMode> = {
            let entries = self.lock();
            DefaultsMode::ALL
                .into_iter()
                .filter(|m| !entries.modes[m.index()].by_address.is_empty())
                .collect()
        };
        let mut added = self.warm_kind(&changed, None, |list, v| {
            let unit = schema.unit(list);
            let node = unit.list_node().ok_or_else(String::new)?;
            render(schema, node, schema.node(unit.root()).namespace, v)
        });
        // Only entries the with-defaults reads take from the cache.
        let sensitivity = schema.default_sensitivity();
        let per_entry: Vec<_> = changed
            .iter()
            .copied()
            .filter(|(list, _)| sensitivity.defaults_per_entry(*list))
            .collect();
        for mode in in_use {
            added += self.warm_kind(&per_entry, Some(mode), |list, v| {
                schema.entry_xml_by_shape(list, v, mode, self).map(Some)
            });
        }
        added
    }

    /// [`XmlCache::warm`] for one kind of rendering (`None`: as stored).
    fn warm_kind(
        &self,
        changed: &[(UnitListId, &Arc<str>)],
        mode: Option<DefaultsMode>,
        render: impl Fn(UnitListId, &Arc<str>) -> Result<Option<Box<str>>, String>,
    ) -> usize {
        let mut added = 0;
        for batch in changed.rchunks(WARM_BATCH) {
            let missing: Vec<_> = {
                let mut entries = self.lock();
                let held = entries.kind(mode);
                batch
                    .iter()
                    .rev()
                    .filter(|(_, v)| held.get(v).is_none())
                    .collect()
            };
            let rendered: Vec<_> = missing
                .into_iter()
                .filter_map(|&(list, v)| match render(list, v) {
                    Ok(xml) => Some((v, xml)),
                    // Not stored data's fault to fix here: the read reports it.
                    Err(_) => None,
                })
                .collect();
            let mut entries = self.lock();
            let held = entries.kind(mode);
            for (v, xml) in rendered {
                if held.insert(v, xml) {
                    added += 1;
                }
            }
            held.sweep_if_due();
        }
        added
    }

    /// Whether the cache holds a rendering of exactly this text (this allocation).
    pub fn holds(&self, text: &Arc<str>) -> bool {
        self.lock().plain.get(text).is_some()
    }

    /// Whether the cache holds a rendering of exactly this text as `mode` shows it.
    pub fn holds_as(&self, text: &Arc<str>, mode: DefaultsMode) -> bool {
        self.lock().modes[mode.index()].get(text).is_some()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
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
