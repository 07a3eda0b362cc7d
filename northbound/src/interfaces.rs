//! Interface state and counters as front ends serve them: the plain records the daemon's
//! observer reads from the kernel ([`InterfaceSource`]), and their two renderings, netloom's
//! `state/interface` list (RFC 7951 JSON) and the OpenConfig `interfaces` tree collectors
//! query. The northbound never talks to the kernel itself: the daemon plugs a source in.

use std::path::Path;

use serde_json::{json, Map, Value};

/// The operational state (RFC 2863 `ifOperStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperStatus {
    Up,
    Down,
    Testing,
    Unknown,
    Dormant,
    NotPresent,
    LowerLayerDown,
}

impl OperStatus {
    /// The `netloom-host` enum.
    pub fn yang(self) -> &'static str {
        match self {
            OperStatus::Up => "up",
            OperStatus::Down => "down",
            OperStatus::Testing => "testing",
            OperStatus::Unknown => "unknown",
            OperStatus::Dormant => "dormant",
            OperStatus::NotPresent => "not-present",
            OperStatus::LowerLayerDown => "lower-layer-down",
        }
    }

    /// The `openconfig-interfaces` enum.
    pub fn openconfig(self) -> &'static str {
        match self {
            OperStatus::Up => "UP",
            OperStatus::Down => "DOWN",
            OperStatus::Testing => "TESTING",
            OperStatus::Unknown => "UNKNOWN",
            OperStatus::Dormant => "DORMANT",
            OperStatus::NotPresent => "NOT_PRESENT",
            OperStatus::LowerLayerDown => "LOWER_LAYER_DOWN",
        }
    }
}

/// Interface counters as the kernel keeps them (64-bit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub in_octets: u64,
    pub in_pkts: u64,
    pub in_multicast_pkts: u64,
    pub in_errors: u64,
    pub in_discards: u64,
    pub out_octets: u64,
    pub out_pkts: u64,
    pub out_errors: u64,
    pub out_discards: u64,
}

impl Counters {
    /// (leaf name, value), in the order both trees list them. Linux keeps no broadcast
    /// counter, so unicast is everything that was not multicast.
    pub fn leaves(&self) -> [(&'static str, u64); 10] {
        [
            ("in-octets", self.in_octets),
            ("in-pkts", self.in_pkts),
            (
                "in-unicast-pkts",
                self.in_pkts.saturating_sub(self.in_multicast_pkts),
            ),
            ("in-multicast-pkts", self.in_multicast_pkts),
            ("in-errors", self.in_errors),
            ("in-discards", self.in_discards),
            ("out-octets", self.out_octets),
            ("out-pkts", self.out_pkts),
            ("out-errors", self.out_errors),
            ("out-discards", self.out_discards),
        ]
    }
}

/// One interface as observed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    /// The host's interfaces by name; pod sides as `<netns>/<ifname>`.
    pub name: String,
    pub ifindex: u32,
    pub oper: OperStatus,
    pub admin_up: bool,
    pub mtu: Option<u32>,
    /// `aa:bb:cc:dd:ee:ff`
    pub mac: Option<String>,
    pub counters: Option<Counters>,
}

/// The pod side of an attachment, to be read inside the pod's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSide {
    pub netns: String,
    pub ifname: String,
}

impl PodSide {
    /// The name it is listed under: `<netns file name>/<ifname>`.
    pub fn name(&self) -> String {
        let ns = Path::new(&self.netns)
            .file_name()
            .map_or_else(|| self.netns.clone(), |n| n.to_string_lossy().into_owned());
        format!("{ns}/{}", self.ifname)
    }
}

/// Reads interface state; the daemon's implementation does one netlink dump for the host's
/// namespace and one per pod namespace, never one request per interface. Blocking.
pub trait InterfaceSource: Send + Sync {
    fn read(&self, pods: &[PodSide]) -> Vec<InterfaceState>;
}

/// The pod sides of the attachments in a `{"netloom-host:state": ...}` document.
pub fn pod_sides(state: &Value) -> Vec<PodSide> {
    state
        .pointer("/netloom-host:state/attachment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some(PodSide {
                netns: a.get("netns")?.as_str()?.to_owned(),
                ifname: a.get("interface")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// Entries of netloom's `state/interface` list (RFC 7951: 64-bit counters as strings).
pub fn state_entries(interfaces: &[InterfaceState]) -> Vec<Value> {
    interfaces
        .iter()
        .map(|i| {
            let mut e = Map::new();
            e.insert("name".into(), json!(i.name));
            e.insert("if-index".into(), json!(i.ifindex));
            e.insert("admin-status".into(), json!(admin(i.admin_up, false)));
            e.insert("oper-status".into(), json!(i.oper.yang()));
            if let Some(m) = i.mtu {
                e.insert("mtu".into(), json!(m));
            }
            if let Some(mac) = &i.mac {
                e.insert("phys-address".into(), json!(mac));
            }
            if let Some(c) = &i.counters {
                let counters: Map<String, Value> = c
                    .leaves()
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.to_string())))
                    .collect();
                e.insert("counters".into(), Value::Object(counters));
            }
            Value::Object(e)
        })
        .collect()
}

fn admin(up: bool, openconfig: bool) -> &'static str {
    match (up, openconfig) {
        (true, false) => "up",
        (false, false) => "down",
        (true, true) => "UP",
        (false, true) => "DOWN",
    }
}

/// The OpenConfig tree (`openconfig-interfaces`): `interfaces/interface[name]/{name,
/// config/name, state/{name, ifindex, admin-status, oper-status, mtu, counters/...}}`.
/// Counters are numbers here; a front end encodes them per its encoding.
pub fn openconfig_doc(interfaces: &[InterfaceState]) -> Value {
    let list: Vec<Value> = interfaces
        .iter()
        .map(|i| {
            let mut state = Map::new();
            state.insert("name".into(), json!(i.name));
            state.insert("ifindex".into(), json!(i.ifindex));
            state.insert("admin-status".into(), json!(admin(i.admin_up, true)));
            state.insert("oper-status".into(), json!(i.oper.openconfig()));
            if let Some(m) = i.mtu {
                state.insert("mtu".into(), json!(m));
            }
            if let Some(c) = &i.counters {
                let counters: Map<String, Value> = c
                    .leaves()
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect();
                state.insert("counters".into(), Value::Object(counters));
            }
            json!({"name": i.name, "config": {"name": i.name}, "state": state})
        })
        .collect();
    json!({"interfaces": {"interface": list}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_trees_render_one_interface() {
        let i = InterfaceState {
            name: "veth0".into(),
            ifindex: 7,
            oper: OperStatus::LowerLayerDown,
            admin_up: true,
            mtu: Some(1500),
            mac: Some("02:00:00:00:00:01".into()),
            counters: Some(Counters {
                in_pkts: 10,
                in_multicast_pkts: 3,
                ..Counters::default()
            }),
        };
        let s = &state_entries(std::slice::from_ref(&i))[0];
        assert_eq!(s["oper-status"], "lower-layer-down");
        assert_eq!(s["counters"]["in-unicast-pkts"], "7");
        let oc = openconfig_doc(&[i]);
        let st = &oc["interfaces"]["interface"][0]["state"];
        assert_eq!(st["oper-status"], "LOWER_LAYER_DOWN");
        assert_eq!(st["admin-status"], "UP");
        assert_eq!(st["counters"]["in-pkts"], 10);
        let pod = PodSide {
            netns: "/var/run/netns/cni-1".into(),
            ifname: "eth0".into(),
        };
        assert_eq!(pod.name(), "cni-1/eth0");
    }
}
