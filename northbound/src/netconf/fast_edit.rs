//! The common edit-config, read without libyang's XML parser: a merge (the default
//! operation) of plain data — no operation or other attributes, no prefixed values — becomes
//! the same [`Edit`]s as the general path in `data.rs`, with each leaf value checked and
//! canonicalized by libyang's type plugins one by one ([`Schema::leaf_json_of_xml`]) instead of
//! through a re-serialized copy of the request parsed into a libyang tree and printed as JSON.
//! Anything this reader is not sure to read exactly as that path does (an unknown element,
//! a bad value, duplicates, several instances of a nested list or leaf-list, whose order
//! libyang decides, empty containers, state data) makes it give up, and the general path
//! reads the request, so errors are worded by libyang as before.

// foldhash: the reader hashes every entry's keys and most of its values; SipHash showed
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use netloom_yang::{DataPath, Edit, EditOp, NodeId, NodeKind, Schema, Segment};
use serde_json::{Map, Value};

use super::xml::Element;

/// The edits of `<config>` under default operation `default_op`, or None when the general
/// path must read it.
pub fn edits(schema: &Schema, config: &Element, default_op: Option<EditOp>) -> Option<Vec<Edit>> {
    if default_op != Some(EditOp::Merge) || config.children.is_empty() {
        return None;
    }
    let mut reader = Reader {
        schema,
        values: HashMap::new(),
    };
    let mut edits = Vec::with_capacity(config.children.len());
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
        let value = reader.object(root, el)?;
        edits.push(Edit {
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
            value: Some(Value::Object(value)),
        });
    }
    Some(edits)
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

struct Reader<'s, 'x> {
    schema: &'s Schema,
    /// Values already checked in this request: a bulk create repeats most of them.
    values: HashMap<(NodeId, &'x str), Value>,
}

impl<'x> Reader<'_, 'x> {
    /// A container or list entry: its members in schema order (as libyang prints them).
    fn object(&mut self, node: NodeId, el: &'x Element) -> Option<Map<String, Value>> {
        let schema = self.schema;
        let info = schema.node(node);
        if !info.config || !el.attrs.is_empty() || !blank(&el.text) || el.children.is_empty() {
            return None;
        }
        let mut found: Vec<(usize, NodeId, &'x Element)> = Vec::with_capacity(el.children.len());
        for c in &el.children {
            let (pos, &child) = info
                .children
                .iter()
                .enumerate()
                .find(|(_, &k)| names(schema, k, c))?;
            found.push((pos, child, c));
        }
        found.sort_by_key(|f| f.0);
        let mut obj = Map::new();
        let mut i = 0;
        while i < found.len() {
            let (pos, child, first) = found[i];
            let same = found[i..].iter().take_while(|f| f.0 == pos).count();
            let kind = schema.node(child).kind;
            let value = match kind {
                NodeKind::Leaf if same == 1 => self.leaf(child, first)?,
                NodeKind::LeafList if same == 1 => Value::Array(vec![self.leaf(child, first)?]),
                NodeKind::Container { .. } if same == 1 => {
                    Value::Object(self.object(child, first)?)
                }
                NodeKind::List if same == 1 || schema.node(child).unit.is_some() => {
                    self.entries(child, &found[i..i + same])?
                }
                _ => return None,
            };
            obj.insert(schema.member_name(child), value);
            i += same;
        }
        // A list entry needs all its keys (libyang refuses it otherwise).
        if info.keys.iter().any(|k| !obj.contains_key(k)) {
            return None;
        }
        Some(obj)
    }

    /// The entries of a list, none twice.
    fn entries(&mut self, list: NodeId, found: &[(usize, NodeId, &'x Element)]) -> Option<Value> {
        let keys = &self.schema.node(list).keys;
        let mut seen: HashSet<Vec<Value>> = HashSet::with_capacity(found.len());
        let mut out = Vec::with_capacity(found.len());
        for &(_, _, el) in found {
            let entry = self.object(list, el)?;
            let key: Vec<Value> = keys.iter().filter_map(|k| entry.get(k).cloned()).collect();
            if found.len() > 1 && !seen.insert(key) {
                return None;
            }
            out.push(Value::Object(entry));
        }
        Some(Value::Array(out))
    }

    fn leaf(&mut self, node: NodeId, el: &'x Element) -> Option<Value> {
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
        // A unit list's keys differ from entry to entry: not worth remembering.
        let info = self.schema.node(node);
        let key = info.parent.is_some_and(|p| {
            self.schema.node(p).unit.is_some() && self.schema.node(p).keys.contains(&info.name)
        });
        if key {
            return self.schema.leaf_json_of_xml(node, text);
        }
        if let Some(v) = self.values.get(&(node, text)) {
            return Some(v.clone());
        }
        let v = self.schema.leaf_json_of_xml(node, text)?;
        self.values.insert((node, text), v.clone());
        Some(v)
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

    /// The fast reader reads `inner` and makes exactly the general path's edits: same
    /// operations and paths, same values member for member, and the same unit texts byte
    /// for byte once applied to an empty datastore and to one already holding data.
    fn same_as_general(inner: &str) {
        let s = Schema::new().unwrap();
        let config = config(inner);
        let fast = edits(&s, &config, Some(EditOp::Merge))
            .unwrap_or_else(|| panic!("the fast reader declined {inner}"));
        let general = general_edits(&s, &config, Vec::new(), Some(EditOp::Merge)).unwrap();
        assert_eq!(fast.len(), general.len());
        for (f, g) in fast.iter().zip(&general) {
            assert_eq!(f.op, g.op);
            assert_eq!(f.path.to_xpath().unwrap(), g.path.to_xpath().unwrap());
            // libyang sorts the entries of a unit list (which then become separate units):
            // compare those in key order.
            assert_eq!(sorted(&s, f), sorted(&s, g), "{inner}");
        }
        for base in [UnitMap::new(), seeded(&s)] {
            let (mut a, mut b) = (base.clone(), base);
            let changed_a = s.apply_edits(&mut a, fast.clone()).unwrap();
            let changed_b = s.apply_edits(&mut b, general.clone()).unwrap();
            assert_eq!(changed_a, changed_b);
            assert!(!changed_a.is_empty());
            let texts = |m: &UnitMap| -> Vec<(String, String)> {
                m.iter()
                    .map(|(k, v)| (k.path.to_string(), v.to_string()))
                    .collect()
            };
            assert_eq!(texts(&a), texts(&b), "{inner}");
        }
    }

    /// An edit's value as text, the entries of its unit lists in text order.
    fn sorted(s: &Schema, e: &Edit) -> Option<String> {
        let mut v = e.value.clone()?;
        let root = s.root(
            e.path.segments[0].module.as_deref()?,
            &e.path.segments[0].name,
        )?;
        if let Value::Object(members) = &mut v {
            for (name, list) in members.iter_mut() {
                let unit = s.child_by_member(root, name).and_then(|c| s.node(c).unit);
                if let (Some(_), Value::Array(entries)) = (unit, list) {
                    entries.sort_by_key(Value::to_string);
                }
            }
        }
        Some(v.to_string())
    }

    /// The fast reader leaves `inner` to the general path.
    fn declined(inner: &str, default_op: Option<EditOp>) {
        let s = Schema::new().unwrap();
        assert!(edits(&s, &config(inner), default_op).is_none(), "{inner}");
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
            // missing key, duplicates, several instances of a nested list or leaf-list
            net("<type>bridge</type>"),
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
        ] {
            let config = config(&inner);
            let e = crate::netconf::data::edits_from_config(
                &s,
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
