//! Read replies beyond a plain subtree filter: with-defaults (RFC 6243), XPath filters
//! (:xpath, evaluated by libyang on the data tree), and get-data's config-filter, max-depth,
//! origin filters and with-origin (RFC 8526). The document stays RFC 7951 JSON between the
//! steps so the subtree filter and the pruning steps share one walk; libyang adds defaults,
//! evaluates XPath and prints the XML, so types, `when` and namespaces are libyang's.

use netloom_yang::{print_data, DefaultsMode, NodeKind, Schema};
use serde_json::{Map, Value};
use yang3::data::{
    Data, DataFormat, DataImplicitFlags, DataParserFlags, DataPrinterFlags, DataTree,
    DataValidationFlags,
};

use super::errors::RpcError;
use super::filter;
use super::xml::Element;

pub const NS_WITH_DEFAULTS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults";
/// The XML namespace of the `default` attribute (RFC 6243 section 6); libyang prints the
/// attribute in the module's namespace, which the reply corrects.
const NS_DEFAULT_ATTR: &str = "urn:ietf:params:xml:ns:netconf:default:1.0";
/// `LYD_PRINT_WD_ALL_TAG`, which yang3 has no name for.
const WD_ALL_TAG: u32 = 0x40;

/// The with-defaults retrieval modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithDefaults {
    ReportAll,
    ReportAllTagged,
    Trim,
    Explicit,
}

impl WithDefaults {
    /// The `<with-defaults>` parameter of an operation, if given.
    pub fn from_op(op: &Element) -> Result<Option<Self>, RpcError> {
        let Some(el) = op
            .children
            .iter()
            .find(|c| &*c.name == "with-defaults" && &*c.ns == NS_WITH_DEFAULTS)
        else {
            return Ok(None);
        };
        Ok(Some(match el.text() {
            "report-all" => WithDefaults::ReportAll,
            "report-all-tagged" => WithDefaults::ReportAllTagged,
            "trim" => WithDefaults::Trim,
            "explicit" => WithDefaults::Explicit,
            other => {
                return Err(RpcError::invalid_value(format!(
                    "'{other}' is not a with-defaults mode"
                ))
                .with_info("bad-element", "with-defaults"))
            }
        }))
    }

    fn adds_defaults(self) -> bool {
        matches!(
            self,
            WithDefaults::ReportAll | WithDefaults::ReportAllTagged
        )
    }
}

/// Which part of the data a read selects.
#[derive(Debug, Default)]
pub enum Selection<'a> {
    #[default]
    All,
    Subtree(&'a Element),
    /// An XPath 1.0 expression and the prefix declarations in scope where it was written.
    XPath {
        select: String,
        prefixes: Vec<(String, String)>,
    },
}

/// Origins (RFC 8342) as get-data on operational reports them: configuration is
/// intended, state is learned.
#[derive(Debug, Default)]
pub struct Origins {
    pub annotate: bool,
    /// Keep only nodes whose origin is one of these (identity names).
    pub only: Vec<String>,
    /// Drop nodes whose origin is one of these.
    pub not: Vec<String>,
}

/// Everything a read may ask for.
#[derive(Debug, Default)]
pub struct Read<'a> {
    pub selection: Selection<'a>,
    pub with_defaults: Option<WithDefaults>,
    /// Some(true): configuration only; Some(false): state only.
    pub config_filter: Option<bool>,
    pub max_depth: Option<u16>,
    pub origins: Option<Origins>,
    /// The document read holds state (get, get-data on operational): report-all adds the
    /// defaults of state nodes too. A configuration datastore's read never shows state.
    pub state: bool,
}

impl Read<'_> {
    /// Nothing beyond a subtree filter: the caller's plain path serves it.
    pub fn is_plain(&self) -> bool {
        !matches!(self.selection, Selection::XPath { .. })
            && matches!(self.with_defaults, None | Some(WithDefaults::Explicit))
            && self.config_filter.is_none()
            && self.max_depth.is_none()
            && self.origins.is_none()
    }

    /// How the fast path of configuration reads serves this read: as stored (`Some(None)`)
    /// or in a with-defaults mode that changes the data; None when only the general path
    /// can (get-data's filters). Whether it understands the selection is its own question.
    pub fn fast_mode(&self) -> Option<Option<DefaultsMode>> {
        if self.config_filter.is_some() || self.max_depth.is_some() || self.origins.is_some() {
            return None;
        }
        Some(match self.with_defaults {
            None | Some(WithDefaults::Explicit) => None,
            Some(WithDefaults::ReportAll) => Some(DefaultsMode::ReportAll),
            Some(WithDefaults::ReportAllTagged) => Some(DefaultsMode::ReportAllTagged),
            Some(WithDefaults::Trim) => Some(DefaultsMode::Trim),
        })
    }
}

fn libyang(what: &str) -> impl Fn(yang3::Error) -> RpcError + '_ {
    move |e| RpcError::failed(format!("{what}: {e}"))
}

fn parse<'a>(schema: &'a Schema, doc: &Value) -> Result<DataTree<'a>, RpcError> {
    if doc.as_object().is_none_or(Map::is_empty) {
        return Ok(DataTree::new(schema.context()));
    }
    DataTree::parse_string(
        schema.context(),
        doc.to_string(),
        DataFormat::JSON,
        DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
        DataValidationFlags::empty(),
    )
    .map_err(libyang("reading stored data"))
}

/// A printed JSON document as a value; nothing printed (every value trimmed) is an empty one.
fn json_document(text: &str) -> Result<Value, RpcError> {
    if text.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|e| RpcError::failed(format!("printed data: {e}")))
}

fn to_json(tree: &DataTree<'_>) -> Result<Value, RpcError> {
    if tree.reference().is_none() {
        return Ok(Value::Object(Map::new()));
    }
    let text = print_data(
        tree,
        DataFormat::JSON,
        DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK | DataPrinterFlags::WD_ALL,
    )
    .map_err(libyang("printing data"))?;
    json_document(&text).map_err(|e| RpcError::failed(format!("printed data: {e}")))
}

/// The document with every default libyang derives from the schema (a default under a
/// `when` only where the condition holds); of state nodes too when `state`.
fn add_defaults(schema: &Schema, doc: &Value, state: bool) -> Result<Value, RpcError> {
    let mut tree = parse(schema, doc)?;
    let flags = if state {
        DataImplicitFlags::empty()
    } else {
        DataImplicitFlags::NO_STATE
    };
    schema
        .add_implicit(&mut tree, flags)
        .map_err(|e| RpcError::failed(format!("adding defaults: {e}")))?;
    to_json(&tree)
}

/// The configuration `doc` as a with-defaults mode reports it, as a document to store
/// (copy-config): report-all makes every default explicit, trim drops values equal to
/// their default.
pub fn with_defaults_json(
    schema: &Schema,
    doc: &Value,
    wd: WithDefaults,
) -> Result<Value, RpcError> {
    let mut tree = parse(schema, doc)?;
    let mode = if wd.adds_defaults() {
        schema
            .add_implicit(&mut tree, DataImplicitFlags::NO_STATE)
            .map_err(|e| RpcError::failed(format!("adding defaults: {e}")))?;
        DataPrinterFlags::WD_ALL
    } else if wd == WithDefaults::Trim {
        DataPrinterFlags::WD_TRIM
    } else {
        DataPrinterFlags::WD_EXPLICIT
    };
    if tree.reference().is_none() {
        return Ok(Value::Object(Map::new()));
    }
    let text = print_data(
        &tree,
        DataFormat::JSON,
        DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK | mode,
    )
    .map_err(libyang("printing data"))?;
    json_document(&text)
}

/// An XPath written with XML prefixes, rewritten with module names (libyang's JSON form).
pub fn module_prefixed(
    schema: &Schema,
    select: &str,
    prefixes: &[(String, String)],
) -> Result<String, RpcError> {
    let mut out = String::with_capacity(select.len());
    let mut chars = select.char_indices().peekable();
    let is_start = |c: char| c.is_alphabetic() || c == '_';
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    while let Some((i, c)) = chars.next() {
        if c == '\'' || c == '"' {
            // A literal: copied as is.
            out.push(c);
            for (_, d) in chars.by_ref() {
                out.push(d);
                if d == c {
                    break;
                }
            }
            continue;
        }
        if !is_start(c) {
            out.push(c);
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if !is_name(d) {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        let name = &select[i..end];
        let rest = &select[end..];
        let qualifies = rest.starts_with(':')
            && !rest.starts_with("::")
            && rest[1..].starts_with(|d: char| is_start(d) || d == '*');
        if !qualifies {
            out.push_str(name);
            continue;
        }
        let ns = prefixes
            .iter()
            .rev()
            .find(|(p, _)| p == name)
            .map(|(_, ns)| ns)
            .ok_or_else(|| {
                RpcError::invalid_value(format!("the XPath prefix '{name}' is not declared"))
            })?;
        let module = schema
            .context()
            .get_module_latest_ns(ns)
            .ok_or_else(|| RpcError::invalid_value(format!("no module has namespace '{ns}'")))?;
        out.push_str(module.name());
    }
    Ok(out)
}

/// The nodes the XPath selects, with their ancestors (and list keys).
fn xpath(
    schema: &Schema,
    doc: &Value,
    select: &str,
    prefixes: &[(String, String)],
) -> Result<Value, RpcError> {
    let expr = module_prefixed(schema, select, prefixes)?;
    let tree = parse(schema, doc)?;
    let mut out = DataTree::new(schema.context());
    if tree.reference().is_none() {
        // libyang still checks the expression against the schema.
        let _ = schema.context().find_xpath(&expr).map_err(|e| {
            RpcError::invalid_value(format!("the XPath '{select}' is not valid: {e}"))
        })?;
        return Ok(Value::Object(Map::new()));
    }
    let set = tree
        .find_xpath(&expr)
        .map_err(|e| RpcError::invalid_value(format!("the XPath '{select}' is not valid: {e}")))?;
    for node in set {
        let dup = node.duplicate(true).map_err(libyang("selecting data"))?;
        out.merge(&dup).map_err(libyang("selecting data"))?;
    }
    to_json(&out)
}

/// Keep configuration (`config` true) or state nodes only.
fn config_filter(schema: &Schema, doc: &mut Value, config: bool) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    obj.retain(|member, v| {
        let Some((module, name)) = member.split_once(':') else {
            return false;
        };
        match schema.root(module, name) {
            Some(root) => prune_config(schema, root, v, config),
            // Another module's state (netconf-state, yang-library).
            None => !config,
        }
    });
}

/// Whether anything is left of `v` (instances of `node`) after dropping the other kind.
fn prune_config(schema: &Schema, node: netloom_yang::NodeId, v: &mut Value, config: bool) -> bool {
    let info = schema.node(node);
    if !info.config {
        return !config;
    }
    match info.kind {
        NodeKind::Leaf | NodeKind::LeafList => config,
        NodeKind::List | NodeKind::Container { .. } => {
            let keys = info.keys.clone();
            let mut keep_entry = |entry: &mut Value| -> bool {
                let Some(obj) = entry.as_object_mut() else {
                    return false;
                };
                obj.retain(|member, child| {
                    if keys.contains(member) {
                        return true;
                    }
                    schema
                        .child_by_member(node, member)
                        .is_some_and(|c| prune_config(schema, c, child, config))
                });
                config || obj.keys().any(|k| !keys.contains(k))
            };
            match v {
                Value::Array(items) => {
                    items.retain_mut(&mut keep_entry);
                    !items.is_empty()
                }
                other => keep_entry(other),
            }
        }
    }
}

/// Cut the tree below `depth` levels (a list entry's keys come with it).
fn max_depth(doc: &mut Value, depth: u16, keys_of: &dyn Fn(&[String]) -> Vec<String>) {
    fn cut(
        v: &mut Value,
        left: u16,
        path: &mut Vec<String>,
        keys_of: &dyn Fn(&[String]) -> Vec<String>,
    ) {
        match v {
            Value::Array(items) => {
                for i in items {
                    cut(i, left, path, keys_of);
                }
            }
            Value::Object(obj) => {
                let keys = keys_of(path);
                if left == 0 {
                    obj.retain(|k, _| keys.contains(k));
                    return;
                }
                for (k, child) in obj.iter_mut() {
                    if keys.contains(k) {
                        continue;
                    }
                    path.push(k.clone());
                    cut(child, left - 1, path, keys_of);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    for (k, v) in obj.iter_mut() {
        let mut path = vec![k.clone()];
        cut(v, depth - 1, &mut path, keys_of);
    }
}

/// The list keys of the node at a path of RFC 7951 member names.
fn keys_at(schema: &Schema, path: &[String]) -> Vec<String> {
    let mut node = None;
    for member in path {
        node = match node {
            None => member.split_once(':').and_then(|(m, n)| schema.root(m, n)),
            Some(p) => schema.child_by_member(p, member),
        };
        if node.is_none() {
            return Vec::new();
        }
    }
    node.map(|n| schema.node(n).keys.clone())
        .unwrap_or_default()
}

/// The origin of a top-level member: netloom's configuration is intended, all state is
/// learned from the dataplane.
fn origin_of(schema: &Schema, member: &str) -> &'static str {
    let config = member
        .split_once(':')
        .and_then(|(m, n)| schema.root(m, n))
        .is_some_and(|r| schema.node(r).config);
    if config {
        "intended"
    } else {
        "learned"
    }
}

fn apply_origins(schema: &Schema, doc: &mut Value, origins: &Origins) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    // Every reported origin derives from nothing but `origin` itself, so identity
    // derivation reduces to equality (and `origin` matches everything).
    let matches = |list: &[String], o: &str| list.iter().any(|x| x == o || x == "origin");
    obj.retain(|member, _| {
        let o = origin_of(schema, member);
        (origins.only.is_empty() || matches(&origins.only, o)) && !matches(&origins.not, o)
    });
    if !origins.annotate {
        return;
    }
    for (member, v) in obj.iter_mut() {
        let o = origin_of(schema, member);
        if let Value::Object(inner) = v {
            let mut meta = Map::new();
            meta.insert(
                "ietf-origin:origin".into(),
                Value::String(format!("ietf-origin:{o}")),
            );
            inner.insert("@".into(), Value::Object(meta));
        }
    }
}

/// The XML content of `<data>` for `doc` read as `read` asks.
pub fn render(schema: &Schema, mut doc: Value, read: &Read<'_>) -> Result<String, RpcError> {
    let wd = read.with_defaults.unwrap_or(WithDefaults::Explicit);
    if wd.adds_defaults() {
        doc = add_defaults(schema, &doc, read.state)?;
    }
    match &read.selection {
        Selection::All => {}
        Selection::Subtree(f) => doc = filter::subtree(schema, &doc, f),
        Selection::XPath { select, prefixes } => doc = xpath(schema, &doc, select, prefixes)?,
    }
    if let Some(config) = read.config_filter {
        config_filter(schema, &mut doc, config);
    }
    if let Some(depth) = read.max_depth {
        max_depth(&mut doc, depth, &|path| keys_at(schema, path));
    }
    if let Some(origins) = &read.origins {
        apply_origins(schema, &mut doc, origins);
    }
    let tree = parse(schema, &doc)?;
    if tree.reference().is_none() {
        return Ok(String::new());
    }
    let mode = match wd {
        WithDefaults::ReportAllTagged => DataPrinterFlags::from_bits_retain(WD_ALL_TAG),
        WithDefaults::Trim => DataPrinterFlags::WD_TRIM,
        // Defaults were made explicit above.
        WithDefaults::ReportAll | WithDefaults::Explicit => DataPrinterFlags::WD_EXPLICIT,
    };
    let xml = print_data(
        &tree,
        DataFormat::XML,
        DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK | mode,
    )
    .map_err(libyang("encoding data as XML"))?;
    Ok(if wd == WithDefaults::ReportAllTagged {
        xml.replace(
            &format!("\"{NS_WITH_DEFAULTS}\""),
            &format!("\"{NS_DEFAULT_ATTR}\""),
        )
    } else {
        xml
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"netloom-host:networks": {"network": [
            {"name": "a", "type": "bridge", "mtu": 1400},
            {"name": "m", "type": "macvlan", "uplink": "eth0",
             "macvlan": {"mode": "bridge"}}
        ]}})
    }

    fn read(wd: WithDefaults) -> Read<'static> {
        Read {
            with_defaults: Some(wd),
            ..Default::default()
        }
    }

    #[test]
    fn with_defaults_modes() {
        let s = Schema::new().unwrap();
        let all = render(&s, doc(), &read(WithDefaults::ReportAll)).unwrap();
        // The bridge network's bridge container (when: type bridge) gets its defaults, the
        // macvlan network gets none of the bridge's.
        assert!(all.contains("<hairpin>false</hairpin>"), "{all}");
        assert_eq!(all.matches("<hairpin>").count(), 1, "{all}");
        let tagged = render(&s, doc(), &read(WithDefaults::ReportAllTagged)).unwrap();
        assert!(tagged.contains(NS_DEFAULT_ATTR), "{tagged}");
        assert!(
            tagged.contains(":default=\"true\">false</hairpin>"),
            "{tagged}"
        );
        // The explicitly set default (macvlan mode bridge) is tagged too, and trimmed.
        assert!(
            tagged.contains(":default=\"true\">bridge</mode>"),
            "{tagged}"
        );
        let trim = render(&s, doc(), &read(WithDefaults::Trim)).unwrap();
        assert!(!trim.contains("<mode>"), "{trim}");
        let explicit = render(&s, doc(), &read(WithDefaults::Explicit)).unwrap();
        assert!(explicit.contains("<mode>bridge</mode>"), "{explicit}");
        assert!(!explicit.contains("hairpin"), "{explicit}");
    }

    #[test]
    fn xpath_with_xml_prefixes() {
        let s = Schema::new().unwrap();
        let prefixes = vec![("x".to_owned(), "urn:netloom:yang:netloom-host".to_owned())];
        let r = Read {
            selection: Selection::XPath {
                select: "/x:networks/x:network[x:name='m']/x:uplink".into(),
                prefixes: prefixes.clone(),
            },
            ..Default::default()
        };
        let out = render(&s, doc(), &r).unwrap();
        assert!(out.contains("<name>m</name><uplink>eth0</uplink>"), "{out}");
        assert!(!out.contains("<name>a</name>"), "{out}");
        let bad = Read {
            selection: Selection::XPath {
                select: "/x:networks/[".into(),
                prefixes,
            },
            ..Default::default()
        };
        assert_eq!(render(&s, doc(), &bad).unwrap_err().tag, "invalid-value");
        assert_eq!(
            module_prefixed(&s, "/y:a[z = 'p:q']", &[]).unwrap_err().tag,
            "invalid-value"
        );
    }

    #[test]
    fn depth_config_filter_and_origin() {
        let s = Schema::new().unwrap();
        let mut d = doc();
        d["netloom-host:state"] = json!({"attachment": []});
        let r = Read {
            max_depth: Some(2),
            config_filter: Some(true),
            origins: Some(Origins {
                annotate: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = render(&s, d, &r).unwrap();
        assert!(out.contains("<network><name>a</name></network>"), "{out}");
        assert!(!out.contains("mtu"), "{out}");
        assert!(out.contains(":origin=\"or:intended\""), "{out}");
    }
}
