//! The CNI service: ADD, DEL, CHECK, GC and STATUS for the CNI socket. Calls for one
//! container are serialized by a per-container lock; calls for different containers run in
//! parallel. Store writes (the IPAM ledger before the dataplane is touched, the attachment
//! rows before the reply) run as jobs on the engine thread, so the store keeps one writer;
//! the netlink work runs on the caller's thread and the pod's own netns threads.

mod add;
mod check;
mod displaced;
mod rebuild;
mod reconcile;
mod resolve;
mod result;
mod spec;
mod teardown;
mod view;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use netloom_northbound::api::Handle;
use netloom_northbound::cni::{CniBackend, CniCall, CniError, Command};
use netloom_southbound::{DriverError, PodDriver};
use netloom_store::{Attachment, Durable};
use netloom_yang::Schema;
use serde_json::Value;

use crate::checks::Lists;
use crate::engine::Engine;
use crate::error::Error;
use crate::ipam::Ipam;
use crate::service::Jobs;
use view::ConfigView;

pub use spec::host_veth_name;

type Locks = Arc<Mutex<HashMap<String, Arc<Gate>>>>;

/// One container's turn: whoever holds it may act on the container; another call waits.
#[derive(Debug, Default)]
struct Gate {
    busy: Mutex<bool>,
    free: Condvar,
}

/// The turn of one container, held by a call and, after a DEL, by the thread that
/// finishes unregistering the container's links (it can be handed over, unlike a mutex
/// guard). Dropping it lets the next call in and forgets the gate once nobody waits.
pub(super) struct Serial {
    locks: Locks,
    container_id: String,
    gate: Arc<Gate>,
}

impl Drop for Serial {
    fn drop(&mut self) {
        *lock(&self.gate.busy) = false;
        self.gate.free.notify_one();
        let mut locks = lock(&self.locks);
        // the map's reference and ours: nobody else waits for this container
        if locks
            .get(&self.container_id)
            .is_some_and(|g| Arc::ptr_eq(g, &self.gate) && Arc::strong_count(g) == 2)
        {
            locks.remove(&self.container_id);
        }
    }
}

pub struct CniService {
    jobs: Jobs,
    handle: Handle,
    lists: Lists,
    /// The data path of every network entry starts so (`/netloom-host:networks/network[`).
    network_prefix: String,
    pods: Arc<dyn PodDriver>,
    /// Touched only inside engine jobs (the mutex is never contended).
    ipam: Arc<Mutex<Ipam>>,
    /// The attachment table, by container id.
    attachments: Mutex<HashMap<String, Vec<Attachment>>>,
    view: Mutex<Arc<ConfigView>>,
    locks: Locks,
    /// Threads finishing DELs (unregistering links off the reply path); joined on drop.
    finishing: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Drop for CniService {
    fn drop(&mut self) {
        for t in lock(&self.finishing).drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for CniService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CniService")
    }
}

/// A phase of a call at debug level (target `netloom::timing`, as the dataplane's).
fn timing(op: &'static str, took: Duration) {
    tracing::debug!(target: "netloom::timing", op, us = took.as_micros() as u64);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panicked call must not wedge every later one; the data is plain maps
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The daemon's error as a CNI error.
fn cni_error(e: Error) -> CniError {
    match e {
        Error::Exhausted { .. } | Error::AddressTaken { .. } => {
            CniError::new(CniError::IPAM_FAILURE, e.to_string())
        }
        Error::ConfigChanged(m) => CniError::new(CniError::TRY_AGAIN_LATER, m),
        other => CniError::new(CniError::IO_FAILURE, "the CNI service's store failed")
            .with_details(other.to_string()),
    }
}

/// A group commit whose fsync failed: its writes may not survive the host.
fn not_durable() -> CniError {
    CniError::new(
        CniError::TRY_AGAIN_LATER,
        "the CNI service's store could not make the change durable",
    )
}

/// A dataplane error as a CNI error.
fn dataplane_error(e: DriverError) -> CniError {
    match e {
        DriverError::NoNetns(ns) => CniError::new(
            CniError::INVALID_ENV,
            format!("CNI_NETNS {ns} does not exist"),
        ),
        DriverError::Clash(m) => CniError::new(CniError::INVALID_ENV, m),
        other => CniError::new(
            CniError::INTERFACE_FAILURE,
            "the pod's interfaces could not be set up",
        )
        .with_details(other.to_string()),
    }
}

impl CniService {
    /// Load the ledger and the attachment table, and release leases whose ADD a crash
    /// interrupted before its attachment was recorded (the runtime retries or deletes).
    pub fn start(
        jobs: Jobs,
        handle: Handle,
        schema: &Schema,
        pods: Arc<dyn PodDriver>,
    ) -> Result<CniService, Error> {
        let lists = Lists::resolve(schema)?;
        let probe = schema.unit_key(lists.networks, &["x"])?.path;
        let network_prefix = probe[..probe.find('[').map_or(probe.len(), |i| i + 1)].to_owned();
        let ipam = Arc::new(Mutex::new(Ipam::default()));
        let shared = ipam.clone();
        let rows = jobs
            .run(move |e: &mut Engine| -> Result<Vec<Attachment>, Error> {
                let store = e.store_mut();
                let rows = store.attachments()?;
                let live: HashSet<(String, String)> = rows
                    .iter()
                    .map(|a| (a.container_id.clone(), a.interface.clone()))
                    .collect();
                let mut ipam = Ipam::load(&store.allocations(None)?);
                let mut released = 0;
                for (owner, iface) in ipam.holders() {
                    if !live.contains(&(owner.clone(), iface.clone())) {
                        released += ipam.release(store, &owner, Some(&iface))?;
                    }
                }
                if released > 0 {
                    tracing::info!(released, "released leases of interrupted ADDs");
                }
                *lock(&shared) = ipam;
                Ok(rows)
            })
            .ok_or_else(|| Error::Refused("the engine stopped".into()))??;
        let mut attachments: HashMap<String, Vec<Attachment>> = HashMap::new();
        for a in rows {
            attachments
                .entry(a.container_id.clone())
                .or_default()
                .push(a);
        }
        let service = CniService {
            jobs,
            handle,
            lists,
            network_prefix,
            pods,
            ipam,
            attachments: Mutex::new(attachments),
            view: Mutex::new(Arc::new(ConfigView::default())),
            locks: Arc::default(),
            finishing: Mutex::default(),
        };
        let detached = service.detach_displaced();
        if detached > 0 {
            tracing::warn!(
                detached,
                "detached pod interfaces of networks gone while netloomd was down"
            );
        }
        service.reconcile();
        tracing::info!(
            containers = lock(&service.attachments).len(),
            "CNI service ready"
        );
        Ok(service)
    }

    /// Running config as the CNI service reads it (rebuilt after each commit).
    fn view(&self) -> Arc<ConfigView> {
        let running = self.handle.snapshots().running.clone();
        let mut cached = lock(&self.view);
        if cached.commit != running.commit_id
            || (cached.networks.is_empty() && !running.units.is_empty())
        {
            *cached = Arc::new(ConfigView::build(&running, &self.lists));
        }
        cached.clone()
    }

    /// Run `job` on the engine thread; its writes are durable when this returns.
    fn on_engine<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Engine, &mut Ipam) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, CniError> {
        let (out, durable) = self.on_engine_written(job)?;
        let syncing = Instant::now();
        if !durable.wait() {
            return Err(not_durable());
        }
        timing("engine sync wait", syncing.elapsed());
        Ok(out)
    }

    /// Run `job` on the engine thread; its writes are committed, and durable once the
    /// returned [`Durable`] says so (see `Jobs::run_written`).
    fn on_engine_written<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Engine, &mut Ipam) -> Result<T, Error> + Send + 'static,
    ) -> Result<(T, Durable), CniError> {
        let ipam = self.ipam.clone();
        let queued = Instant::now();
        let ((out, waited, ran), durable) = self
            .jobs
            .run_written(move |e| {
                let waited = queued.elapsed();
                let started = Instant::now();
                let out = job(e, &mut lock(&ipam));
                (out, waited, started.elapsed())
            })
            .ok_or_else(|| CniError::new(CniError::TRY_AGAIN_LATER, "netloomd is stopping"))?;
        // the rest of the round trip is the other jobs of its group and the commit
        timing("engine queue", waited);
        timing("engine job", ran);
        timing("engine round trip", queued.elapsed());
        Ok((out.map_err(cni_error)?, durable))
    }

    /// Wait for the turn of `container_id`: its calls, and the unregistering of links its
    /// DEL left to finish, run one at a time.
    fn serialize(&self, container_id: &str) -> Serial {
        let gate = lock(&self.locks)
            .entry(container_id.to_owned())
            .or_default()
            .clone();
        {
            let mut busy = lock(&gate.busy);
            while *busy {
                busy = gate
                    .free
                    .wait(busy)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            *busy = true;
        }
        Serial {
            locks: self.locks.clone(),
            container_id: container_id.to_owned(),
            gate,
        }
    }

    fn status(&self) -> Result<Option<Value>, CniError> {
        let view = self.view();
        let networks: Vec<_> = view.networks.values().cloned().collect();
        let exhausted =
            self.on_engine(move |_, ipam| Ok(ipam.exhausted(&networks, &view.reserved)))?;
        if exhausted.is_empty() {
            Ok(None)
        } else {
            Err(
                CniError::new(CniError::NOT_AVAILABLE, "no address left to hand out")
                    .with_details(format!("exhausted pools: {}", exhausted.join(", "))),
            )
        }
    }
}

impl CniBackend for CniService {
    fn call(&self, call: CniCall) -> Result<Option<Value>, CniError> {
        match call.command {
            Command::Status => return self.status(),
            Command::Gc => return self.gc(&call),
            Command::Version => {
                return Ok(Some(netloom_northbound::cni::version_result(
                    &call.cni_version,
                )))
            }
            _ => {}
        }
        let waiting = Instant::now();
        let serial = self.serialize(&call.container_id);
        timing("container turn", waiting.elapsed());
        match call.command {
            Command::Add => self.add(&call).map(Some),
            Command::Del => self
                .del(serial, &call.container_id, &call.ifname, &call.netns)
                .map(|_| None),
            _ => self.check(&call).map(|_| None),
        }
    }
}
