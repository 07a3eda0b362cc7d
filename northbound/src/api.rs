//! The request API: what a front end can ask of the engine, what it gets back, and the
//! handle it asks through. Reads never go through the engine: [`Handle::snapshots`] hands
//! out the current immutable snapshots, so reads never wait for a commit.

use std::sync::mpsc;
use std::sync::Arc;

use netloom_store::{CommitRecord, DatastoreId, LockHolder, SessionId, Snapshot, UnitChange};
use netloom_yang::{Edit, EditBatch, ErrorTag};
use tokio::sync::{broadcast, oneshot, watch};

use crate::interfaces::{pod_sides, state_entries, InterfaceSource, InterfaceState};

/// The configuration datastores at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    pub running: Arc<Snapshot>,
    pub candidate: Arc<Snapshot>,
    pub startup: Arc<Snapshot>,
}

impl Snapshots {
    pub fn get(&self, ds: DatastoreId) -> &Arc<Snapshot> {
        match ds {
            DatastoreId::Running => &self.running,
            DatastoreId::Candidate => &self.candidate,
            DatastoreId::Startup => &self.startup,
        }
    }
}

/// A change of running, as subscribers see it.
#[derive(Debug, Clone)]
pub struct CommitEvent {
    pub id: u64,
    pub time_ms: i64,
    pub user: String,
    pub session: SessionId,
    pub comment: Option<String>,
    pub changes: Vec<UnitChange>,
}

/// What happened to a confirmed commit (RFC 6470 netconf-confirmed-commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmEventKind {
    Start,
    Extend,
    Complete,
    Cancel,
    Timeout,
}

/// A confirmed commit's event, as subscribers see it. `user`/`session` are who caused it
/// (the daemon itself, session 0, for a timeout).
#[derive(Debug, Clone)]
pub struct ConfirmEvent {
    pub kind: ConfirmEventKind,
    pub time_ms: i64,
    pub user: String,
    pub session: SessionId,
    /// The confirm timeout of a start or an extension, in seconds.
    pub timeout_secs: Option<u32>,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub session: SessionId,
    pub user: String,
}

/// Confirmed-commit options (RFC 6241 section 8.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmed {
    pub timeout_secs: u32,
    pub persist: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Request {
    /// Apply edits to a datastore; edits to running are committed at once (all or nothing).
    Edit {
        datastore: DatastoreId,
        edits: Vec<Edit>,
        comment: Option<String>,
    },
    /// [`Request::Edit`] with list entries a front end already wrote as unit texts (a bulk
    /// create read by NETCONF's fast reader).
    EditBatch {
        datastore: DatastoreId,
        batch: EditBatch,
        comment: Option<String>,
    },
    /// Commit the candidate (or confirm a pending confirmed commit).
    Commit {
        comment: Option<String>,
        confirmed: Option<Confirmed>,
        persist_id: Option<String>,
    },
    CancelCommit {
        persist_id: Option<String>,
    },
    /// Edits of running committed at once as a confirmed commit (`confirmed.persist` names
    /// it), without the candidate.
    EditConfirmed {
        edits: Vec<Edit>,
        comment: Option<String>,
        confirmed: Confirmed,
    },
    /// Confirm the pending confirmed commit with this persist id (nothing else committed).
    Confirm {
        persist_id: String,
    },
    /// Give the pending confirmed commit with this persist id a new timeout from now.
    ExtendConfirm {
        persist_id: String,
        timeout_secs: u32,
    },
    /// Make running what it was right after commit `id`.
    Rollback {
        id: u64,
        comment: Option<String>,
    },
    Validate {
        datastore: DatastoreId,
    },
    /// Validate `batch` made to a copy of `base` (an empty datastore when `None`: a
    /// configuration given inline); nothing is written (test-option test-only too).
    ValidateEdits {
        base: Option<DatastoreId>,
        batch: EditBatch,
    },
    DiscardChanges,
    /// Copy one datastore's content to another (running as a target is a commit).
    Copy {
        from: DatastoreId,
        to: DatastoreId,
    },
    Lock {
        datastore: DatastoreId,
    },
    Unlock {
        datastore: DatastoreId,
    },
    /// The session ended: release its locks, roll back its unconfirmed commit.
    EndSession,
    /// Retained commits, newest first.
    Commits {
        limit: usize,
        with_diff: bool,
    },
    /// The operational state (`/netloom-host:state`) as RFC 7951 JSON.
    State,
    /// Who holds which datastore lock.
    Locks,
    /// Run `request` only while `datastore` is still at `version` (HTTP preconditions, e.g.
    /// RESTCONF `If-Match`): the engine checks and writes in its one thread, so no other
    /// write can slip in between. A mismatch fails with [`STALE_VERSION`] as the app tag.
    IfVersion {
        datastore: DatastoreId,
        version: u64,
        request: Box<Request>,
    },
}

/// The app tag of the error an [`Request::IfVersion`] gets when the datastore moved on.
pub const STALE_VERSION: &str = "netloom-stale-version";

/// A management session id unique in this process across every front end (so locks and
/// kill-session name one session, whichever protocol it speaks). 0 is the daemon itself.
pub fn new_session_id() -> SessionId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug, Clone)]
pub enum Reply {
    Done,
    /// A commit was made.
    Committed {
        id: u64,
    },
    /// Nothing to commit: running already is what was asked.
    Unchanged {
        id: u64,
    },
    Commits(Vec<CommitRecord>),
    /// `{"netloom-host:state": {...}}`
    State(serde_json::Value),
    Locks(Vec<(DatastoreId, LockHolder)>),
}

/// A time in milliseconds since the Unix epoch as a YANG `date-and-time` (RFC 3339, UTC).
pub fn date_and_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A YANG `date-and-time` (RFC 3339, any offset) as milliseconds since the Unix epoch.
pub fn parse_date_and_time(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// An error as every front end reports it: a NETCONF error-tag, the path that failed, and a
/// message for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub tag: ErrorTag,
    pub path: Option<String>,
    pub message: String,
    pub app_tag: Option<String>,
}

impl ApiError {
    pub fn new(tag: ErrorTag, message: impl Into<String>) -> Self {
        ApiError {
            tag,
            path: None,
            message: message.into(),
            app_tag: None,
        }
    }
}

fn engine_gone() -> ApiError {
    ApiError::new(ErrorTag::OperationFailed, "the engine has stopped")
}

/// A request on its way to the engine.
#[derive(Debug)]
pub struct Envelope {
    pub who: Principal,
    pub request: Request,
    pub reply: oneshot::Sender<Result<Reply, ApiError>>,
}

/// Tells state subscribers that observed state may have changed.
#[derive(Debug, Clone)]
pub struct StateNotifier(Arc<watch::Sender<u64>>);

impl StateNotifier {
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// What a front end holds to reach the engine.
#[derive(Clone)]
pub struct Handle {
    requests: mpsc::Sender<Envelope>,
    snapshots: watch::Receiver<Arc<Snapshots>>,
    events: broadcast::Sender<Arc<CommitEvent>>,
    /// Bumped whenever observed state may have changed (attachments, pools, links).
    state_changes: Arc<watch::Sender<u64>>,
    interfaces: Option<Arc<dyn InterfaceSource>>,
    confirm_events: broadcast::Sender<ConfirmEvent>,
    /// The snapshots as readers who are not admins see them (shared with every clone).
    redacted: Arc<crate::secrets::Redacted>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("interfaces", &self.interfaces.is_some())
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub fn new(
        requests: mpsc::Sender<Envelope>,
        snapshots: watch::Receiver<Arc<Snapshots>>,
        events: broadcast::Sender<Arc<CommitEvent>>,
    ) -> Self {
        Handle {
            requests,
            snapshots,
            events,
            state_changes: Arc::new(watch::channel(0).0),
            interfaces: None,
            confirm_events: broadcast::channel(64).0,
            redacted: Arc::default(),
        }
    }

    pub(crate) fn redacted(&self) -> &crate::secrets::Redacted {
        &self.redacted
    }

    /// Where the engine reports confirmed-commit events (shared with every clone).
    pub fn with_confirm_events(mut self, tx: broadcast::Sender<ConfirmEvent>) -> Self {
        self.confirm_events = tx;
        self
    }

    /// Confirmed-commit events from now on.
    pub fn subscribe_confirm(&self) -> broadcast::Receiver<ConfirmEvent> {
        self.confirm_events.subscribe()
    }

    /// Serve interface state and counters read from `source`.
    pub fn with_interfaces(mut self, source: Arc<dyn InterfaceSource>) -> Self {
        self.interfaces = Some(source);
        self
    }

    /// Tell state subscribers that observed state may have changed (they read it again
    /// and compare; many notices before they look count as one).
    pub fn state_changed(&self) {
        self.state_notifier().notify();
    }

    /// What the engine's thread bumps [`Handle::state_changed`] with (it holds no handle,
    /// or the engine would never see its last handle go).
    pub fn state_notifier(&self) -> StateNotifier {
        StateNotifier(self.state_changes.clone())
    }

    /// Notices of [`Handle::state_changed`] from now on.
    pub fn watch_state(&self) -> watch::Receiver<u64> {
        self.state_changes.subscribe()
    }

    /// The operational state, `{"netloom-host:state": {...}}`, with the interfaces the
    /// source observes now (the host's and the pod sides of attachments) merged in.
    pub async fn state(&self, who: &Principal) -> Result<serde_json::Value, ApiError> {
        Ok(self.observe(who).await?.0)
    }

    /// The interfaces observed now (none without a source).
    pub async fn interfaces(&self, who: &Principal) -> Result<Vec<InterfaceState>, ApiError> {
        Ok(self.observe(who).await?.1)
    }

    async fn observe(
        &self,
        who: &Principal,
    ) -> Result<(serde_json::Value, Vec<InterfaceState>), ApiError> {
        let Reply::State(mut state) = self.call(who, Request::State).await? else {
            return Err(ApiError::new(
                ErrorTag::OperationFailed,
                "the engine answered a state request with something else",
            ));
        };
        let Some(source) = self.interfaces.clone() else {
            return Ok((state, Vec::new()));
        };
        let pods = pod_sides(&state);
        // The source blocks on netlink; it runs beside the async workers, not on them.
        let observed = tokio::task::spawn_blocking(move || source.read(&pods))
            .await
            .map_err(|e| ApiError::new(ErrorTag::OperationFailed, format!("observer: {e}")))?;
        if let Some(obj) = state
            .get_mut("netloom-host:state")
            .and_then(serde_json::Value::as_object_mut)
        {
            if !observed.is_empty() {
                obj.insert(
                    "interface".into(),
                    serde_json::Value::Array(state_entries(&observed)),
                );
            }
        }
        Ok((state, observed))
    }

    /// Hand a request to the engine; the receiver gets its answer.
    fn send(
        &self,
        who: &Principal,
        request: Request,
    ) -> Result<oneshot::Receiver<Result<Reply, ApiError>>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Envelope {
                who: who.clone(),
                request,
                reply,
            })
            .map_err(|_| engine_gone())?;
        Ok(rx)
    }

    /// Send a request and wait for the engine's answer.
    pub async fn call(&self, who: &Principal, request: Request) -> Result<Reply, ApiError> {
        self.send(who, request)?.await.map_err(|_| engine_gone())?
    }

    /// [`Handle::call`] for threads outside the async runtime.
    pub fn call_blocking(&self, who: &Principal, request: Request) -> Result<Reply, ApiError> {
        self.send(who, request)?
            .blocking_recv()
            .map_err(|_| engine_gone())?
    }

    /// The datastores as of the last commit; never waits for the writer.
    pub fn snapshots(&self) -> Arc<Snapshots> {
        self.snapshots.borrow().clone()
    }

    /// Every publication of the datastores from now on (commits, edits of the candidate,
    /// copies); the current one is marked seen.
    pub fn watch_snapshots(&self) -> watch::Receiver<Arc<Snapshots>> {
        let mut rx = self.snapshots.clone();
        rx.mark_unchanged();
        rx
    }

    /// Commit events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEvent>> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_and_time_round_trips() {
        let ms = 1_700_000_000_123;
        let text = date_and_time(ms);
        assert_eq!(text, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_date_and_time(&text), Some(ms));
        assert_eq!(
            parse_date_and_time("2023-11-14T23:13:20.123+01:00"),
            Some(ms)
        );
        assert_eq!(parse_date_and_time("yesterday"), None);
    }
}
