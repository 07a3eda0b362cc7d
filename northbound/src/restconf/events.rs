//! The `NETCONF` event stream (RFC 8040 section 6) as `text/event-stream`: one
//! `netconf-config-change` notification (RFC 6470) per commit of running, replayed from the
//! commit log from `start-time`, then live from the engine's commit events, until
//! `stop-time` or the client leaves. Each notification is one SSE `data:` line.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use netloom_store::UnitChange;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::encode::XmlWriter;
use super::error::Error;
use super::filter::EventFilter;
use super::query::Query;
use super::App;
use crate::api::{date_and_time, CommitEvent, Principal, Reply, Request};

fn now_ms_for_streams() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The engine's own commits (rollbacks at timeout, bootstrap) are the server's.
const SYSTEM_USER: &str = "netloomd";

/// How many commits a replay reads back at most.
const REPLAY_LIMIT: usize = 100_000;

fn edit_of(change: &UnitChange) -> Value {
    let op = match (&change.old, &change.new) {
        (None, Some(_)) => "create",
        (Some(_), None) => "delete",
        _ => "replace",
    };
    json!({"target": &*change.path, "operation": op})
}

/// One notification in the stream's encoding.
fn notification(app: &App, time_ms: i64, event: Value, xml: bool) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("eventTime".into(), json!(date_and_time(time_ms)));
    if let Value::Object(m) = event {
        doc.extend(m);
    }
    if xml {
        let mut out = format!(
            "<notification xmlns=\"urn:ietf:params:xml:ns:netconf:notification:1.0\"><eventTime>{}</eventTime>",
            date_and_time(time_ms)
        );
        let w = XmlWriter::new(&app.schema);
        for (k, v) in &doc {
            if k != "eventTime" {
                w.member(&mut out, k, v, None);
            }
        }
        out.push_str("</notification>");
        out
    } else {
        json!({"ietf-restconf:notification": doc}).to_string()
    }
}

fn config_change(user: &str, session: u64, changes: &[UnitChange]) -> Value {
    let changed_by = if user.is_empty() || user == SYSTEM_USER {
        json!({"server": [null]})
    } else {
        json!({"username": user, "session-id": session})
    };
    json!({"ietf-netconf-notifications:netconf-config-change": {
        "changed-by": changed_by,
        "datastore": "running",
        "edit": changes.iter().map(edit_of).collect::<Vec<_>>(),
    }})
}

/// Whether an event passes the stream's filter, evaluated on the event's XML.
fn passes(app: &App, filter: Option<&EventFilter>, event: &Value) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    let mut content = String::new();
    if let Value::Object(m) = event {
        let w = XmlWriter::new(&app.schema);
        for (k, v) in m {
            w.member(&mut content, k, v, None);
        }
    }
    filter.matches(&content)
}

fn frame(text: &str) -> Bytes {
    Bytes::from(format!("data: {text}\n\n"))
}

/// GET /restconf/streams/NETCONF[/json|/xml].
pub async fn stream(
    app: Arc<App>,
    who: Principal,
    query: Query,
    xml: bool,
) -> Result<Response, Error> {
    query.allow_only("GET", &["start-time", "stop-time", "filter"])?;
    let filter = query
        .filter
        .as_deref()
        .map(|f| EventFilter::new(f, &app.schema))
        .transpose()?;
    if query.stop_time.is_some() && query.start_time.is_none() {
        return Err(Error::BadQuery("'stop-time' needs 'start-time'".into()));
    }
    // Subscribe before reading the log, so nothing falls between replay and live.
    let mut live = app.handle.subscribe();
    let replay = match query.start_time {
        Some(start) => {
            let reply = app
                .handle
                .call(
                    &who,
                    Request::Commits {
                        limit: REPLAY_LIMIT,
                        with_diff: true,
                    },
                )
                .await
                .map_err(|e| Error::from_api(e, false))?;
            let Reply::Commits(mut commits) = reply else {
                return Err(Error::Malformed("no commit log".into()));
            };
            commits
                .retain(|c| c.time_ms >= start && query.stop_time.is_none_or(|s| c.time_ms <= s));
            commits.reverse();
            commits
        }
        None => Vec::new(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let stop = query.stop_time;
    let replaying = query.start_time.is_some();
    // The task ends when the client goes (the body, and so the receiver, is dropped), at
    // stop-time, or when the engine stops.
    tokio::spawn(async move {
        let mut last_id = 0u64;
        for c in &replay {
            last_id = last_id.max(c.id);
            let event = config_change(&c.user, 0, &c.changes);
            if !passes(&app, filter.as_ref(), &event) {
                continue;
            }
            let n = notification(&app, c.time_ms, event, xml);
            if tx.send(frame(&n)).await.is_err() {
                return;
            }
        }
        if replaying {
            let done = notification(
                &app,
                now_ms_for_streams(),
                json!({"nc-notifications:replayComplete": {}}),
                xml,
            );
            if tx.send(frame(&done)).await.is_err() {
                return;
            }
        }
        loop {
            let deadline = stop.map(|s| s - now_ms_for_streams());
            if deadline.is_some_and(|d| d <= 0) {
                break;
            }
            let next = match deadline {
                Some(d) => match tokio::time::timeout(
                    std::time::Duration::from_millis(d as u64),
                    live.recv(),
                )
                .await
                {
                    Ok(n) => n,
                    Err(_) => break,
                },
                None => tokio::select! {
                    n = live.recv() => n,
                    _ = tx.closed() => return,
                },
            };
            let event: Arc<CommitEvent> = match next {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "an event-stream client fell behind; notifications lost"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if event.id <= last_id {
                continue;
            }
            let change = config_change(&event.user, event.session, &event.changes);
            if !passes(&app, filter.as_ref(), &change) {
                continue;
            }
            let n = notification(&app, event.time_ms, change, xml);
            if tx.send(frame(&n)).await.is_err() {
                return;
            }
        }
        let done = notification(
            &app,
            now_ms_for_streams(),
            json!({"nc-notifications:notificationComplete": {}}),
            xml,
        );
        let _ = tx.send(frame(&done)).await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
