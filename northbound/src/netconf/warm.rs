//! Renders the XML of changed list entries as soon as a datastore changes, so the first read
//! after a commit (or an edit of the candidate) copies renderings instead of making them.
//! Only what changed is rendered: the maps of two published snapshots share every subtree a
//! change did not touch, and the diff skips those.

use std::sync::Arc;

use netloom_store::DatastoreId;
use netloom_yang::{Schema, UnitMap, XmlCache};
use tokio::sync::{oneshot, watch};

use crate::api::Snapshots;

/// Keep `cache` warm with every snapshot `snapshots` publishes, until its sender goes.
/// Rendering runs on a thread of its own at the lowest priority, one published state at a
/// time: states published meanwhile are taken together by the next diff, against the last
/// state rendered, so none is missed and a burst of commits costs one pass.
pub async fn keep_warm(
    mut snapshots: watch::Receiver<Arc<Snapshots>>,
    schema: Arc<Schema>,
    cache: Arc<XmlCache>,
) {
    let Some(renderer) = Renderer::start(schema, cache) else {
        return;
    };
    let mut rendered: Option<Arc<Snapshots>> = None;
    loop {
        let now = snapshots.borrow_and_update().clone();
        let before = rendered.replace(now.clone());
        match renderer.render(before, now).await {
            Some(n) if n > 0 => tracing::debug!(rendered = n, "XML of changed entries rendered"),
            Some(_) => {}
            None => {
                tracing::warn!("the XML rendering thread is gone; reads render on their own");
                return;
            }
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}

/// One rendering pass: the states to diff, and where to say how many entries it rendered.
type Pass = (
    Option<Arc<Snapshots>>,
    Arc<Snapshots>,
    oneshot::Sender<usize>,
);

/// The thread that renders. It runs at idle priority: rendering ahead only saves a later
/// read some work, so it must never take a core from a commit (validating a large change
/// keeps both busy, and the candidate edit just before it publishes the entries the commit
/// validates). A read that comes before the rendering renders what it misses itself.
struct Renderer {
    passes: std::sync::mpsc::Sender<Pass>,
}

impl Renderer {
    /// Start the thread; it ends when the `Renderer` goes. `None` (logged) when no thread
    /// could be started.
    fn start(schema: Arc<Schema>, cache: Arc<XmlCache>) -> Option<Self> {
        let (passes, rx) = std::sync::mpsc::channel::<Pass>();
        let started = std::thread::Builder::new()
            .name("netloom-warm".into())
            .spawn(move || {
                if let Err(e) = lower_to_idle() {
                    tracing::warn!(error = %e, "XML rendering thread keeps its priority");
                }
                for (before, now, done) in rx {
                    let _ = done.send(warm(&schema, &cache, before.as_deref(), &now));
                }
            });
        match started {
            Ok(_) => Some(Renderer { passes }),
            Err(e) => {
                tracing::warn!(error = %e, "starting the XML rendering thread");
                None
            }
        }
    }

    /// Render what changed from `before` to `now`; `None` when the thread is gone.
    async fn render(&self, before: Option<Arc<Snapshots>>, now: Arc<Snapshots>) -> Option<usize> {
        let (done, rendered) = oneshot::channel();
        self.passes.send((before, now, done)).ok()?;
        rendered.await.ok()
    }
}

/// Render the entries of every datastore that changed from `before` to `now`.
fn warm(schema: &Schema, cache: &XmlCache, before: Option<&Snapshots>, now: &Snapshots) -> usize {
    let empty = UnitMap::new();
    [
        DatastoreId::Running,
        DatastoreId::Candidate,
        DatastoreId::Startup,
    ]
    .into_iter()
    .map(|ds| {
        let old = before.map_or(&empty, |b| &b.get(ds).units);
        cache.warm(schema, old, &now.get(ds).units)
    })
    .sum()
}

/// Move the calling thread to `SCHED_IDLE`: it runs only when a core has nothing else to
/// do, whatever policy the daemon runs under (a real-time one included).
#[allow(unsafe_code)] // no safe wrapper for sched_setscheduler in the crates we use
fn lower_to_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid, initialised sched_param that
    // outlives the call.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
