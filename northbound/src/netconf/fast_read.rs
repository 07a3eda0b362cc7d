//! The fast path of configuration reads (get-config, get-data on a configuration datastore):
//! the stored canonical units rendered straight to XML, and subtree filters that select
//! whole root containers, whole unit lists or list entries by their keys answered by picking
//! units from the sorted map. Everything else (XPath, with-defaults modes that change the
//! data, content matches on non-key leaves, partial selections) returns None and goes the
//! general way (JSON document, filter walk, libyang), which gives the same bytes where both
//! apply (see the tests).

use std::sync::Arc;

use imbl::ordmap::DiffItem;
use netloom_yang::{DefaultsMode, NodeId, Schema, UnitKey, UnitMap, XmlCache};
use serde_json::Value;

use super::data::module_of;
use super::errors::RpcError;
use super::render::{Read, Selection, WithDefaults};
use super::xml::Element;

/// The units one top-level filter element selects.
#[derive(Debug, PartialEq)]
pub(crate) enum Pick {
    Root(NodeId),
    List(netloom_yang::UnitListId),
    Entry(UnitKey),
}

/// What a subtree filter selects, if it is one the fast path understands.
fn picks(schema: &Schema, filter: &Element) -> Option<Vec<Pick>> {
    let mut out = Vec::new();
    let mut roots = Vec::new();
    for c in &filter.children {
        let module = module_of(schema, &c.ns)?;
        let root = schema.root(&module, &c.name)?;
        if roots.contains(&root) || !c.attrs.is_empty() {
            // Two filters on one root merge their selections: the general path does that.
            return None;
        }
        roots.push(root);
        if c.children.is_empty() {
            if !c.text().is_empty() {
                return None;
            }
            out.push(Pick::Root(root));
            continue;
        }
        let [e] = c.children.as_slice() else {
            return None;
        };
        if e.ns != c.ns || !e.attrs.is_empty() || !e.text().is_empty() {
            return None;
        }
        let list = schema
            .node(schema.child(root, Some(&module), &e.name)?)
            .unit?;
        if e.children.is_empty() {
            out.push(Pick::List(list));
            continue;
        }
        // Exactly the keys, each a content match: one entry, whole.
        let keys = schema.unit(list).keys();
        if e.children.len() != keys.len() {
            return None;
        }
        let mut values = Vec::with_capacity(keys.len());
        for k in keys {
            let m = e.children.iter().find(|m| *m.name == **k)?;
            if m.ns != c.ns || !m.children.is_empty() || m.text().is_empty() {
                return None;
            }
            values.push(m.text());
        }
        out.push(Pick::Entry(schema.unit_key(list, &values).ok()?));
    }
    Some(out)
}

/// A guess of a read's size: the XML of a whole datastore is about twice its JSON, which the
/// map does not keep a total of; an estimate from the entry count saves a dozen doublings.
pub fn size_hint(units: &UnitMap) -> usize {
    units.len() * 160
}

/// What a plain read selects, in the terms of the fast path.
#[derive(Debug, PartialEq)]
pub(crate) enum Plan {
    /// Everything (no filter).
    All,
    /// The units these filter elements select.
    Picks(Vec<Pick>),
}

/// The fast path's plan for `selection`; None when the general path must answer.
pub(crate) fn plan(schema: &Schema, selection: &Selection<'_>) -> Option<Plan> {
    match selection {
        Selection::All => Some(Plan::All),
        Selection::Subtree(f) => picks(schema, f).map(Plan::Picks),
        Selection::XPath { select, prefixes } => {
            let expr = super::render::module_prefixed(schema, select, prefixes).ok()?;
            xpath_pick(schema, &expr).map(|p| Plan::Picks(vec![p]))
        }
    }
}

/// What an XPath (module-prefixed, libyang's JSON form) selects when it is one of the
/// forms that name whole units: `/m:root`, `/m:root/m:list`, or that list with one
/// `[key='value']` predicate per key (in any order, literals in either quote). Each
/// selected node comes with its ancestors, so these read as the subtree filters naming the
/// same things do. Anything else (another axis, a function, a union, a deeper node, a
/// non-key predicate, spaces) is left to libyang.
fn xpath_pick(schema: &Schema, expr: &str) -> Option<Pick> {
    /// `[module:]name` at the start of `s`, and the rest.
    fn qname(s: &str) -> Option<((Option<&str>, &str), &str)> {
        let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
        let end = s.find(|c: char| !is_name(c) && c != ':').unwrap_or(s.len());
        let (name, rest) = s.split_at(end);
        let q = match name.split_once(':') {
            Some((m, n)) => (Some(m), n),
            None => (None, name),
        };
        let ok = |x: &str| x.starts_with(|c: char| c.is_alphabetic() || c == '_');
        (ok(q.1) && q.0.is_none_or(ok) && !q.1.contains(':')).then_some((q, rest))
    }
    let rest = expr.strip_prefix('/')?;
    let ((module, root_name), rest) = qname(rest)?;
    let root = schema.root(module?, root_name)?;
    let root_module = schema.node(root).module.clone();
    if rest.is_empty() {
        return Some(Pick::Root(root));
    }
    let rest = rest.strip_prefix('/')?;
    let ((module, list_name), mut rest) = qname(rest)?;
    let node = schema.child(root, Some(module.unwrap_or(&root_module)), list_name)?;
    let list = schema.node(node).unit?;
    let list_module = schema.node(node).module.clone();
    if rest.is_empty() {
        return Some(Pick::List(list));
    }
    let keys = schema.unit(list).keys();
    let mut values: Vec<Option<&str>> = vec![None; keys.len()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let ((module, key), after) = qname(inner)?;
        if module.is_some_and(|m| m != list_module) {
            return None;
        }
        let after = after.strip_prefix('=')?;
        let quote = after.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
        let literal = &after[1..];
        let close = literal.find(quote)?;
        let (value, after) = (&literal[..close], &literal[close + 1..]);
        rest = after.strip_prefix(']')?;
        let i = keys.iter().position(|k| k == key)?;
        if values[i].replace(value).is_some() {
            return None;
        }
    }
    let values: Option<Vec<&str>> = values.into_iter().collect();
    Some(Pick::Entry(schema.unit_key(list, &values?).ok()?))
}

/// How many units a change to running must touch for its likely reads to be rendered
/// before it is answered (see `Ctx::prerender_running`): a bulk change, never the one-entry
/// edits whose latency counts.
pub(crate) const PRERENDER_FROM: usize = 4096;

/// The plain reads to render after running went from `before` to `after`: everything and
/// each root container the change touched, when it touched at least [`PRERENDER_FROM`]
/// units. Persistent maps share what did not change, so a small change is found small
/// without a walk of the datastore.
pub(crate) fn prerender_plans(schema: &Schema, before: &UnitMap, after: &UnitMap) -> Vec<Plan> {
    let mut roots: Vec<NodeId> = Vec::new();
    let mut touched = 0;
    for d in before.diff(after) {
        let (DiffItem::Add(k, _) | DiffItem::Remove(k, _) | DiffItem::Update { new: (k, _), .. }) =
            d;
        let root = schema.unit(k.list).root();
        if !roots.contains(&root) {
            roots.push(root);
        }
        touched += 1;
    }
    if touched < PRERENDER_FROM {
        return Vec::new();
    }
    std::iter::once(Plan::All)
        .chain(roots.into_iter().map(|r| Plan::Picks(vec![Pick::Root(r)])))
        .collect()
}

/// The units a read of `units` by `plan` selects, in map (schema) order.
fn chosen<'u>(
    schema: &Schema,
    units: &'u UnitMap,
    plan: &Plan,
) -> Vec<(&'u UnitKey, &'u Arc<str>)> {
    let mut chosen: Vec<(&UnitKey, &Arc<str>)> = match plan {
        Plan::All => units.iter().collect(),
        Plan::Picks(picks) => {
            let mut chosen = Vec::new();
            for p in picks {
                match p {
                    Pick::Entry(key) => {
                        if let Some(kv) = units.get_key_value(key) {
                            chosen.push(kv);
                        }
                    }
                    Pick::List(list) => chosen.extend(
                        units
                            .range(range_start(*list)..)
                            .take_while(|(k, _)| k.list == *list),
                    ),
                    Pick::Root(root) => chosen.extend(
                        units
                            .iter()
                            .filter(|(k, _)| schema.unit(k.list).root() == *root),
                    ),
                }
            }
            chosen
        }
    };
    // Map order is schema order: what the general path prints. The map iterates in that
    // order, so only picks from several places need sorting (10k key comparisons, each a
    // cache miss on a cold read, are a tenth of its time).
    if matches!(plan, Plan::Picks(picks) if picks.len() > 1) {
        chosen.sort_by(|a, b| a.0.cmp(b.0));
    }
    chosen
}

/// Append the `<data>` content of a plain read of `units` by `plan` to `out`; false (and
/// `out` as it was) when the general path must answer.
pub(crate) fn config_xml(
    schema: &Schema,
    units: &UnitMap,
    plan: &Plan,
    cache: &XmlCache,
    out: &mut String,
) -> Result<bool, RpcError> {
    schema
        .write_units_xml_cached(chosen(schema, units, plan), cache, out)
        .map_err(|e| RpcError::failed(format!("stored data: {e}")))
}

/// [`config_xml`] with a with-defaults mode that changes the data (RFC 6243): the root
/// containers read whole (everything, or a filter naming the container alone) show their
/// defaults even where nothing is stored, as the general path, which adds defaults before
/// it filters, shows them.
pub(crate) fn config_xml_defaults(
    schema: &Schema,
    units: &UnitMap,
    plan: &Plan,
    mode: DefaultsMode,
    cache: &XmlCache,
    out: &mut String,
) -> Result<bool, RpcError> {
    let whole: Vec<NodeId> = match plan {
        Plan::All => schema
            .units()
            .iter()
            .filter(|d| d.is_remainder())
            .map(|d| d.root())
            .collect(),
        Plan::Picks(picks) => picks
            .iter()
            .filter_map(|p| match p {
                Pick::Root(r) => Some(*r),
                Pick::List(_) | Pick::Entry(_) => None,
            })
            .collect(),
    };
    schema
        .write_units_xml_defaults(&chosen(schema, units, plan), &whole, mode, cache, out)
        .map_err(|e| RpcError::failed(format!("stored data: {e}")))
}

/// Whether every pick lies in a root container that holds configuration only: a read of
/// it from the operational datastore is then the configuration read (no state node below,
/// so no state value and no state default either).
pub(crate) fn config_only(schema: &Schema, picks: &[Pick]) -> bool {
    fn all_config(schema: &Schema, node: NodeId) -> bool {
        let info = schema.node(node);
        info.config && info.children.iter().all(|&c| all_config(schema, c))
    }
    picks.iter().all(|p| {
        let root = match p {
            Pick::Root(r) => *r,
            Pick::List(list) => schema.unit(*list).root(),
            Pick::Entry(key) => schema.unit(key.list).root(),
        };
        all_config(schema, root)
    })
}

/// The XML of the operational datastore's state roots (`state`: the engine's state,
/// netconf-state, the yang-library; no configuration) read in with-defaults mode `wd`, as
/// the general path prints them after running's configuration: the general path prints
/// one document of both, and no state node sits in a configuration root, so its answer
/// is the configuration's rendering followed by this. libyang's defaults of the
/// configuration roots, which a document without them also gets, are filtered out.
pub(crate) fn state_xml(
    schema: &Schema,
    state: Value,
    wd: Option<WithDefaults>,
) -> Result<String, RpcError> {
    match wd {
        None | Some(WithDefaults::Explicit) => super::data::to_xml(schema, &state),
        Some(_) => super::render::render(
            schema,
            state,
            &Read {
                with_defaults: wd,
                config_filter: Some(false),
                state: true,
                ..Default::default()
            },
        ),
    }
}

/// The smallest key of unit list `list`.
fn range_start(list: netloom_yang::UnitListId) -> UnitKey {
    UnitKey {
        list,
        path: Arc::from(""),
    }
}

#[cfg(test)]
mod tests {
    use netloom_yang::Encoding;
    use serde_json::json;

    use super::*;
    use crate::netconf::xml::parse;

    const NL: &str = "urn:netloom:yang:netloom-host";

    fn units(s: &Schema) -> UnitMap {
        let doc = json!({
            "netloom-host:networks": {"network": [
                {"name": "n10", "type": "bridge", "mtu": 1500},
                {"name": "n2", "type": "bridge"},
                {"name": "n9", "type": "vxlan", "vxlan": {"vni": 7, "remote": ["192.0.2.1"]}}
            ]},
            "netloom-host:system": {"commit-history": 5000, "user": [{"name": "ann"}]},
            "netloom-host:pods": {"pod": [{"namespace": "ns", "name": "p1",
                "interface": [{"name": "eth0", "network": "n10"}]}]}
        });
        let canonical = s.validate(&doc.to_string(), Encoding::Json).unwrap();
        s.split_canonical(&canonical)
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, Arc::from(t)))
            .collect()
    }

    /// The fast path's answer, None when it declines.
    fn read(s: &Schema, m: &UnitMap, selection: &Selection<'_>) -> Option<String> {
        let mut out = String::new();
        config_xml(s, m, &plan(s, selection)?, &XmlCache::new(), &mut out)
            .unwrap()
            .then_some(out)
    }

    /// The general path: the whole document, the filter walk, libyang's printer.
    fn general(s: &Schema, m: &UnitMap, filter: Option<&Element>) -> String {
        let text = s.to_json(m.iter().map(|(k, v)| (k, &**v)));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let doc = match filter {
            Some(f) => crate::netconf::filter::subtree(s, &doc, f),
            None => doc,
        };
        crate::netconf::data::to_xml(s, &doc).unwrap()
    }

    #[test]
    fn same_bytes_as_the_general_path() {
        let s = Schema::new().unwrap();
        let m = units(&s);
        let fast = read(&s, &m, &Selection::All).unwrap();
        assert_eq!(fast, general(&s, &m, None));
        for f in [
            format!(r#"<filter><networks xmlns="{NL}"/></filter>"#),
            format!(r#"<filter><networks xmlns="{NL}"><network/></networks></filter>"#),
            format!(
                r#"<filter><networks xmlns="{NL}"><network><name>n9</name></network></networks></filter>"#
            ),
            format!(
                r#"<filter><networks xmlns="{NL}"><network><name>zz</name></network></networks></filter>"#
            ),
            format!(r#"<filter><system xmlns="{NL}"><user/></system></filter>"#),
            format!(r#"<filter><system xmlns="{NL}"/><networks xmlns="{NL}"/></filter>"#),
            format!(
                r#"<filter><pods xmlns="{NL}"><pod><namespace>ns</namespace><name>p1</name></pod></pods></filter>"#
            ),
        ] {
            let el = parse(f.as_bytes()).unwrap();
            let fast = read(&s, &m, &Selection::Subtree(&el))
                .unwrap_or_else(|| panic!("fast path declined {f}"));
            assert_eq!(fast, general(&s, &m, Some(&el)), "{f}");
        }
    }

    /// The general path of a with-defaults read: defaults added to the whole document,
    /// then the filter, then libyang's printer.
    fn general_defaults(
        s: &Schema,
        m: &UnitMap,
        selection: Selection<'_>,
        wd: crate::netconf::render::WithDefaults,
    ) -> String {
        let text = s.to_json(m.iter().map(|(k, v)| (k, &**v)));
        let read = crate::netconf::render::Read {
            selection,
            with_defaults: Some(wd),
            ..Default::default()
        };
        crate::netconf::render::render(s, serde_json::from_str(&text).unwrap(), &read).unwrap()
    }

    #[test]
    fn with_defaults_modes_give_the_general_paths_bytes() {
        use crate::netconf::render::{Read, WithDefaults};
        let s = Schema::new().unwrap();
        let mut m = units(&s);
        // A value equal to its default (trim leaves it out, tagged marks it).
        let extra = json!({"netloom-host:networks": {"network": [
            {"name": "v", "type": "vxlan", "vxlan": {"vni": 9, "port": 4789}}]}});
        let canonical = s.validate(&extra.to_string(), Encoding::Json).unwrap();
        for (k, t) in s.split_canonical(&canonical).unwrap() {
            m.insert(k, Arc::from(t));
        }
        let filters = [
            None,
            Some(format!(r#"<filter><networks xmlns="{NL}"/></filter>"#)),
            Some(format!(
                r#"<filter><networks xmlns="{NL}"><network/></networks></filter>"#
            )),
            Some(format!(
                r#"<filter><networks xmlns="{NL}"><network><name>v</name></network></networks></filter>"#
            )),
            Some(format!(r#"<filter><system xmlns="{NL}"/></filter>"#)),
            Some(format!(
                r#"<filter><system xmlns="{NL}"/><pods xmlns="{NL}"/></filter>"#
            )),
            Some(format!(r#"<filter><services xmlns="{NL}"/></filter>"#)),
        ];
        let cache = XmlCache::new();
        for (wd, mode) in [
            (WithDefaults::ReportAll, DefaultsMode::ReportAll),
            (WithDefaults::ReportAllTagged, DefaultsMode::ReportAllTagged),
            (WithDefaults::Trim, DefaultsMode::Trim),
        ] {
            for f in &filters {
                let el = f.as_ref().map(|f| parse(f.as_bytes()).unwrap());
                let selection = || match &el {
                    Some(el) => Selection::Subtree(el),
                    None => Selection::All,
                };
                let read = Read {
                    selection: selection(),
                    with_defaults: Some(wd),
                    ..Default::default()
                };
                assert_eq!(read.fast_mode(), Some(Some(mode)));
                let plan = plan(&s, &read.selection).expect("a plan");
                let mut fast = String::new();
                assert!(config_xml_defaults(&s, &m, &plan, mode, &cache, &mut fast).unwrap());
                assert_eq!(
                    fast,
                    general_defaults(&s, &m, selection(), wd),
                    "{wd:?} {f:?}"
                );
            }
        }
        // What each mode shows, read whole.
        let all = |mode| {
            let mut out = String::new();
            config_xml_defaults(&s, &m, &Plan::All, mode, &cache, &mut out).unwrap();
            out
        };
        assert!(all(DefaultsMode::ReportAll).contains("<learning>true</learning>"));
        assert!(
            !all(DefaultsMode::ReportAll).contains("netconf-state"),
            "no state in a configuration read"
        );
        assert!(all(DefaultsMode::ReportAllTagged)
            .contains(r#"<port xmlns:ncwd="urn:ietf:params:xml:ns:netconf:default:1.0" ncwd:default="true">4789</port>"#));
        assert!(!all(DefaultsMode::Trim).contains("<port>"));

        // Only a value equal to its default stored: trim shows nothing, both ways (the
        // general path's printer once crashed the daemon on that).
        let only = json!({"netloom-host:system": {"commit-history": 1000}});
        let canonical = s.validate(&only.to_string(), Encoding::Json).unwrap();
        let m: UnitMap = s
            .split_canonical(&canonical)
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, Arc::from(t)))
            .collect();
        let mut fast = String::new();
        assert!(
            config_xml_defaults(&s, &m, &Plan::All, DefaultsMode::Trim, &cache, &mut fast).unwrap()
        );
        assert_eq!(fast, "");
        assert_eq!(
            general_defaults(&s, &m, Selection::All, WithDefaults::Trim),
            ""
        );
        assert_eq!(
            general_defaults(&s, &m, Selection::All, WithDefaults::ReportAll),
            format!(r#"<system xmlns="{NL}"><commit-history>1000</commit-history></system>"#)
        );
    }

    #[test]
    fn bulk_changes_alone_are_prerendered() {
        let s = Schema::new().unwrap();
        let before = units(&s);
        let bulk = |n: usize| {
            let mut m = before.clone();
            let list = before
                .keys()
                .find(|k| k.path.contains("/network["))
                .unwrap()
                .list;
            for i in 0..n {
                let name = format!("bulk{i}");
                m.insert(
                    s.unit_key(list, &[&name]).unwrap(),
                    Arc::from(format!(r#"{{"name":"{name}","type":"bridge"}}"#)),
                );
            }
            m
        };
        assert!(prerender_plans(&s, &before, &bulk(PRERENDER_FROM - 1)).is_empty());
        let networks = s.root("netloom-host", "networks").unwrap();
        assert_eq!(
            prerender_plans(&s, &before, &bulk(PRERENDER_FROM)),
            [Plan::All, Plan::Picks(vec![Pick::Root(networks)])]
        );
        // the same maps, the other way round: a bulk removal
        assert_eq!(prerender_plans(&s, &bulk(PRERENDER_FROM), &before).len(), 2);
    }

    /// The general path of an XPath read.
    fn general_xpath(
        s: &Schema,
        m: &UnitMap,
        select: &str,
        wd: Option<crate::netconf::render::WithDefaults>,
    ) -> String {
        let text = s.to_json(m.iter().map(|(k, v)| (k, &**v)));
        let read = crate::netconf::render::Read {
            selection: Selection::XPath {
                select: select.to_owned(),
                prefixes: vec![("nl".into(), NL.into()), ("x".into(), NL.into())],
            },
            with_defaults: wd,
            ..Default::default()
        };
        crate::netconf::render::render(s, serde_json::from_str(&text).unwrap(), &read).unwrap()
    }

    #[test]
    fn xpaths_naming_whole_units_give_the_general_paths_bytes() {
        use crate::netconf::render::WithDefaults;
        let s = Schema::new().unwrap();
        let m = units(&s);
        let cache = XmlCache::new();
        let xpath = |select: &str| Selection::XPath {
            select: select.to_owned(),
            prefixes: vec![("nl".into(), NL.into()), ("x".into(), NL.into())],
        };
        for select in [
            "/nl:networks",
            "/nl:networks/nl:network",
            "/nl:networks/network",
            "/nl:networks/nl:network[nl:name='n9']",
            "/x:networks/x:network[name=\"n10\"]",
            "/nl:networks/nl:network[nl:name='absent']",
            "/nl:system",
            "/nl:pods/nl:pod[nl:name='p1'][nl:namespace='ns']",
            "/nl:services",
        ] {
            let p = plan(&s, &xpath(select)).unwrap_or_else(|| panic!("declined {select}"));
            let mut fast = String::new();
            assert!(config_xml(&s, &m, &p, &cache, &mut fast).unwrap());
            assert_eq!(fast, general_xpath(&s, &m, select, None), "{select}");
            for (wd, mode) in [
                (WithDefaults::ReportAll, DefaultsMode::ReportAll),
                (WithDefaults::Trim, DefaultsMode::Trim),
            ] {
                let mut fast = String::new();
                assert!(config_xml_defaults(&s, &m, &p, mode, &cache, &mut fast).unwrap());
                assert_eq!(
                    fast,
                    general_xpath(&s, &m, select, Some(wd)),
                    "{wd:?} {select}"
                );
            }
        }
        // Selected: just that entry, with its container.
        let p = plan(&s, &xpath("/nl:networks/nl:network[nl:name='n9']")).unwrap();
        let mut one = String::new();
        assert!(config_xml(&s, &m, &p, &cache, &mut one).unwrap());
        assert!(one.starts_with(&format!(
            r#"<networks xmlns="{NL}"><network><name>n9</name>"#
        )));
        assert_eq!(one.matches("<network>").count(), 1, "{one}");
        // Everything else is libyang's.
        for select in [
            "/nl:networks/nl:network[nl:name='n9']/nl:mtu",
            "/nl:networks/nl:network[nl:type='bridge']",
            "/nl:networks/nl:network[nl:name='n9'][nl:name='n2']",
            "/nl:networks/nl:network[nl:name = 'n9']",
            "/nl:networks | /nl:system",
            "//nl:network",
            "/nl:networks/child::nl:network",
            "/networks",
            "/nl:nothing",
            "/nl:networks/nl:network[1]",
            "/zz:networks",
            "/nl:pods/nl:pod[nl:name='p1']",
        ] {
            assert!(plan(&s, &xpath(select)).is_none(), "{select}");
        }
    }

    /// The top-level elements of `xml`, each as its bytes.
    fn top_level(xml: &str) -> Vec<&str> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
        loop {
            let before = reader.buffer_position() as usize;
            match reader.read_event().unwrap() {
                Event::Start(_) => {
                    if depth == 0 {
                        start = before;
                    }
                    depth += 1;
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(&xml[start..reader.buffer_position() as usize]);
                    }
                }
                Event::Empty(_) if depth == 0 => {
                    out.push(&xml[before..reader.buffer_position() as usize])
                }
                Event::Eof => return out,
                _ => {}
            }
        }
    }

    /// An operational read (`<get>`) the fast way, running's configuration then the state
    /// roots, gives the general path's top-level elements byte for byte (one document of
    /// both, defaults added to the whole, filtered, printed) in every with-defaults mode,
    /// with and without a filter. Only their order differs, which carries no meaning
    /// between top-level nodes: libyang groups them by module, the fast path puts the
    /// configuration first.
    #[test]
    fn operational_reads_are_the_configuration_then_the_state() {
        use crate::netconf::render::{render, Read, WithDefaults};
        let s = Schema::new().unwrap();
        let m = units(&s);
        let cache = XmlCache::new();
        let mut state = json!({
            "netloom-host:state": {
                "attachment": [{"container-id": "c1", "interface": "eth0",
                    "pod-namespace": "ns", "pod-name": "p1", "network": "n10",
                    "netns": "/var/run/netns/c1", "address": ["10.0.0.2/24"],
                    "created": "2026-11-21T10:00:00Z"}],
                "pool-usage": [{"network": "n10", "pool": "p", "size": "254",
                    "allocated": "1"}]
            },
            "ietf-netconf-monitoring:netconf-state": {
                "capabilities": {"capability": ["urn:ietf:params:netconf:base:1.1"]},
                "datastores": {"datastore": [{"name": "running"}]},
                "statistics": {"netconf-start-time": "2026-11-21T10:00:00Z",
                    "in-rpcs": 3}
            }
        });
        if let (Some(obj), Value::Object(lib)) = (
            state.as_object_mut(),
            crate::netconf::monitoring::yang_library(&s),
        ) {
            obj.extend(lib);
        }
        let mut whole: Value =
            serde_json::from_str(&s.to_json(m.iter().map(|(k, v)| (k, &**v)))).unwrap();
        whole
            .as_object_mut()
            .unwrap()
            .extend(state.as_object().unwrap().clone());
        let filters = [
            None,
            Some(format!(r#"<filter><networks xmlns="{NL}"/></filter>"#)),
            Some(format!(
                r#"<filter><networks xmlns="{NL}"><network><name>n9</name></network></networks></filter>"#
            )),
        ];
        for f in &filters {
            let el = f.as_ref().map(|f| parse(f.as_bytes()).unwrap());
            let selection = || match &el {
                Some(e) => Selection::Subtree(e),
                None => Selection::All,
            };
            let p = plan(&s, &selection()).unwrap();
            let with_state = match &p {
                Plan::All => true,
                Plan::Picks(picks) => {
                    assert!(config_only(&s, picks), "{f:?}");
                    false
                }
            };
            for (wd, mode) in [
                (None, None),
                (Some(WithDefaults::ReportAll), Some(DefaultsMode::ReportAll)),
                (
                    Some(WithDefaults::ReportAllTagged),
                    Some(DefaultsMode::ReportAllTagged),
                ),
                (Some(WithDefaults::Trim), Some(DefaultsMode::Trim)),
            ] {
                let mut fast = String::new();
                let done = match mode {
                    None => config_xml(&s, &m, &p, &cache, &mut fast),
                    Some(mode) => config_xml_defaults(&s, &m, &p, mode, &cache, &mut fast),
                };
                assert!(done.unwrap());
                if with_state {
                    fast.push_str(&state_xml(&s, state.clone(), wd).unwrap());
                }
                let read = Read {
                    selection: selection(),
                    with_defaults: wd,
                    state: true,
                    ..Default::default()
                };
                let general = match (wd, &el) {
                    (None, None) => crate::netconf::data::to_xml(&s, &whole).unwrap(),
                    (None, Some(e)) => crate::netconf::data::to_xml(
                        &s,
                        &crate::netconf::filter::subtree(&s, &whole, e),
                    )
                    .unwrap(),
                    _ => render(&s, whole.clone(), &read).unwrap(),
                };
                let (mut f_els, mut g_els) = (top_level(&fast), top_level(&general));
                assert_eq!(f_els.concat(), fast, "{fast}");
                assert_eq!(g_els.concat(), general, "{general}");
                let config_els = f_els
                    .iter()
                    .take_while(|e| !e.starts_with("<netconf-state") && !e.starts_with("<yang"))
                    .count();
                assert_eq!(
                    f_els[config_els..]
                        .iter()
                        .filter(|e| e.starts_with("<networks") || e.starts_with("<system"))
                        .count(),
                    0,
                    "configuration first: {fast}"
                );
                f_els.sort_unstable();
                g_els.sort_unstable();
                assert_eq!(f_els, g_els, "{wd:?} {f:?}");
                if with_state {
                    assert!(fast.contains("<container-id>c1</container-id>"), "{fast}");
                    assert!(fast.contains("<in-rpcs>3</in-rpcs>"), "{fast}");
                    if wd == Some(WithDefaults::ReportAll) {
                        // a state default (a zero-based counter) is reported
                        assert!(fast.contains("<in-bad-rpcs>0</in-bad-rpcs>"), "{fast}");
                    }
                }
            }
        }
        // The state root named by a filter, or a configuration root with state below it,
        // goes the general way.
        let st = parse(format!(r#"<filter><state xmlns="{NL}"/></filter>"#).as_bytes()).unwrap();
        match plan(&s, &Selection::Subtree(&st)) {
            Some(Plan::Picks(picks)) => assert!(!config_only(&s, &picks)),
            other => assert!(other.is_none(), "{other:?}"),
        }
    }

    #[test]
    fn declines_what_it_does_not_understand() {
        let s = Schema::new().unwrap();
        let m = units(&s);
        for f in [
            // a content match on a non-key leaf, a partial selection, an unknown namespace
            format!(
                r#"<filter><networks xmlns="{NL}"><network><type>bridge</type></network></networks></filter>"#
            ),
            format!(
                r#"<filter><networks xmlns="{NL}"><network><name>n2</name><mtu/></network></networks></filter>"#
            ),
            r#"<filter><networks xmlns="urn:elsewhere"/></filter>"#.to_owned(),
        ] {
            let el = parse(f.as_bytes()).unwrap();
            assert!(read(&s, &m, &Selection::Subtree(&el)).is_none(), "{f}");
        }
    }
}
