//! The schema: one libyang context built from the embedded modules, and a Rust-side index of
//! the data nodes (names, kinds, keys, defaults) that edits, paths and the unit model walk
//! without going through FFI on every step.

use std::collections::HashMap;
use std::sync::LazyLock;

use yang3::context::{Context, ContextFlags, EmbeddedModuleKey, EmbeddedModules};
use yang3::schema::{DataValueType, SchemaNode, SchemaNodeKind};

use crate::defaults::{self, DefaultSensitivity};
use crate::deps::{self, DependencyGraph};
use crate::error::Error;
use crate::modules::{MODULES, PROTOCOL_MODULES};
use crate::shapes::{self, Shapes};
use crate::unit::{UnitDef, UnitListId};

/// Index of a node in [`Schema::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Container { presence: bool },
    List,
    Leaf,
    LeafList,
}

/// What netloom needs to know about one data node, without asking libyang.
#[derive(Debug, Clone)]
pub struct SchemaNodeInfo {
    pub name: String,
    pub module: String,
    pub kind: NodeKind,
    pub parent: Option<NodeId>,
    /// Data children, with choice and case flattened away.
    pub children: Vec<NodeId>,
    /// List keys, in key order.
    pub keys: Vec<String>,
    pub config: bool,
    pub user_ordered: bool,
    pub mandatory: bool,
    pub default: Option<String>,
    pub description: Option<String>,
    /// The leaf's type name as written (typedef name or built-in), for help and completion.
    pub type_name: Option<String>,
    /// Enumeration names of a leaf's type, for completion.
    pub enums: Vec<String>,
    /// A leaf's numeric range or string length restriction (`68..65535`), for help.
    pub range: Option<String>,
    /// A leaf's units statement, for help.
    pub units: Option<String>,
    /// Whether a leaf's JSON value is a bare number (RFC 7951: up to 32-bit integers).
    pub json_number: bool,
    /// Whether a leaf's XML value carries module prefixes (identityref,
    /// instance-identifier, also inside a union or behind a leafref).
    pub xml_prefixed: bool,
    /// The unit list this node is, when it is one.
    pub unit: Option<UnitListId>,
    /// The XML namespace of the node's module when netloom embeds that module (the XML
    /// writer compares these by address instead of module names by content).
    pub namespace: Option<&'static str>,
    /// Marked `nacm:default-deny-all` (RFC 8341 3.5.1), itself or an ancestor: only admins
    /// read it.
    pub secret: bool,
    /// The compiled node (`lysc_node`), owned by the context, for the few libyang calls
    /// made per value ([`Schema::leaf_json_of_xml`]); kept as an address so the index stays `Send`.
    pub(crate) raw: usize,
}

/// The compiled schema and everything derived from it once at start.
pub struct Schema {
    ctx: Context,
    nodes: Vec<SchemaNodeInfo>,
    roots: Vec<NodeId>,
    units: Vec<UnitDef>,
    deps: DependencyGraph,
    defaults: DefaultSensitivity,
    shapes: Shapes,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("nodes", &self.nodes.len())
            .field("units", &self.units.len())
            .finish()
    }
}

static EMBEDDED: LazyLock<EmbeddedModules> = LazyLock::new(|| {
    MODULES
        .iter()
        .chain(PROTOCOL_MODULES.iter().map(|p| &p.module))
        .map(|m| {
            (
                EmbeddedModuleKey::new(m.name, Some(m.revision), None, None),
                m.text,
            )
        })
        .collect()
});

impl Schema {
    /// Build the context from the embedded modules and index it.
    pub fn new() -> Result<Self, Error> {
        let mut ctx = Context::new(ContextFlags::DISABLE_SEARCHDIR_CWD)
            .map_err(|e| Error::Context(e.to_string()))?;
        ctx.set_embedded_modules(&EMBEDDED);
        for module in MODULES {
            ctx.load_module(module.name, Some(module.revision), &[])
                .map_err(|e| Error::Context(format!("loading {}: {e}", module.name)))?;
        }
        // Import-only modules are loaded by the modules importing them.
        for p in PROTOCOL_MODULES.iter().filter(|p| p.implemented) {
            ctx.load_module(p.module.name, Some(p.module.revision), p.features)
                .map_err(|e| Error::Context(format!("loading {}: {e}", p.module.name)))?;
        }
        let mut schema = Schema {
            ctx,
            nodes: Vec::new(),
            roots: Vec::new(),
            units: Vec::new(),
            deps: DependencyGraph::default(),
            defaults: DefaultSensitivity::default(),
            shapes: Shapes::default(),
        };
        schema.index()?;
        Ok(schema)
    }

    fn index(&mut self) -> Result<(), Error> {
        let mut raw_map: HashMap<usize, NodeId> = HashMap::new();
        let mut nodes = Vec::new();
        let mut roots = Vec::new();
        // Only the data modules: the protocol modules' state (netconf-state) is built by the
        // front ends, and none of them has configuration.
        for module in MODULES {
            let m = self
                .ctx
                .get_module_implemented(module.name)
                .ok_or_else(|| Error::Context(format!("{} not implemented", module.name)))?;
            for top in m.data() {
                for id in index_node(&top, None, &mut nodes, &mut raw_map) {
                    roots.push(id);
                }
            }
        }
        // Unit lists are lists right under a root container; everything else of a root
        // container forms that container's remainder unit.
        let mut units = Vec::new();
        for &root in &roots {
            let info = &nodes[root.0 as usize];
            if !matches!(info.kind, NodeKind::Container { .. }) || !info.config {
                continue;
            }
            let root_path = format!("/{}:{}", info.module, info.name);
            units.push(UnitDef::remainder(root, root_path.clone()));
            let children = info.children.clone();
            for child in children {
                let c = &mut nodes[child.0 as usize];
                if c.kind == NodeKind::List && c.config {
                    let id = UnitListId(units.len() as u16);
                    c.unit = Some(id);
                    let path = format!("{root_path}/{}", c.name);
                    units.push(UnitDef::list(root, child, path, c.keys.clone()));
                }
            }
        }
        self.nodes = nodes;
        self.roots = roots;
        self.units = units;
        self.deps = deps::analyse(self, &raw_map)?;
        self.defaults = defaults::analyse(self, &raw_map)?;
        self.shapes = shapes::analyse(self, &raw_map)?;
        Ok(())
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub fn node(&self, id: NodeId) -> &SchemaNodeInfo {
        &self.nodes[id.0 as usize]
    }

    pub fn roots(&self) -> &[NodeId] {
        &self.roots
    }

    pub fn units(&self) -> &[UnitDef] {
        &self.units
    }

    pub fn unit(&self, id: UnitListId) -> &UnitDef {
        &self.units[id.0 as usize]
    }

    pub fn dependencies(&self) -> &DependencyGraph {
        &self.deps
    }

    /// Which unit lists validate exactly without default nodes.
    pub fn default_sensitivity(&self) -> &DefaultSensitivity {
        &self.defaults
    }

    /// Which unit lists' entries can be judged by shape, and by what.
    pub fn shapes(&self) -> &Shapes {
        &self.shapes
    }

    /// The unit list of the list at `/<module>:<container>/<list>`, by names.
    /// How many unit lists (remainders included) the schema has.
    pub(crate) fn units_len(&self) -> usize {
        self.units.len()
    }

    pub fn unit_by_names(&self, container: &str, list: &str) -> Option<UnitListId> {
        self.units
            .iter()
            .position(|u| {
                u.list_node().is_some_and(|l| {
                    self.node(l).name == list && self.node(u.root()).name == container
                })
            })
            .map(|i| UnitListId(i as u16))
    }

    /// The root node with this module and name.
    pub fn root(&self, module: &str, name: &str) -> Option<NodeId> {
        self.roots
            .iter()
            .copied()
            .find(|&r| self.node(r).name == name && self.node(r).module == module)
    }

    /// The data child `name` of `parent`; `module` None means the parent's module.
    pub fn child(&self, parent: NodeId, module: Option<&str>, name: &str) -> Option<NodeId> {
        let pmod = &self.node(parent).module;
        let module = module.unwrap_or(pmod);
        self.node(parent)
            .children
            .iter()
            .copied()
            .find(|&c| self.node(c).name == name && self.node(c).module == module)
    }

    /// The child named by an RFC 7951 member name (`name` or `module:name`).
    pub fn child_by_member(&self, parent: NodeId, member: &str) -> Option<NodeId> {
        match member.split_once(':') {
            Some((m, n)) => self.child(parent, Some(m), n),
            None => self.child(parent, None, member),
        }
    }

    /// The RFC 7951 member name of `id` inside its parent.
    pub fn member_name(&self, id: NodeId) -> String {
        let n = self.node(id);
        match n.parent {
            Some(p) if self.node(p).module == n.module => n.name.clone(),
            _ => format!("{}:{}", n.module, n.name),
        }
    }

    /// The schema path of a node, module-qualified at the top: `/m:a/b/c`.
    pub fn schema_path(&self, id: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            parts.push(self.member_name(c));
            cur = self.node(c).parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }
}

/// Index `node` (flattening choice/case) and its subtree; returns the data node ids made at
/// this level.
fn index_node(
    node: &SchemaNode<'_>,
    parent: Option<NodeId>,
    nodes: &mut Vec<SchemaNodeInfo>,
    raw_map: &mut HashMap<usize, NodeId>,
) -> Vec<NodeId> {
    let kind = match node.kind() {
        SchemaNodeKind::Container => NodeKind::Container {
            presence: !node.is_np_container(),
        },
        SchemaNodeKind::List => NodeKind::List,
        SchemaNodeKind::Leaf => NodeKind::Leaf,
        SchemaNodeKind::LeafList => NodeKind::LeafList,
        SchemaNodeKind::Choice | SchemaNodeKind::Case => {
            let mut out = Vec::new();
            for child in node.children() {
                out.extend(index_node(&child, parent, nodes, raw_map));
            }
            return out;
        }
        _ => return Vec::new(),
    };
    let id = NodeId(nodes.len() as u32);
    raw_map.insert(node.as_raw() as usize, id);
    let leaf_type = node.leaf_type();
    let range = leaf_type.as_ref().and_then(deps::range_text);
    let (type_name, json_number, enums) = match &leaf_type {
        Some(t) => {
            let base = match t.base_type() {
                DataValueType::LeafRef => t.leafref_real_type().map(|r| r.base_type()),
                other => Some(other),
            };
            let number = matches!(
                base,
                Some(
                    DataValueType::Int8
                        | DataValueType::Int16
                        | DataValueType::Int32
                        | DataValueType::Uint8
                        | DataValueType::Uint16
                        | DataValueType::Uint32
                )
            );
            let name = t
                .typedef_name()
                .unwrap_or_else(|| format!("{:?}", t.base_type()));
            (Some(name), number, deps::enum_names(t))
        }
        None => (None, false, Vec::new()),
    };
    nodes.push(SchemaNodeInfo {
        name: node.name().to_owned(),
        module: node.module().name().to_owned(),
        kind,
        parent,
        children: Vec::new(),
        keys: node.list_keys().map(|k| k.name().to_owned()).collect(),
        config: node.is_config(),
        user_ordered: node.is_user_ordered(),
        mandatory: node.is_mandatory(),
        default: deps::leaf_default(node),
        description: node.description().map(str::to_owned),
        type_name,
        enums,
        range,
        units: node.units().map(str::to_owned),
        json_number,
        xml_prefixed: leaf_type.as_ref().is_some_and(deps::xml_prefixed),
        secret: crate::secret::default_deny_all(node)
            || parent.is_some_and(|p| nodes[p.0 as usize].secret),
        unit: None,
        namespace: crate::modules::MODULES
            .iter()
            .find(|m| m.name == node.module().name())
            .map(|m| m.namespace),
        raw: node.as_raw() as usize,
    });
    let mut children = Vec::new();
    for child in node.children() {
        children.extend(index_node(&child, Some(id), nodes, raw_map));
    }
    nodes[id.0 as usize].children = children;
    vec![id]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_unit_lists_and_children() {
        let s = Schema::new().unwrap();
        let pods = s.unit_by_names("pods", "pod").unwrap();
        let def = s.unit(pods);
        assert_eq!(def.path_prefix(), "/netloom-host:pods/pod");
        assert_eq!(def.keys(), &["namespace".to_owned(), "name".to_owned()]);
        let root = s.root("netloom-host", "networks").unwrap();
        let net = s.child(root, None, "network").unwrap();
        let vxlan = s.child(net, None, "vxlan").unwrap();
        // choice/case flattened: remote and group are direct children
        assert!(s.child(vxlan, None, "remote").is_some());
        assert!(s.child(vxlan, None, "group").is_some());
        let mtu = s.child(net, None, "mtu").unwrap();
        assert!(s.node(mtu).json_number);
        assert_eq!(s.schema_path(mtu), "/netloom-host:networks/network/mtu");
        assert_eq!(s.node(mtu).range.as_deref(), Some("68..65535"));
        // The protocol modules are in the context but add no roots.
        assert!(s
            .context()
            .get_module_implemented("ietf-netconf-nmda")
            .is_some());
        assert!(s
            .roots()
            .iter()
            .all(|&r| s.node(r).module == "netloom-host"));
        let name = s.child(net, None, "name").unwrap();
        assert_eq!(s.node(name).range.as_deref(), Some("1..63"));
        let vni = s.child(vxlan, None, "vni").unwrap();
        assert_eq!(s.node(vni).range.as_deref(), Some("1..16777215"));
    }
}
