//! Subscribe: ONCE, POLL and STREAM (ON_CHANGE, SAMPLE, TARGET_DEFINED) subscriptions, many
//! per stream. Each stream is one task that owns its subscriptions and an outbox:
//! - the initial sync and POLL answers queue in order, ahead of `sync_response`;
//! - live values (changes, samples, heartbeats) coalesce per path, so a collector that reads
//!   slowly gets the newest value of each path, never a backlog;
//! - the task never blocks on the collector; when output has waited longer than the stall
//!   timeout, or more paths wait than the bound, the stream ends with RESOURCE_EXHAUSTED.
//!
//! Config changes come from the engine's commit events (only the changed units are walked).
//! ON_CHANGE on state (netloom's `state` tree, the OpenConfig interfaces) is event-driven
//! too, never polled: a commit, an attachment or ledger change, or a kernel link event
//! makes the stream read the state again and send what differs from what it last sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc};
use tokio::time::{sleep_until, Instant};
use tokio_stream::Stream;
use tonic::{Status, Streaming};
use tracing::Instrument as _;

use super::encode::{self, Enc, Leaf};
use super::error::invalid;
use super::get::{now_ns, select};
use super::path::{key_of, to_proto, GPath, Origin};
use super::proto::gnmi::subscribe_request::Request as In;
use super::proto::gnmi::subscribe_response::Response as Out;
use super::proto::gnmi::subscription_list::Mode as ListMode;
use super::proto::gnmi::{
    Notification, Path, SubscribeRequest, SubscribeResponse, SubscriptionList, SubscriptionMode,
    TypedValue, Update,
};
use super::tree::{reads_config, reads_state, Content, Walker};
use super::wire::{Leaves, WireResponse};
use super::{Inner, SubscribeStream};
use crate::api::{CommitEvent, Principal};
use crate::secrets::{redact_changes, Reader};

/// Responses buffered toward the collector (beyond that, values coalesce).
const QUEUE: usize = 64;
/// Updates per notification.
const BATCH: usize = 512;
/// The default and the smallest sample and heartbeat intervals.
const DEFAULT_SAMPLE: Duration = Duration::from_secs(1);
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// A subscription's encoded values (and, once a sample needs them, its updates on the wire).
type View = Arc<Leaves>;
type ViewKey = (String, Enc);

/// Encoded config views by path and encoding, each valid for one running commit.
#[derive(Default)]
pub struct Views(Mutex<HashMap<ViewKey, (u64, View)>>);

/// Distinct views kept; past that the cache starts over.
const VIEWS_KEPT: usize = 64;

impl Views {
    fn get(&self, key: &ViewKey, commit: u64) -> Option<View> {
        let views = self.0.lock().ok()?;
        views
            .get(key)
            .filter(|(c, _)| *c == commit)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: ViewKey, commit: u64, view: View) {
        if let Ok(mut views) = self.0.lock() {
            if views.len() >= VIEWS_KEPT {
                views.clear();
            }
            views.insert(key, (commit, view));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    OnChange,
    Sample(Duration),
}

/// One subscription of a stream.
struct Sub {
    path: GPath,
    mode: Mode,
    suppress: bool,
    heartbeat: Option<Duration>,
    next_sample: Instant,
    next_heartbeat: Option<Instant>,
    /// ON_CHANGE on state: compared on every state event.
    on_state: bool,
    /// What the collector was last sent, by path, where comparisons need it.
    last: HashMap<String, TypedValue>,
}

impl Sub {
    fn keeps_last(&self) -> bool {
        self.suppress || self.on_state
    }

    fn next_deadline(&self) -> Option<Instant> {
        let sample = matches!(self.mode, Mode::Sample(_)).then_some(self.next_sample);
        [sample, self.next_heartbeat].into_iter().flatten().min()
    }
}

fn interval(ns: u64, field: &str) -> Result<Option<Duration>, Status> {
    if ns == 0 {
        return Ok(None);
    }
    let d = Duration::from_nanos(ns);
    if d < MIN_INTERVAL {
        return Err(invalid(format!(
            "{field} {ns} ns is below the smallest supported, {} ms",
            MIN_INTERVAL.as_millis()
        )));
    }
    Ok(Some(d))
}

fn parse(inner: &Inner, list: &SubscriptionList) -> Result<Vec<Sub>, Status> {
    if list.subscription.is_empty() {
        return Err(invalid("the subscription list is empty"));
    }
    let now = Instant::now();
    let mut subs = Vec::with_capacity(list.subscription.len());
    for s in &list.subscription {
        let path = GPath::join(list.prefix.as_ref(), s.path.as_ref())?;
        path.check(&inner.schema)?;
        let mode = match SubscriptionMode::try_from(s.mode) {
            Ok(SubscriptionMode::OnChange) | Ok(SubscriptionMode::TargetDefined) => Mode::OnChange,
            Ok(SubscriptionMode::Sample) => Mode::Sample(
                interval(s.sample_interval, "sample_interval")?.unwrap_or(DEFAULT_SAMPLE),
            ),
            Err(_) => return Err(invalid(format!("unknown subscription mode {}", s.mode))),
        };
        let heartbeat = interval(s.heartbeat_interval, "heartbeat_interval")?;
        let on_state = mode == Mode::OnChange
            && (reads_state(&path, Content::All) || path.origin == Origin::OpenConfig);
        subs.push(Sub {
            path,
            mode,
            suppress: s.suppress_redundant,
            heartbeat,
            next_sample: match mode {
                Mode::Sample(d) => now + d,
                Mode::OnChange => now,
            },
            next_heartbeat: heartbeat.map(|h| now + h),
            on_state,
            last: HashMap::new(),
        });
    }
    Ok(subs)
}

/// Start a Subscribe stream: read and check the subscription list, then hand the stream to
/// its task. Errors in the list come back as the RPC's status.
pub async fn subscribe(
    inner: Arc<Inner>,
    who: Principal,
    reader: Reader,
    mut requests: Streaming<SubscribeRequest>,
    span: tracing::Span,
) -> Result<SubscribeStream, Status> {
    let first = requests
        .message()
        .await?
        .ok_or_else(|| invalid("the stream ended before a subscription list"))?;
    let Some(In::Subscribe(list)) = first.request else {
        return Err(invalid("the first message must be a subscription list"));
    };
    let enc = encode::encoding(list.encoding)?;
    let mode = ListMode::try_from(list.mode)
        .map_err(|_| invalid(format!("unknown subscription list mode {}", list.mode)))?;
    let subs = parse(&inner, &list)?;
    let (tx, rx) = mpsc::channel::<WireResponse>(QUEUE);
    let abort = Arc::new(Mutex::new(None));
    // Subscribed before the first read, so no commit falls between the two.
    let events = inner.handle.subscribe();
    let task = Task {
        inner,
        who,
        reader,
        enc,
        subs,
        outbox: Outbox::default(),
        tx,
        abort: abort.clone(),
    };
    tracing::info!(parent: &span, mode = ?mode, subscriptions = task.subs.len(), "subscribed");
    tokio::spawn(
        task.run(mode, list.updates_only, requests, events)
            .instrument(span),
    );
    Ok(Box::pin(Outgoing {
        rx,
        abort,
        done: false,
    }))
}

/// What the collector reads: the task's responses, then the status it ended with, if any.
struct Outgoing {
    rx: mpsc::Receiver<WireResponse>,
    abort: Arc<Mutex<Option<Status>>>,
    done: bool,
}

impl Stream for Outgoing {
    type Item = Result<WireResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(r)) => Poll::Ready(Some(Ok(r))),
            Poll::Ready(None) => {
                self.done = true;
                let status = self.abort.lock().ok().and_then(|mut a| a.take());
                Poll::Ready(status.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Output waiting for the collector.
#[derive(Default)]
struct Outbox {
    ordered: VecDeque<SubscribeResponse>,
    /// Live values by path: `None` is a delete. Newer values replace older ones.
    pending: BTreeMap<String, (Path, Option<TypedValue>)>,
    pending_time: i64,
    /// Whole samples of plain SAMPLE subscriptions, at most one per subscription: the
    /// shared view itself, whose updates go out as bytes encoded once for every subscriber;
    /// a newer sample replaces one not yet begun, so a slow collector gets the newest.
    samples: VecDeque<SampleOut>,
}

struct SampleOut {
    sub: usize,
    view: View,
    /// The next notification (of [`Leaves::encoded`]) to send.
    next: usize,
    time: i64,
}

impl Outbox {
    fn has_output(&self) -> bool {
        !self.ordered.is_empty() || !self.pending.is_empty() || !self.samples.is_empty()
    }

    fn sample(&mut self, sub: usize, view: View, time: i64) {
        match self
            .samples
            .iter_mut()
            .find(|s| s.sub == sub && s.next == 0)
        {
            Some(waiting) => {
                waiting.view = view;
                waiting.time = time;
            }
            None => self.samples.push_back(SampleOut {
                sub,
                view,
                next: 0,
                time,
            }),
        }
    }

    fn waiting(&self) -> usize {
        self.ordered.len() * BATCH + self.pending.len()
    }

    fn push_ordered(&mut self, leaves: Vec<(Path, TypedValue)>) {
        let timestamp = now_ns();
        let mut update = Vec::new();
        for (path, val) in leaves {
            update.push(Update {
                path: Some(path),
                val: Some(val),
                ..Update::default()
            });
            if update.len() == BATCH {
                self.ordered.push_back(notification(
                    timestamp,
                    std::mem::take(&mut update),
                    Vec::new(),
                ));
            }
        }
        if !update.is_empty() {
            self.ordered
                .push_back(notification(timestamp, update, Vec::new()));
        }
    }

    fn sync(&mut self) {
        self.ordered.push_back(SubscribeResponse {
            response: Some(Out::SyncResponse(true)),
            ..SubscribeResponse::default()
        });
    }

    fn coalesce(&mut self, path: Path, val: Option<TypedValue>, time: i64) {
        self.pending.insert(key_of(&path), (path, val));
        self.pending_time = time;
    }

    fn next(&mut self) -> Option<WireResponse> {
        if let Some(r) = self.ordered.pop_front() {
            return Some(r.into());
        }
        while let Some(s) = self.samples.front_mut() {
            let batches = s.view.encoded();
            let updates = batches.get(s.next).cloned();
            s.next += 1;
            let time = s.time;
            if s.next >= batches.len() {
                self.samples.pop_front();
            }
            if let Some(updates) = updates {
                return Some(WireResponse::Encoded {
                    timestamp: time,
                    updates,
                });
            }
        }
        let mut update = Vec::new();
        let mut delete = Vec::new();
        while update.len() + delete.len() < BATCH {
            let Some((_, (path, val))) = self.pending.pop_first() else {
                break;
            };
            match val {
                Some(v) => update.push(Update {
                    path: Some(path),
                    val: Some(v),
                    ..Update::default()
                }),
                None => delete.push(path),
            }
        }
        (!update.is_empty() || !delete.is_empty())
            .then(|| notification(self.pending_time, update, delete).into())
    }
}

fn notification(timestamp: i64, update: Vec<Update>, delete: Vec<Path>) -> SubscribeResponse {
    SubscribeResponse {
        response: Some(Out::Update(Notification {
            timestamp,
            update,
            delete,
            ..Notification::default()
        })),
        ..SubscribeResponse::default()
    }
}

/// Why a stream's task ended early.
enum End {
    /// The collector went away.
    Gone,
    /// The stream is closed with this status.
    Fail(Status),
}

struct Task {
    inner: Arc<Inner>,
    who: Principal,
    /// Whether secret nodes (password hashes) go out on this stream.
    reader: Reader,
    enc: Enc,
    subs: Vec<Sub>,
    outbox: Outbox,
    tx: mpsc::Sender<WireResponse>,
    abort: Arc<Mutex<Option<Status>>>,
}

impl Task {
    async fn run(
        mut self,
        mode: ListMode,
        updates_only: bool,
        requests: Streaming<SubscribeRequest>,
        events: broadcast::Receiver<Arc<CommitEvent>>,
    ) {
        let ended = match self.serve(mode, updates_only, requests, events).await {
            Ok(()) => "done".to_owned(),
            Err(End::Gone) => "collector gone".to_owned(),
            Err(End::Fail(status)) => {
                let text = format!("{}: {}", status.code(), status.message());
                if let Ok(mut a) = self.abort.lock() {
                    *a = Some(status);
                }
                text
            }
        };
        tracing::info!(ended, "subscription ended");
    }

    async fn serve(
        &mut self,
        mode: ListMode,
        updates_only: bool,
        mut requests: Streaming<SubscribeRequest>,
        mut events: broadcast::Receiver<Arc<CommitEvent>>,
    ) -> Result<(), End> {
        let tx = self.tx.clone();
        let mut state_changes = self.inner.handle.watch_state();
        state_changes.mark_unchanged();
        if !updates_only || mode != ListMode::Stream {
            self.initial(None).await?;
        } else {
            // updates_only: the collector wants no initial values, but suppression and
            // state comparisons still start from what there is now.
            self.initial(Some(())).await?;
        }
        self.outbox.sync();
        if mode == ListMode::Once {
            return self.drain().await;
        }
        let mut reading = true;
        let mut blocked_since: Option<Instant> = None;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            if self.outbox.waiting() > self.inner.options.max_pending {
                return Err(End::Fail(Status::resource_exhausted(format!(
                    "the collector is too slow: more than {} values wait",
                    self.inner.options.max_pending
                ))));
            }
            let has_output = self.outbox.has_output();
            if has_output && tx.capacity() == 0 {
                blocked_since.get_or_insert_with(Instant::now);
            } else {
                blocked_since = None;
            }
            let stall = blocked_since.map_or(far, |t| t + self.inner.options.stall_timeout);
            let tick = if mode == ListMode::Stream {
                self.subs
                    .iter()
                    .filter_map(Sub::next_deadline)
                    .min()
                    .unwrap_or(far)
            } else {
                far
            };
            let on_state = mode == ListMode::Stream && self.subs.iter().any(|s| s.on_state);
            let on_change = on_state
                || mode == ListMode::Stream
                    && self
                        .subs
                        .iter()
                        .any(|s| s.mode == Mode::OnChange && reads_config(&s.path, Content::All));
            tokio::select! {
                biased;
                _ = tx.closed() => return Err(End::Gone),
                permit = tx.reserve(), if has_output => {
                    let Ok(permit) = permit else { return Err(End::Gone) };
                    if let Some(r) = self.outbox.next() {
                        permit.send(r);
                    }
                }
                event = events.recv(), if on_change => match event {
                    Ok(event) => {
                        self.changed(&event);
                        // The commit log is state too.
                        if on_state {
                            self.recheck_state().await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Err(End::Fail(Status::resource_exhausted(format!(
                            "the stream fell {n} commits behind"
                        ))))
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(End::Fail(Status::unavailable("netloomd is stopping")))
                    }
                },
                message = requests.message(), if reading => match message {
                    Ok(Some(SubscribeRequest { request: Some(In::Poll(_)), .. }))
                        if mode == ListMode::Poll =>
                    {
                        self.initial(None).await?;
                        self.outbox.sync();
                    }
                    Ok(Some(_)) => {
                        return Err(End::Fail(invalid(
                            "after the subscription list only Poll messages of a POLL \
                             subscription are accepted",
                        )))
                    }
                    Ok(None) if mode == ListMode::Poll => return self.drain().await,
                    // A STREAM collector may half-close; its subscriptions go on.
                    Ok(None) => reading = false,
                    Err(_) => return Err(End::Gone),
                },
                changed = state_changes.changed(), if on_state => match changed {
                    Ok(()) => self.recheck_state().await?,
                    Err(_) => return Err(End::Fail(Status::unavailable("netloomd is stopping"))),
                },
                _ = sleep_until(tick), if tick < far => self.ticks().await?,
                _ = sleep_until(stall), if stall < far => {
                    return Err(End::Fail(Status::resource_exhausted(format!(
                        "the collector read nothing for {} s",
                        self.inner.options.stall_timeout.as_secs_f64()
                    ))))
                }
            }
        }
    }

    /// Send what is queued, then end (ONCE, and POLL when the collector closes).
    async fn drain(&mut self) -> Result<(), End> {
        while let Some(r) = self.outbox.next() {
            let send = self.tx.send(r);
            match tokio::time::timeout(self.inner.options.stall_timeout, send).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(End::Gone),
                Err(_) => {
                    return Err(End::Fail(Status::resource_exhausted(
                        "the collector stopped reading",
                    )))
                }
            }
        }
        Ok(())
    }

    /// Every subscription's current values into the ordered queue (`quiet`: only record
    /// them).
    async fn initial(&mut self, quiet: Option<()>) -> Result<(), End> {
        for i in 0..self.subs.len() {
            let leaves = self.view(i, Content::All).await?;
            let sub = &mut self.subs[i];
            if sub.keeps_last() {
                sub.last = leaves.iter().map(|(p, v)| (key_of(p), v.clone())).collect();
            }
            if quiet.is_none() {
                self.outbox.push_ordered(leaves.to_vec());
            }
        }
        Ok(())
    }

    /// The current values of subscription `i`. Config-only views are computed once per
    /// commit, path and encoding, however many streams sample them.
    async fn view(&self, i: usize, content: Content) -> Result<View, End> {
        let sub = &self.subs[i];
        let cacheable = !reads_state(&sub.path, content) && sub.path.origin == Origin::Netloom;
        let commit = self.inner.handle.snapshots().running.commit_id;
        // Views are shared between streams of readers who see the same data.
        let key = (
            format!(
                "{:?}{}{}",
                self.reader,
                sub.path.qualified,
                super::path::show(&sub.path.elems)
            ),
            self.enc,
        );
        if cacheable {
            if let Some(v) = self.inner.views.get(&key, commit) {
                return Ok(v);
            }
        }
        if sub.path.origin == Origin::OpenConfig {
            let leaves =
                super::openconfig::select(&self.inner, &self.who, &sub.path, self.enc, true)
                    .await
                    .map_err(End::Fail)?;
            return Ok(Arc::new(Leaves::new(
                leaves
                    .into_iter()
                    .map(|(elems, v)| (to_proto(sub.path.origin, elems), v))
                    .collect(),
                BATCH,
            )));
        }
        let matches = select(
            &self.inner,
            &self.who,
            self.reader,
            &sub.path,
            content,
            true,
        )
        .await
        .map_err(End::Fail)?;
        let mut leaves: Vec<Leaf> = Vec::new();
        for m in &matches {
            encode::encode(&self.inner.schema, self.enc, m, &mut leaves);
        }
        let view: View = Arc::new(Leaves::new(
            leaves
                .into_iter()
                .map(|(elems, v)| (to_proto(sub.path.origin, elems), v))
                .collect(),
            BATCH,
        ));
        if cacheable {
            self.inner.views.put(key, commit, view.clone());
        }
        Ok(view)
    }

    /// Timers that are due: samples and heartbeats.
    async fn ticks(&mut self) -> Result<(), End> {
        let now = Instant::now();
        for i in 0..self.subs.len() {
            let sub = &self.subs[i];
            let heartbeat = sub.next_heartbeat.is_some_and(|t| t <= now);
            let sample = matches!(sub.mode, Mode::Sample(_)) && sub.next_sample <= now;
            if !(heartbeat || sample) {
                continue;
            }
            // Heartbeats and samples without suppression send everything; the rest only
            // what changed since the collector last heard.
            let everything = heartbeat || (sample && !sub.suppress);
            self.refresh(i, Content::All, everything).await?;
            let sub = &mut self.subs[i];
            if let Some(h) = sub.heartbeat.filter(|_| heartbeat) {
                sub.next_heartbeat = Some(next(now, h));
            }
            if let (true, Mode::Sample(d)) = (sample, sub.mode) {
                sub.next_sample = next(now, d);
            }
        }
        Ok(())
    }

    /// State may have changed: every ON_CHANGE subscription to state reads it again.
    async fn recheck_state(&mut self) -> Result<(), End> {
        for i in 0..self.subs.len() {
            if self.subs[i].on_state {
                self.refresh(i, Content::State, false).await?;
            }
        }
        Ok(())
    }

    /// Read subscription `i` again and queue what the collector has not heard yet (all of
    /// it with `everything`), and deletes for what is gone.
    async fn refresh(&mut self, i: usize, content: Content, everything: bool) -> Result<(), End> {
        let leaves = self.view(i, content).await?;
        let time = now_ns();
        let sub = &mut self.subs[i];
        if !sub.keeps_last() {
            // Nothing to compare with: a plain sample sends the shared view as it is.
            if !leaves.is_empty() {
                self.outbox.sample(i, leaves, time);
            }
            return Ok(());
        }
        let mut seen = HashMap::with_capacity(leaves.len());
        for (path, val) in leaves.iter() {
            let key = key_of(path);
            if everything || sub.last.get(&key) != Some(val) {
                self.outbox.coalesce(path.clone(), Some(val.clone()), time);
            }
            seen.insert(key, val.clone());
        }
        // Gone since the last look: deleted. A read of state alone says nothing of config.
        let gone: Vec<String> = sub
            .last
            .keys()
            .filter(|k| !seen.contains_key(*k) && (content == Content::All || is_state_key(k)))
            .cloned()
            .collect();
        for key in gone {
            if let Some(path) = deleted_path(&self.outbox, &key, &sub.path) {
                self.outbox.coalesce(path, None, time);
            }
            sub.last.remove(&key);
        }
        sub.last.extend(seen);
        Ok(())
    }

    /// A commit: walk only the changed units along each ON_CHANGE subscription.
    fn changed(&mut self, event: &CommitEvent) {
        let schema = &self.inner.schema;
        let time = event.time_ms.saturating_mul(1_000_000);
        for sub in self.subs.iter_mut().filter(|s| s.mode == Mode::OnChange) {
            if !reads_config(&sub.path, Content::All) {
                continue;
            }
            let walker = Walker {
                schema,
                qualified: sub.path.qualified,
                expand: true,
            };
            for change in &redact_changes(schema, self.reader, &event.changes) {
                let Some(key) = schema.unit_of_path(&change.path) else {
                    continue;
                };
                let leaves = |text: &Option<Arc<str>>| -> BTreeMap<String, (Path, TypedValue)> {
                    let Some(text) = text else {
                        return BTreeMap::new();
                    };
                    let doc: Value = serde_json::from_str(&schema.to_json([(&key, &**text)]))
                        .unwrap_or_default();
                    let mut out = Vec::new();
                    for m in walker.walk(&doc, &sub.path.elems) {
                        encode::encode(schema, self.enc, &m, &mut out);
                    }
                    out.into_iter()
                        .map(|(elems, v)| {
                            let p = to_proto(sub.path.origin, elems);
                            (key_of(&p), (p, v))
                        })
                        .collect()
                };
                let old = leaves(&change.old);
                let new = leaves(&change.new);
                for (key, (path, _)) in old.iter().filter(|(k, _)| !new.contains_key(*k)) {
                    self.outbox.coalesce(path.clone(), None, time);
                    sub.last.remove(key);
                }
                for (key, (path, val)) in new {
                    if old.get(&key).is_some_and(|(_, o)| *o == val) {
                        continue;
                    }
                    if sub.keeps_last() {
                        sub.last.insert(key, val.clone());
                    }
                    self.outbox.coalesce(path, Some(val), time);
                }
            }
        }
    }
}

/// Whether a [`key_of`] text names state: the OpenConfig tree, or netloom's `state`.
fn is_state_key(key: &str) -> bool {
    if key.starts_with("openconfig/") {
        return true;
    }
    let first = key
        .strip_prefix('/')
        .map(|k| k.split(['/', '[']).next().unwrap_or(""));
    matches!(first, Some("state" | "netloom-host:state"))
}

/// The path of a value that disappeared, rebuilt from what the outbox or the subscription
/// knows; its text key is all a comparison kept.
fn deleted_path(outbox: &Outbox, key: &str, sub: &GPath) -> Option<Path> {
    if let Some((p, _)) = outbox.pending.get(key) {
        return Some(p.clone());
    }
    parse_key(key, sub.origin)
}

/// Read back a [`key_of`] text (`origin/a/b[k=v]`).
fn parse_key(key: &str, origin: Origin) -> Option<Path> {
    let body = key.split_once('/').map(|(_, b)| b)?;
    let mut elems = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.find(['/', '[']).unwrap_or(rest.len());
        let name = rest[..end].to_owned();
        rest = &rest[end..];
        let mut key = HashMap::new();
        while let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let (k, v) = after[..close].split_once('=')?;
            key.insert(k.to_owned(), v.to_owned());
            rest = &after[close + 1..];
        }
        elems.push(super::proto::gnmi::PathElem { name, key });
        rest = rest.strip_prefix('/').unwrap_or(rest);
    }
    Some(to_proto(origin, elems))
}

/// The next tick after `now`: intervals that were missed are skipped, not bunched.
fn next(now: Instant, every: Duration) -> Instant {
    now + every
}
