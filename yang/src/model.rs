//! The typed config model: serde structs read from validated canonical RFC 7951 JSON, one
//! per unit kind. The engine's semantic checks and planner work on these, never on raw JSON.
//! Defaults are those of the YANG module (canonical JSON leaves defaults implicit).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

fn yes() -> bool {
    true
}

/// `inet:ip-prefix` text to a prefix (host bits kept as written).
fn de_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn de_prefix_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

fn de_prefixes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// `inet:ip-address` text (a zone, when present, is dropped).
fn parse_ip(s: &str) -> Result<IpAddr, std::net::AddrParseError> {
    s.split('%').next().unwrap_or(s).parse()
}

fn de_ip_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_ip(&s).map_err(serde::de::Error::custom))
        .transpose()
}

fn de_ips<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| parse_ip(s).map_err(serde::de::Error::custom))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkType {
    Bridge,
    Macvlan,
    Ipvlan,
    Vlan,
    Vxlan,
    Sriov,
    OvsDpdk,
    HostDevice,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Network {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: NetworkType,
    #[serde(default)]
    pub uplink: Option<String>,
    #[serde(default)]
    pub mtu: Option<u16>,
    #[serde(default)]
    pub vlan_id: Option<u16>,
    #[serde(default)]
    pub bridge: Option<BridgeSettings>,
    #[serde(default)]
    pub macvlan: Option<ModeSettings>,
    #[serde(default)]
    pub ipvlan: Option<ModeSettings>,
    #[serde(default)]
    pub vxlan: Option<Vxlan>,
    #[serde(default)]
    pub sriov: Option<SriovNetwork>,
    #[serde(default)]
    pub dpdk: Option<DpdkNetwork>,
    #[serde(default)]
    pub host_device: Option<HostDevice>,
    #[serde(default)]
    pub ipam: Ipam,
    #[serde(default)]
    pub route: Vec<Route>,
    #[serde(default)]
    pub policy_route: Vec<PolicyRoute>,
}

impl Network {
    /// The host bridge of a bridge or vxlan network: as configured, else `nl-<name>` cut to
    /// the 15 characters Linux allows.
    pub fn bridge_name(&self) -> String {
        match self.bridge.as_ref().and_then(|b| b.name.clone()) {
            Some(n) => n,
            None => format!("nl-{}", self.name).chars().take(15).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BridgeSettings {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub gateway: bool,
    #[serde(default)]
    pub hairpin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModeSettings {
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Vxlan {
    pub vni: u32,
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub local: Option<IpAddr>,
    #[serde(default, deserialize_with = "de_ips")]
    pub remote: Vec<IpAddr>,
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub group: Option<IpAddr>,
    #[serde(default = "vxlan_port")]
    pub port: u16,
    #[serde(default = "yes")]
    pub learning: bool,
}

fn vxlan_port() -> u16 {
    4789
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SriovNetwork {
    pub physical_function: String,
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DpdkNetwork {
    #[serde(default)]
    pub bridge: Option<String>,
    #[serde(default)]
    pub port_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HostDevice {
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Ipam {
    #[serde(default)]
    pub pool: Vec<Pool>,
    #[serde(default)]
    pub dns: Option<Dns>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pool {
    pub name: String,
    #[serde(deserialize_with = "de_prefix")]
    pub subnet: IpNet,
    #[serde(default)]
    pub range: Option<Range>,
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub gateway: Option<IpAddr>,
    #[serde(default, deserialize_with = "de_prefixes")]
    pub exclude: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Range {
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub start: Option<IpAddr>,
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub end: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Dns {
    #[serde(default, deserialize_with = "de_ips")]
    pub nameserver: Vec<IpAddr>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub search: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Route {
    #[serde(deserialize_with = "de_prefix")]
    pub destination: IpNet,
    #[serde(default, deserialize_with = "de_ip_opt")]
    pub next_hop: Option<IpAddr>,
    #[serde(default)]
    pub metric: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PolicyRoute {
    pub priority: u32,
    #[serde(default, deserialize_with = "de_prefix_opt")]
    pub from: Option<IpNet>,
    #[serde(default, deserialize_with = "de_prefix_opt")]
    pub to: Option<IpNet>,
    #[serde(default)]
    pub fwmark: Option<u32>,
    pub table: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub interface: Vec<PodInterface>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PodInterface {
    pub name: String,
    pub network: String,
    #[serde(default, deserialize_with = "de_ips")]
    pub address: Vec<IpAddr>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub default_route: bool,
    #[serde(default)]
    pub route: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PhysicalFunction {
    pub name: String,
    #[serde(default)]
    pub num_vfs: u16,
    #[serde(default)]
    pub vf: Vec<VirtualFunction>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VirtualFunction {
    pub id: u16,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub vlan: Option<u16>,
    #[serde(default)]
    pub qos: u8,
    #[serde(default)]
    pub trust: bool,
    #[serde(default = "yes")]
    pub spoof_check: bool,
    #[serde(default)]
    pub link_state: Option<String>,
    #[serde(default)]
    pub min_tx_rate: u32,
    #[serde(default)]
    pub max_tx_rate: u32,
    #[serde(default)]
    pub driver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Service {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de_ips")]
    pub vip: Vec<IpAddr>,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub session_affinity: Option<String>,
    #[serde(default)]
    pub scheduler: Option<String>,
    #[serde(default)]
    pub port: Vec<ServicePort>,
    #[serde(default)]
    pub endpoint: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServicePort {
    pub name: String,
    #[serde(default)]
    pub protocol: Option<String>,
    pub port: u16,
    #[serde(default)]
    pub target_port: Option<u16>,
    #[serde(default)]
    pub node_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Endpoint {
    pub address: String,
    #[serde(default = "yes")]
    pub ready: bool,
    #[serde(default = "one")]
    pub weight: u16,
}

fn one() -> u16 {
    1
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    #[serde(default)]
    pub default_action: Option<String>,
    #[serde(default)]
    pub rule: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AppliesTo {
    #[serde(default)]
    pub network: Vec<String>,
    #[serde(default)]
    pub pod_namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    pub seq: u32,
    pub direction: String,
    pub action: String,
    #[serde(default, deserialize_with = "de_prefixes")]
    pub source: Vec<IpNet>,
    #[serde(default, deserialize_with = "de_prefixes")]
    pub destination: Vec<IpNet>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub authorized_key: Vec<String>,
    #[serde(default)]
    pub role: Option<String>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role.as_deref() == Some("admin")
    }
}

/// Read a typed object from a unit's canonical JSON.
pub fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_networks_with_defaults() {
        let n: Network = read(
            r#"{"name":"a-very-long-network","type":"vxlan","vxlan":{"vni":10,"remote":["192.0.2.1"]},
                "ipam":{"pool":[{"name":"p","subnet":"10.0.0.0/24","gateway":"10.0.0.1"}]}}"#,
        )
        .unwrap();
        assert_eq!(n.kind, NetworkType::Vxlan);
        let v = n.vxlan.as_ref().unwrap();
        assert_eq!((v.port, v.learning), (4789, true));
        assert_eq!(n.bridge_name(), "nl-a-very-long-");
        assert_eq!(n.ipam.pool[0].subnet.to_string(), "10.0.0.0/24");
    }
}
