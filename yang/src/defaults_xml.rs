//! Stored units as XML in the with-defaults modes (RFC 6243) that change what a read shows:
//! report-all, report-all-tagged and trim, entry by entry. The general way (the whole
//! datastore as one libyang tree, its implicit nodes added, printed, converted again) costs
//! ~30 µs per entry on every read. Here each list entry is one small tree of its own, and
//! its rendering is kept in [`XmlCache`] beside the plain one, by the address of the unit's
//! text; so a read of an unchanged entry is a copy, and a commit re-renders (ahead, in the
//! warmer) only what it changed.
//!
//! That is exact only where an entry's implicit nodes follow from the entry alone and the
//! root containers' from their own content: [`DefaultSensitivity::defaults_per_entry`]
//! (no `when` outside the unit lists, every `when` inside an entry reads that entry only).
//! Elsewhere the writer declines and the caller goes the general way. Every element is
//! printed by libyang, so values, `when`, choice defaults and the tagged attribute are
//! libyang's; the one change is the default namespace declaration of an element printed
//! alone, which inside its parent it does not repeat.
//!
//! [`DefaultSensitivity::defaults_per_entry`]: crate::DefaultSensitivity::defaults_per_entry
#![allow(unsafe_code)] // libyang FFI: one entry's implicit nodes (yang3 adds a whole tree's).

use std::collections::HashMap;
use std::sync::Arc;

use yang3::data::{
    DataFormat, DataImplicitFlags, DataNodeRef, DataParserFlags, DataPrinterFlags, DataTree,
    DataValidationFlags,
};
use yang3::ffi;

use crate::error::Error;
use crate::schema::{NodeId, Schema};
use crate::unit::{UnitKey, UnitListId};
use crate::xml_cache::{XmlCache, WARM_BATCH};
use crate::xml_template::Renderer;

/// A with-defaults retrieval mode that changes the data a read shows (`explicit` is the
/// plain read: netloom stores exactly what was set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultsMode {
    /// Every default made explicit.
    ReportAll,
    /// Every default made explicit and tagged `default="true"` (RFC 6243 section 6).
    ReportAllTagged,
    /// Values equal to their default left out.
    Trim,
}

/// The namespace libyang gives the tagged `default` attribute (the module's) and the one
/// RFC 6243 section 6 gives it in XML.
const NS_MODULE: &str = "\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\"";
const NS_ATTRIBUTE: &str = "\"urn:ietf:params:xml:ns:netconf:default:1.0\"";

impl DefaultsMode {
    pub const ALL: [DefaultsMode; 3] = [
        DefaultsMode::ReportAll,
        DefaultsMode::ReportAllTagged,
        DefaultsMode::Trim,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn adds_defaults(self) -> bool {
        self != DefaultsMode::Trim
    }

    fn printer(self) -> DataPrinterFlags {
        DataPrinterFlags::SHRINK
            | match self {
                DefaultsMode::ReportAll => DataPrinterFlags::WD_ALL,
                DefaultsMode::ReportAllTagged => {
                    DataPrinterFlags::from_bits_retain(ffi::LYD_PRINT_WD_ALL_TAG)
                }
                DefaultsMode::Trim => DataPrinterFlags::WD_TRIM,
            }
    }

    /// One node (and what is under it) in this mode.
    fn print(self, node: &DataNodeRef<'_>) -> Result<String, String> {
        let xml = crate::print_data(node, DataFormat::XML, self.printer())
            .map_err(|e| format!("printing data: {e}"))?;
        Ok(if self == DefaultsMode::ReportAllTagged {
            xml.replace(NS_MODULE, NS_ATTRIBUTE)
        } else {
            xml
        })
    }
}

/// `xml`, an element named `name` printed alone (so declaring its default namespace `ns`),
/// as it reads inside a parent whose default namespace is `parent`.
fn inside(mut xml: String, name: &str, ns: Option<&str>, parent: Option<&str>) -> String {
    if let (Some(ns), true) = (ns, ns == parent) {
        let decl_at = 1 + name.len();
        let decl = format!(" xmlns=\"{ns}\"");
        if xml.get(decl_at..decl_at + decl.len()) == Some(decl.as_str()) {
            xml.replace_range(decl_at..decl_at + decl.len(), "");
        }
    }
    xml
}

/// One entry to render, for [`crate::xml_template::Templates::render`].
struct Entry<'a> {
    schema: &'a Schema,
    list: UnitListId,
    text: &'a Arc<str>,
    mode: DefaultsMode,
    /// Where the plain rendering may already be.
    cache: &'a XmlCache,
}

impl Renderer for Entry<'_> {
    fn plain(&self) -> Option<String> {
        if let Some(Some(xml)) = self.cache.lock().plain.get(self.text) {
            return Some(xml.to_owned());
        }
        let def = self.schema.unit(self.list);
        let ns = self.schema.node(def.root()).namespace;
        crate::xml_cache::render(self.schema, def.list_node()?, ns, self.text)
            .ok()
            .flatten()
            .map(String::from)
    }

    fn shown(&self) -> Result<Box<str>, String> {
        self.schema.entry_xml(self.list, self.text, self.mode)
    }
}

fn parse<'a>(schema: &'a Schema, doc: String) -> Result<DataTree<'a>, String> {
    DataTree::parse_string(
        schema.context(),
        doc,
        DataFormat::JSON,
        DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
        DataValidationFlags::empty(),
    )
    .map_err(|e| format!("reading stored data: {e}"))
}

impl Schema {
    /// One entry of unit list `list`, whose canonical JSON is `text`, as `mode` shows it
    /// right inside its root container.
    pub(crate) fn entry_xml(
        &self,
        list: UnitListId,
        text: &str,
        mode: DefaultsMode,
    ) -> Result<Box<str>, String> {
        let def = self.unit(list);
        let node = def.list_node().ok_or("not a list entry")?;
        let root = def.root();
        let doc = format!(
            "{{\"{}\":{{\"{}\":[{text}]}}}}",
            self.member_name(root),
            self.member_name(node)
        );
        let tree = parse(self, doc)?;
        let entry = tree
            .reference()
            .and_then(|top| top.children().next())
            .ok_or("no entry parsed")?;
        if mode.adds_defaults() {
            // SAFETY: `entry` is a node of `tree`, which lives until the end of this call.
            let r = unsafe {
                ffi::lyd_new_implicit_tree(
                    entry.as_raw(),
                    DataImplicitFlags::NO_STATE.bits(),
                    std::ptr::null_mut(),
                )
            };
            if r != ffi::LY_ERR::LY_SUCCESS {
                return Err(format!("adding an entry's defaults failed ({r})"));
            }
        }
        let info = self.node(node);
        let xml = inside(
            mode.print(&entry)?,
            &info.name,
            info.namespace,
            self.node(root).namespace,
        );
        Ok(xml.into_boxed_str())
    }

    /// [`Schema::entry_xml`], made from the template of the entry's shape where one is known
    /// (see [`crate::xml_template`]).
    pub(crate) fn entry_xml_by_shape(
        &self,
        list: UnitListId,
        text: &Arc<str>,
        mode: DefaultsMode,
        cache: &XmlCache,
    ) -> Result<Box<str>, String> {
        let inert = self
            .default_sensitivity()
            .rendering_inert(list, mode != DefaultsMode::ReportAll);
        let entry = Entry {
            schema: self,
            list,
            text,
            mode,
            cache,
        };
        cache.templates.render(list, mode, inert, &entry)
    }

    /// The members of the root containers in `whole` other than unit-list entries, as
    /// `mode` shows them, from the remainder units among `units`: by schema node, each
    /// node's instances in order. In the modes that add defaults, a root container with no
    /// stored content still has its defaults.
    fn skeleton(
        &self,
        units: &[(&UnitKey, &Arc<str>)],
        whole: &[NodeId],
        mode: DefaultsMode,
    ) -> Result<HashMap<NodeId, String>, String> {
        let remainders = units.iter().filter(|(k, _)| {
            let def = self.unit(k.list);
            def.is_remainder() && whole.contains(&def.root())
        });
        let doc = self.to_json(remainders.map(|(k, v)| (*k, &***v)));
        let mut tree = if doc == "{}" {
            DataTree::new(self.context())
        } else {
            parse(self, doc)?
        };
        if mode.adds_defaults() {
            tree.add_implicit(DataImplicitFlags::NO_STATE)
                .map_err(|e| format!("adding defaults: {e}"))?;
        }
        let mut members: HashMap<NodeId, String> = HashMap::new();
        let Some(first) = tree.reference() else {
            return Ok(members);
        };
        let id_among = |ids: &[NodeId], node: &DataNodeRef<'_>| {
            // SAFETY: a node of the live tree; its schema node is the context's.
            let raw = unsafe { (*node.as_raw()).schema } as usize;
            ids.iter().copied().find(|&id| self.node(id).raw == raw)
        };
        let roots = whole_roots(self);
        for top in first.inclusive_siblings() {
            let root = id_among(&roots, &top)
                .ok_or("a top-level node outside netloom's root containers")?;
            if !whole.contains(&root) {
                continue;
            }
            let info = self.node(root);
            for child in top.children() {
                let id = id_among(&info.children, &child).ok_or("an unknown member")?;
                let c = self.node(id);
                let xml = inside(mode.print(&child)?, &c.name, c.namespace, info.namespace);
                members.entry(id).or_default().push_str(&xml);
            }
        }
        Ok(members)
    }

    /// Write `units` (sorted, as a [`crate::UnitMap`] iterates) as XML elements in `mode`,
    /// each root container once, its members in schema order, list entries copied from
    /// `cache` (and rendered into it where missing). The root containers in `whole` are
    /// read whole: their other members come too, and in the modes that add defaults they
    /// appear with only defaults when nothing is stored. `Ok(false)`: these units' defaults
    /// do not follow entry by entry (or a value defeats this way), the caller goes the
    /// general way, and `out` is as it was.
    pub fn write_units_xml_defaults(
        &self,
        units: &[(&UnitKey, &Arc<str>)],
        whole: &[NodeId],
        mode: DefaultsMode,
        cache: &XmlCache,
        out: &mut String,
    ) -> Result<bool, Error> {
        let sensitivity = self.default_sensitivity();
        if sensitivity.whens_outside()
            || whole_roots(self)
                .into_iter()
                .any(|r| self.node(r).namespace.is_none())
            || units.iter().any(|(k, _)| {
                !self.unit(k.list).is_remainder() && !sensitivity.defaults_per_entry(k.list)
            })
        {
            return Ok(false);
        }
        let Ok(members) = self.skeleton(units, whole, mode) else {
            return Ok(false);
        };
        let start = out.len();
        let mut missing = Vec::new();
        if self.assemble(units, &members, mode, cache, out, &mut missing) {
            return Ok(true);
        }
        // Render what the cache lacks, unlocked, a batch at a time: the warmer, rendering a
        // change from its last entry back, stores what it makes meanwhile, and that is not
        // made again here (the two meet halfway). Then assemble again.
        out.truncate(start);
        for batch in missing.chunks(WARM_BATCH) {
            let todo: Vec<_> = {
                let mut entries = cache.lock();
                let held = entries.kind(Some(mode));
                batch
                    .iter()
                    .filter(|(_, text)| held.get(text).is_none())
                    .copied()
                    .collect()
            };
            let mut rendered = Vec::with_capacity(todo.len());
            for (list, text) in todo {
                match self.entry_xml_by_shape(list, text, mode, cache) {
                    Ok(xml) => rendered.push((text, xml)),
                    Err(_) => return Ok(false),
                }
            }
            let mut entries = cache.lock();
            let held = entries.kind(Some(mode));
            for (text, xml) in rendered {
                held.insert(text, Some(xml));
            }
            held.sweep_if_due();
        }
        let mut still = Vec::new();
        if self.assemble(units, &members, mode, cache, out, &mut still) {
            Ok(true)
        } else {
            // Swept between the two passes: the general way answers.
            out.truncate(start);
            Ok(false)
        }
    }

    /// Append the roots of `units` with cached entries; false (with `missing` filled) when
    /// some entry has no rendering yet.
    fn assemble<'u>(
        &self,
        units: &[(&'u UnitKey, &'u Arc<str>)],
        members: &HashMap<NodeId, String>,
        mode: DefaultsMode,
        cache: &XmlCache,
        out: &mut String,
        missing: &mut Vec<(UnitListId, &'u Arc<str>)>,
    ) -> bool {
        let mut entries = cache.lock();
        let held = entries.kind(Some(mode));
        for root in whole_roots(self) {
            let info = self.node(root);
            // Every root has one (checked by the caller).
            let ns = info.namespace.unwrap_or_default();
            let mine: Vec<_> = units
                .iter()
                .filter(|(k, _)| {
                    let def = self.unit(k.list);
                    def.root() == root && !def.is_remainder()
                })
                .collect();
            let open_at = out.len();
            out.push('<');
            out.push_str(&info.name);
            out.push_str(" xmlns=\"");
            out.push_str(ns);
            out.push_str("\">");
            let content_at = out.len();
            for &child in &info.children {
                if let Some(list) = self.node(child).unit {
                    for (_, text) in mine.iter().filter(|(k, _)| k.list == list) {
                        match held.get(text) {
                            Some(Some(xml)) => out.push_str(xml),
                            _ => missing.push((list, *text)),
                        }
                    }
                } else if let Some(xml) = members.get(&child) {
                    out.push_str(xml);
                }
            }
            if out.len() == content_at {
                out.truncate(open_at);
            } else {
                out.push_str("</");
                out.push_str(&info.name);
                out.push('>');
            }
        }
        missing.is_empty()
    }
}

/// The root containers netloom stores, in schema order.
fn whole_roots(schema: &Schema) -> Vec<NodeId> {
    schema
        .units()
        .iter()
        .filter(|d| d.is_remainder())
        .map(|d| d.root())
        .collect()
}

#[cfg(test)]
mod tests {
    use yang3::data::DataPrinterFlags;

    use super::*;
    use crate::defaults::networks_of_every_type;
    use crate::unit::UnitMap;

    const MORE: &str = r#","netloom-host:pods":{"pod":[{"namespace":"a","name":"p","interface":[{"name":"eth0","network":"n0"}]}]},
        "netloom-host:services":{"service":[{"namespace":"a","name":"s","port":[{"name":"p","port":80}]},
            {"namespace":"a","name":"np","type":"node-port","port":[{"name":"p","port":81,"protocol":"udp"}]}]},
        "netloom-host:policies":{"policy":[{"name":"pol","applies-to":{"network":["n0"]},
            "rule":[{"seq":10,"direction":"ingress","action":"drop","protocol":"tcp"}]}]},
        "netloom-host:system":{"user":[{"name":"ann"}]}"#;

    fn units(s: &Schema, doc: &str) -> UnitMap {
        s.split(serde_json::from_str(doc).unwrap())
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, Arc::from(v.to_string())))
            .collect()
    }

    /// The whole document as one libyang tree, its implicit nodes added at once, printed.
    fn whole(s: &Schema, doc: &str, mode: DefaultsMode) -> String {
        let mut tree = if doc == "{}" {
            DataTree::new(s.context())
        } else {
            parse(s, doc.to_owned()).unwrap()
        };
        if mode.adds_defaults() {
            tree.add_implicit(DataImplicitFlags::NO_STATE).unwrap();
        }
        if tree.reference().is_none() {
            return String::new();
        }
        let xml = crate::print_data(
            &tree,
            DataFormat::XML,
            mode.printer() | DataPrinterFlags::WITH_SIBLINGS,
        )
        .unwrap();
        xml.replace(NS_MODULE, NS_ATTRIBUTE)
    }

    fn ours(s: &Schema, m: &UnitMap, mode: DefaultsMode, cache: &XmlCache) -> String {
        let units: Vec<_> = m.iter().collect();
        let mut out = String::from("<data>");
        assert!(s
            .write_units_xml_defaults(&units, &whole_roots(s), mode, cache, &mut out)
            .unwrap());
        out.split_off("<data>".len())
    }

    #[test]
    fn entry_by_entry_is_what_the_whole_tree_prints() {
        let s = Schema::new().unwrap();
        for doc in [
            networks_of_every_type(40, MORE),
            networks_of_every_type(3, ""),
            r#"{"netloom-host:system":{"commit-history":1000}}"#.to_owned(),
            "{}".to_owned(),
        ] {
            let m = units(&s, &doc);
            for mode in DefaultsMode::ALL {
                let cache = XmlCache::new();
                let expected = whole(&s, &doc, mode);
                assert_eq!(ours(&s, &m, mode, &cache), expected, "{mode:?} {doc}");
                // From the cache: the same bytes.
                assert_eq!(ours(&s, &m, mode, &cache), expected, "{mode:?} {doc}");
            }
        }
        // The modes do what they say.
        let m = units(&s, &networks_of_every_type(8, MORE));
        let cache = XmlCache::new();
        let all = ours(&s, &m, DefaultsMode::ReportAll, &cache);
        assert!(
            all.contains("<commit-history>1000</commit-history>"),
            "{all}"
        );
        assert!(all.contains("<port>4789</port>"), "{all}");
        assert_eq!(all.matches("<port>4789</port>").count(), 1, "one vxlan");
        let tagged = ours(&s, &m, DefaultsMode::ReportAllTagged, &cache);
        assert!(
            tagged.contains(r#"<port xmlns:ncwd="urn:ietf:params:xml:ns:netconf:default:1.0" ncwd:default="true">4789</port>"#),
            "{tagged}"
        );
        let trim = ours(&s, &m, DefaultsMode::Trim, &cache);
        assert!(!trim.contains("<port>4789</port>"), "{trim}");
        assert!(
            trim.contains("<mtu>1500</mtu>"),
            "mtu has no default: {trim}"
        );
        assert!(trim.contains("<vni>7</vni>"), "{trim}");
    }

    /// `n` networks of every type whose values vary (names, numbers, addresses, a value equal
    /// to its default or not, optional members there or not), as a pseudo-random sequence.
    fn varied_networks(n: usize) -> String {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let nets: Vec<String> = (0..n)
            .map(|i| {
                // Members in schema order, as stored texts have them.
                let mut m = vec![format!(r#""name":"net-{i}-{}""#, next(1000))];
                if next(3) == 0 {
                    m.push(format!(r#""description":"d{} <&> x""#, next(50)));
                }
                let mtu = if next(2) == 0 {
                    format!(r#","mtu":{}"#, 1280 + next(8000))
                } else {
                    String::new()
                };
                let kind = match next(7) {
                    0 => format!(r#""type":"bridge"{mtu}"#),
                    1 => format!(
                        r#""type":"bridge"{mtu},"bridge":{{"gateway":{},"hairpin":{}}}"#,
                        next(2) == 0,
                        next(2) == 0
                    ),
                    2 => format!(
                        r#""type":"vxlan"{mtu},"vxlan":{{"vni":{},"port":{}}}"#,
                        1 + next(100_000),
                        [4789, 4790, 8472][next(3) as usize]
                    ),
                    3 => format!(r#""type":"macvlan","uplink":"eth{}"{mtu}"#, next(4)),
                    4 => format!(
                        r#""type":"sriov"{mtu},"sriov":{{"physical-function":"pf{}","mode":"{}"}}"#,
                        next(3),
                        ["netdev", "vfio"][next(2) as usize]
                    ),
                    5 => format!(
                        r#""type":"host-device"{mtu},"host-device":{{"device":"eth{}"}}"#,
                        next(9)
                    ),
                    // The same members as a bare bridge; other implicit nodes.
                    _ => format!(r#""type":"ovs-dpdk"{mtu}"#),
                };
                m.push(kind);
                if next(2) == 0 {
                    m.push(format!(
                        r#""ipam":{{"pool":[{{"name":"p","subnet":"10.{}.0.0/16","gateway":"10.{}.0.1"}}]}}"#,
                        next(250),
                        next(250)
                    ));
                }
                format!("{{{}}}", m.join(","))
            })
            .collect();
        format!(
            r#"{{"netloom-host:networks":{{"network":[{}]}}}}"#,
            nets.join(",")
        )
    }

    #[test]
    fn entries_of_one_shape_are_rendered_from_its_template() {
        let s = Schema::new().unwrap();
        let doc = varied_networks(300);
        let m = units(&s, &doc);
        for mode in DefaultsMode::ALL {
            let cache = XmlCache::new();
            assert_eq!(
                ours(&s, &m, mode, &cache),
                whole(&s, &doc, mode),
                "{mode:?}"
            );
            // Most entries came from templates: far fewer shapes than entries, and every
            // shape's template learnt.
            let (with, without) = cache.templates.counts();
            assert!(with > 0 && without == 0, "{mode:?}: {with} {without}");
            assert!(with * 3 < 300, "{mode:?}: {with} shapes");
        }
        // An inert value (the name) is blanked from the shape; a value a `when` reads (the
        // type) and, where the mode compares values with defaults, a defaulted one are not.
        let cache = XmlCache::new();
        let nets = s.unit_by_names("networks", "network").unwrap();
        let by_shape = |text: &str, mode| {
            s.entry_xml_by_shape(nets, &Arc::from(text), mode, &cache)
                .unwrap()
        };
        let vx = |name: &str, port: u32| {
            format!(r#"{{"name":"{name}","type":"vxlan","vxlan":{{"vni":5,"port":{port}}}}}"#)
        };
        for mode in DefaultsMode::ALL {
            for text in [vx("a", 4789), vx("b", 4789), vx("c", 4790), vx("d", 4789)] {
                assert_eq!(
                    by_shape(&text, mode),
                    s.entry_xml(nets, &text, mode).unwrap()
                );
            }
        }
        let (with, _) = cache.templates.counts();
        assert_eq!(
            with,
            1 + 2 + 2,
            "report-all: one shape; tagged and trim: two each"
        );
    }

    #[test]
    fn only_the_roots_read_whole_get_their_other_members() {
        let s = Schema::new().unwrap();
        let m = units(&s, &networks_of_every_type(4, MORE));
        let nets = s.unit_by_names("networks", "network").unwrap();
        let chosen: Vec<_> = m.iter().filter(|(k, _)| k.list == nets).collect();
        let mut out = String::new();
        let cache = XmlCache::new();
        assert!(s
            .write_units_xml_defaults(&chosen, &[], DefaultsMode::ReportAll, &cache, &mut out)
            .unwrap());
        assert!(
            out.starts_with(
                r#"<networks xmlns="urn:netloom:yang:netloom-host"><network><name>n0</name>"#
            ),
            "{out}"
        );
        assert!(!out.contains("<system") && !out.contains("<pod>"), "{out}");
        // The system root, read whole with nothing stored, shows its defaults.
        let system = s.unit(s.unit_by_names("system", "user").unwrap()).root();
        out.clear();
        assert!(s
            .write_units_xml_defaults(&[], &[system], DefaultsMode::ReportAll, &cache, &mut out)
            .unwrap());
        assert_eq!(
            out,
            r#"<system xmlns="urn:netloom:yang:netloom-host"><commit-history>1000</commit-history></system>"#
        );
    }

    #[test]
    fn renderings_follow_the_texts_and_warm_only_modes_in_use() {
        let s = Schema::new().unwrap();
        let cache = XmlCache::new();
        let v1 = units(&s, &networks_of_every_type(100, ""));
        // No with-defaults read yet: warming renders the plain form only.
        assert_eq!(cache.warm(&s, &UnitMap::new(), &v1), 100);
        let any = v1.values().next().unwrap();
        assert!(!cache.holds_as(any, DefaultsMode::ReportAll));
        let first = ours(&s, &v1, DefaultsMode::ReportAll, &cache);
        assert!(v1
            .iter()
            .filter(|(k, _)| !s.unit(k.list).is_remainder())
            .all(|(_, v)| cache.holds_as(v, DefaultsMode::ReportAll)));
        // n1 becomes a bridge: its rendering is made anew, by the warmer, in both forms
        // (trim was never read: not warmed).
        let mut v2 = v1.clone();
        let changed = units(
            &s,
            r#"{"netloom-host:networks":{"network":[{"name":"n1","type":"bridge"}]}}"#,
        );
        for (k, v) in changed {
            v2.insert(k, v);
        }
        assert_eq!(cache.warm(&s, &v1, &v2), 2);
        let n1 = v2.iter().find(|(k, _)| k.path.contains("'n1'")).unwrap().1;
        assert!(cache.holds_as(n1, DefaultsMode::ReportAll));
        assert!(!cache.holds_as(n1, DefaultsMode::Trim));
        let second = ours(&s, &v2, DefaultsMode::ReportAll, &cache);
        assert_ne!(first, second);
        assert_eq!(second, whole(&s, &doc_of(&s, &v2), DefaultsMode::ReportAll));
        // The old version, its very texts, still reads as it did.
        assert_eq!(ours(&s, &v1, DefaultsMode::ReportAll, &cache), first);
    }

    fn doc_of(s: &Schema, m: &UnitMap) -> String {
        s.to_json(m.iter().map(|(k, v)| (k, &**v)))
    }
}
