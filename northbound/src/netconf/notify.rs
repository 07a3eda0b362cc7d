//! Event notifications (RFC 5277) on the NETCONF stream: create-subscription with replay of
//! the commit log (startTime/stopTime) and an optional subtree or XPath filter, then live
//! netconf-config-change (RFC 6470) from the engine's commit events,
//! netconf-confirmed-commit from its confirmed-commit events and netconf-session-start/end
//! from this server's sessions. Notifications interleave with RPCs (:interleave).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;

use netloom_store::UnitChange;
use tokio::sync::broadcast::{self, error::RecvError};

use netloom_yang::Schema;

use super::errors::RpcError;
use super::event_filter::{self, EventFilter};
use super::xml::{escape, Element};
use crate::api::{
    date_and_time, parse_date_and_time, CommitEvent, ConfirmEvent, ConfirmEventKind, Handle,
    Principal, Reply, Request,
};

pub const NS_NOTIFICATION: &str = "urn:ietf:params:xml:ns:netconf:notification:1.0";
/// The daemon's own principal (commits it makes itself, e.g. a confirmed-commit rollback).
const SYSTEM_USER: &str = "netloomd";
pub const NS_NOTIFICATIONS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications";

/// A NETCONF session's own event, for the other sessions' subscriptions.
#[derive(Debug, Clone)]
pub(crate) struct SessionEvent {
    pub time_ms: i64,
    pub user: String,
    pub session: u64,
    pub peer: String,
    /// True for start, false for end.
    pub started: bool,
    pub killed_by: Option<u64>,
    /// Why it ended (RFC 6470 termination-reason); None for a start.
    pub reason: Option<&'static str>,
}

/// One session's subscription.
pub(crate) struct Subscription {
    queue: VecDeque<String>,
    commits: broadcast::Receiver<Arc<CommitEvent>>,
    sessions: broadcast::Receiver<SessionEvent>,
    confirms: broadcast::Receiver<ConfirmEvent>,
    filter: Option<EventFilter>,
    /// Commits up to this id were replayed; live events repeat none of them.
    replayed_to: u64,
    stop_ms: Option<i64>,
    done: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn envelope(time_ms: i64, body: &str) -> String {
    format!(
        "<notification xmlns=\"{NS_NOTIFICATION}\"><eventTime>{}</eventTime>{body}</notification>",
        date_and_time(time_ms)
    )
}

/// netconf-config-change for one commit of running.
/// `by` is the user and session (0: not a NETCONF session), None for the daemon itself.
fn config_change(
    by: Option<(&str, u64)>,
    changes: &[UnitChange],
    modules: &[(String, String)],
) -> String {
    let mut body = format!("<netconf-config-change xmlns=\"{NS_NOTIFICATIONS}\"");
    // Paths name modules as prefixes: declare each module name as a prefix of its namespace.
    for (name, ns) in modules {
        let _ = write!(body, " xmlns:{name}=\"{}\"", escape(ns));
    }
    body.push('>');
    if let Some((user, session)) = by {
        let _ = write!(
            body,
            "<changed-by><username>{}</username><session-id>{session}</session-id></changed-by>",
            escape(user)
        );
    } else {
        body.push_str("<changed-by><server/></changed-by>");
    }
    body.push_str("<datastore>running</datastore>");
    for c in changes {
        let op = match (&c.old, &c.new) {
            (None, _) => "create",
            (_, None) => "delete",
            _ => "replace",
        };
        let _ = write!(
            body,
            "<edit><target>{}</target><operation>{op}</operation></edit>",
            escape(&c.path)
        );
    }
    body.push_str("</netconf-config-change>");
    body
}

/// netconf-confirmed-commit; a timeout names no session.
fn confirmed_commit(ev: &ConfirmEvent) -> String {
    let (name, timeout) = match ev.kind {
        ConfirmEventKind::Start => ("start", ev.timeout_secs),
        ConfirmEventKind::Extend => ("extend", ev.timeout_secs),
        ConfirmEventKind::Complete => ("complete", None),
        ConfirmEventKind::Cancel => ("cancel", None),
        ConfirmEventKind::Timeout => ("timeout", None),
    };
    let mut body = format!("<netconf-confirmed-commit xmlns=\"{NS_NOTIFICATIONS}\">");
    if ev.kind != ConfirmEventKind::Timeout {
        let _ = write!(
            body,
            "<username>{}</username><session-id>{}</session-id>",
            escape(&ev.user),
            ev.session
        );
    }
    let _ = write!(body, "<confirm-event>{name}</confirm-event>");
    if let Some(t) = timeout {
        let _ = write!(body, "<timeout>{t}</timeout>");
    }
    body.push_str("</netconf-confirmed-commit>");
    body
}

fn session_change(ev: &SessionEvent) -> String {
    let (name, extra) = if ev.started {
        ("netconf-session-start", String::new())
    } else {
        let reason = ev.reason.unwrap_or("other");
        let killer = ev
            .killed_by
            .map(|k| format!("<killed-by>{k}</killed-by>"))
            .unwrap_or_default();
        (
            "netconf-session-end",
            format!("{killer}<termination-reason>{reason}</termination-reason>"),
        )
    };
    let host = ev.peer.rsplit_once(':').map(|(h, _)| h).unwrap_or(&ev.peer);
    format!(
        "<{name} xmlns=\"{NS_NOTIFICATIONS}\"><username>{}</username><session-id>{}</session-id>\
         <source-host>{}</source-host>{extra}</{name}>",
        escape(&ev.user),
        ev.session,
        escape(host.trim_matches(['[', ']']))
    )
}

impl Subscription {
    /// Handle `<create-subscription>`: subscribe first (so nothing falls between replay and
    /// live), then queue the replayed commits.
    pub async fn create(
        handle: &Handle,
        who: &Principal,
        sessions: broadcast::Receiver<SessionEvent>,
        (schema, rpc, op): (&Arc<Schema>, &Element, &Element),
        modules: &[(String, String)],
    ) -> Result<Self, RpcError> {
        let text = |name: &str| op.child(NS_NOTIFICATION, name).map(|e| e.text().to_owned());
        if let Some(stream) = text("stream") {
            if stream != "NETCONF" {
                return Err(RpcError::invalid_value(format!(
                    "there is no stream '{stream}'"
                )));
            }
        }
        // RFC 5277 puts <filter> in its own namespace; ncclient sends the base one.
        let filter = op
            .child(NS_NOTIFICATION, "filter")
            .or_else(|| op.param("filter"))
            .map(|f| EventFilter::from_op(schema, event_filter::scope(rpc, op, f), f))
            .transpose()?;
        let time = |name: &str| -> Result<Option<i64>, RpcError> {
            text(name)
                .map(|t| {
                    parse_date_and_time(&t).ok_or_else(|| {
                        RpcError::bad_element(name, format!("'{t}' is not a date-and-time"))
                    })
                })
                .transpose()
        };
        let (start, stop) = (time("startTime")?, time("stopTime")?);
        if stop.is_some() && start.is_none() {
            return Err(RpcError::missing_element("startTime"));
        }
        if let (Some(a), Some(b)) = (start, stop) {
            if b < a {
                return Err(RpcError::bad_element(
                    "stopTime",
                    "stopTime is before startTime",
                ));
            }
        }
        if start.is_some_and(|s| s > now_ms()) {
            return Err(RpcError::bad_element(
                "startTime",
                "startTime is in the future",
            ));
        }
        let commits = handle.subscribe();
        let mut sub = Subscription {
            queue: VecDeque::new(),
            commits,
            sessions,
            confirms: handle.subscribe_confirm(),
            filter,
            replayed_to: 0,
            stop_ms: stop,
            done: false,
        };
        if let Some(start) = start {
            let records = match handle
                .call(
                    who,
                    Request::Commits {
                        limit: usize::MAX,
                        with_diff: true,
                    },
                )
                .await
                .map_err(RpcError::from)?
            {
                Reply::Commits(r) => r,
                _ => Vec::new(),
            };
            for r in records.iter().rev() {
                sub.replayed_to = sub.replayed_to.max(r.id);
                if r.time_ms < start || stop.is_some_and(|s| r.time_ms > s) {
                    continue;
                }
                // The commit log keeps the user, not the session: replayed user changes carry
                // session-id 0 (RFC 6470 allows it), the daemon's own ones say "server".
                let by = (r.user != SYSTEM_USER).then_some((r.user.as_str(), 0));
                let body = config_change(by, &r.changes, modules);
                if sub.passes(&body) {
                    sub.queue.push_back(envelope(r.time_ms, &body));
                }
            }
            sub.queue.push_back(envelope(
                now_ms(),
                "<replayComplete xmlns=\"urn:ietf:params:xml:ns:netmod:notification\"/>",
            ));
            if stop.is_some_and(|s| s <= now_ms()) {
                sub.finish();
            }
        }
        Ok(sub)
    }

    fn passes(&self, body: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.passes(body))
    }

    fn finish(&mut self) {
        self.queue.push_back(envelope(
            now_ms(),
            "<notificationComplete xmlns=\"urn:ietf:params:xml:ns:netmod:notification\"/>",
        ));
        self.done = true;
    }

    /// Whether the subscription has ended and its last notification was sent.
    pub fn ended(&self) -> bool {
        self.done && self.queue.is_empty()
    }

    /// The next notification. Cancel-safe: only queue pops and broadcast receives.
    pub async fn next(&mut self, modules: &[(String, String)]) -> Option<String> {
        loop {
            if let Some(n) = self.queue.pop_front() {
                return Some(n);
            }
            if self.done {
                return None;
            }
            let note = tokio::select! {
                ev = self.commits.recv() => match ev {
                    Ok(ev) if ev.id > self.replayed_to => {
                        let by = (ev.session != 0).then_some((ev.user.as_str(), ev.session));
                        Some((ev.time_ms, config_change(by, &ev.changes, modules)))
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return None,
                },
                ev = self.sessions.recv() => match ev {
                    Ok(ev) => Some((ev.time_ms, session_change(&ev))),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return None,
                },
                ev = self.confirms.recv() => match ev {
                    Ok(ev) => Some((ev.time_ms, confirmed_commit(&ev))),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return None,
                },
            };
            if let Some((time_ms, body)) = note {
                if self.stop_ms.is_some_and(|s| time_ms > s) {
                    self.finish();
                    continue;
                }
                if self.passes(&body) {
                    return Some(envelope(time_ms, &body));
                }
            }
        }
    }
}
