//! gNMI paths and netloom's: a request's prefix and path joined into one absolute
//! [`GPath`] (origin, elements with keys, wildcards `*` and `...`), checked against the
//! schema, and turned into a [`DataPath`] for edits or back into a gNMI `Path` for answers.

use std::collections::BTreeMap;

use netloom_yang::{DataPath, NodeId, NodeKind, Schema, Segment};
use tonic::Status;

use super::error::invalid;
use super::proto::gnmi::{Path, PathElem};

/// The module every netloom path is in.
pub const MODULE: &str = "netloom-host";
/// No netloom path is deeper than this; longer ones are refused before any work is done.
const MAX_ELEMS: usize = 64;

/// Which tree a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// netloom's own model (origin empty, `netloom-host` or `rfc7951`).
    Netloom,
    /// OpenConfig-style paths (origin `openconfig`, or empty with `/interfaces` first).
    OpenConfig,
}

/// One step: a node name (module prefix removed) and its key predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub name: String,
    pub keys: BTreeMap<String, String>,
}

impl Elem {
    pub fn is_deep(&self) -> bool {
        self.name == "..."
    }

    pub fn is_any(&self) -> bool {
        self.name == "*"
    }

    fn has_wildcard(&self) -> bool {
        self.is_deep() || self.is_any() || self.keys.values().any(|v| v == "*")
    }
}

/// An absolute gNMI path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GPath {
    pub origin: Origin,
    pub elems: Vec<Elem>,
    /// The client named the first step with its module (`netloom-host:networks`): answers
    /// name it the same way.
    pub qualified: bool,
}

impl GPath {
    /// `prefix` + `path`, as gNMI section 2.4.1 joins them.
    pub fn join(prefix: Option<&Path>, path: Option<&Path>) -> Result<GPath, Status> {
        let origins: Vec<&str> = [prefix, path]
            .into_iter()
            .flatten()
            .map(|p| p.origin.as_str())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.len() == 2 && origins[0] != origins[1] {
            return Err(invalid(format!(
                "the prefix's origin '{}' and the path's '{}' differ",
                origins[0], origins[1]
            )));
        }
        let origin = origins.first().copied().unwrap_or("");
        let mut elems = Vec::new();
        let mut qualified = false;
        for p in [prefix, path].into_iter().flatten() {
            #[allow(deprecated)]
            let element = &p.element;
            if !element.is_empty() {
                return Err(invalid(
                    "the deprecated 'element' path field is not supported; use 'elem'",
                ));
            }
            if elems.len() + p.elem.len() > MAX_ELEMS {
                return Err(invalid(format!(
                    "the path has more than {MAX_ELEMS} elements"
                )));
            }
            for e in &p.elem {
                let first = elems.is_empty();
                let name = match e.name.split_once(':') {
                    Some((module, name))
                        if module == MODULE || module.starts_with("openconfig") =>
                    {
                        qualified |= first;
                        name
                    }
                    Some((module, _)) => {
                        return Err(invalid(format!(
                            "unknown module '{module}' in '{}'",
                            e.name
                        )))
                    }
                    None => e.name.as_str(),
                };
                if name.is_empty() {
                    return Err(invalid("a path element has no name"));
                }
                if (name == "*" || name == "...") && !e.key.is_empty() {
                    return Err(invalid(format!("wildcard '{name}' takes no keys")));
                }
                if e.key.keys().any(String::is_empty) {
                    return Err(invalid(format!("'{name}' has a key without a name")));
                }
                elems.push(Elem {
                    name: name.to_owned(),
                    keys: e.key.clone().into_iter().collect(),
                });
            }
        }
        let origin = match origin {
            "" if elems.first().is_some_and(|e| e.name == "interfaces") => Origin::OpenConfig,
            "" | MODULE | "rfc7951" => Origin::Netloom,
            "openconfig" => Origin::OpenConfig,
            other => return Err(invalid(format!("unknown origin '{other}'"))),
        };
        Ok(GPath {
            origin,
            elems,
            qualified,
        })
    }

    pub fn has_wildcard(&self) -> bool {
        self.elems.iter().any(Elem::has_wildcard)
    }

    /// Check a netloom path against the schema: every name exists where it stands, keys
    /// are the list's keys. Wildcards match any node; after `...` names are not checked.
    pub fn check(&self, schema: &Schema) -> Result<(), Status> {
        if self.origin != Origin::Netloom {
            return Ok(());
        }
        let mut here: Vec<Option<NodeId>> = vec![None];
        for (i, e) in self.elems.iter().enumerate() {
            if e.is_deep() {
                return Ok(());
            }
            let mut next = Vec::new();
            for node in &here {
                for c in children(schema, *node) {
                    if e.is_any() || schema.node(c).name == e.name {
                        next.push(Some(c));
                    }
                }
            }
            if next.is_empty() {
                return Err(invalid(format!(
                    "no node '{}' at {}",
                    e.name,
                    show(&self.elems[..i])
                )));
            }
            for k in e.keys.keys() {
                let keyed = next.iter().flatten().any(|&n| {
                    let info = schema.node(n);
                    info.kind == NodeKind::List && info.keys.contains(k)
                });
                if !keyed {
                    return Err(invalid(format!("'{}' has no key '{k}'", e.name)));
                }
            }
            here = next;
        }
        Ok(())
    }

    /// The instance path of a concrete netloom path, for an edit.
    pub fn to_data_path(&self, schema: &Schema) -> Result<DataPath, Status> {
        if self.has_wildcard() {
            return Err(invalid(format!(
                "{} has wildcards; Set needs a concrete path",
                show(&self.elems)
            )));
        }
        self.check(schema)?;
        let segments = self
            .elems
            .iter()
            .enumerate()
            .map(|(i, e)| Segment {
                module: (i == 0).then(|| MODULE.to_owned()),
                name: e.name.clone(),
                keys: e.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                value: None,
                node: None,
            })
            .collect();
        Ok(DataPath { segments })
    }
}

/// The data children of a node; of the root, netloom's top-level containers.
pub fn children(schema: &Schema, node: Option<NodeId>) -> Vec<NodeId> {
    match node {
        Some(n) => schema.node(n).children.clone(),
        None => schema
            .roots()
            .iter()
            .copied()
            .filter(|&r| schema.node(r).module == MODULE)
            .collect(),
    }
}

/// A path for messages: `/a/b[k=v]`.
pub fn show(elems: &[Elem]) -> String {
    let mut out = String::new();
    for e in elems {
        out.push('/');
        out.push_str(&e.name);
        for (k, v) in &e.keys {
            out.push_str(&format!("[{k}={v}]"));
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// A gNMI path for an answer.
pub fn to_proto(origin: Origin, elems: Vec<PathElem>) -> Path {
    Path {
        origin: match origin {
            Origin::Netloom => String::new(),
            Origin::OpenConfig => "openconfig".into(),
        },
        elem: elems,
        ..Path::default()
    }
}

/// A path's text form, the key a stream coalesces on.
pub fn key_of(path: &Path) -> String {
    let mut out = path.origin.clone();
    for e in &path.elem {
        out.push('/');
        out.push_str(&e.name);
        let keys: BTreeMap<_, _> = e.key.iter().collect();
        for (k, v) in keys {
            out.push_str(&format!("[{k}={v}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem(name: &str, keys: &[(&str, &str)]) -> PathElem {
        PathElem {
            name: name.into(),
            key: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn path(origin: &str, elems: Vec<PathElem>) -> Path {
        Path {
            origin: origin.into(),
            elem: elems,
            ..Path::default()
        }
    }

    #[test]
    fn joins_prefix_and_path_and_checks_them() {
        let s = Schema::new().unwrap();
        let prefix = path("", vec![elem("netloom-host:networks", &[])]);
        let p = path(
            "",
            vec![elem("network", &[("name", "a")]), elem("mtu", &[])],
        );
        let g = GPath::join(Some(&prefix), Some(&p)).unwrap();
        assert!(g.qualified);
        assert_eq!(g.origin, Origin::Netloom);
        g.check(&s).unwrap();
        let d = g.to_data_path(&s).unwrap();
        assert_eq!(
            s.resolve(&d).unwrap().to_xpath().unwrap(),
            "/netloom-host:networks/network[name='a']/mtu"
        );
    }

    #[test]
    fn refuses_bad_paths_and_origins() {
        let s = Schema::new().unwrap();
        let bad = |o: &str, e: Vec<PathElem>| {
            GPath::join(None, Some(&path(o, e))).and_then(|g| g.check(&s))
        };
        assert!(bad("nope", vec![elem("networks", &[])]).is_err());
        assert!(bad("", vec![elem("networks", &[]), elem("nope", &[])]).is_err());
        assert!(bad(
            "",
            vec![elem("networks", &[]), elem("network", &[("id", "1")])]
        )
        .is_err());
        assert!(bad("", vec![elem("x:networks", &[])]).is_err());
        let long: Vec<PathElem> = (0..10_000).map(|_| elem("networks", &[])).collect();
        assert!(bad("", long).is_err());
        assert!(bad("", vec![elem("*", &[]), elem("network", &[("name", "*")])]).is_ok());
        assert!(bad("", vec![elem("...", &[]), elem("whatever", &[])]).is_ok());
        let wild = GPath::join(
            None,
            Some(&path("", vec![elem("networks", &[]), elem("*", &[])])),
        )
        .unwrap();
        assert!(wild.to_data_path(&s).is_err());
        let oc = GPath::join(None, Some(&path("", vec![elem("interfaces", &[])]))).unwrap();
        assert_eq!(oc.origin, Origin::OpenConfig);
    }
}
