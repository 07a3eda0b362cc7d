//! Which unit lists can be validated without libyang's implicit default nodes
//! (`LYD_VALIDATE_NO_DEFAULTS`). Creating the default leaves under every entry, evaluating
//! their `when` and dropping them again is a fifth of validation's cost, and the canonical
//! texts never show them; but skipping them is exact only where nothing evaluated can read
//! one. A default node can change a verdict only by being read, so a unit list is
//! *default-sensitive* when, anywhere inside its entries:
//! - a `must`, `when` or required leafref path has a leaf or leaf-list with a default among
//!   its atoms (the leaf's own `must` on `.` included);
//! - a leaf with a default needs its value resolved against data (leafref,
//!   instance-identifier, or a union that may hold one);
//! - a `unique` names a leaf with a default (RFC 7950 7.8.3 counts defaults).
//!
//! Non-presence containers are still created with NO_DEFAULTS, and lists and presence
//! containers are never implicit, so an expression that only tests an inner node's
//! existence or walks through it sees the same tree either way; taking the string value of
//! an inner node (which concatenates default leaves below it) is the one reading this rule
//! does not see, and no netloom expression does it. Expressions outside unit lists (root
//! containers' own content, other implemented modules) are evaluated on implicit containers
//! whatever a scope holds, so one that reads a default turns the optimisation off
//! altogether.
#![allow(unsafe_code)] // libyang FFI: defaults, uniques and expression atoms.

use std::collections::{HashMap, HashSet};

use yang3::data::{DataImplicitFlags, DataTree};
use yang3::ffi;
use yang3::schema::{DataValueType, SchemaNode, SchemaNodeKind};

use crate::deps::{nearest, raw_atoms};
use crate::error::Error;
use crate::schema::{NodeId, NodeKind, Schema};
use crate::shapes::{Inert, InertMember};
use crate::unit::{UnitKey, UnitListId};

/// Per unit list, whether its entries must be validated with default nodes present.
#[derive(Debug, Clone, Default)]
pub struct DefaultSensitivity {
    lists: Vec<bool>,
    /// Some expression outside the unit lists reads a default: never skip defaults.
    everywhere: bool,
    /// Per unit list, how many leaves and leaf-lists with a default its entries have.
    defaults: Vec<u32>,
    /// Some config node outside every unit list has a `when`.
    whens_outside: bool,
    /// Per unit list, whether every `when` inside its entries reads only the entry it is
    /// in: an entry's implicit nodes then follow from the entry alone.
    whens_local: Vec<bool>,
    /// Per unit list whose defaults follow entry by entry: the members of its entries, by
    /// XML local name, whose values no `when` reads (see [`DefaultSensitivity::rendering_inert`]);
    /// the second also without the leaves and leaf-lists that have a default.
    rendering_inert: Vec<Option<[Inert; 2]>>,
}

/// Skipping defaults parses without validation and validates in a second pass over the
/// tree, which costs more than it saves for entries with only a default or two (a 100k-pod
/// commit ran ~4% slower); networks, with a dozen defaults under `when`-guarded
/// containers, validate ~13% faster.
const WORTH_SKIPPING: u32 = 4;

impl DefaultSensitivity {
    /// Whether validating a document made of exactly these units gives the same verdict and
    /// texts without default nodes.
    pub fn insensitive<'a>(&self, mut units: impl Iterator<Item = &'a UnitKey>) -> bool {
        !self.everywhere
            && units.all(|k| !self.lists.get(k.list.0 as usize).copied().unwrap_or(true))
    }

    /// Whether skipping defaults for these units is both exact and worth it: their entries
    /// have on average enough defaults to save more than the second validation pass costs
    /// (a pod chunk's scope holds a few networks too: those alone do not pay).
    pub fn worth_skipping<'a>(&self, units: impl Iterator<Item = &'a UnitKey> + Clone) -> bool {
        if !self.insensitive(units.clone()) {
            return false;
        }
        let (mut count, mut defaults) = (0u64, 0u64);
        for k in units {
            count += 1;
            defaults += u64::from(self.defaults.get(k.list.0 as usize).copied().unwrap_or(0));
        }
        count > 0 && defaults >= u64::from(WORTH_SKIPPING) * count
    }

    pub fn is_sensitive(&self, list: UnitListId) -> bool {
        self.everywhere || self.lists.get(list.0 as usize).copied().unwrap_or(true)
    }

    /// Whether an entry of `list` gets the same implicit nodes (defaults, containers) alone
    /// as inside any datastore, and the root containers theirs whatever entries they hold:
    /// no config node outside the unit lists has a `when`, and every `when` inside the
    /// list's entries reads only the entry it is in.
    pub fn whens_outside(&self) -> bool {
        self.whens_outside
    }

    /// What an entry of `list`'s with-defaults rendering does not depend on (by XML local
    /// name): libyang adds an entry's implicit nodes by which nodes it has and the values its
    /// `when`s read, so every other value is inert, except, where the mode compares values
    /// with their defaults (`compares_defaults`: report-all-tagged, trim), the ones that
    /// have a default. `None` unless [`DefaultSensitivity::defaults_per_entry`].
    pub(crate) fn rendering_inert(
        &self,
        list: UnitListId,
        compares_defaults: bool,
    ) -> Option<&Inert> {
        if !self.defaults_per_entry(list) {
            return None;
        }
        let both = self.rendering_inert.get(list.0 as usize)?.as_ref()?;
        Some(&both[usize::from(compares_defaults)])
    }

    pub fn defaults_per_entry(&self, list: UnitListId) -> bool {
        !self.whens_outside
            && self
                .whens_local
                .get(list.0 as usize)
                .copied()
                .unwrap_or(false)
    }
}

impl Schema {
    /// libyang's implicit nodes (non-presence containers, defaults under a `when` that
    /// holds) added to `tree`, as `lyd_new_implicit_all` adds them, but entry by entry.
    /// libyang gathers every implicit node with a `when` of one call into one set and, for
    /// each node of each false-`when` container it drops again, scans that set: quadratic
    /// in the entries of a list whose `when`-guarded containers hold defaults (a report-all
    /// read of 10k networks took 8.4 s, on the session's I/O thread). Here the unit-list
    /// entries are unlinked, the rest gets its implicit nodes, the entries go back in their
    /// order and each gets its own in a call of its own.
    ///
    /// That is exact when no `when` outside the unit lists (evaluated without the entries)
    /// exists and no expression inside the entries reads a default node (which another
    /// entry may not have yet): [`DefaultSensitivity`]'s analysis. Otherwise, and for a
    /// tree with few entries, the whole tree is done in one call.
    pub fn add_implicit(
        &self,
        tree: &mut DataTree<'_>,
        flags: DataImplicitFlags,
    ) -> Result<(), Error> {
        let libyang = |e: yang3::Error| Error::from_libyang(e, "/");
        let Some(entries) = self.entries_apart(tree) else {
            return tree.add_implicit(flags).map_err(libyang);
        };
        let bits = flags.bits();
        // SAFETY: every pointer is a node of `tree` (or, unlinked, still owned here until it
        // is linked back); each is unlinked once and linked back once, in the order it was
        // found, before any error returns.
        unsafe {
            for &(_, entry) in &entries {
                ffi::lyd_unlink_tree(entry);
            }
            let rest = tree.add_implicit(flags);
            let mut linked = ffi::LY_ERR::LY_SUCCESS;
            for &(parent, entry) in &entries {
                let r = ffi::lyd_insert_child(parent, entry);
                if r != ffi::LY_ERR::LY_SUCCESS {
                    ffi::lyd_free_tree(entry);
                    linked = r;
                }
            }
            rest.map_err(libyang)?;
            if linked != ffi::LY_ERR::LY_SUCCESS {
                return Err(Error::Context(format!(
                    "putting list entries back after adding defaults failed ({linked})"
                )));
            }
            for &(_, entry) in &entries {
                let r = ffi::lyd_new_implicit_tree(entry, bits, std::ptr::null_mut());
                if r != ffi::LY_ERR::LY_SUCCESS {
                    return Err(Error::Context(format!(
                        "adding a list entry's defaults failed ({r})"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The unit-list entries of `tree` (each with its parent, a top-level node) when
    /// [`Schema::add_implicit`] may take them one by one: enough of them, and the analysis
    /// allows it.
    pub(crate) fn entries_apart(
        &self,
        tree: &DataTree<'_>,
    ) -> Option<Vec<(*mut ffi::lyd_node, *mut ffi::lyd_node)>> {
        if self.default_sensitivity().whens_outside {
            return None;
        }
        let lists: HashMap<usize, UnitListId> = self
            .units()
            .iter()
            .enumerate()
            .filter_map(|(i, u)| Some((self.node(u.list_node()?).raw, UnitListId(i as u16))))
            .collect();
        let mut entries = Vec::new();
        for top in tree.reference()?.inclusive_siblings() {
            for child in top.children() {
                let raw = child.as_raw();
                // SAFETY: a node of the live tree.
                let schema = unsafe { (*raw).schema } as usize;
                if let Some(&list) = lists.get(&schema) {
                    if self.default_sensitivity().is_sensitive(list) {
                        return None;
                    }
                    entries.push((top.as_raw(), raw));
                }
            }
        }
        (entries.len() >= ENTRY_BY_ENTRY).then_some(entries)
    }
}

/// Fewest unit-list entries worth [`Schema::add_implicit`]'s entry-by-entry pass.
const ENTRY_BY_ENTRY: usize = 64;

/// # Safety
/// `raw` is null or a compiled node of a live context.
unsafe fn has_default(raw: *const ffi::lysc_node) -> bool {
    if raw.is_null() {
        return false;
    }
    match u32::from((*raw).nodetype) {
        ffi::LYS_LEAF => !(*(raw as *const ffi::lysc_node_leaf)).dflt.is_null(),
        ffi::LYS_LEAFLIST => !(*(raw as *const ffi::lysc_node_leaflist)).dflts.is_null(),
        _ => false,
    }
}

/// The unit list whose entries hold `raw`, `Err(())` when it is outside every unit list.
///
/// # Safety
/// `raw` is a compiled node of the live context `schema` holds.
unsafe fn owner(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
    mut raw: *const ffi::lysc_node,
) -> Option<UnitListId> {
    while !raw.is_null() {
        if let Some(id) = raw_map.get(&(raw as usize)) {
            let mut cur = Some(*id);
            while let Some(c) = cur {
                if let Some(u) = schema.node(c).unit {
                    return Some(u);
                }
                cur = schema.node(c).parent;
            }
            return None;
        }
        raw = (*raw).parent;
    }
    None
}

/// Whether evaluating what `node` carries can read a default node.
fn reads_default(node: &SchemaNode<'_>) -> Result<bool, Error> {
    let raw = node.as_raw() as *const ffi::lysc_node;
    let any_default = |atoms: Vec<*const ffi::lysc_node>| -> bool {
        // SAFETY: the atoms are compiled nodes of the live context.
        atoms.into_iter().any(|a| unsafe { has_default(a) })
    };
    if let Some(musts) = node.musts() {
        for m in musts {
            let m = m.as_raw();
            // SAFETY: m is a compiled must of `node`, evaluated at `node`.
            if any_default(unsafe { raw_atoms(raw, (*m).cond, (*m).prefixes)? }) {
                return Ok(true);
            }
        }
    }
    if any_default(when_atoms(node)?) {
        return Ok(true);
    }
    if matches!(node.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList) {
        if let Some(t) = node.leaf_type() {
            let base = t.base_type();
            // A default whose value is resolved against the data tree.
            // SAFETY: raw is a leaf or leaf-list of the live context.
            if unsafe { has_default(raw) }
                && matches!(
                    base,
                    DataValueType::LeafRef | DataValueType::InstanceId | DataValueType::Union
                )
            {
                return Ok(true);
            }
            if base == DataValueType::LeafRef {
                let lr = t.as_raw() as *const ffi::lysc_type_leafref;
                // SAFETY: the type is a leafref of the live context.
                let (path, prefixes, require) =
                    unsafe { ((*lr).path, (*lr).prefixes, (*lr).require_instance) };
                if require != 0 && any_default(unsafe { raw_atoms(raw, path, prefixes)? }) {
                    return Ok(true);
                }
            }
        }
    }
    if node.kind() == SchemaNodeKind::List {
        // SAFETY: raw is a compiled list; `uniques` is a libyang sized array (count before
        // the first item) of sized arrays of leaves.
        let any = unsafe {
            let uniques = (*(raw as *const ffi::lysc_node_list)).uniques;
            let count = |p: *const u8| (p as *const u64).offset(-1).read() as usize;
            !uniques.is_null()
                && (0..count(uniques as *const u8)).any(|i| {
                    let leaves = *uniques.add(i);
                    !leaves.is_null()
                        && (0..count(leaves as *const u8))
                            .any(|j| has_default(*leaves.add(j) as *const ffi::lysc_node))
                })
        };
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The atoms of every `when` of `node`, each evaluated at its context node.
fn when_atoms(node: &SchemaNode<'_>) -> Result<Vec<*const ffi::lysc_node>, Error> {
    let raw = node.as_raw() as *const ffi::lysc_node;
    let mut out = Vec::new();
    for w in node.whens() {
        let w = w.as_raw();
        // SAFETY: w is a compiled when of `node` of the live context.
        let at = unsafe {
            if (*w).context.is_null() {
                raw
            } else {
                (*w).context as *const ffi::lysc_node
            }
        };
        out.extend(unsafe { raw_atoms(at, (*w).cond, (*w).prefixes)? });
    }
    Ok(out)
}

/// Whether every `when` of `node` (inside an entry of `list`) reads only nodes inside
/// entries of `list`: reaching another entry means passing through the root container,
/// itself an atom then (the rule the dependency analysis applies to siblings).
fn whens_within(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
    node: &SchemaNode<'_>,
    list: UnitListId,
) -> Result<bool, Error> {
    // SAFETY: the atoms are compiled nodes of the live context.
    Ok(when_atoms(node)?
        .into_iter()
        .all(|a| unsafe { owner(schema, raw_map, a) } == Some(list)))
}

/// Analyse every config node of every implemented module once.
pub(crate) fn analyse(
    schema: &Schema,
    raw_map: &HashMap<usize, NodeId>,
) -> Result<DefaultSensitivity, Error> {
    let mut out = DefaultSensitivity {
        lists: vec![false; schema.units().len()],
        everywhere: false,
        defaults: vec![0; schema.units().len()],
        whens_outside: false,
        whens_local: vec![true; schema.units().len()],
        rendering_inert: vec![None; schema.units().len()],
    };
    let mut read: HashSet<NodeId> = HashSet::new();
    for module in schema.context().modules(true) {
        if !module.is_implemented() {
            continue;
        }
        for top in module.data() {
            for node in top.traverse() {
                if !node.is_config() {
                    continue;
                }
                let raw = node.as_raw() as *const ffi::lysc_node;
                // SAFETY: node is a compiled node of the live context.
                let unit = unsafe { owner(schema, raw_map, raw) };
                if let (Some(u), true) = (unit, unsafe { has_default(raw) }) {
                    out.defaults[u.0 as usize] += 1;
                }
                if unit.is_none() && node.whens().next().is_some() {
                    out.whens_outside = true;
                }
                if let Some(u) = unit {
                    if !whens_within(schema, raw_map, &node, u)? {
                        out.whens_local[u.0 as usize] = false;
                    }
                    for atom in when_atoms(&node)? {
                        // SAFETY: the atoms are compiled nodes of the live context.
                        read.extend(unsafe { nearest(raw_map, atom) });
                    }
                }
                if !reads_default(&node)? {
                    continue;
                }
                match unit {
                    Some(u) => out.lists[u.0 as usize] = true,
                    None => out.everywhere = true,
                }
            }
        }
    }
    for (i, def) in schema.units().iter().enumerate() {
        if let Some(list) = def.list_node() {
            out.rendering_inert[i] = Some([
                unread_below(schema, &read, list, true),
                unread_below(schema, &read, list, false),
            ]);
        }
    }
    Ok(out)
}

/// The members below `parent` whose values no `when` reads (by XML local name; two of one
/// name, from two modules, are left out), and without the ones that have a default unless
/// `with_defaulted`.
fn unread_below(
    schema: &Schema,
    read: &HashSet<NodeId>,
    parent: NodeId,
    with_defaulted: bool,
) -> Inert {
    let mut out: HashMap<String, InertMember> = HashMap::new();
    let mut clashes = HashSet::new();
    for &c in &schema.node(parent).children {
        let info = schema.node(c);
        if !info.config || read.contains(&c) {
            continue;
        }
        let member = match info.kind {
            NodeKind::Leaf | NodeKind::LeafList => {
                // SAFETY: the node's compiled node, owned by the live context.
                if !with_defaulted && unsafe { has_default(info.raw as *const ffi::lysc_node) } {
                    continue;
                }
                InertMember::Leaf
            }
            NodeKind::Container { .. } | NodeKind::List => {
                InertMember::Inner(unread_below(schema, read, c, with_defaulted))
            }
        };
        if out.insert(info.name.clone(), member).is_some() {
            clashes.insert(info.name.clone());
        }
    }
    for c in clashes {
        out.remove(&c);
    }
    Inert(out)
}

/// Tests' document of `n` networks of every type (some with their `when`-guarded containers
/// given, one with a value equal to its default) and `extra` top-level members.
#[cfg(test)]
pub(crate) fn networks_of_every_type(n: usize, extra: &str) -> String {
    let kinds = [
        r#""type":"bridge","bridge":{}"#,
        r#""type":"vxlan","vxlan":{"vni":7,"port":4789},"bridge":{"gateway":false}"#,
        r#""type":"macvlan","uplink":"eth1""#,
        r#""type":"ipvlan","uplink":"eth1","ipvlan":{"mode":"l3"}"#,
        r#""type":"vlan","uplink":"eth0","vlan-id":12,"mtu":1500"#,
        r#""type":"sriov","sriov":{"physical-function":"pf0"}"#,
        r#""type":"ovs-dpdk""#,
        r#""type":"host-device","host-device":{"device":"eth2"}"#,
    ];
    let nets: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"n{i}",{}}}"#, kinds[i % kinds.len()]))
        .collect();
    format!(
        r#"{{"netloom-host:networks":{{"network":[{}]}}{extra}}}"#,
        nets.join(",")
    )
}

#[cfg(test)]
mod tests {
    use crate::schema::Schema;

    #[test]
    fn services_read_defaults_and_networks_do_not() {
        let s = Schema::new().unwrap();
        let d = s.default_sensitivity();
        let list = |c: &str, l: &str| s.unit_by_names(c, l).unwrap();
        // `when "../../type != 'cluster-ip'"` reads a leaf defaulting to cluster-ip
        assert!(d.is_sensitive(list("services", "service")));
        assert!(!d.is_sensitive(list("networks", "network")));
        assert!(!d.is_sensitive(list("pods", "pod")));
        let key = |list| crate::unit::UnitKey {
            list,
            path: "/".into(),
        };
        let (net, pod) = (key(list("networks", "network")), key(list("pods", "pod")));
        assert!(d.worth_skipping([&net].into_iter()));
        assert!(!d.worth_skipping([&pod].into_iter()));
        let mostly_pods: Vec<_> = std::iter::once(&net).chain([&pod; 20]).collect();
        assert!(!d.worth_skipping(mostly_pods.into_iter()));
    }
}

#[cfg(test)]
mod equivalence {
    use crate::schema::Schema;

    /// Networks of every type (empty non-presence containers, containers whose every leaf
    /// has a default, `when`-guarded ones), pods, policies, users and the system remainder.
    const GOOD: &[&str] = &[
        r#"{"netloom-host:networks":{"network":[
            {"name":"b","type":"bridge","uplink":"eth0","bridge":{},"ipam":{"pool":[{"name":"v4","subnet":"10.0.0.0/24","gateway":"10.0.0.1"}]}},
            {"name":"x","type":"vxlan","vxlan":{"vni":7,"remote":["192.0.2.1"]},"bridge":{"gateway":false}},
            {"name":"m","type":"macvlan","uplink":"eth1","macvlan":{}},
            {"name":"i","type":"ipvlan","uplink":"eth1","ipvlan":{"mode":"l3"}},
            {"name":"v","type":"vlan","uplink":"eth0","vlan-id":12,"mtu":1400},
            {"name":"h","type":"host-device","host-device":{"device":"eth2"}}]}}"#,
        r#"{"netloom-host:networks":{"network":[{"name":"n0","type":"bridge"}]},
            "netloom-host:pods":{"pod":[{"namespace":"a","name":"p","interface":[
                {"name":"eth0","network":"n0","default-route":true},{"name":"net1","network":"n0"}]}]},
            "netloom-host:policies":{"policy":[{"name":"pol","applies-to":{"network":["n0"]},
                "rule":[{"seq":10,"direction":"ingress","action":"drop","protocol":"tcp"}]}]},
            "netloom-host:system":{"commit-history":2000}}"#,
        r#"{"netloom-host:system":{}}"#,
        "{}",
    ];

    /// Each refused for a different reason: missing uplink (must), vlan-id on a bridge
    /// (when), dangling leafref, duplicate key, wrong type.
    const BAD: &[&str] = &[
        r#"{"netloom-host:networks":{"network":[{"name":"m","type":"macvlan"}]}}"#,
        r#"{"netloom-host:networks":{"network":[{"name":"b","type":"bridge","vlan-id":3}]}}"#,
        r#"{"netloom-host:pods":{"pod":[{"namespace":"a","name":"p","interface":[{"name":"eth0","network":"nope"}]}]}}"#,
        r#"{"netloom-host:networks":{"network":[{"name":"b","type":"bridge"},{"name":"b","type":"bridge"}]}}"#,
        r#"{"netloom-host:networks":{"network":[{"name":"b","type":"bridge","mtu":"big"}]}}"#,
        r#"{"netloom-host:networks":{"network":[{"name":"x","type":"vxlan","vxlan":{"vni":99999999}}]}}"#,
    ];

    #[test]
    fn insensitive_lists_validate_identically_without_defaults() {
        let s = Schema::new().unwrap();
        for doc in GOOD {
            let with = s.validate_units(doc).unwrap();
            assert!(
                s.default_sensitivity()
                    .insensitive(with.iter().map(|(k, _)| k)),
                "{doc}"
            );
            let without = s.validate_units_without_defaults(doc).unwrap();
            assert_eq!(with, without, "{doc}");
        }
        for doc in BAD {
            let with = s.validate_units(doc).unwrap_err();
            let without = s.validate_units_without_defaults(doc).unwrap_err();
            assert_eq!(with.to_string(), without.to_string(), "{doc}");
            assert_eq!(with.error_path(), without.error_path(), "{doc}");
            assert_eq!(with.tag(), without.tag(), "{doc}");
        }
    }

    #[test]
    fn a_sensitive_list_needs_its_defaults() {
        // `must "max-tx-rate = 0 or min-tx-rate <= max-tx-rate"` holds only through the
        // default max-tx-rate: without it the VF would be refused.
        let s = Schema::new().unwrap();
        let doc = r#"{"netloom-host:sriov":{"physical-function":[{"name":"pf0","num-vfs":2,"vf":[{"id":0,"min-tx-rate":5}]}]}}"#;
        let with = s.validate_units(doc).unwrap();
        assert!(!s
            .default_sensitivity()
            .insensitive(with.iter().map(|(k, _)| k)));
        assert!(s.validate_units_without_defaults(doc).is_err());
        assert_eq!(
            s.validate_scope_units(
                &s.to_json(with.iter().map(|(k, t)| (k, t.as_str()))),
                with.iter().map(|(k, _)| k)
            )
            .unwrap(),
            with
        );
    }
}

#[cfg(test)]
mod implicit {
    use super::networks_of_every_type;
    use yang3::data::{
        DataFormat, DataImplicitFlags, DataParserFlags, DataPrinterFlags, DataTree,
        DataValidationFlags,
    };

    use crate::schema::Schema;

    fn with_defaults(s: &Schema, doc: &str, entry_by_entry: bool) -> (bool, String) {
        let mut tree = DataTree::parse_string(
            s.context(),
            doc,
            DataFormat::JSON,
            DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .unwrap();
        let apart = s.entries_apart(&tree).is_some();
        if entry_by_entry {
            s.add_implicit(&mut tree, DataImplicitFlags::NO_STATE)
                .unwrap();
        } else {
            tree.add_implicit(DataImplicitFlags::NO_STATE).unwrap();
        }
        let text = crate::print_data(
            &tree,
            DataFormat::JSON,
            DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::WD_ALL,
        )
        .unwrap();
        (apart, text)
    }

    #[test]
    fn entry_by_entry_adds_what_libyang_adds_at_once() {
        let s = Schema::new().unwrap();
        let pods = r#","netloom-host:pods":{"pod":[{"namespace":"a","name":"p","interface":[{"name":"eth0","network":"n0"}]}]},"netloom-host:system":{}"#;
        let services = r#","netloom-host:services":{"service":[{"namespace":"a","name":"s","port":[{"name":"p","port":80}]}]}"#;
        for (doc, apart) in [
            // networks and pods: entry by entry
            (networks_of_every_type(200, pods), true),
            (networks_of_every_type(200, ""), true),
            // too few entries to bother
            (networks_of_every_type(10, pods), false),
            // services read a default (`when "../../type != 'cluster-ip'"`): all at once
            (networks_of_every_type(200, services), false),
        ] {
            let (_, whole) = with_defaults(&s, &doc, false);
            let (took, ours) = with_defaults(&s, &doc, true);
            assert_eq!(took, apart, "{doc}");
            assert_eq!(ours, whole, "{doc}");
            // the `when`s were evaluated: a bridge has no vxlan defaults, a vxlan has them
            assert!(ours.contains(r#""port": 4789"#), "{ours}");
            assert_eq!(
                ours.matches(r#""port": 4789"#).count(),
                doc.matches(r#""type":"vxlan""#).count(),
                "{ours}"
            );
        }
    }
}
