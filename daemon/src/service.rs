//! The engine's thread: it owns the [`Engine`], answers [`Request`]s in arrival order, and
//! fires the pending confirmed commit's timer. Front ends reach it only through a
//! [`Handle`].

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use netloom_northbound::api::{
    ApiError, Envelope, Handle, Principal, Reply, Request, StateNotifier,
};

use netloom_store::Durable;

use crate::engine::{now_ms, Engine, Outcome};
use crate::error::Error;

/// The running engine thread; dropping every handle's sender (and every [`Jobs`]) stops it.
#[derive(Debug)]
pub struct Service {
    thread: Option<JoinHandle<()>>,
    jobs: Jobs,
}

/// Work for the engine thread: a front end's request, or a daemon-internal job that needs
/// the engine's store (the CNI service's ledger and attachment writes).
enum Work {
    Api(Envelope),
    Job(Job),
}

/// A job runs on the engine thread and returns how to hand its result over: handed over
/// once the job's group of writes is committed, with its durability to wait for, or
/// dropped when the group failed.
type Job = Box<dyn FnOnce(&mut Engine) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce(Option<Durable>) + Send>;

/// Jobs queued together are run as one group commit (one fsync for all of them).
const MAX_GROUP: usize = 64;

/// Runs closures on the engine thread, in order with the requests: daemon components that
/// write the store's non-config tables go through here so the store keeps one writer.
#[derive(Clone)]
pub struct Jobs(mpsc::Sender<Work>);

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jobs")
    }
}

impl Jobs {
    /// Run `job` on the engine thread and wait for its result; `None` when the engine has
    /// stopped.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (out, durable) = self.run_written(job)?;
        // the wait is the caller's: the engine thread goes on meanwhile
        durable.wait().then_some(out)
    }

    /// Run `job` on the engine thread and return its result as soon as its writes are
    /// committed, before they are durable: what only a crash of the daemon could undo may
    /// follow at once (they survive that), and the caller waits for the [`Durable`]
    /// before anything that must survive a crash of the host (an answer to a client).
    pub fn run_written<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Option<(T, Durable)> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.0
            .send(Work::Job(Box::new(move |e| {
                let out = job(e);
                Box::new(move |durable: Option<Durable>| {
                    if let Some(d) = durable {
                        let _ = tx.send((out, d));
                    }
                })
            })))
            .ok()?;
        rx.recv().ok()
    }
}

fn reply(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Committed(r) => Reply::Committed { id: r.id },
        Outcome::Unchanged(id) => Reply::Unchanged { id },
        Outcome::Stored => Reply::Done,
    }
}

fn serve(engine: &mut Engine, env: Envelope) {
    let result = answer(engine, &env.who, env.request);
    let _ = env
        .reply
        .send(result.map_err(|e| -> ApiError { e.to_api() }));
}

fn answer(engine: &mut Engine, who: &Principal, request: Request) -> Result<Reply, Error> {
    match request {
        Request::Edit {
            datastore,
            edits,
            comment,
        } => engine.edit(who, datastore, edits, comment).map(reply),
        Request::EditBatch {
            datastore,
            batch,
            comment,
        } => engine.edit(who, datastore, batch, comment).map(reply),
        Request::Commit {
            comment,
            confirmed,
            persist_id,
        } => engine
            .commit(who, comment, confirmed, persist_id)
            .map(reply),
        Request::CancelCommit { persist_id } => engine.cancel_commit(who, persist_id).map(reply),
        Request::EditConfirmed {
            edits,
            comment,
            confirmed,
        } => engine
            .edit_confirmed(who, edits, comment, confirmed)
            .map(reply),
        Request::Confirm { persist_id } => engine.confirm(&persist_id).map(reply),
        Request::ExtendConfirm {
            persist_id,
            timeout_secs,
        } => engine.extend_confirm(&persist_id, timeout_secs).map(reply),
        Request::Rollback { id, comment } => engine.rollback(who, id, comment).map(reply),
        Request::Validate { datastore } => engine.check_datastore(datastore).map(|_| Reply::Done),
        Request::ValidateEdits { base, batch } => {
            engine.check_edits(base, batch).map(|_| Reply::Done)
        }
        Request::DiscardChanges => engine.discard_changes(who).map(|_| Reply::Done),
        Request::Copy { from, to } => engine.copy(who, from, to).map(reply),
        Request::Lock { datastore } => engine.lock(who, datastore).map(|_| Reply::Done),
        Request::Unlock { datastore } => engine.unlock(who, datastore).map(|_| Reply::Done),
        Request::EndSession => {
            if let Some(Err(e)) = engine.end_session(who.session) {
                tracing::error!(error = %e, "rollback at session end failed");
            }
            Ok(Reply::Done)
        }
        Request::Commits { limit, with_diff } => {
            engine.commits(limit, with_diff).map(Reply::Commits)
        }
        Request::State => engine.state().map(Reply::State),
        Request::Locks => Ok(Reply::Locks(engine.locks())),
        Request::IfVersion {
            datastore,
            version,
            request,
        } => {
            let now = engine.snapshot(datastore).version;
            if now != version {
                return Err(Error::Stale {
                    datastore,
                    expected: version,
                    now,
                });
            }
            answer(engine, who, *request)
        }
    }
}

/// Run `first` and the jobs queued behind it (up to a request, which is returned to be
/// served next) as one group commit: callers that arrived together share one fsync, which
/// the store's syncer thread does while this thread goes on; each result is handed over
/// once the group is committed, with its durability to wait for (see `Jobs::run_written`).
fn run_jobs(
    engine: &mut Engine,
    first: Job,
    rx: &mpsc::Receiver<Work>,
    state: &StateNotifier,
) -> Option<Envelope> {
    let started = std::time::Instant::now();
    let grouped = match engine.store_mut().begin_group() {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "starting a group commit; running the job alone");
            false
        }
    };
    let mut delivers = vec![first(engine)];
    let mut next = None;
    while grouped && delivers.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(Work::Job(job)) => delivers.push(job(engine)),
            Ok(Work::Api(env)) => {
                next = Some(env);
                break;
            }
            Err(_) => break,
        }
    }
    let ran = started.elapsed();
    let durable = if grouped {
        engine.store_mut().end_group().map_or_else(
            |e| {
                tracing::error!(error = %e, jobs = delivers.len(), "group commit failed; its callers are told to retry");
                None
            },
            Some,
        )
    } else {
        // each job's writes were their own transactions, synced as they committed
        Some(Durable::already())
    };
    tracing::debug!(
        jobs = delivers.len(),
        run_us = ran.as_micros() as u64,
        commit_us = (started.elapsed() - ran).as_micros() as u64,
        "group commit"
    );
    for d in delivers {
        d(durable.clone());
    }
    // Jobs write attachments and the address ledger: state subscribers look again.
    state.notify();
    next
}

impl Service {
    /// Start the engine thread; returns it with the handle front ends use.
    pub fn start(mut engine: Engine) -> std::io::Result<(Service, Handle)> {
        let (tx, requests) = mpsc::channel::<Envelope>();
        let (work_tx, rx) = mpsc::channel::<Work>();
        let handle = Handle::new(tx, engine.snapshots(), engine.events())
            .with_confirm_events(engine.confirm_events());
        let state = handle.state_notifier();
        // Front ends hold `Handle`s (senders of `Envelope`); this thread merges their
        // requests into the engine's one queue, and ends when the last handle is gone.
        let forward = work_tx.clone();
        std::thread::Builder::new()
            .name("netloom-requests".into())
            .spawn(move || {
                for env in requests {
                    if forward.send(Work::Api(env)).is_err() {
                        break;
                    }
                }
            })?;
        if let Some(Err(e)) = engine.settle_after_restart() {
            tracing::error!(error = %e, "settling the pending confirmed commit failed");
        }
        let thread = std::thread::Builder::new()
            .name("netloom-engine".into())
            .spawn(move || loop {
                let next = match rx.try_recv() {
                    Ok(work) => Ok(work),
                    Err(_) => {
                        // nothing queued: deferred store work is done now, a slice at a
                        // time, and stops for whatever request arrives
                        let mut arrived = None;
                        while arrived.is_none() && engine.idle() {
                            arrived = rx.try_recv().ok();
                        }
                        let wait = engine
                            .confirm_deadline()
                            .map(|d| Duration::from_millis((d - now_ms()).max(0) as u64));
                        match (arrived, wait) {
                            (Some(work), _) => Ok(work),
                            (None, Some(w)) => rx.recv_timeout(w),
                            (None, None) => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        }
                    }
                };
                match next {
                    Ok(Work::Api(env)) => serve(&mut engine, env),
                    Ok(Work::Job(job)) => {
                        if let Some(env) = run_jobs(&mut engine, job, &rx, &state) {
                            serve(&mut engine, env);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if let Some(Err(e)) = engine.expire(now_ms()) {
                            tracing::error!(error = %e, "expiring the confirmed commit failed");
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            })?;
        Ok((
            Service {
                thread: Some(thread),
                jobs: Jobs(work_tx),
            },
            handle,
        ))
    }

    /// A way to run jobs on the engine thread.
    pub fn jobs(&self) -> Jobs {
        self.jobs.clone()
    }

    /// Wait for the engine thread to finish (after every handle is gone).
    pub fn join(mut self) {
        // our own sender must go too, or the engine thread waits forever
        let Service { thread, jobs } = &mut self;
        *jobs = Jobs(mpsc::channel().0);
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
    }
}
