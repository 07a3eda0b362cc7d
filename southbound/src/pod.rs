//! Pod-level dataplane: the interfaces a CNI call puts into (or takes out of) a pod's
//! network namespace. These follow CNI calls, not committed config, so they have their own
//! small trait beside [`crate::DataplaneDriver`].

use std::path::Path;
use std::sync::Mutex;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::driver::DriverError;
use crate::spec::{RouteSpec, RuleSpec};

/// How a pod interface reaches its network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodLinkKind {
    /// A veth pair: the pod end is the interface, the host end (`host_name`) is a port of
    /// `bridge` (when given).
    Veth {
        host_name: String,
        bridge: Option<String>,
        hairpin: bool,
        /// The host end's MAC, chosen before the kernel is touched so the attachment can
        /// be recorded first (specs recorded before round 3 have none: the kernel picks).
        #[serde(default)]
        host_mac: Option<String>,
    },
    /// A macvlan of `uplink` (mode: bridge, private, vepa, passthru).
    Macvlan { uplink: String, mode: String },
    /// An ipvlan of `uplink` (mode: l2, l3, l3s).
    Ipvlan { uplink: String, mode: String },
}

/// One interface inside a pod, as it must end up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInterfaceSpec {
    pub ifname: String,
    pub kind: PodLinkKind,
    pub mtu: Option<u16>,
    /// A fixed MAC address (`aa:bb:cc:dd:ee:ff`).
    pub mac: Option<String>,
    pub addresses: Vec<IpNet>,
    /// Routes through this interface (`device` is ignored: it is this interface).
    pub routes: Vec<RouteSpec>,
    /// Policy routing rules set in the pod.
    pub rules: Vec<RuleSpec>,
}

impl PodInterfaceSpec {
    /// The host end's name, for a veth.
    pub fn host_name(&self) -> Option<&str> {
        match &self.kind {
            PodLinkKind::Veth { host_name, .. } => Some(host_name),
            _ => None,
        }
    }
}

/// What an attached interface turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodInterfaceState {
    pub ifname: String,
    pub mac: String,
    /// The host end (name, MAC), for a veth.
    pub host: Option<(String, String)>,
}

/// What reconcile found a live attachment's interface to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// There as specified: left untouched (no flap of a working pod).
    Adopted,
    /// There, with what had gone missing put back (what, for the log).
    Repaired(Vec<String>),
    /// Gone: made again as specified (same MAC, same addresses).
    Recreated,
}

/// What netloom writes as the alias of a pod interface it made, so a leftover of a failed
/// call is told apart from someone else's interface of the same name.
pub fn owner_mark(owner: &str) -> String {
    format!("netloom:{owner}")
}

/// Puts interfaces into pods and takes them out again.
pub trait PodDriver: Send + Sync {
    /// Create and configure `specs` in the pod's netns, all or nothing: on failure, what
    /// was made is removed again. `owner` (the container id) marks the interfaces.
    fn attach(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<PodInterfaceState>, DriverError>;

    /// Remove the interfaces (and their rules); idempotent; a missing netns is fine (the
    /// host ends are still removed).
    fn detach(
        &self,
        netns: Option<&Path>,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError>;

    /// The fast half of a DEL: take the interfaces off the network without waiting for
    /// the kernel to unregister them. Afterwards none of their addresses is configured
    /// anywhere and no bridge forwards to them (rules removed, pod ends without addresses,
    /// veth host ends' bridge ports disabled), so the addresses may be handed out again.
    /// Returns whether links remain for [`PodDriver::detach`] to remove (the slow half,
    /// which the caller may run later); the default does the whole detach at once.
    fn disconnect(
        &self,
        netns: Option<&Path>,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<bool, DriverError> {
        self.detach(netns, owner, specs)?;
        Ok(false)
    }

    /// Whether every interface is there as specified.
    fn check(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError>;

    /// Bring a live attachment's interfaces back to `specs` without disturbing what
    /// already matches: missing interfaces are made again, missing addresses, routes and
    /// rules added, a host end put back on its bridge. Used at start (reconcile).
    fn repair(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<Reconciled>, DriverError>;

    /// Host ends (veth name, owner mark) netloom made in the daemon's netns, for garbage
    /// collection.
    fn host_ends(&self) -> Result<Vec<(String, String)>, DriverError>;

    /// Remove one host end (GC of an attachment nobody owns).
    fn remove_host_end(&self, name: &str) -> Result<(), DriverError>;
}

/// Pods without a dataplane (`--dataplane none`): remembers what was attached.
#[derive(Debug, Default)]
pub struct MemoryPods {
    attached: Mutex<Vec<(String, String, String)>>,
}

fn fake_mac(seed: &str) -> String {
    let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let b = h.to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4]
    )
}

impl PodDriver for MemoryPods {
    fn attach(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<PodInterfaceState>, DriverError> {
        let ns = netns.display().to_string();
        let mut attached = self.attached.lock().map_err(|_| poisoned())?;
        if let Some(s) = specs.iter().find(|s| {
            attached
                .iter()
                .any(|(n, o, i)| n == &ns && i == &s.ifname && o != owner)
        }) {
            return Err(DriverError::Clash(format!("{} exists in {ns}", s.ifname)));
        }
        let out = specs
            .iter()
            .map(|s| {
                attached.retain(|(n, _, i)| !(n == &ns && i == &s.ifname));
                attached.push((ns.clone(), owner.to_owned(), s.ifname.clone()));
                PodInterfaceState {
                    ifname: s.ifname.clone(),
                    mac: s
                        .mac
                        .clone()
                        .unwrap_or_else(|| fake_mac(&format!("{owner}/{}", s.ifname))),
                    host: match &s.kind {
                        PodLinkKind::Veth {
                            host_name,
                            host_mac,
                            ..
                        } => Some((
                            host_name.clone(),
                            host_mac.clone().unwrap_or_else(|| fake_mac(host_name)),
                        )),
                        _ => None,
                    },
                }
            })
            .collect();
        Ok(out)
    }

    fn detach(
        &self,
        _netns: Option<&Path>,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError> {
        let mut attached = self.attached.lock().map_err(|_| poisoned())?;
        attached.retain(|(_, o, i)| !(o == owner && specs.iter().any(|s| &s.ifname == i)));
        Ok(())
    }

    fn check(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<(), DriverError> {
        let ns = netns.display().to_string();
        let attached = self.attached.lock().map_err(|_| poisoned())?;
        for s in specs {
            if !attached
                .iter()
                .any(|(n, o, i)| n == &ns && o == owner && i == &s.ifname)
            {
                return Err(DriverError::Refused {
                    op: format!("check {}", s.ifname),
                    reason: "not attached".into(),
                });
            }
        }
        Ok(())
    }

    fn repair(
        &self,
        netns: &Path,
        owner: &str,
        specs: &[PodInterfaceSpec],
    ) -> Result<Vec<Reconciled>, DriverError> {
        let ns = netns.display().to_string();
        let mut attached = self.attached.lock().map_err(|_| poisoned())?;
        Ok(specs
            .iter()
            .map(|s| {
                let entry = (ns.clone(), owner.to_owned(), s.ifname.clone());
                if attached.contains(&entry) {
                    Reconciled::Adopted
                } else {
                    attached.push(entry);
                    Reconciled::Recreated
                }
            })
            .collect())
    }

    fn host_ends(&self) -> Result<Vec<(String, String)>, DriverError> {
        Ok(Vec::new())
    }

    fn remove_host_end(&self, _name: &str) -> Result<(), DriverError> {
        Ok(())
    }
}

fn poisoned() -> DriverError {
    DriverError::Unavailable("pod table lock poisoned".into())
}
