//! The common edit-config, read without libyang's XML parser: a merge (the default
//! operation) of plain data — no operation or other attributes, no prefixed values — becomes
//! an [`EditBatch`] that applies exactly as the general path's edits in `data.rs` do, with
//! each leaf value checked and canonicalized by libyang's type plugins one by one
//! ([`Schema::leaf_json_of_xml`]) instead of through a re-serialized copy of the request
//! parsed into a libyang tree and printed as JSON. Each entry of a unit list (a network, a
//! pod, ...) is written straight into the unit text the general path would store, so a bulk
//! create builds no JSON tree at all; what else a root container holds becomes one merge
//! edit. Anything this reader is not sure to read exactly as that path does (an unknown
//! element, a bad value, duplicates, several instances of a nested list or leaf-list, whose
//! order libyang decides, empty containers, state data) makes it give up, and the general
//! path reads the request, so errors are worded by libyang as before.

use std::sync::Arc;

// foldhash: the reader hashes every entry's keys and most of its values; SipHash showed
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use netloom_yang::{
    DataPath, Edit, EditBatch, EditOp, EntryText, NodeId, NodeKind, Schema, Segment, UnitListId,
};
use serde_json::Value;

use super::xml::Element;

/// The edits of `<config>` under default operation `default_op`, or None when the general
/// path must read it. `helper`: a second context of the same schema, on which a second
/// thread reads half of a large list.
pub fn edits(
    schema: &Schema,
    helper: Option<&Schema>,
    config: &Element,
    default_op: Option<EditOp>,
) -> Option<EditBatch> {
    if default_op != Some(EditOp::Merge) || config.children.is_empty() {
        return None;
    }
    let mut reader = Reader::new(schema);
    reader.helper = helper;
    let mut batch = EditBatch::default();
    for el in &config.children {
        let root = schema
            .roots()
            .iter()
            .copied()
            .find(|&r| names(schema, r, el))?;
        let info = schema.node(root);
        if !matches!(info.kind, NodeKind::Container { .. }) {
            return None;
        }
        let Some(rest) = reader.root(root, el, &mut batch.entries)? else {
            continue;
        };
        batch.edits.push(Edit {
            op: EditOp::Merge,
            path: DataPath {
                segments: vec![Segment {
                    module: Some(info.module.clone()),
                    name: info.name.clone(),
                    keys: Vec::new(),
                    value: None,
                    node: None,
                }],
            },
            value: Some(rest),
        });
    }
    Some(batch)
}

/// Whether element `el` is schema node `node` (name and namespace).
fn names(schema: &Schema, node: NodeId, el: &Element) -> bool {
    let info = schema.node(node);
    *info.name == *el.name && info.namespace == Some(&*el.ns)
}

/// XML whitespace only (what may sit between elements).
fn blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Entries of one list from which reading them on two threads pays: a thread costs tens of
/// microseconds, an entry about one.
const PARALLEL_ENTRIES: usize = 1000;

/// An element's children matched to their schema nodes, in schema order: (position among
/// the parent's schema children, node, element).
type Found<'x> = Vec<(usize, NodeId, &'x Element)>;

/// A child element of a schema node by the addresses of its name and namespace strings.
type Named = (NodeId, usize, usize);

struct Reader<'s, 'x> {
    schema: &'s Schema,
    /// The second thread's context (libyang's value checks take a lock of their context's
    /// dictionary several times per value: two threads on one context are slower than one).
    helper: Option<&'s Schema>,
    /// Values already checked in this request, as JSON text: a bulk create repeats most
    /// of them.
    values: HashMap<(NodeId, &'x str), Box<[u8]>>,
    /// `"member":` of each node written so far.
    members: HashMap<NodeId, Box<[u8]>>,
    /// Child elements already matched to schema nodes, by parent node and the addresses of
    /// the element's name and namespace (which the `'x` borrow keeps alive).
    lookups: HashMap<Named, Option<(usize, NodeId)>>,
    /// Emptied `Found` vectors, reused from entry to entry.
    spare: Vec<Found<'x>>,
    /// The text of the entry being written.
    buf: Vec<u8>,
}

impl<'s, 'x> Reader<'s, 'x> {
    fn new(schema: &'s Schema) -> Self {
        Reader {
            schema,
            helper: None,
            values: HashMap::new(),
            members: HashMap::new(),
            lookups: HashMap::new(),
            spare: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Root container `root`: its unit lists' entries appended to `entries`, the rest of it
    /// returned as one JSON object (None when it holds only entries).
    fn root(
        &mut self,
        root: NodeId,
        el: &'x Element,
        entries: &mut Vec<EntryText>,
    ) -> Option<Option<Value>> {
        let found = self.children(root, el)?;
        let mut rest = Vec::new();
        let mut i = 0;
        while i < found.len() {
            let (pos, child, _) = found[i];
            let same = found[i..].iter().take_while(|f| f.0 == pos).count();
            match self.schema.node(child).unit {
                Some(list) => self.entries(child, list, &found[i..i + same], entries)?,
                None => {
                    let sep = if rest.is_empty() { b'{' } else { b',' };
                    rest.push(sep);
                    self.member(&found[i..i + same], &mut rest)?;
                }
            }
            i += same;
        }
        self.spare.push(found);
        if rest.is_empty() {
            return Some(None);
        }
        rest.push(b'}');
        serde_json::from_slice(&rest).ok().map(Some)
    }

    /// `el`'s children matched to schema nodes and sorted in schema order (as libyang
    /// prints them); None when one is unknown or `el` is no plain container or entry.
    fn children(&mut self, node: NodeId, el: &'x Element) -> Option<Found<'x>> {
        let schema = self.schema;
        let info = schema.node(node);
        if !info.config || !el.attrs.is_empty() || !blank(&el.text) || el.children.is_empty() {
            return None;
        }
        let mut found = self.spare.pop().unwrap_or_default();
        found.clear();
        for c in &el.children {
            // An element's name and namespace are shared within a message: their addresses
            // identify them.
            let id = (
                node,
                Arc::as_ptr(&c.name).cast::<u8>() as usize,
                Arc::as_ptr(&c.ns).cast::<u8>() as usize,
            );
            let hit = *self.lookups.entry(id).or_insert_with(|| {
                info.children
                    .iter()
                    .enumerate()
                    .find(|(_, &k)| names(schema, k, c))
                    .map(|(pos, &k)| (pos, k))
            });
            let Some((pos, child)) = hit else {
                self.spare.push(found);
                return None;
            };
            found.push((pos, child, c));
        }
        // A list entry's keys come in key order; libyang refuses them otherwise ("Invalid
        // position of the key"). Other members may sit between them.
        if info.kind == NodeKind::List && info.keys.len() > 1 {
            let mut order = found.iter().filter_map(|&(_, child, _)| {
                let name = &schema.node(child).name;
                info.keys.iter().position(|k| k == name)
            });
            let mut last = None;
            if !order.all(|at| {
                let ok = last.is_none_or(|l| l < at);
                last = Some(at);
                ok
            }) {
                self.spare.push(found);
                return None;
            }
        }
        found.sort_by_key(|f| f.0);
        Some(found)
    }

    /// The entries of unit list `node`, each as its unit's text, none twice. A large list
    /// is read in two halves on two threads, given a helper context: the second core is
    /// idle while a request is read, and libyang's value checks are much of the work.
    fn entries(
        &mut self,
        node: NodeId,
        list: UnitListId,
        found: &[(usize, NodeId, &'x Element)],
        out: &mut Vec<EntryText>,
    ) -> Option<()> {
        let helper = match self.helper {
            Some(h) if found.len() >= PARALLEL_ENTRIES => h,
            _ => {
                self.entries_of(node, list, found, out)?;
                return Some(());
            }
        };
        let (first, second) = found.split_at(found.len() / 2);
        let (mine, theirs) = std::thread::scope(|s| {
            let other = std::thread::Builder::new()
                .name("netconf-read".into())
                .spawn_scoped(s, move || {
                    let mut entries = Vec::new();
                    // The helper is built from the same modules: same node and unit ids.
                    let seen = Reader::new(helper).entries_of(node, list, second, &mut entries)?;
                    Some((entries, seen))
                });
            let mine = self.entries_of(node, list, first, out);
            let theirs = match other {
                Ok(handle) => handle.join().ok().flatten(),
                // No thread to be had: read the second half here.
                Err(_) => {
                    let mut entries = Vec::new();
                    let seen = self.entries_of(node, list, second, &mut entries);
                    seen.map(|seen| (entries, seen))
                }
            };
            (mine, theirs)
        });
        let (mine, (entries, theirs)) = (mine?, theirs?);
        // none twice across the halves either
        let (small, large) = if mine.len() < theirs.len() {
            (&mine, &theirs)
        } else {
            (&theirs, &mine)
        };
        if small.iter().any(|k| large.contains(k)) {
            return None;
        }
        out.extend(entries);
        Some(())
    }

    /// [`Reader::entries`] on this thread; returns the entries' unit paths.
    fn entries_of(
        &mut self,
        node: NodeId,
        list: UnitListId,
        found: &[(usize, NodeId, &'x Element)],
        out: &mut Vec<EntryText>,
    ) -> Option<HashSet<Arc<str>>> {
        let mut seen = HashSet::with_capacity(if found.len() > 1 { found.len() } else { 0 });
        out.reserve(found.len());
        let nkeys = self.schema.unit(list).keys().len();
        let mut keys: Vec<Option<String>> = vec![None; nkeys];
        for &(_, _, el) in found {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            keys.iter_mut().for_each(|k| *k = None);
            let written = self.object(node, el, &mut buf, Some((list, &mut keys)));
            let text = std::str::from_utf8(&buf).ok().map(Arc::<str>::from);
            self.buf = buf;
            written?;
            let values: Option<Vec<&str>> = keys.iter().map(Option::as_deref).collect();
            let key = self.schema.unit_key(list, &values?).ok()?;
            if found.len() > 1 && !seen.insert(key.path.clone()) {
                return None;
            }
            out.push(EntryText { key, text: text? });
        }
        Some(seen)
    }

    /// Write a container or list entry as a JSON object, members in schema order. `keys`:
    /// for an entry of a unit list, where its key values go (in the unit def's key order).
    fn object(
        &mut self,
        node: NodeId,
        el: &'x Element,
        out: &mut Vec<u8>,
        mut keys: Option<(UnitListId, &mut [Option<String>])>,
    ) -> Option<()> {
        let found = self.children(node, el)?;
        let schema = self.schema;
        let info = schema.node(node);
        let mut i = 0;
        let mut key_count = 0;
        while i < found.len() {
            let (pos, child, first) = found[i];
            let same = found[i..].iter().take_while(|f| f.0 == pos).count();
            out.push(if i == 0 { b'{' } else { b',' });
            let name = &schema.node(child).name;
            let key = info.keys.contains(name);
            match (&mut keys, key) {
                (Some((list, slots)), true) if same == 1 => {
                    let at = schema.unit(*list).keys().iter().position(|k| k == name)?;
                    self.member_name(child, out);
                    let v = self.key_leaf(child, first)?;
                    serde_json::to_writer(&mut *out, &v).ok()?;
                    slots[at] = Some(match v {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    });
                }
                _ => self.member(&found[i..i + same], out)?,
            }
            key_count += usize::from(key);
            i += same;
        }
        self.spare.push(found);
        // A list entry needs all its keys (libyang refuses it otherwise).
        if key_count != info.keys.len() {
            return None;
        }
        out.push(b'}');
        Some(())
    }

    /// One member (`"name":value`) from the elements of one schema node.
    fn member(&mut self, found: &[(usize, NodeId, &'x Element)], out: &mut Vec<u8>) -> Option<()> {
        let &[(_, child, el)] = found else {
            // Several instances of a nested list or leaf-list: libyang decides their order.
            return None;
        };
        self.member_name(child, out);
        match self.schema.node(child).kind {
            NodeKind::Leaf => self.leaf(child, el, out),
            NodeKind::LeafList => {
                out.push(b'[');
                self.leaf(child, el, out)?;
                out.push(b']');
                Some(())
            }
            NodeKind::Container { .. } => self.object(child, el, out, None),
            NodeKind::List => {
                out.push(b'[');
                self.object(child, el, out, None)?;
                out.push(b']');
                Some(())
            }
        }
    }

    fn member_name(&mut self, node: NodeId, out: &mut Vec<u8>) {
        let schema = self.schema;
        let name = self.members.entry(node).or_insert_with(|| {
            let mut m = serde_json::to_vec(&schema.member_name(node)).unwrap_or_default();
            m.push(b':');
            m.into_boxed_slice()
        });
        out.extend_from_slice(name);
    }

    /// A leaf's text, checked as the general path would read it.
    fn leaf_text(&self, node: NodeId, el: &'x Element) -> Option<&'x str> {
        if !el.attrs.is_empty() || !el.children.is_empty() || !self.schema.node(node).config {
            return None;
        }
        let text = el.text.as_str();
        // Surrounding whitespace: left to libyang's parser, whose handling decides.
        if text
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .len()
            != text.len()
        {
            return None;
        }
        Some(text)
    }

    /// A unit list's key: differs from entry to entry, so not worth remembering.
    fn key_leaf(&self, node: NodeId, el: &'x Element) -> Option<Value> {
        let text = self.leaf_text(node, el)?;
        self.schema.leaf_json_of_xml(node, text)
    }

    fn leaf(&mut self, node: NodeId, el: &'x Element, out: &mut Vec<u8>) -> Option<()> {
        let text = self.leaf_text(node, el)?;
        if let Some(v) = self.values.get(&(node, text)) {
            out.extend_from_slice(v);
            return Some(());
        }
        let v = self.schema.leaf_json_of_xml(node, text)?;
        let json = serde_json::to_vec(&v).ok()?.into_boxed_slice();
        out.extend_from_slice(&json);
        self.values.insert((node, text), json);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use netloom_yang::UnitMap;

    use super::*;
    use crate::netconf::data::general_edits;
    use crate::netconf::xml::{parse, NS_BASE};

    const NL: &str = "urn:netloom:yang:netloom-host";

    fn config(inner: &str) -> Element {
        parse(format!(r#"<config xmlns:nc="{NS_BASE}">{inner}</config>"#).as_bytes()).unwrap()
    }

    /// A datastore already holding a network and the system remainder, for merges into
    /// existing units.
    fn seeded(s: &Schema) -> UnitMap {
        let mut units = UnitMap::new();
        let seed = config(&format!(
            r#"<networks xmlns="{NL}"><network><name>a</name><type>bridge</type><mtu>1400</mtu><description>old</description></network></networks><system xmlns="{NL}"><commit-history>2000</commit-history></system>"#
        ));
        let edits = general_edits(s, &seed, Vec::new(), Some(EditOp::Merge)).unwrap();
        s.apply_edits(&mut units, edits).unwrap();
        units
    }

    /// The fast reader reads `inner` into a batch that stores exactly what the general
    /// path's edits store: each entry's text is, byte for byte, the unit the general path
    /// makes of it in an empty datastore; the rest of each root container is the general
    /// path's merge edit without its unit lists; and applied to an empty datastore and to
    /// one already holding data, both change the same units to the same texts.
    fn same_as_general(inner: &str) {
        same_as_general_with(inner, None);
    }

    /// [`same_as_general`], large lists read on two threads when `helper` is given.
    fn same_as_general_with(inner: &str, helper: Option<&Schema>) {
        let s = Schema::new().unwrap();
        let config = config(inner);
        let fast = edits(&s, helper, &config, Some(EditOp::Merge))
            .unwrap_or_else(|| panic!("the fast reader declined {}", short(inner)));
        let general = general_edits(&s, &config, Vec::new(), Some(EditOp::Merge)).unwrap();
        let mut alone = UnitMap::new();
        s.apply_edits(&mut alone, general.clone()).unwrap();
        for e in &fast.entries {
            assert_eq!(alone.get(&e.key), Some(&e.text), "{}", short(inner));
        }
        let rests: Vec<&Edit> = general.iter().filter(|g| rest(&s, g).is_some()).collect();
        assert_eq!(fast.edits.len(), rests.len(), "{}", short(inner));
        for (f, g) in fast.edits.iter().zip(rests) {
            assert_eq!(f.op, g.op);
            assert_eq!(f.path.to_xpath().unwrap(), g.path.to_xpath().unwrap());
            assert_eq!(
                f.value.as_ref().map(Value::to_string),
                rest(&s, g),
                "{}",
                short(inner)
            );
        }
        for base in [UnitMap::new(), seeded(&s)] {
            let (mut a, mut b) = (base.clone(), base);
            let changed_a = s.apply_batch(&mut a, fast.clone()).unwrap();
            let changed_b = s.apply_edits(&mut b, general.clone()).unwrap();
            assert_eq!(changed_a, changed_b);
            assert!(!changed_a.is_empty());
            let texts = |m: &UnitMap| -> Vec<(String, String)> {
                m.iter()
                    .map(|(k, v)| (k.path.to_string(), v.to_string()))
                    .collect()
            };
            assert_eq!(texts(&a), texts(&b), "{}", short(inner));
        }
    }

    /// The start of a request, for messages.
    fn short(inner: &str) -> &str {
        inner.get(..inner.len().min(300)).unwrap_or(inner)
    }

    /// A general root container edit's value without its unit lists, as text; None when
    /// nothing else is left.
    fn rest(s: &Schema, e: &Edit) -> Option<String> {
        let mut v = e.value.clone()?;
        let root = s.root(
            e.path.segments[0].module.as_deref()?,
            &e.path.segments[0].name,
        )?;
        let Value::Object(members) = &mut v else {
            return None;
        };
        members.retain(|name, _| {
            s.child_by_member(root, name)
                .and_then(|c| s.node(c).unit)
                .is_none()
        });
        (!members.is_empty()).then(|| v.to_string())
    }

    /// The fast reader leaves `inner` to the general path.
    fn declined(inner: &str, default_op: Option<EditOp>) {
        let s = Schema::new().unwrap();
        assert!(
            edits(&s, None, &config(inner), default_op).is_none(),
            "{}",
            short(inner)
        );
    }

    #[test]
    fn bulk_entries_read_as_the_general_path_does() {
        let entries: String = (0..50)
            .map(|i| {
                format!("<network><name>n{i}</name><type>bridge</type><mtu>1500</mtu></network>")
            })
            .collect();
        same_as_general(&format!(r#"<networks xmlns="{NL}">{entries}</networks>"#));
    }

    #[test]
    fn every_config_leaf_type_reads_as_the_general_path_does() {
        // strings (free, with patterns and lengths, escaped, non-ASCII), enumerations,
        // booleans, 8/16/32-bit integers (non-canonical: leading zeros), unions of
        // address types (non-canonical IPv6, prefixes), MAC addresses (upper case),
        // leafrefs, leaf-lists and nested lists with one entry, containers, members out of
        // schema order.
        let networks = format!(
            r#"<networks xmlns="{NL}">
  <network>
    <name>vx1</name><mtu>01500</mtu><type>vxlan</type>
    <description>a &lt;b&gt; &amp; "c" \ d 'e' — ü</description>
    <uplink>eth0</uplink>
    <vxlan><vni>00042</vni><local>2001:DB8:0:0::1</local><remote>10.0.0.2</remote><port>4789</port><learning>false</learning></vxlan>
    <ipam><pool><name>p</name><subnet>10.1.0.0/16</subnet><range><start>10.1.0.10</start><end>10.1.0.20</end></range><gateway>10.1.0.1</gateway><exclude>10.1.0.15/32</exclude></pool>
      <dns><nameserver>2001:db8::53</nameserver><domain>example.org</domain><search>svc.example.org</search></dns></ipam>
    <route><destination>192.168.0.0/24</destination><next-hop>10.1.0.1</next-hop><metric>10</metric></route>
    <policy-route><priority>100</priority><from>10.1.0.0/16</from><table>200</table><fwmark>7</fwmark></policy-route>
  </network>
  <network><name>vl</name><type>vlan</type><uplink>eth1</uplink><vlan-id>0100</vlan-id></network>
  <network><name>br</name><type>bridge</type><bridge><name>br-x</name><gateway>false</gateway><hairpin>true</hairpin></bridge></network>
  <network><name>mv</name><type>macvlan</type><uplink>eth0</uplink><macvlan><mode>passthru</mode></macvlan></network>
  <network><name>sr</name><type>sriov</type><sriov><physical-function>ens1f0</physical-function><mode>vfio</mode></sriov></network>
</networks>"#
        );
        same_as_general(&networks);
        same_as_general(&format!(
            r#"<pods xmlns="{NL}"><pod><namespace>default</namespace><name>web-0</name>
  <interface><name>eth0</name><network>vx1</network><address>10.1.0.11</address><mac>02:AB:cd:00:00:01</mac><default-route>true</default-route>
    <route><destination>0.0.0.0/0</destination><next-hop>10.1.0.1</next-hop></route></interface></pod></pods>"#
        ));
        same_as_general(&format!(
            r#"<sriov xmlns="{NL}"><physical-function><name>ens1f0</name><num-vfs>4</num-vfs>
  <vf><id>1</id><mac>02:00:00:00:00:AA</mac><vlan>10</vlan><qos>3</qos><trust>true</trust><spoof-check>false</spoof-check><link-state>enable</link-state><min-tx-rate>10</min-tx-rate><max-tx-rate>100</max-tx-rate><driver>vfio-pci</driver></vf></physical-function></sriov>"#
        ));
        same_as_general(&format!(
            r#"<services xmlns="{NL}"><service><namespace>default</namespace><name>web</name><type>node-port</type><vip>10.96.0.10</vip><network>vx1</network><session-affinity>client-ip</session-affinity><scheduler>maglev</scheduler>
  <port><name>http</name><protocol>tcp</protocol><port>80</port><target-port>8080</target-port><node-port>30080</node-port></port>
  <endpoint><address>10.1.0.11</address><ready>true</ready><weight>5</weight></endpoint></service></services>"#
        ));
        same_as_general(&format!(
            r#"<policies xmlns="{NL}"><policy><name>deny-all</name><applies-to><network>vx1</network></applies-to><default-action>drop</default-action>
  <rule><seq>10</seq><direction>ingress</direction><action>accept</action><source>10.0.0.0/8</source><protocol>tcp</protocol><port>80-90</port></rule></policy></policies>"#
        ));
        same_as_general(&format!(
            r#"<system xmlns="{NL}"><commit-history>5000</commit-history><user><name>ops</name><role>admin</role><authorized-key>ssh-ed25519 AAAA ops@x</authorized-key></user></system>"#
        ));
        // several root containers in one edit, merged into data that already exists
        same_as_general(&format!(
            r#"<networks xmlns="{NL}"><network><name>a</name><mtu>9000</mtu></network></networks><system xmlns="{NL}"><commit-history>3000</commit-history></system>"#
        ));
    }

    #[test]
    fn entries_read_as_the_general_path_does_whatever_the_datastore_holds() {
        // An entry merged into a stored unit ('a' is seeded), new entries beside it, values
        // equal to their defaults given explicitly, members out of schema order (keys after
        // other members, in key order), nested
        // containers, lists and leaf-lists of one instance, and the rest of a root container
        // beside its entries.
        same_as_general(&format!(
            r#"<networks xmlns="{NL}">
  <network><type>bridge</type><description>new</description><name>a</name></network>
  <network><name>vx.2</name><type>vxlan</type><vxlan><vni>7</vni><remote>10.0.0.9</remote><port>4789</port><learning>true</learning></vxlan></network>
  <network><name>b</name><type>bridge</type><bridge><name>br-netloom</name><gateway>false</gateway></bridge><ipam><pool><name>p</name><subnet>10.2.0.0/16</subnet><exclude>10.2.0.7/32</exclude></pool></ipam></network>
</networks>
<pods xmlns="{NL}"><pod><namespace>prod</namespace><interface><name>eth0</name><network>b</network><address>10.2.0.9</address></interface><name>web-1</name></pod></pods>
<system xmlns="{NL}"><commit-history>4000</commit-history></system>"#
        ));
    }

    #[test]
    fn large_lists_read_on_two_threads_as_the_general_path_does() {
        let helper = Schema::new().unwrap();
        let net = |i: usize| {
            format!(
                "<network><name>n{i}</name><type>bridge</type><mtu>0{}</mtu></network>",
                1400 + i % 7
            )
        };
        let n = 2 * PARALLEL_ENTRIES + 1;
        let all: String = (0..n).map(net).collect();
        let s = Schema::new().unwrap();
        // beside the rest of the root container, 'a' merged into a stored unit
        same_as_general_with(
            &format!(
                r#"<networks xmlns="{NL}">{all}<network><name>a</name><mtu>9000</mtu></network></networks><system xmlns="{NL}"><commit-history>3000</commit-history></system>"#
            ),
            Some(&helper),
        );
        let declined = |inner: String| {
            let config = config(&format!(r#"<networks xmlns="{NL}">{inner}</networks>"#));
            assert!(edits(&s, Some(&helper), &config, Some(EditOp::Merge)).is_none());
        };
        // a duplicate across the halves, within the second half, a bad value in the second
        declined(format!("{all}{}", net(0)));
        declined(format!("{all}{}", net(n - 1)));
        declined(format!(
            "{all}<network><name>z</name><type>bridge</type><mtu>70000</mtu></network>"
        ));
    }

    #[test]
    fn anything_unusual_is_left_to_the_general_path() {
        let merge = Some(EditOp::Merge);
        let net = |inner: &str| {
            format!(r#"<networks xmlns="{NL}"><network>{inner}</network></networks>"#)
        };
        for inner in [
            // bad values: out of range, not in the enumeration, pattern mismatch, not a number
            net("<name>a</name><type>bridge</type><mtu>70000</mtu>"),
            net("<name>a</name><type>banana</type>"),
            net("<name>bad name!</name><type>bridge</type>"),
            net("<name>a</name><type>bridge</type><mtu>big</mtu>"),
            net("<name>a</name><ipam><pool><name>p</name><exclude>10.1.0.15</exclude></pool></ipam>"),
            // unknown element, wrong namespace, state data, attributes
            net("<name>a</name><bogus>1</bogus>"),
            r#"<networks xmlns="urn:nowhere"><network><name>a</name></network></networks>"#.to_string(),
            format!(r#"<networks xmlns="{NL}"><network><name>a</name><mtu xmlns="urn:nowhere">1500</mtu></network></networks>"#),
            format!(r#"<state xmlns="{NL}"><attachment><container-id>c</container-id></attachment></state>"#),
            format!(r#"<networks xmlns="{NL}"><network nc:operation="create"><name>a</name></network></networks>"#),
            net(r#"<name>a</name><mtu nc:operation="delete"/>"#),
            // missing key, keys out of key order, duplicates, several instances of a nested
            // list or leaf-list
            net("<type>bridge</type>"),
            format!(r#"<pods xmlns="{NL}"><pod><name>p</name><namespace>n</namespace></pod></pods>"#),
            format!(r#"<networks xmlns="{NL}"><network><name>a</name></network><network><name>a</name></network></networks>"#),
            net("<name>a</name><mtu>1500</mtu><mtu>1400</mtu>"),
            net("<name>a</name><vxlan><remote>10.0.0.2</remote><remote>10.0.0.1</remote></vxlan>"),
            net("<name>a</name><route><destination>10.2.0.0/16</destination></route><route><destination>10.1.0.0/16</destination></route>"),
            // empty containers, padded values, text in a container
            format!(r#"<networks xmlns="{NL}"/>"#),
            net("<name>a</name><bridge/>"),
            net("<name> a</name>"),
            net("text<name>a</name>"),
        ] {
            declined(&inner, merge);
        }
        // other default operations
        let plain = net("<name>a</name><type>bridge</type>");
        declined(&plain, Some(EditOp::Replace));
        declined(&plain, None);
    }

    #[test]
    fn declined_input_gets_the_general_paths_errors() {
        let s = Schema::new().unwrap();
        for (inner, tag) in [
            (
                r#"<bogus xmlns="urn:nowhere"/>"#.to_string(),
                "unknown-namespace",
            ),
            (
                format!(r#"<networks xmlns="{NL}"><bogus/></networks>"#),
                "unknown-element",
            ),
            (
                format!(
                    r#"<networks xmlns="{NL}"><network><name>a</name><mtu>70000</mtu></network></networks>"#
                ),
                "invalid-value",
            ),
            (
                format!(
                    r#"<pods xmlns="{NL}"><pod><name>p</name><namespace>n</namespace></pod></pods>"#
                ),
                "invalid-value",
            ),
        ] {
            let config = config(&inner);
            let e = crate::netconf::data::edits_from_config(
                &s,
                None,
                &config,
                Vec::new(),
                Some(EditOp::Merge),
            )
            .unwrap_err();
            let g = general_edits(&s, &config, Vec::new(), Some(EditOp::Merge)).unwrap_err();
            assert_eq!(e.tag, tag, "{inner}");
            assert_eq!(e.reply(""), g.reply(""));
        }
    }
}
