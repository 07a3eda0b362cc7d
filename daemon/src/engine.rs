//! The engine: the one writer. Every change of configuration — an edit of running, a commit
//! of the candidate, a rollback, a confirmed commit's expiry — runs the same pipeline:
//! edit -> validate (libyang on the change's scope, then semantic checks) -> plan -> apply
//! (undo journal) -> persist (one SQLite transaction) -> publish snapshots -> notify.
//! Nothing is persisted or published unless every earlier step succeeded, and a persist
//! failure unwinds the dataplane too.

use std::collections::BTreeSet;

// foldhash: the indexes hash 100k unit paths per bulk commit; SipHash showed in profiles
use foldhash::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use netloom_northbound::api::{
    CommitEvent, ConfirmEvent, ConfirmEventKind, Confirmed, Principal, Snapshots,
};
use netloom_southbound::{DataplaneDriver, LinkKind, LinkSpec, Op};
use netloom_store::{
    CommitMeta, CommitRecord, ConfirmState, DatastoreId, PendingConfirm, SessionId, Snapshot,
    Store, UnitChange,
};
use netloom_yang::{DependencyGraph, Edit, EditBatch, Schema, UnitKey, UnitMap};
use tokio::sync::{broadcast, watch};

use crate::checks::{self, Claim, FixedIps, Lists};
use crate::error::Error;
use crate::executor;
use crate::plan::{self, UnitDiff};
use crate::scope::{self, RefIndex};
use crate::uniques::{UniqueClaim, Uniques};

/// What a change came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Committed(CommitRecord),
    /// Running already was what was asked; no commit was recorded.
    Unchanged(u64),
    /// A datastore other than running changed.
    Stored,
}

impl Outcome {
    pub fn commit_id(&self) -> Option<u64> {
        match self {
            Outcome::Committed(r) => Some(r.id),
            Outcome::Unchanged(id) => Some(*id),
            Outcome::Stored => None,
        }
    }
}

/// The engine's own identity for changes it makes by itself (expiries, bootstrap).
pub fn system_principal() -> Principal {
    Principal {
        session: 0,
        user: "netloomd".into(),
    }
}

const DEFAULT_HISTORY: u32 = 1000;

/// What the changed units claim that only one unit may hold, read once during validation and
/// used both to check the change and to update the indexes after it.
#[derive(Debug, Default)]
struct Claims {
    fixed: Vec<Claim>,
    unique: Vec<UniqueClaim>,
}

/// A validated change: its scope, the canonical texts of the scope's units, and the claims
/// of its changed units.
type Validated = (BTreeSet<UnitKey>, Vec<(UnitKey, String)>, Claims);
/// Changes of at least this many units are validated in parallel parts.
const PARALLEL_UNITS: usize = 4096;
/// At most this many parallel parts.
const MAX_PARTS: usize = 4;
/// libyang validates one tree in time quadratic in its size (implicit nodes under a false
/// `when` are auto-deleted, each deletion scanning the set of unresolved-type nodes), so a
/// large change is validated in chunks of at most this many changed units: 10k networks
/// took 300 ms as one tree, 100k took 20 s.
const VALIDATION_CHUNK: usize = 128;
/// Running rows written per slice when idle: a few milliseconds, the most a request
/// arriving meanwhile waits.
const IDLE_ROWS: usize = 2048;

pub struct Engine {
    schema: Arc<Schema>,
    /// Extra contexts for parallel validation: libyang serialises threads sharing one.
    helpers: Vec<Schema>,
    deps: DependencyGraph,
    lists: Lists,
    store: Store,
    driver: Box<dyn DataplaneDriver>,
    refs: RefIndex,
    fixed: FixedIps,
    uniques: Uniques,
    full_validation: bool,
    pending: Option<PendingConfirm>,
    snapshots: watch::Sender<Arc<Snapshots>>,
    events: broadcast::Sender<Arc<CommitEvent>>,
    confirm_events: broadcast::Sender<ConfirmEvent>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("driver", &self.driver.name())
            .finish()
    }
}

/// What a commit does to pods attached to a network it deletes, or whose host object (the
/// bridge, VLAN subinterface or uplink the pods' interfaces hang off) it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Displace {
    /// Refuse the commit (`in-use`): an operator's change never cuts pods off silently.
    Refuse,
    /// Commit; the CNI service detaches those pods' interfaces. Only for the engine's own
    /// rollback of a confirmed commit, which must bring the old configuration back.
    Detach,
}

/// How a commit stands to what surrounds it.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// Whether it waits for a confirmation.
    confirm: ConfirmState,
    /// Whether it empties the candidate (a commit of the candidate).
    clear_candidate: bool,
    displace: Displace,
}

impl Mode {
    /// An operator's plain commit of running.
    const PLAIN: Mode = Mode {
        confirm: ConfirmState::NotRequired,
        clear_candidate: false,
        displace: Displace::Refuse,
    };
}

/// Milliseconds since the Unix epoch (deadlines are kept in these).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Engine {
    /// Open the datastores at `db`, check the stored running config in full, and bring the
    /// dataplane in line with it.
    pub fn open(
        schema: Arc<Schema>,
        db: &Path,
        driver: Box<dyn DataplaneDriver>,
    ) -> Result<Self, Error> {
        let store = Store::open(db, schema.clone())?;
        let lists = Lists::resolve(&schema)?;
        let deps = schema.dependencies().clone();
        let running = store.snapshot(DatastoreId::Running);
        let refs = RefIndex::build(&schema, &deps, &running.units);
        let fixed = FixedIps::build(&lists, &running.units);
        let uniques = Uniques::build(&lists, &running.units)?;
        let pending = store.pending_confirm()?;
        let (snapshots, _) = watch::channel(Arc::new(Snapshots::default()));
        let (events, _) = broadcast::channel(1024);
        let (confirm_events, _) = broadcast::channel(64);
        let cores = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_PARTS);
        let helpers = (1..cores)
            .map(|_| Schema::new())
            .collect::<Result<Vec<_>, _>>()?;
        let mut engine = Engine {
            schema,
            helpers,
            deps,
            lists,
            store,
            driver,
            refs,
            fixed,
            uniques,
            full_validation: false,
            pending,
            snapshots,
            events,
            confirm_events,
        };
        let stored = engine.store.snapshot(DatastoreId::Running).units.clone();
        engine.validated_whole(stored).map_err(|e| {
            Error::Refused(format!(
                "the stored running configuration does not validate: {e}"
            ))
        })?;
        engine.resync()?;
        engine.publish();
        Ok(engine)
    }

    /// Program the dataplane for the whole running config (start-up and resync).
    fn resync(&mut self) -> Result<(), Error> {
        let running = self.store.snapshot(DatastoreId::Running);
        let diffs: Vec<UnitDiff> = running
            .units
            .iter()
            .map(|(k, v)| UnitDiff {
                key: k.clone(),
                old: None,
                new: Some(v.clone()),
            })
            .collect();
        let ops = plan::plan(&self.lists, &diffs)?;
        executor::execute(self.driver.as_mut(), &ops)?;
        self.remove_orphan_links(&ops)?;
        Ok(())
    }

    /// Remove host links netloom made that no committed network owns any more (their
    /// network was deleted while the daemon was down, or a crash interrupted a commit).
    /// Only links marked as netloom's are ever listed, so nobody else's is touched.
    fn remove_orphan_links(&mut self, ops: &[Op]) -> Result<(), Error> {
        let owned: HashSet<&str> = ops
            .iter()
            .filter_map(|op| match op {
                Op::CreateLink(l) => Some(l.name.as_str()),
                _ => None,
            })
            .collect();
        let orphans: Vec<String> = self
            .driver
            .owned_links()?
            .into_iter()
            .filter(|name| !owned.contains(name.as_str()))
            .collect();
        for name in orphans {
            // the kernel deletes by name; the kind is not consulted
            let op = Op::DeleteLink(LinkSpec {
                name: name.clone(),
                kind: LinkKind::Bridge { hairpin: false },
                mtu: None,
                master: None,
                addresses: Vec::new(),
            });
            self.driver.apply(&op)?;
            tracing::info!(link = %name, "removed a netloom link no committed network owns");
        }
        Ok(())
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The store, for reads (operational state, the IPAM ledger, attachments).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for the engine's own writers of non-config tables (IPAM, attachments).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn is_fresh(&self) -> bool {
        self.store.is_fresh()
    }

    /// Validate every unit on every commit instead of the change's scope (for comparison).
    pub fn set_full_validation(&mut self, on: bool) {
        self.full_validation = on;
    }

    pub fn snapshot(&self, ds: DatastoreId) -> Arc<Snapshot> {
        self.store.snapshot(ds)
    }

    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshots>> {
        self.snapshots.subscribe()
    }

    pub fn events(&self) -> broadcast::Sender<Arc<CommitEvent>> {
        self.events.clone()
    }

    pub fn confirm_events(&self) -> broadcast::Sender<ConfirmEvent> {
        self.confirm_events.clone()
    }

    /// Tell subscribers what happened to the confirmed commit (nobody listening is fine).
    fn confirm_event(&self, kind: ConfirmEventKind, who: &Principal, timeout_secs: Option<u32>) {
        let _ = self.confirm_events.send(ConfirmEvent {
            kind,
            time_ms: now_ms(),
            user: who.user.clone(),
            session: who.session,
            timeout_secs,
        });
    }

    /// Who holds which datastore lock.
    pub fn locks(&self) -> Vec<(DatastoreId, netloom_store::LockHolder)> {
        [
            DatastoreId::Running,
            DatastoreId::Candidate,
            DatastoreId::Startup,
        ]
        .into_iter()
        .filter_map(|ds| self.store.locks.holder(ds).map(|h| (ds, h.clone())))
        .collect()
    }

    pub fn pending_confirm(&self) -> Option<&PendingConfirm> {
        self.pending.as_ref()
    }

    fn publish(&self) {
        self.snapshots.send_replace(Arc::new(Snapshots {
            running: self.store.snapshot(DatastoreId::Running),
            candidate: self.store.snapshot(DatastoreId::Candidate),
            startup: self.store.snapshot(DatastoreId::Startup),
        }));
    }

    /// Refuse a change of running by `who` while another session's confirmed commit waits.
    fn check_running_writable(&self, who: &Principal) -> Result<(), Error> {
        self.store
            .locks
            .check_write(DatastoreId::Running, who.session)?;
        if let Some(p) = &self.pending {
            if p.persist_id.is_some() || p.session != who.session {
                return Err(Error::InUse(format!(
                    "confirmed commit {} is waiting for its confirmation",
                    p.commit_id
                )));
            }
        }
        Ok(())
    }

    /// Apply `edits` (a batch, or plain edits) to a datastore. Running: one commit, all or
    /// nothing. Slices of edits are copied; front ends hand over a `Vec`.
    pub fn edit(
        &mut self,
        who: &Principal,
        ds: DatastoreId,
        edits: impl Into<EditBatch>,
        comment: Option<String>,
    ) -> Result<Outcome, Error> {
        let edits = edits.into();
        match ds {
            DatastoreId::Running => {
                self.check_running_writable(who)?;
                let started = std::time::Instant::now();
                let mut units = self.store.snapshot(DatastoreId::Running).units.clone();
                let changed = self.schema.apply_batch(&mut units, edits)?;
                tracing::debug!(units = changed.len(), took = ?started.elapsed(), "edits applied");
                self.commit_running(units, changed, who, comment)
            }
            DatastoreId::Candidate => {
                self.store
                    .locks
                    .check_write(DatastoreId::Candidate, who.session)?;
                let started = std::time::Instant::now();
                let mut units = self.store.snapshot(DatastoreId::Candidate).units.clone();
                let changed = self.schema.apply_batch(&mut units, edits)?;
                let applied = started.elapsed();
                self.store.write_candidate(&units, &changed)?;
                tracing::debug!(units = changed.len(), ?applied, stored = ?started.elapsed(), "candidate edited");
                self.publish();
                Ok(Outcome::Stored)
            }
            DatastoreId::Startup => {
                self.store
                    .locks
                    .check_write(DatastoreId::Startup, who.session)?;
                let mut units = self.store.snapshot(DatastoreId::Startup).units.clone();
                self.schema.apply_batch(&mut units, edits)?;
                let units = self.validated_whole(units)?;
                self.store.write_startup(units)?;
                self.publish();
                Ok(Outcome::Stored)
            }
        }
    }

    /// Validate a whole datastore's content and return it in canonical form. The whole
    /// datastore is validated as one scope, as a commit validates what it changed: without
    /// libyang's default nodes where no expression can read them, and large lists judged by
    /// shape. Handing libyang the whole document with its defaults made `<validate>` and
    /// a copy to startup quadratic in the entries of a list whose `when`-guarded
    /// containers hold defaults (libyang deletes each entry's false-`when` implicit
    /// containers and, for each of their nodes, scans the set of every `when` still to be
    /// evaluated): ~1 s for 10k networks, ~3.5 s for 20k.
    fn validated_whole(&self, units: UnitMap) -> Result<UnitMap, Error> {
        let texts: Vec<(&UnitKey, &str)> = units.iter().map(|(k, v)| (k, &**v)).collect();
        let canon: UnitMap = self
            .schema
            .validate_scope_texts(&texts)?
            .into_iter()
            .map(|(k, t)| (k, Arc::from(t)))
            .collect();
        let all: BTreeSet<UnitKey> = canon.keys().cloned().collect();
        checks::check(&self.schema, &self.lists, &canon, &all)?;
        FixedIps::check_all(&self.lists, &canon)?;
        Uniques::check_all(&self.lists, &canon)?;
        Ok(canon)
    }

    /// Validate a datastore (NETCONF `<validate>`) as committing it would: running is valid
    /// (the stored one was validated whole at start, and every commit since validated its
    /// change), so what the datastore changes against running is validated, with its scope
    /// and the running config's claims — full validation's verdict (the random-edit
    /// equivalence test holds the two together) at the cost of the change, where validating
    /// every unit again took 60–70 ms for 10k networks and ~0.9 s for 100k. The verdict is
    /// the one a commit of the same content gets.
    pub fn check_datastore(&self, ds: DatastoreId) -> Result<(), Error> {
        self.check_units(self.store.snapshot(ds).units.clone())
    }

    /// Validate `batch` made to a copy of datastore `base`, or to an empty one (`<validate>`
    /// of a `<config>` given inline; edit-config's test-only names its target), checked as
    /// [`Engine::check_datastore`] checks a datastore, so the semantic checks (overlapping
    /// pools, fixed addresses, uniques) count as they do for a commit. Nothing is written.
    pub fn check_edits(&self, base: Option<DatastoreId>, batch: EditBatch) -> Result<(), Error> {
        let mut units = base.map_or_else(UnitMap::new, |ds| self.store.snapshot(ds).units.clone());
        self.schema.apply_batch(&mut units, batch)?;
        self.check_units(units)
    }

    fn check_units(&self, units: UnitMap) -> Result<(), Error> {
        let running = self.store.snapshot(DatastoreId::Running);
        let changed = differing_keys(&running.units, &units);
        if changed.is_empty() {
            return Ok(());
        }
        let (_, _, claims) = self.validate_scope(&units, &changed)?;
        self.checked_claims(&units, &changed, claims).map(|_| ())
    }

    /// The fixed-address and unique claims of a change validated by [`Engine::validate_scope`],
    /// checked against running's (every unit's, with full validation); returns the claims
    /// the change makes. A commit and a `<validate>` take the same verdict from here.
    fn checked_claims(
        &self,
        units: &UnitMap,
        changed: &[UnitKey],
        claims: Claims,
    ) -> Result<Claims, Error> {
        if self.full_validation {
            FixedIps::check_all(&self.lists, units)?;
            Uniques::check_all(&self.lists, units)?;
            return Ok(Claims {
                fixed: Vec::new(),
                unique: Uniques::claims_of(&self.lists, units, changed)?,
            });
        }
        self.fixed
            .check_claims(&self.lists, &claims.fixed, changed)?;
        self.uniques.check_claims(&claims.unique, changed)?;
        Ok(claims)
    }

    /// Commit the candidate; with `confirmed`, as a confirmed commit; while one is pending,
    /// a plain commit by its owner (or with its persist id) confirms it.
    pub fn commit(
        &mut self,
        who: &Principal,
        comment: Option<String>,
        confirmed: Option<Confirmed>,
        persist_id: Option<String>,
    ) -> Result<Outcome, Error> {
        self.store
            .locks
            .check_write(DatastoreId::Running, who.session)?;
        if let Some(p) = self.pending.clone() {
            let allowed = match &p.persist_id {
                Some(id) => persist_id.as_deref() == Some(id.as_str()),
                None => p.session == who.session,
            };
            if !allowed {
                return Err(Error::InUse(format!(
                    "confirmed commit {} is waiting for its confirmation{}",
                    p.commit_id,
                    if p.persist_id.is_some() {
                        " (give its persist-id)"
                    } else {
                        ""
                    }
                )));
            }
            let state = if confirmed.is_some() {
                ConfirmState::Pending
            } else {
                ConfirmState::NotRequired
            };
            let outcome = self.commit_candidate(who, comment, state)?;
            match confirmed {
                None => {
                    self.store
                        .set_confirm_state(p.commit_id, ConfirmState::Confirmed)?;
                    self.store.set_pending_confirm(None)?;
                    self.pending = None;
                    self.confirm_event(ConfirmEventKind::Complete, who, None);
                    tracing::info!(commit = p.commit_id, "confirmed commit confirmed");
                }
                Some(c) => {
                    let next = PendingConfirm {
                        commit_id: outcome.commit_id().unwrap_or(p.commit_id),
                        deadline_ms: now_ms() + i64::from(c.timeout_secs) * 1000,
                        persist_id: c.persist.clone().or(p.persist_id.clone()),
                        ..p
                    };
                    self.store.set_pending_confirm(Some(&next))?;
                    self.pending = Some(next);
                    self.confirm_event(ConfirmEventKind::Extend, who, Some(c.timeout_secs));
                }
            }
            return Ok(outcome);
        }
        if persist_id.is_some() {
            return Err(Error::Refused("no confirmed commit is pending".into()));
        }
        match confirmed {
            None => self.commit_candidate(who, comment, ConfirmState::NotRequired),
            Some(c) => {
                let rollback_to = self.store.last_commit();
                let outcome = self.commit_candidate(who, comment, ConfirmState::Pending)?;
                let p = PendingConfirm {
                    commit_id: outcome.commit_id().unwrap_or(rollback_to),
                    rollback_to,
                    deadline_ms: now_ms() + i64::from(c.timeout_secs) * 1000,
                    persist_id: c.persist,
                    session: who.session,
                };
                self.store.set_pending_confirm(Some(&p))?;
                tracing::info!(
                    commit = p.commit_id,
                    timeout = c.timeout_secs,
                    "confirmed commit pending"
                );
                self.pending = Some(p);
                self.confirm_event(ConfirmEventKind::Start, who, Some(c.timeout_secs));
                Ok(outcome)
            }
        }
    }

    fn commit_candidate(
        &mut self,
        who: &Principal,
        comment: Option<String>,
        state: ConfirmState,
    ) -> Result<Outcome, Error> {
        let candidate = self.store.snapshot(DatastoreId::Candidate);
        let running = self.store.snapshot(DatastoreId::Running);
        let changed = differing_keys(&running.units, &candidate.units);
        self.commit_units(
            candidate.units.clone(),
            changed,
            who,
            comment,
            Mode {
                confirm: state,
                clear_candidate: true,
                ..Mode::PLAIN
            },
        )
    }

    /// Edits of running committed as a confirmed commit at once, without the candidate
    /// (gNMI's commit extension): rolled back unless confirmed before the timeout. Only one
    /// may wait at a time.
    pub fn edit_confirmed(
        &mut self,
        who: &Principal,
        edits: Vec<Edit>,
        comment: Option<String>,
        confirmed: Confirmed,
    ) -> Result<Outcome, Error> {
        if let Some(p) = &self.pending {
            return Err(Error::InUse(format!(
                "confirmed commit {} is waiting for its confirmation",
                p.commit_id
            )));
        }
        self.check_running_writable(who)?;
        let rollback_to = self.store.last_commit();
        let mut units = self.store.snapshot(DatastoreId::Running).units.clone();
        let changed = self.schema.apply_edits(&mut units, edits)?;
        let outcome = self.commit_units(
            units,
            changed,
            who,
            comment,
            Mode {
                confirm: ConfirmState::Pending,
                ..Mode::PLAIN
            },
        )?;
        let p = PendingConfirm {
            commit_id: outcome.commit_id().unwrap_or(rollback_to),
            rollback_to,
            deadline_ms: now_ms() + i64::from(confirmed.timeout_secs) * 1000,
            persist_id: confirmed.persist,
            session: who.session,
        };
        self.store.set_pending_confirm(Some(&p))?;
        tracing::info!(
            commit = p.commit_id,
            timeout = confirmed.timeout_secs,
            "confirmed commit pending"
        );
        self.pending = Some(p);
        Ok(outcome)
    }

    /// The pending confirmed commit with persist id `id`, or why there is none.
    fn pending_with(&self, id: &str) -> Result<PendingConfirm, Error> {
        match &self.pending {
            Some(p) if p.persist_id.as_deref() == Some(id) => Ok(p.clone()),
            Some(p) => Err(Error::InUse(format!(
                "confirmed commit {} has another id",
                p.commit_id
            ))),
            None => Err(Error::Refused(format!(
                "no confirmed commit with id {id} is pending"
            ))),
        }
    }

    /// Confirm the pending confirmed commit `id`: it stays, nothing else is committed.
    pub fn confirm(&mut self, id: &str) -> Result<Outcome, Error> {
        let p = self.pending_with(id)?;
        self.store
            .set_confirm_state(p.commit_id, ConfirmState::Confirmed)?;
        self.store.set_pending_confirm(None)?;
        self.pending = None;
        tracing::info!(commit = p.commit_id, "confirmed commit confirmed");
        Ok(Outcome::Unchanged(p.commit_id))
    }

    /// Move the pending confirmed commit's deadline to `timeout_secs` from now.
    pub fn extend_confirm(&mut self, id: &str, timeout_secs: u32) -> Result<Outcome, Error> {
        let p = PendingConfirm {
            deadline_ms: now_ms() + i64::from(timeout_secs) * 1000,
            ..self.pending_with(id)?
        };
        self.store.set_pending_confirm(Some(&p))?;
        let id = p.commit_id;
        self.pending = Some(p);
        Ok(Outcome::Unchanged(id))
    }

    /// Roll back the pending confirmed commit (cancel-commit).
    pub fn cancel_commit(
        &mut self,
        who: &Principal,
        persist_id: Option<String>,
    ) -> Result<Outcome, Error> {
        let p = self
            .pending
            .clone()
            .ok_or_else(|| Error::Refused("no confirmed commit is pending".into()))?;
        let allowed = match (&p.persist_id, &persist_id) {
            (Some(id), Some(given)) => id == given,
            (None, None) => p.session == who.session,
            _ => false,
        };
        if !allowed {
            return Err(Error::InUse(format!(
                "confirmed commit {} belongs to another session",
                p.commit_id
            )));
        }
        self.roll_back_pending("cancelled", ConfirmEventKind::Cancel, who)
    }

    fn roll_back_pending(
        &mut self,
        why: &str,
        event: ConfirmEventKind,
        by: &Principal,
    ) -> Result<Outcome, Error> {
        let Some(p) = self.pending.take() else {
            return Ok(Outcome::Unchanged(self.store.last_commit()));
        };
        let comment = Some(format!("confirmed commit {} {why}", p.commit_id));
        // the configuration before the confirmed commit comes back whatever pods attached
        // since: those on networks it takes away are detached (`cni::displaced`)
        let result = self.roll_back_to(
            p.rollback_to,
            &system_principal(),
            comment,
            Displace::Detach,
        );
        match &result {
            Ok(_) => {
                self.store
                    .set_confirm_state(p.commit_id, ConfirmState::RolledBack)?;
                self.store.set_pending_confirm(None)?;
                self.store.discard_candidate()?;
                self.publish();
                self.confirm_event(event, by, None);
                tracing::warn!(commit = p.commit_id, why, "confirmed commit rolled back");
            }
            Err(e) => {
                tracing::error!(commit = p.commit_id, error = %e, "rolling back a confirmed commit failed");
                self.pending = Some(p);
            }
        }
        result
    }

    /// Called when no request waits: the store writes a slice of the running rows that
    /// large commits left for later (their log rows already made them durable). True while
    /// some remain.
    pub fn idle(&mut self) -> bool {
        match self.store.materialize_some(IDLE_ROWS) {
            Ok(()) => self.store.has_unmaterialized(),
            Err(e) => {
                tracing::warn!(error = %e, "writing running's rows failed; the commit log keeps them");
                false
            }
        }
    }

    /// When the pending confirmed commit expires, milliseconds since the epoch.
    pub fn confirm_deadline(&self) -> Option<i64> {
        self.pending.as_ref().map(|p| p.deadline_ms)
    }

    /// Roll back the pending confirmed commit if its time is up.
    pub fn expire(&mut self, now_ms: i64) -> Option<Result<Outcome, Error>> {
        match &self.pending {
            Some(p) if p.deadline_ms <= now_ms => Some(self.roll_back_pending(
                "expired",
                ConfirmEventKind::Timeout,
                &system_principal(),
            )),
            _ => None,
        }
    }

    /// At start: a non-persistent confirmed commit's session is gone, so it rolls back now;
    /// a persistent one keeps its deadline (which may already have passed).
    pub fn settle_after_restart(&mut self) -> Option<Result<Outcome, Error>> {
        match &self.pending {
            Some(p) if p.persist_id.is_none() => Some(self.roll_back_pending(
                "lost its session at restart",
                ConfirmEventKind::Cancel,
                &system_principal(),
            )),
            Some(_) => self.expire(now_ms()),
            None => None,
        }
    }

    /// A session ended: free its locks, roll back its unconfirmed non-persistent commit.
    pub fn end_session(&mut self, session: SessionId) -> Option<Result<Outcome, Error>> {
        self.store.locks.release_session(session);
        match &self.pending {
            Some(p) if p.persist_id.is_none() && p.session == session => {
                let by = Principal {
                    session,
                    ..system_principal()
                };
                Some(self.roll_back_pending("lost its session", ConfirmEventKind::Cancel, &by))
            }
            _ => None,
        }
    }

    /// Make running what it was right after commit `id`.
    pub fn rollback(
        &mut self,
        who: &Principal,
        id: u64,
        comment: Option<String>,
    ) -> Result<Outcome, Error> {
        self.check_running_writable(who)?;
        self.roll_back_to(
            id,
            who,
            comment.or_else(|| Some(format!("rollback to commit {id}"))),
            Displace::Refuse,
        )
    }

    fn roll_back_to(
        &mut self,
        id: u64,
        who: &Principal,
        comment: Option<String>,
        displace: Displace,
    ) -> Result<Outcome, Error> {
        let back = self.store.changes_since(id)?;
        let mut units = self.store.snapshot(DatastoreId::Running).units.clone();
        let mut changed = Vec::with_capacity(back.len());
        for (key, value) in back {
            match value {
                Some(t) => units.insert(key.clone(), t),
                None => units.remove(&key),
            };
            changed.push(key);
        }
        self.commit_units(
            units,
            changed,
            who,
            comment,
            Mode {
                displace,
                ..Mode::PLAIN
            },
        )
    }

    pub fn discard_changes(&mut self, who: &Principal) -> Result<(), Error> {
        self.store
            .locks
            .check_write(DatastoreId::Candidate, who.session)?;
        self.store.discard_candidate()?;
        self.publish();
        Ok(())
    }

    /// copy-config between datastores.
    pub fn copy(
        &mut self,
        who: &Principal,
        from: DatastoreId,
        to: DatastoreId,
    ) -> Result<Outcome, Error> {
        let source = self.store.snapshot(from).units.clone();
        match to {
            DatastoreId::Running => {
                self.check_running_writable(who)?;
                let changed =
                    differing_keys(&self.store.snapshot(DatastoreId::Running).units, &source);
                self.commit_running(source, changed, who, Some(format!("copy from {from}")))
            }
            DatastoreId::Startup => {
                self.store.locks.check_write(to, who.session)?;
                let units = self.validated_whole(source)?;
                self.store.write_startup(units)?;
                self.publish();
                Ok(Outcome::Stored)
            }
            DatastoreId::Candidate => {
                self.store.locks.check_write(to, who.session)?;
                let changed =
                    differing_keys(&self.store.snapshot(DatastoreId::Candidate).units, &source);
                self.store.write_candidate(&source, &changed)?;
                self.publish();
                Ok(Outcome::Stored)
            }
        }
    }

    pub fn lock(&mut self, who: &Principal, ds: DatastoreId) -> Result<(), Error> {
        if ds == DatastoreId::Candidate && self.store.candidate_modified() {
            return Err(Error::Store(netloom_store::Error::Refused {
                path: "candidate".into(),
                reason: "the candidate has uncommitted changes; discard or commit them first"
                    .into(),
            }));
        }
        self.store.locks.lock(ds, who.session, &who.user)?;
        Ok(())
    }

    pub fn unlock(&mut self, who: &Principal, ds: DatastoreId) -> Result<(), Error> {
        self.store.locks.unlock(ds, who.session)?;
        Ok(())
    }

    pub fn commits(&self, limit: usize, with_diff: bool) -> Result<Vec<CommitRecord>, Error> {
        Ok(self.store.commits(limit, with_diff)?)
    }

    /// The retention the config asks for (`/system/commit-history`).
    fn history(&self, units: &UnitMap) -> u32 {
        let Some(rem) = self
            .schema
            .root("netloom-host", "system")
            .and_then(|r| self.schema.remainder_of(r))
        else {
            return DEFAULT_HISTORY;
        };
        units
            .get(&self.schema.remainder_key(rem))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| v.get("commit-history").and_then(serde_json::Value::as_u64))
            .map_or(DEFAULT_HISTORY, |n| n as u32)
    }

    /// Validate what a change can affect — libyang, then the semantic checks — on the scope of
    /// `changed` (or everything, in full-validation mode). Large changes are split into one
    /// part per core, each validated on its own libyang context with its own scope in
    /// parallel: a scope is complete for its part whatever the other parts hold, so the
    /// verdicts combine. Returns the scope and the canonical texts of its units.
    fn validate_scope(&self, units: &UnitMap, changed: &[UnitKey]) -> Result<Validated, Error> {
        let (deps, refs, lists, full) = (&self.deps, &self.refs, &self.lists, self.full_validation);
        let one = |schema: &Schema, part: &[UnitKey]| -> Result<Validated, Error> {
            let scope: BTreeSet<UnitKey> = if full {
                units.keys().cloned().collect()
            } else {
                scope::scope(schema, deps, refs, units, part)
            };
            let texts: Vec<(&UnitKey, &str)> = scope
                .iter()
                .filter_map(|k| units.get(k).map(|t| (k, &**t)))
                .collect();
            let canonical = schema.validate_scope_texts(&texts)?;
            checks::check(schema, lists, units, &scope)?;
            let claims = if full {
                Claims::default()
            } else {
                Claims {
                    fixed: FixedIps::claims_of(lists, units, part)?,
                    unique: Uniques::claims_of(lists, units, part)?,
                }
            };
            Ok((scope, canonical, claims))
        };
        if full || changed.len() <= VALIDATION_CHUNK {
            return one(&self.schema, changed);
        }
        // Chunks, each validated on its own: a scope is complete for its chunk whatever the
        // other chunks hold, so the verdicts combine. Large changes spread the chunks over
        // one thread per libyang context, each taking the next chunk when done with one: a
        // thread held up (by the rest of the machine) does fewer chunks instead of finishing
        // last.
        let chunks: Vec<&[UnitKey]> = changed.chunks(VALIDATION_CHUNK).collect();
        let threads = if changed.len() < PARALLEL_UNITS {
            1
        } else {
            1 + self.helpers.len()
        };
        let next = AtomicUsize::new(0);
        let serve = |schema: &Schema| -> Vec<(usize, Result<Validated, Error>)> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(part) = chunks.get(i) else {
                    return done;
                };
                let verdict = one(schema, part);
                let failed = verdict.is_err();
                done.push((i, verdict));
                if failed {
                    // Chunks are taken in order, so every chunk before this one is validated
                    // (or being validated): the rest need not be.
                    next.fetch_add(chunks.len(), Ordering::Relaxed);
                    return done;
                }
            }
        };
        let mut results: Vec<(usize, Result<Validated, Error>)> = if threads < 2 {
            serve(&self.schema)
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = std::iter::once(&*self.schema)
                    .chain(self.helpers.iter())
                    .take(threads)
                    .map(|schema| s.spawn(|| serve(schema)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join().unwrap_or_else(|_| {
                            vec![(
                                0,
                                Err(Error::Refused("a validation thread panicked".into())),
                            )]
                        })
                    })
                    .collect()
            })
        };
        // Back in chunk order, so the error reported is the first failing chunk's, whatever
        // the thread count.
        results.sort_by_key(|(i, _)| *i);
        let mut scope = BTreeSet::new();
        let mut canonical = Vec::new();
        let mut claims = Claims::default();
        for (_, r) in results {
            let (s, c, f) = r?;
            scope.extend(s);
            canonical.extend(c);
            claims.fixed.extend(f.fixed);
            claims.unique.extend(f.unique);
        }
        Ok((scope, canonical, claims))
    }

    /// Refuse a commit that takes away networks live pods are attached to, naming the
    /// first network and its pods. Read from the attachment rows on the engine thread: an
    /// ADD records its rows in an engine job before it touches the kernel, so every pod an
    /// ADD may be programming is seen here.
    fn refuse_displacing(&self, displaced: &[plan::Displaced]) -> Result<(), Error> {
        if displaced.is_empty() {
            return Ok(());
        }
        let rows = self.store.attachments()?;
        for d in displaced {
            let pods: Vec<String> = rows
                .iter()
                .filter(|a| a.network == d.network)
                .map(|a| {
                    if a.pod_name.is_empty() {
                        format!("container {} {}", a.container_id, a.interface)
                    } else {
                        format!("{}/{} {}", a.pod_namespace, a.pod_name, a.interface)
                    }
                })
                .collect();
            if !pods.is_empty() {
                const NAMED: usize = 5;
                let more = match pods.len() {
                    n if n > NAMED => format!(" and {} more", n - NAMED),
                    _ => String::new(),
                };
                let named = pods.iter().take(NAMED).cloned().collect::<Vec<_>>();
                return Err(Error::NetworkInUse {
                    path: d.path.clone(),
                    message: format!(
                        "network {} {} while {} pod interface{} {} attached to it ({}{more}); delete {} first",
                        d.network,
                        d.what,
                        pods.len(),
                        if pods.len() == 1 { "" } else { "s" },
                        if pods.len() == 1 { "is" } else { "are" },
                        named.join(", "),
                        if pods.len() == 1 { "that pod" } else { "those pods" },
                    ),
                });
            }
        }
        Ok(())
    }

    /// A plain commit of `units` to running (no confirmation, candidate untouched).
    fn commit_running(
        &mut self,
        units: UnitMap,
        changed: Vec<UnitKey>,
        who: &Principal,
        comment: Option<String>,
    ) -> Result<Outcome, Error> {
        self.commit_units(units, changed, who, comment, Mode::PLAIN)
    }

    /// The pipeline: validate `units` (the new running, differing from the current one at
    /// `changed`), plan, apply, persist, publish, notify.
    fn commit_units(
        &mut self,
        mut units: UnitMap,
        changed: Vec<UnitKey>,
        who: &Principal,
        comment: Option<String>,
        mode: Mode,
    ) -> Result<Outcome, Error> {
        let Mode {
            confirm,
            clear_candidate,
            displace,
        } = mode;
        let span = tracing::info_span!("commit", user = %who.user, session = who.session, units = changed.len());
        let _enter = span.enter();
        let running = self.store.snapshot(DatastoreId::Running);
        let candidate_dirty = clear_candidate && self.store.candidate_modified();
        if changed.is_empty() {
            if candidate_dirty {
                self.store.discard_candidate()?;
                self.publish();
            }
            return Ok(Outcome::Unchanged(running.commit_id));
        }
        // validate: libyang on the scope, canonical texts for the changed units
        let started = std::time::Instant::now();
        let (scope, canonical, claims) = self.validate_scope(&units, &changed)?;
        let validated = started.elapsed();
        let changed_set: HashSet<&UnitKey> = changed.iter().collect();
        for (k, text) in canonical {
            if !changed_set.contains(&k) {
                continue;
            }
            // Keep the candidate's very text when it is already canonical: readers' caches
            // (the XML renderings) know units by their `Arc`, so a new copy of the same bytes
            // would be rendered again after every commit.
            if units.get(&k).is_some_and(|t| **t == *text) {
                continue;
            }
            units.insert(k, Arc::from(text));
        }
        let claims = self.checked_claims(&units, &changed, claims)?;
        let checked = started.elapsed();
        let diffs: Vec<UnitDiff> = changed
            .iter()
            .filter_map(|k| {
                let old = running.units.get(k).cloned();
                let new = units.get(k).cloned();
                (old != new).then(|| UnitDiff {
                    key: k.clone(),
                    old,
                    new,
                })
            })
            .collect();
        if diffs.is_empty() {
            if candidate_dirty {
                self.store.discard_candidate()?;
                self.publish();
            }
            return Ok(Outcome::Unchanged(running.commit_id));
        }
        if displace == Displace::Refuse {
            self.refuse_displacing(&plan::displaced(&self.lists, &diffs)?)?;
        }
        let diffed = started.elapsed();
        let ops = plan::plan(&self.lists, &diffs)?;
        let changes: Vec<UnitChange> = diffs
            .into_iter()
            .map(|d| UnitChange {
                path: d.key.path,
                old: d.old,
                new: d.new,
            })
            .collect();
        let meta = CommitMeta {
            user: who.user.clone(),
            comment,
            history: self.history(&units),
        };
        let (store, refs, fixed) = (&mut self.store, &mut self.refs, &mut self.fixed);
        let (schema, deps, lists) = (&*self.schema, &self.deps, &self.lists);
        let full = self.full_validation;
        let (applied, persisted) = if changed.len() >= PARALLEL_UNITS {
            // A large commit's rows are written while the dataplane applies it; the store
            // commits them only once every op succeeded, and otherwise stores nothing.
            // Then the indexes are brought up to date while the store syncs (undone below
            // when the sync fails).
            std::thread::scope(|s| {
                let (verdict, ruling) = std::sync::mpsc::sync_channel::<bool>(1);
                let storing = s.spawn(|| {
                    store.commit_when(
                        units.clone(),
                        changes,
                        &meta,
                        confirm,
                        clear_candidate,
                        move || ruling.recv().unwrap_or(false),
                    )
                });
                let journal = executor::execute(self.driver.as_mut(), &ops);
                let _ = verdict.send(journal.is_ok());
                let applied = started.elapsed();
                if journal.is_ok() {
                    self.uniques.update_with_claims(&changed, &claims.unique);
                    let referencing = s.spawn(|| refs.update(schema, deps, &units, &changed));
                    if full {
                        fixed.update(lists, &units, &changed);
                    } else {
                        fixed.update_with_claims(lists, &changed, &claims.fixed);
                    }
                    let _ = referencing.join();
                }
                let stored = storing.join().unwrap_or_else(|_| {
                    Err(netloom_store::Error::Refused {
                        path: "commit".into(),
                        reason: "the thread storing it panicked".into(),
                    })
                });
                (applied, journal.map(|j| (j, stored)))
            })
        } else {
            let journal = executor::execute(self.driver.as_mut(), &ops);
            let applied = started.elapsed();
            let outcome = journal.map(|j| {
                self.uniques.update_with_claims(&changed, &claims.unique);
                refs.update(schema, deps, &units, &changed);
                if full {
                    fixed.update(lists, &units, &changed)
                } else {
                    fixed.update_with_claims(lists, &changed, &claims.fixed)
                }
                let stored = store.commit(units.clone(), changes, &meta, confirm, clear_candidate);
                (j, stored)
            });
            (applied, outcome)
        };
        // a refused op: the executor has unwound the journal, and nothing was stored
        let (journal, persisted) = persisted?;
        let record = match persisted {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "persisting the commit failed; unwinding the dataplane");
                self.refs
                    .update(&self.schema, &self.deps, &running.units, &changed);
                self.fixed.update(&self.lists, &running.units, &changed);
                if let Ok(old) = Uniques::claims_of(&self.lists, &running.units, &changed) {
                    self.uniques.update_with_claims(&changed, &old);
                }
                journal.revert(self.driver.as_mut());
                return Err(e.into());
            }
        };
        let persisted = started.elapsed();
        self.publish();
        let _ = self.events.send(Arc::new(CommitEvent {
            id: record.id,
            time_ms: record.time_ms,
            user: record.user.clone(),
            session: who.session,
            comment: record.comment.clone(),
            changes: record.changes.clone(),
        }));
        tracing::info!(
            commit = record.id,
            changes = record.changes.len(),
            ops = ops.len(),
            "committed"
        );
        tracing::debug!(
            scope = scope.len(),
            ?validated,
            ?checked,
            ?diffed,
            ?applied,
            ?persisted,
            total = ?started.elapsed(),
            "commit phases"
        );
        Ok(Outcome::Committed(record))
    }
}

/// Keys whose units differ between two maps. Persistent maps share structure, so this only
/// walks what differs.
fn differing_keys(a: &UnitMap, b: &UnitMap) -> Vec<UnitKey> {
    let mut out = Vec::new();
    for d in a.diff(b) {
        match d {
            imbl::ordmap::DiffItem::Add(k, _) | imbl::ordmap::DiffItem::Remove(k, _) => {
                out.push(k.clone())
            }
            imbl::ordmap::DiffItem::Update { old: (k, _), .. } => out.push(k.clone()),
        }
    }
    out
}
