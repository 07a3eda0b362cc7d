//! What the kernel says about links, read-only: a dump of every link of a namespace with its
//! state and 64-bit counters (one netlink request per namespace, however many links), and a
//! watch on the link multicast group so changes of oper/admin state arrive as events instead
//! of being polled for. Plain data, no YANG: the daemon maps it onto the state tree.

mod dump;
mod watch;

pub use dump::{dump_host, dump_namespaces};
pub use watch::LinkWatch;

/// The operational state as the kernel reports it (RFC 2863 `ifOperStatus`).
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

/// The kernel's 64-bit link statistics (`IFLA_STATS64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    /// Multicast packets received.
    pub multicast: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// One link as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkObservation {
    pub ifindex: u32,
    pub name: String,
    pub oper: OperStatus,
    /// `IFF_UP`: the administrator wants it up.
    pub admin_up: bool,
    pub mtu: Option<u32>,
    /// The link-layer address, when it has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    pub counters: Option<LinkCounters>,
}

/// A link that appeared, changed or went away (from the link multicast group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Changed(LinkObservation),
    Removed { ifindex: u32, name: String },
}
