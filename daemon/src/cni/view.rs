//! What the CNI service reads of running config: networks, pod entries and every fixed
//! address, parsed once per commit and shared by all calls until the next commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use netloom_store::Snapshot;
use netloom_yang::model::{Network, Pod};

use crate::checks::Lists;

#[derive(Debug, Default)]
pub struct ConfigView {
    pub commit: u64,
    pub networks: BTreeMap<String, Network>,
    pub pods: HashMap<(String, String), Pod>,
    /// Fixed addresses of all pods (never handed out dynamically).
    pub reserved: HashSet<IpAddr>,
}

impl ConfigView {
    pub fn build(running: &Snapshot, lists: &Lists) -> ConfigView {
        let mut view = ConfigView {
            commit: running.commit_id,
            ..ConfigView::default()
        };
        for (key, text) in running.units.iter() {
            if key.list == lists.networks {
                match serde_json::from_str::<Network>(text) {
                    Ok(n) => {
                        view.networks.insert(n.name.clone(), n);
                    }
                    Err(e) => tracing::error!(unit = %key, error = %e, "unreadable network"),
                }
            } else if key.list == lists.pods {
                match serde_json::from_str::<Pod>(text) {
                    Ok(p) => {
                        for i in &p.interface {
                            view.reserved.extend(i.address.iter().copied());
                        }
                        view.pods.insert((p.namespace.clone(), p.name.clone()), p);
                    }
                    Err(e) => tracing::error!(unit = %key, error = %e, "unreadable pod"),
                }
            }
        }
        view
    }
}
