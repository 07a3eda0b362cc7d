//! One entry's with-defaults rendering made from another's. libyang adds an entry's implicit
//! nodes (~16 µs an entry, most of it making the `when`-guarded containers of every network
//! type and dropping all but one) from which nodes the entry has and the values its `when`s
//! read; two entries alike in those — of one *shape* — get the same implicit nodes at the
//! same places. So libyang renders the first entry of a shape, the difference between that
//! rendering and the entry's plain one (which netloom writes itself) is learnt as a
//! [`Template`], and every later entry of the shape is its own plain rendering with the
//! template's edits applied: elements inserted (the implicit nodes), start tags replaced
//! (report-all-tagged's attribute on an explicit value equal to its default) or elements
//! removed (trim's values equal to their default).
//!
//! The shape is the plain rendering with the text of every inert leaf blanked
//! ([`crate::Shapes::rendering_inert`]): its tags and the values anything reads are kept, so
//! two entries of one shape have the same elements in the same order. A template is kept
//! only if applying it to the entry it was learnt from gives libyang's bytes exactly;
//! otherwise that shape is rendered by libyang entry by entry.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::defaults_xml::DefaultsMode;
use crate::shapes::{Inert, InertMember};
use crate::unit::UnitListId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    End,
    /// `<x/>`
    Empty,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    kind: Kind,
    at: Range<usize>,
}

/// The events of `xml` as netloom and libyang write data (elements, attributes and text; no
/// comments, processing instructions or CDATA): `None` for anything else.
fn events(xml: &str) -> Option<Vec<Event>> {
    let b = xml.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 8);
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] != b'<' {
            i += memchr::memchr(b'<', &b[i..]).unwrap_or(b.len() - i);
            out.push(Event {
                kind: Kind::Text,
                at: start..i,
            });
            continue;
        }
        if matches!(b.get(i + 1), Some(b'!' | b'?') | None) {
            return None;
        }
        // To the tag's '>', over quoted attribute values.
        let mut quote = 0u8;
        i += 1;
        while i < b.len() {
            let c = b[i];
            if quote != 0 {
                if c == quote {
                    quote = 0;
                }
            } else if c == b'"' || c == b'\'' {
                quote = c;
            } else if c == b'>' {
                break;
            }
            i += 1;
        }
        if i == b.len() {
            return None;
        }
        i += 1;
        let kind = if b[start + 1] == b'/' {
            Kind::End
        } else if b[i - 2] == b'/' {
            Kind::Empty
        } else {
            Kind::Start
        };
        out.push(Event { kind, at: start..i });
    }
    Some(out)
}

/// A tag's element name without its prefix.
fn local_name(tag: &str) -> &str {
    let name = tag
        .trim_start_matches('<')
        .trim_start_matches('/')
        .split(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .next()
        .unwrap_or("");
    name.rsplit(':').next().unwrap_or(name)
}

/// The index of the event closing the element that event `i` opens.
fn element_end(ev: &[Event], i: usize) -> Option<usize> {
    match ev.get(i)?.kind {
        Kind::Empty => Some(i),
        Kind::Start => {
            let mut depth = 0usize;
            for (j, e) in ev.iter().enumerate().skip(i) {
                match e.kind {
                    Kind::Start => depth += 1,
                    Kind::End => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        _ => None,
    }
}

/// The shape of an entry's plain rendering `xml` (its events `ev`): its tags, and the text of
/// every leaf but the ones `inert` names (members of the entry, the outermost element),
/// which is blanked.
fn shape(xml: &str, ev: &[Event], inert: &Inert) -> String {
    let mut out = String::with_capacity(xml.len());
    // The inert members of each open element (none: everything below counts).
    let mut open: Vec<Option<&Inert>> = Vec::with_capacity(8);
    let mut blank = false;
    for e in ev {
        let text = &xml[e.at.clone()];
        match e.kind {
            Kind::Start => {
                let (below, leaf) = match open.last() {
                    None => (Some(inert), false),
                    Some(Some(members)) => match members.member(local_name(text)) {
                        Some(InertMember::Leaf) => (None, true),
                        Some(InertMember::Inner(i)) => (Some(i), false),
                        None => (None, false),
                    },
                    Some(None) => (None, false),
                };
                open.push(below);
                blank = leaf;
                out.push_str(text);
            }
            Kind::End => {
                open.pop();
                blank = false;
                out.push_str(text);
            }
            Kind::Empty => {
                blank = false;
                out.push_str(text);
            }
            // NUL never occurs in XML text: a blanked value cannot equal a kept one.
            Kind::Text if blank => out.push('\0'),
            Kind::Text => out.push_str(text),
        }
    }
    out
}

#[derive(Debug)]
enum Edit {
    /// Before event `.0`, this XML.
    Insert(usize, Box<str>),
    /// Event `.0` (a start tag) is this tag.
    Replace(usize, Box<str>),
    /// Events `.0 ..= .1` (an element) are left out.
    Remove(usize, usize),
}

/// How a with-defaults rendering differs from the plain rendering of an entry, by event
/// index: the same for every entry of its shape.
#[derive(Debug)]
pub(crate) struct Template {
    events: usize,
    edits: Vec<Edit>,
}

impl Template {
    /// Learn how `shown` (libyang's rendering in `mode`) differs from `plain`; `None` when it
    /// is not by the edits `mode` makes, or applying them does not give `shown` exactly.
    fn learn(plain: &str, shown: &str, mode: DefaultsMode) -> Option<Template> {
        let p = events(plain)?;
        let r = events(shown)?;
        let (mut i, mut j) = (0, 0);
        let mut edits = Vec::new();
        loop {
            match (p.get(i), r.get(j)) {
                (None, None) => break,
                (Some(pe), Some(re)) if plain[pe.at.clone()] == shown[re.at.clone()] => {
                    i += 1;
                    j += 1;
                }
                (pe, Some(re))
                    if mode != DefaultsMode::Trim
                        && matches!(re.kind, Kind::Start | Kind::Empty) =>
                {
                    let tag = &shown[re.at.clone()];
                    let same = pe.filter(|pe| {
                        matches!(pe.kind, Kind::Start | Kind::Empty)
                            && local_name(&plain[pe.at.clone()]) == local_name(tag)
                    });
                    if let Some(pe) = same {
                        // An element both have whose start tag differs: only the tagged mode
                        // does that, by adding attributes to it.
                        let old = &plain[pe.at.clone()];
                        let head = &old[..old.len() - if pe.kind == Kind::Empty { 2 } else { 1 }];
                        if mode != DefaultsMode::ReportAllTagged
                            || pe.kind != re.kind
                            || !tag.starts_with(head)
                        {
                            return None;
                        }
                        edits.push(Edit::Replace(i, tag.into()));
                        i += 1;
                        j += 1;
                    } else {
                        let end = element_end(&r, j)?;
                        edits.push(Edit::Insert(i, shown[re.at.start..r[end].at.end].into()));
                        j = end + 1;
                    }
                }
                (Some(pe), _)
                    if mode == DefaultsMode::Trim
                        && matches!(pe.kind, Kind::Start | Kind::Empty) =>
                {
                    let end = element_end(&p, i)?;
                    edits.push(Edit::Remove(i, end));
                    i = end + 1;
                }
                _ => return None,
            }
        }
        let t = Template {
            events: p.len(),
            edits,
        };
        (t.apply_events(plain, &p)?.as_str() == shown).then_some(t)
    }

    /// `plain`, an entry's plain rendering of this template's shape, as the mode shows it.
    #[cfg(test)]
    fn apply(&self, plain: &str) -> Option<String> {
        self.apply_events(plain, &events(plain)?)
    }

    fn apply_events(&self, plain: &str, ev: &[Event]) -> Option<String> {
        if ev.len() != self.events {
            return None;
        }
        let grow: usize = self
            .edits
            .iter()
            .map(|e| match e {
                Edit::Insert(_, x) | Edit::Replace(_, x) => x.len(),
                Edit::Remove(..) => 0,
            })
            .sum();
        let mut out = String::with_capacity(plain.len() + grow);
        let mut edits = self.edits.iter().peekable();
        let mut i = 0;
        loop {
            while let Some(Edit::Insert(at, xml)) = edits.peek() {
                if *at != i {
                    break;
                }
                out.push_str(xml);
                edits.next();
            }
            if i == ev.len() {
                break;
            }
            match edits.peek() {
                Some(Edit::Replace(at, tag)) if *at == i => {
                    out.push_str(tag);
                    edits.next();
                    i += 1;
                }
                Some(Edit::Remove(from, to)) if *from == i => {
                    edits.next();
                    i = to + 1;
                }
                _ => {
                    out.push_str(&plain[ev[i].at.clone()]);
                    i += 1;
                }
            }
        }
        edits.next().is_none().then_some(out)
    }
}

/// Shapes kept at most, over all lists and modes; past that they are dropped and learnt
/// again (an entry of a new shape costs one libyang rendering either way).
const MAX_SHAPES: usize = 4096;

/// One list's templates in one mode, by shape. `None`: that shape's rendering is not made by
/// template (libyang renders each entry).
type ByShape = HashMap<Box<str>, Option<Arc<Template>>>;

/// The templates learnt so far, by unit list, mode and shape.
#[derive(Debug, Default)]
pub(crate) struct Templates {
    by_shape: Mutex<HashMap<(UnitListId, DefaultsMode), ByShape>>,
}

/// What [`Templates::render`] needs of the schema: the two renderings of an entry.
pub(crate) trait Renderer {
    /// The entry as stored; `None` when netloom does not write it itself.
    fn plain(&self) -> Option<String>;
    /// The entry as libyang shows it in the mode.
    fn shown(&self) -> Result<Box<str>, String>;
}

impl Templates {
    /// An entry of `list` in `mode`: by the template of its shape when one is known (the
    /// entry's plain rendering edited), else by libyang (and the template learnt from it).
    /// `inert` is what the rendering does not depend on (`None`: everything counts, libyang
    /// renders).
    pub(crate) fn render(
        &self,
        list: UnitListId,
        mode: DefaultsMode,
        inert: Option<&Inert>,
        entry: &impl Renderer,
    ) -> Result<Box<str>, String> {
        let Some(inert) = inert else {
            return entry.shown();
        };
        let Some(plain) = entry.plain() else {
            return entry.shown();
        };
        let Some(ev) = events(&plain) else {
            return entry.shown();
        };
        let key = shape(&plain, &ev, inert);
        let known = self
            .by_shape
            .lock()
            .ok()
            .and_then(|m| m.get(&(list, mode))?.get(key.as_str()).cloned());
        match known {
            Some(Some(t)) => match t.apply_events(&plain, &ev) {
                Some(xml) => Ok(xml.into_boxed_str()),
                None => entry.shown(),
            },
            Some(None) => entry.shown(),
            None => {
                let shown = entry.shown()?;
                let t = Template::learn(&plain, &shown, mode).map(Arc::new);
                if let Ok(mut m) = self.by_shape.lock() {
                    if m.values().map(HashMap::len).sum::<usize>() >= MAX_SHAPES {
                        m.clear();
                    }
                    m.entry((list, mode)).or_default().insert(key.into(), t);
                }
                Ok(shown)
            }
        }
    }

    /// How many shapes have a template (and how many are rendered by libyang).
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let m = self.by_shape.lock().unwrap();
        let all = m.values().flat_map(HashMap::values);
        let with = all.clone().filter(|t| t.is_some()).count();
        (with, all.count() - with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(plain: &str, shown: &str, mode: DefaultsMode) -> Option<Template> {
        Template::learn(plain, shown, mode)
    }

    #[test]
    fn inserted_elements_go_where_they_went_in_the_first_entry() {
        let t = learn(
            "<n><name>a</name><type>vxlan</type><vxlan><vni>7</vni></vxlan></n>",
            "<n><name>a</name><type>vxlan</type><mtu>1500</mtu><vxlan><vni>7</vni><port>4789</port></vxlan><bridge><stp>false</stp></bridge></n>",
            DefaultsMode::ReportAll,
        )
        .unwrap();
        assert_eq!(
            t.apply("<n><name>b&amp;c</name><type>vxlan</type><vxlan><vni>9</vni></vxlan></n>")
                .unwrap(),
            "<n><name>b&amp;c</name><type>vxlan</type><mtu>1500</mtu><vxlan><vni>9</vni><port>4789</port></vxlan><bridge><stp>false</stp></bridge></n>"
        );
        // Another number of events: not this shape.
        assert!(t.apply("<n><name>b</name><type>vxlan</type></n>").is_none());
    }

    #[test]
    fn tagged_replaces_start_tags_and_trim_removes_elements() {
        let tag = r#"<port xmlns:w="urn:ietf:params:xml:ns:netconf:default:1.0" w:default="true">"#;
        let t = learn(
            "<n><name>a</name><port>4789</port></n>",
            &format!("<n><name>a</name>{tag}4789</port><ttl xmlns:w=\"urn:ietf:params:xml:ns:netconf:default:1.0\" w:default=\"true\">64</ttl></n>"),
            DefaultsMode::ReportAllTagged,
        )
        .unwrap();
        assert_eq!(
            t.apply("<n><name>z</name><port>4789</port></n>").unwrap(),
            format!("<n><name>z</name>{tag}4789</port><ttl xmlns:w=\"urn:ietf:params:xml:ns:netconf:default:1.0\" w:default=\"true\">64</ttl></n>")
        );
        let t = learn(
            "<n><name>a</name><port>4789</port><c><x>1</x></c></n>",
            "<n><name>a</name><c><x>1</x></c></n>",
            DefaultsMode::Trim,
        )
        .unwrap();
        assert_eq!(
            t.apply("<n><name>q</name><port>4789</port><c><x>2</x></c></n>")
                .unwrap(),
            "<n><name>q</name><c><x>2</x></c></n>"
        );
    }

    #[test]
    fn differences_the_mode_does_not_make_are_not_learnt() {
        // A changed value, an element gone in report-all, one added in trim, another
        // element's tag changed in report-all.
        for (plain, shown, mode) in [
            (
                "<n><a>1</a></n>",
                "<n><a>2</a></n>",
                DefaultsMode::ReportAll,
            ),
            (
                "<n><a>1</a><b>2</b></n>",
                "<n><a>1</a></n>",
                DefaultsMode::ReportAll,
            ),
            (
                "<n><a>1</a></n>",
                "<n><a>1</a><b>2</b></n>",
                DefaultsMode::Trim,
            ),
            (
                "<n><a>1</a></n>",
                r#"<n><a x="1">1</a></n>"#,
                DefaultsMode::ReportAll,
            ),
            (
                "<n><a>1</a></n>",
                "<n><!-- c --><a>1</a></n>",
                DefaultsMode::ReportAll,
            ),
        ] {
            assert!(
                learn(plain, shown, mode).is_none(),
                "{plain} {shown} {mode:?}"
            );
        }
    }

    #[test]
    fn the_shape_blanks_inert_leaves_only() {
        let inert = Inert(
            [
                ("name".to_owned(), InertMember::Leaf),
                (
                    "vxlan".to_owned(),
                    InertMember::Inner(Inert(
                        [("vni".to_owned(), InertMember::Leaf)]
                            .into_iter()
                            .collect(),
                    )),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let of = |xml: &str| shape(xml, &events(xml).unwrap(), &inert);
        let a = of("<n><name>a</name><type>vxlan</type><vxlan><vni>7</vni></vxlan></n>");
        assert_eq!(
            a,
            "<n><name>\0</name><type>vxlan</type><vxlan><vni>\0</vni></vxlan></n>"
        );
        assert_eq!(
            a,
            of("<n><name>b</name><type>vxlan</type><vxlan><vni>8</vni></vxlan></n>")
        );
        assert_ne!(
            a,
            of("<n><name>b</name><type>bridge</type><vxlan><vni>8</vni></vxlan></n>")
        );
        // `name` is inert only as the entry's member, not inside another element.
        assert_eq!(
            of("<n><c><name>x</name></c></n>"),
            "<n><c><name>x</name></c></n>"
        );
    }
}
