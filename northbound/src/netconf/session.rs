//! One NETCONF session on one SSH channel: the `<hello>` exchange and capability negotiation,
//! the framing switch to base:1.1 chunks, the hello and idle timeouts, reading `<rpc>`s in
//! order and answering each, kill-session, and the clean end (locks released and an
//! unconfirmed commit rolled back through `Request::EndSession`, SSH exit status, close).

use std::sync::Arc;

use netloom_store::SessionId;
use russh::server::Msg;
use russh::Channel;
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::Instrument;

use std::sync::atomic::{AtomicU64, Ordering};

use super::errors::RpcError;
use super::framing::{FrameReader, Framing, FramingError};
use super::message::Message;
use super::monitoring::Counters;
use super::notify::SessionEvent;
use super::ops::{self, Answer, Ctx};
use super::xml::{self, escape, Element, NS_BASE};
use super::{SessionEntry, Shared};
use crate::api::{Principal, Request};
use crate::auth::Identity;

pub const BASE_1_0: &str = "urn:ietf:params:netconf:base:1.0";
pub const BASE_1_1: &str = "urn:ietf:params:netconf:base:1.1";

/// What the reader task hands the session.
enum Incoming {
    Message(Vec<u8>),
    Closed,
    Failed(FramingError),
}

/// Why a session ended, for the log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum End {
    #[error("the client closed the channel")]
    ClientClosed,
    #[error("close-session")]
    CloseSession,
    #[error("killed by kill-session")]
    Killed,
    #[error("no hello within the hello timeout")]
    HelloTimeout,
    #[error("idle timeout")]
    IdleTimeout,
    #[error("bad hello: {0}")]
    BadHello(String),
    #[error("framing: {0}")]
    Framing(String),
    #[error("writing: {0}")]
    Write(String),
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    id: SessionId,
    identity: Identity,
    peer: String,
    channel: Channel<Msg>,
) {
    let span = tracing::info_span!("netconf", session = id, user = %identity.user, peer = %peer);
    async move {
        let kill = Arc::new(Notify::new());
        let killed_by = Arc::new(AtomicU64::new(0));
        let counters = Arc::new(Counters::default());
        Counters::bump(&shared.stats.in_sessions);
        if let Ok(mut s) = shared.sessions.lock() {
            s.insert(
                id,
                SessionEntry {
                    user: identity.user.clone(),
                    peer: peer.clone(),
                    login_ms: now_ms(),
                    kill: kill.clone(),
                    killed_by: killed_by.clone(),
                    counters: counters.clone(),
                },
            );
        }
        let event = |ended: Option<&End>| SessionEvent {
            time_ms: now_ms(),
            user: identity.user.clone(),
            session: id,
            peer: peer.clone(),
            started: ended.is_none(),
            killed_by: Some(killed_by.load(Ordering::Relaxed)).filter(|&k| k != 0),
            reason: ended.map(End::termination_reason),
        };
        let _ = shared.session_events.send(event(None));
        let who = Principal {
            session: id,
            user: identity.user.clone(),
        };
        let (read_half, write_half) = channel.split();
        let (framing_tx, framing_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(4);
        let reader = tokio::spawn(read_messages(
            read_half,
            shared.opts.max_message,
            tx,
            framing_rx,
        ));
        let mut ctx = Ctx::new(shared.clone(), who.clone(), identity.clone());
        let end = serve(&mut ctx, &write_half, rx, framing_tx, &kill, &counters).await;
        tracing::info!(reason = %end, "NETCONF session ended");
        match end {
            End::CloseSession | End::Killed => {}
            End::BadHello(_) => {
                Counters::bump(&shared.stats.in_bad_hellos);
                Counters::bump(&shared.stats.dropped_sessions);
            }
            _ => Counters::bump(&shared.stats.dropped_sessions),
        }
        reader.abort();
        if let Ok(mut s) = shared.sessions.lock() {
            s.remove(&id);
        }
        let _ = shared.session_events.send(event(Some(&end)));
        if let Err(e) = shared.handle.call(&who, Request::EndSession).await {
            tracing::warn!(error = %e, "releasing the session's locks");
        }
        // `ssh -s` and OpenSSH clients want the exit status before the close.
        let _ = write_half.exit_status(0).await;
        let _ = write_half.eof().await;
        let _ = write_half.close().await;
    }
    .instrument(span)
    .await
}

impl End {
    /// netconf-session-end's termination-reason (RFC 6470).
    fn termination_reason(&self) -> &'static str {
        match self {
            End::CloseSession => "closed",
            End::Killed => "killed",
            End::HelloTimeout | End::IdleTimeout => "timeout",
            End::BadHello(_) => "bad-hello",
            End::ClientClosed | End::Write(_) => "dropped",
            End::Framing(_) => "other",
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The reader: the hello in end-of-message framing, then whatever framing was negotiated.
async fn read_messages(
    mut half: russh::ChannelReadHalf,
    max: usize,
    tx: mpsc::Sender<Incoming>,
    framing_rx: oneshot::Receiver<Framing>,
) {
    let mut frames = FrameReader::new(half.make_reader(), max);
    let mut framing = Framing::EndOfMessage;
    let mut negotiated = Some(framing_rx);
    loop {
        let (item, done) = match frames.read(framing).await {
            Ok(Some(m)) => (Incoming::Message(m), false),
            Ok(None) => (Incoming::Closed, true),
            Err(e) => (Incoming::Failed(e), true),
        };
        if tx.send(item).await.is_err() || done {
            return;
        }
        if let Some(rx) = negotiated.take() {
            match rx.await {
                Ok(f) => framing = f,
                Err(_) => return,
            }
        }
    }
}

/// The channel's writing side.
type Out = russh::ChannelWriteHalf<Msg>;

async fn send(out: &Out, framing: Framing, message: Message) -> Result<(), End> {
    // Nothing else writes to the channel meanwhile: the parts arrive as one message.
    for part in message.framed(framing) {
        out.data_bytes(part)
            .await
            .map_err(|e| End::Write(e.to_string()))?;
    }
    Ok(())
}

fn hello(ctx: &Ctx) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><hello xmlns=\"{NS_BASE}\"><capabilities>"
    );
    for c in ops::capabilities(&ctx.shared.schema) {
        out.push_str("<capability>");
        out.push_str(&escape(&c));
        out.push_str("</capability>");
    }
    out.push_str(&format!(
        "</capabilities><session-id>{}</session-id></hello>",
        ctx.who.session
    ));
    out
}

/// The framing the client's hello asks for.
fn client_hello(msg: &[u8]) -> Result<Framing, String> {
    let el = xml::parse(msg).map_err(|e| e.message)?;
    if !el.is(NS_BASE, "hello") {
        return Err(format!("expected <hello>, got <{}>", el.name));
    }
    if el.child(NS_BASE, "session-id").is_some() {
        return Err("a client <hello> must not carry a session-id".into());
    }
    let caps: Vec<&str> = el
        .child(NS_BASE, "capabilities")
        .map(|c| c.children.iter().map(Element::text).collect())
        .unwrap_or_default();
    if caps.contains(&BASE_1_1) {
        Ok(Framing::Chunked)
    } else if caps.contains(&BASE_1_0) {
        Ok(Framing::EndOfMessage)
    } else {
        Err("the client supports neither base:1.0 nor base:1.1".into())
    }
}

async fn serve(
    ctx: &mut Ctx,
    out: &Out,
    mut rx: mpsc::Receiver<Incoming>,
    framing_tx: oneshot::Sender<Framing>,
    kill: &Notify,
    counters: &Counters,
) -> End {
    let shared = ctx.shared.clone();
    let totals = &shared.stats.totals;
    let count = |pick: fn(&Counters) -> &std::sync::atomic::AtomicU32| {
        Counters::bump(pick(counters));
        Counters::bump(pick(totals));
    };
    if let Err(e) = send(out, Framing::EndOfMessage, Message::from(&*hello(ctx))).await {
        return e;
    }
    let first = tokio::time::timeout(ctx.shared.opts.hello_timeout, rx.recv()).await;
    let framing = match first {
        Err(_) => return End::HelloTimeout,
        Ok(None | Some(Incoming::Closed)) => return End::ClientClosed,
        Ok(Some(Incoming::Failed(e))) => return End::Framing(e.to_string()),
        Ok(Some(Incoming::Message(m))) => match client_hello(&m) {
            Ok(f) => f,
            Err(e) => return End::BadHello(e),
        },
    };
    let _ = framing_tx.send(framing);
    tracing::debug!(?framing, "hello exchanged");
    loop {
        let idle = ctx.shared.opts.idle_timeout;
        let subscribed = ctx.subscribed();
        tokio::select! {
            incoming = rx.recv() => match incoming {
                None | Some(Incoming::Closed) => return End::ClientClosed,
                Some(Incoming::Failed(e)) => {
                    // The stream cannot be resynchronised: say why, then close.
                    let err = match e {
                        FramingError::TooBig { .. } => RpcError::too_big(e.to_string()),
                        _ => RpcError::malformed(e.to_string()),
                    };
                    let _ = send(out, framing, Message::from(&*err.reply(""))).await;
                    return End::Framing(e.to_string());
                }
                Some(Incoming::Message(m)) => {
                    let (reply, close, tally) = rpc(ctx, &m).await;
                    match tally {
                        Tally::Bad => count(|c| &c.in_bad_rpcs),
                        Tally::Good => count(|c| &c.in_rpcs),
                        Tally::Failed => {
                            count(|c| &c.in_rpcs);
                            count(|c| &c.out_rpc_errors);
                        }
                    }
                    if let Err(e) = send(out, framing, reply).await {
                        return e;
                    }
                    if close {
                        return End::CloseSession;
                    }
                }
            },
            note = ctx.next_notification(), if subscribed => {
                if let Some(body) = note {
                    if let Err(e) = send(out, framing, Message::from(&*body)).await {
                        return e;
                    }
                    count(|c| &c.out_notifications);
                }
            }
            _ = kill.notified() => return End::Killed,
            _ = tokio::time::sleep(idle), if !subscribed => return End::IdleTimeout,
        }
    }
}

/// How a message counts in ietf-netconf-monitoring.
enum Tally {
    /// Not a correct `<rpc>` (in-bad-rpcs).
    Bad,
    Good,
    /// An `<rpc>` answered with an rpc-error.
    Failed,
}

/// Answer one message; true when the session should end after the reply.
async fn rpc(ctx: &mut Ctx, msg: &[u8]) -> (Message, bool, Tally) {
    let el = match xml::parse(msg) {
        Ok(el) => el,
        Err(e) => return (Message::from(&*e.reply("")), false, Tally::Bad),
    };
    if !el.is(NS_BASE, "rpc") {
        let e = RpcError::unknown_element(&el.name, format!("expected <rpc>, got <{}>", el.name));
        return (Message::from(&*e.reply("")), false, Tally::Bad);
    }
    // RFC 6241 4.2: every attribute of <rpc> is echoed on <rpc-reply>.
    let mut attrs = String::new();
    for a in el.attrs.iter().filter(|a| a.ns.is_empty()) {
        attrs.push_str(&format!(" {}=\"{}\"", a.name, escape(&a.value)));
    }
    if el.attr("", "message-id").is_none() {
        return (
            Message::from(&*RpcError::missing_attribute("message-id", "rpc").reply(&attrs)),
            false,
            Tally::Bad,
        );
    }
    let op = match el.children.as_slice() {
        [op] => op,
        [] => {
            let e = RpcError::missing_element("operation");
            return (Message::from(&*e.reply(&attrs)), false, Tally::Bad);
        }
        _ => {
            let e = RpcError::malformed("an <rpc> carries exactly one operation");
            return (Message::from(&*e.reply(&attrs)), false, Tally::Bad);
        }
    };
    let started = std::time::Instant::now();
    ctx.reply_head = format!("<rpc-reply xmlns=\"{NS_BASE}\"{attrs}>");
    let result = ops::dispatch(ctx, op, &el).await;
    tracing::debug!(op = %op.name, elapsed_us = started.elapsed().as_micros() as u64, ok = result.is_ok(), "rpc");
    let body = |parts: &[&str]| {
        let mut m = ctx.reply(parts.iter().map(|p| p.len()).sum::<usize>() + 16);
        for p in parts {
            m.push_str(p);
        }
        m.push_str("</rpc-reply>");
        m
    };
    match result {
        Ok(Answer::Ok) => (body(&["<ok/>"]), false, Tally::Good),
        Ok(Answer::Close) => (body(&["<ok/>"]), true, Tally::Good),
        Ok(Answer::Data(data)) => (body(&["<data>", &data, "</data>"]), false, Tally::Good),
        Ok(Answer::Body(b)) => (body(&[&b]), false, Tally::Good),
        Ok(Answer::Reply(mut m)) => {
            m.push_str("</rpc-reply>");
            (m, false, Tally::Good)
        }
        Err(e) => (Message::from(&*e.reply(&attrs)), false, Tally::Failed),
    }
}
