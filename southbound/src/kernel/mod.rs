//! The kernel dataplane over rtnetlink (no `ip` commands): host-level objects that follow
//! committed config ([`KernelDriver`], a [`crate::DataplaneDriver`]) and pod interfaces that
//! follow CNI calls ([`KernelPods`], a [`crate::PodDriver`]).

mod fdb;
mod links;
pub(crate) mod netns;
mod pods;
mod repair;
mod routes;
mod timing;

pub use links::MARK;
pub use pods::KernelPods;

use crate::driver::{DataplaneDriver, DriverError};
use crate::spec::Op;

/// Host bridges, VXLAN devices, VLAN subinterfaces, host routes and rules, in the daemon's
/// own network namespace.
#[derive(Debug, Default)]
pub struct KernelDriver;

impl KernelDriver {
    pub fn new() -> Self {
        KernelDriver
    }
}

async fn device_index(
    h: &rtnetlink::Handle,
    dev: &Option<String>,
) -> Result<Option<u32>, DriverError> {
    match dev {
        Some(d) => Ok(links::find(h, d).await?.map(|l| l.header.index)),
        None => Ok(None),
    }
}

/// Set a sysctl of the daemon's namespace; the undo restores what it was. Read from the
/// daemon's own thread: /proc/sys/net is that of the calling thread's namespace, and the
/// daemon's threads never leave its namespace.
fn set_sysctl(key: &str, to: &str) -> Result<Op, DriverError> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let old = std::fs::read_to_string(&path)
        .map_err(|e| DriverError::Refused {
            op: format!("sysctl {key}"),
            reason: e.to_string(),
        })?
        .trim()
        .to_owned();
    if old != to {
        netns::sysctl(key, to)?;
        tracing::info!(sysctl = %key, from = %old, to = %to, "host sysctl set for a network");
    }
    Ok(Op::Sysctl {
        key: key.to_owned(),
        from: Some(to.to_owned()),
        to: old,
    })
}

impl DataplaneDriver for KernelDriver {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn apply(&mut self, op: &Op) -> Result<Op, DriverError> {
        if let Op::Sysctl { key, to, .. } = op {
            return set_sysctl(key, to);
        }
        if let Op::UpdateLink { old, new } = op {
            let was = netns::in_host(|h| async move { links::update(&h, old, new).await })?;
            // the undo restores the MTU the link really had
            let mut back = old.clone();
            back.mtu = back.mtu.or(was);
            return Ok(Op::UpdateLink {
                old: new.clone(),
                new: back,
            });
        }
        let undo = op.inverse();
        netns::in_host(|h| async move {
            match op {
                Op::CreateLink(l) => links::create(&h, l).await,
                Op::DeleteLink(l) => links::delete(&h, &l.name).await,
                Op::AddRoute(r) => {
                    routes::add_route(&h, r, device_index(&h, &r.device).await?).await
                }
                Op::DeleteRoute(r) => {
                    routes::delete_route(&h, r, device_index(&h, &r.device).await?).await
                }
                Op::SetVxlanRemotes {
                    link, group, to, ..
                } => {
                    let index = links::index(&h, link).await?;
                    fdb::sync_flood_list(&h, index, to, *group).await.map(drop)
                }
                Op::AddRule(r) => routes::add_rule(&h, r).await,
                Op::DeleteRule(r) => routes::delete_rule(&h, r).await,
                other => Err(DriverError::Refused {
                    op: format!("{other:?}"),
                    reason: "the kernel driver does not program SR-IOV, nftables or OVS yet".into(),
                }),
            }
        })?;
        Ok(undo)
    }

    fn owned_links(&mut self) -> Result<Vec<String>, DriverError> {
        netns::in_host(|h| async move {
            Ok(links::all(&h)
                .await?
                .iter()
                .filter(|l| links::alias(l) == Some(MARK))
                .filter_map(|l| links::name(l).map(str::to_owned))
                .collect())
        })
    }
}
