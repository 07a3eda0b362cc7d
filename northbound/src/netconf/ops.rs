//! The NETCONF operations (RFC 6241 section 7, 8): each is parsed from its `<rpc>` element
//! and mapped onto one request-API call, or served from the snapshots (reads).

use std::sync::Arc;

use netloom_store::DatastoreId;
use netloom_yang::{
    DefaultsMode, Edit, EditBatch, EditOp, Schema, UnitMap, MODULES, PROTOCOL_MODULES,
};
use serde_json::Value;

use super::data;
use super::errors::RpcError;
use super::fast_read::{self, Plan};
use super::filter;
use super::message::{Message, SharedBody};
use super::monitoring::{self, NS_MONITORING};
use super::nmda::{self, NS_NMDA};
use super::notify::{Subscription, NS_NOTIFICATION};
use super::render::{self, Read, Selection, WithDefaults};
use super::reply_cache::SHARE_FROM;
use super::session::{BASE_1_0, BASE_1_1};
use super::xml::{Element, NS_BASE};
use super::Shared;
use crate::api::{Confirmed, Principal, Reply, Request};
use crate::auth::Identity;
use crate::secrets::Reader;

/// The namespace of netloom's NETCONF extensions (commit comments).
pub const NS_NETLOOM: &str = "urn:netloom:yang:netloom-host";

/// What an operation answers with.
pub(crate) enum Answer {
    Ok,
    /// The content of `<data>`.
    Data(String),
    /// Reply content as is.
    Body(String),
    /// `<ok/>`, then end the session.
    Close,
    /// The reply so far, begun with [`Ctx::reply`] and its content written in place:
    /// everything but `</rpc-reply>`.
    Reply(Message),
}

/// One session's view: who it is, what it may do.
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub who: Principal,
    pub identity: Identity,
    subscription: Option<Subscription>,
    /// (module name, namespace) of every data module, to declare in notifications.
    modules: Vec<(String, String)>,
    /// The `<rpc-reply ...>` start tag of the rpc being answered.
    pub reply_head: String,
}

impl Ctx {
    pub fn new(shared: Arc<Shared>, who: Principal, identity: Identity) -> Self {
        Ctx {
            shared,
            who,
            identity,
            subscription: None,
            modules: MODULES
                .iter()
                .map(|m| (m.name.to_owned(), m.namespace.to_owned()))
                .collect(),
            reply_head: String::new(),
        }
    }

    /// A reply to the current rpc, begun with its start tag, with room for `capacity` more
    /// bytes.
    pub fn reply(&self, capacity: usize) -> Message {
        let mut m = Message::with_capacity(self.reply_head.len() + capacity);
        m.push_str(&self.reply_head);
        m
    }

    /// Whether the session has a notification subscription.
    pub fn subscribed(&self) -> bool {
        self.subscription.is_some()
    }

    /// The next notification to send, as a whole `<notification>` message; None when the
    /// subscription just ended (it is then dropped).
    pub async fn next_notification(&mut self) -> Option<String> {
        let sub = self.subscription.as_mut()?;
        let note = sub.next(&self.modules).await;
        if note.is_none() || sub.ended() {
            self.subscription = None;
        }
        note
    }

    async fn create_subscription(
        &mut self,
        op: &Element,
        rpc: &Element,
    ) -> Result<Answer, RpcError> {
        if self.subscription.is_some() {
            return Err(RpcError::new(
                super::errors::Layer::Protocol,
                "in-use",
                "this session already has a subscription",
            ));
        }
        let sessions = self.shared.session_events.subscribe();
        let sub = Subscription::create(
            &self.shared.handle,
            &self.who,
            sessions,
            (&self.shared.schema, rpc, op),
            &self.modules,
        )
        .await?;
        self.subscription = Some(sub);
        Ok(Answer::Ok)
    }

    /// A read of datastore `ds` answered the fast way (the stored units streamed to XML,
    /// each entry's rendering cached) inside `open` .. `</data>`; None when the general
    /// path must answer.
    pub fn fast_config_reply(
        &self,
        ds: DatastoreId,
        read: &Read<'_>,
        open: &str,
    ) -> Result<Option<Answer>, RpcError> {
        let Some(mode) = read.fast_mode() else {
            return Ok(None);
        };
        let Some(plan) = fast_read::plan(&self.shared.schema, &read.selection) else {
            return Ok(None);
        };
        let snaps = self.snapshots();
        let Some(body) = self.whole_read(&snaps.get(ds).units, open, plan, mode)? else {
            return Ok(None);
        };
        Ok(Some(Answer::Reply(self.data_reply(body, ""))))
    }

    /// A read of the operational datastore (`<get>`, get-data on operational) answered the
    /// fast way inside `open` .. `</data>`: running's configuration as
    /// [`Ctx::fast_config_reply`] renders it (cached), then the state roots (the engine's
    /// state, netconf-state, the yang-library) rendered from a document of their own. State
    /// never shares a root container with configuration, so the two halves are the general
    /// path's answer cut in two (see `fast_read::state_xml`); a filter that names only
    /// configuration roots needs no state at all. None when the general path must answer.
    pub async fn fast_operational_reply(
        &self,
        read: &Read<'_>,
        open: &str,
    ) -> Result<Option<Answer>, RpcError> {
        let schema = &self.shared.schema;
        let Some(mode) = read.fast_mode() else {
            return Ok(None);
        };
        let Some(plan) = fast_read::plan(schema, &read.selection) else {
            return Ok(None);
        };
        let with_state = match &plan {
            Plan::All => true,
            Plan::Picks(picks) if fast_read::config_only(schema, picks) => false,
            Plan::Picks(_) => return Ok(None),
        };
        let snaps = self.snapshots();
        let Some(body) = self.whole_read(&snaps.running.units, open, plan, mode)? else {
            return Ok(None);
        };
        let state = if with_state {
            fast_read::state_xml(schema, state_json(self).await?, read.with_defaults)?
        } else {
            String::new()
        };
        Ok(Some(Answer::Reply(self.data_reply(body, &state))))
    }

    /// The reply to a read: `body` (its `<data ...>` and content), `more`, `</data>`.
    fn data_reply(&self, body: SharedBody, more: &str) -> Message {
        let mut reply = self.reply(0);
        if body.len() < SHARE_FROM {
            reply.push_str(body.text());
        } else {
            reply.push_shared(body);
        }
        reply.push_str(more);
        reply.push_str("</data>");
        reply
    }

    /// The body of the read `plan` of `units` in with-defaults `mode` (`None`: as stored):
    /// `open` and the content, without the closing `</data>`; the kept one, or rendered
    /// (and kept, when large). None when the general path must answer.
    fn whole_read(
        &self,
        units: &UnitMap,
        open: &str,
        plan: Plan,
        mode: Option<DefaultsMode>,
    ) -> Result<Option<SharedBody>, RpcError> {
        let replies = &self.shared.replies;
        if let Some(body) = replies.get(units, open, &plan, mode) {
            return Ok(Some(body));
        }
        let mut body = SharedBody::buffer(fast_read::size_hint(units) + open.len() + 8);
        body.push_str(open);
        let (schema, cache) = (&self.shared.schema, &self.shared.xml_cache);
        let done = match mode {
            None => fast_read::config_xml(schema, units, &plan, cache, &mut body)?,
            Some(mode) => {
                fast_read::config_xml_defaults(schema, units, &plan, mode, cache, &mut body)?
            }
        };
        if !done {
            return Ok(None);
        }
        let body = SharedBody::new(body);
        replies.put(units, open, plan, mode, body.clone());
        Ok(Some(body))
    }

    /// After this session changed running by at least [`fast_read::PRERENDER_FROM`] units,
    /// render the get-config bodies a client most likely asks for next (everything, each
    /// changed root container) before the change is answered: rendering a large datastore
    /// is a fraction of a millisecond per thousand entries against the change's hundreds of
    /// milliseconds, and a read right after a bulk change (to check or archive it) then
    /// finds its reply made. Small changes render nothing here.
    pub fn prerender_running(&self, before: &UnitMap) {
        let snaps = self.snapshots();
        let units = &snaps.running.units;
        let started = std::time::Instant::now();
        let plans = fast_read::prerender_plans(&self.shared.schema, before, units);
        if plans.is_empty() {
            return;
        }
        let n = plans.len();
        for plan in plans {
            if let Err(e) = self.whole_read(units, "<data>", plan, None) {
                tracing::debug!(error = %e.message, "prerendering a read failed");
            }
        }
        tracing::debug!(reads = n, took = ?started.elapsed(), "reads rendered ahead");
    }

    pub fn snapshots(&self) -> Arc<crate::api::Snapshots> {
        self.shared
            .handle
            .snapshots_for(&self.shared.schema, self.identity.reader())
    }

    pub(crate) async fn call(&self, request: Request) -> Result<Reply, RpcError> {
        self.shared
            .handle
            .call(&self.who, request)
            .await
            .map_err(RpcError::from)
    }

    pub(crate) fn may_write(&self, op: &str) -> Result<(), RpcError> {
        if self.identity.may_write() {
            Ok(())
        } else {
            Err(RpcError::access_denied(format!(
                "user '{}' may not use <{op}>",
                self.identity.user
            )))
        }
    }
}

/// Capabilities this server announces.
pub fn capabilities(schema: &Schema) -> Vec<String> {
    let mut caps: Vec<String> = [
        BASE_1_0,
        BASE_1_1,
        "urn:ietf:params:netconf:capability:writable-running:1.0",
        "urn:ietf:params:netconf:capability:candidate:1.0",
        "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
        "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
        "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
        "urn:ietf:params:netconf:capability:validate:1.0",
        "urn:ietf:params:netconf:capability:validate:1.1",
        "urn:ietf:params:netconf:capability:startup:1.0",
        "urn:ietf:params:netconf:capability:notification:1.0",
        "urn:ietf:params:netconf:capability:interleave:1.0",
        "urn:ietf:params:netconf:capability:xpath:1.0",
        "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // RFC 8526: an NMDA server announces its yang-library; the module capabilities stay
    // for clients that predate NMDA.
    caps.push(format!(
        "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&content-id={}",
        schema.context().get_module_set_id()
    ));
    let protocol = PROTOCOL_MODULES
        .iter()
        .filter(|p| p.implemented)
        .map(|p| &p.module);
    for m in MODULES.iter().chain(protocol) {
        caps.push(format!(
            "{}?module={}&revision={}",
            m.namespace, m.name, m.revision
        ));
    }
    caps
}

pub(crate) async fn dispatch(
    ctx: &mut Ctx,
    op: &Element,
    rpc: &Element,
) -> Result<Answer, RpcError> {
    if op.is(NS_NOTIFICATION, "create-subscription") {
        return ctx.create_subscription(op, rpc).await;
    }
    if op.is(NS_MONITORING, "get-schema") {
        return monitoring::get_schema(&ctx.shared.schema, op);
    }
    if op.is(NS_NMDA, "get-data") {
        return nmda::get_data(ctx, op, rpc).await;
    }
    if op.is(NS_NMDA, "edit-data") {
        return nmda::edit_data(ctx, op, rpc).await;
    }
    if &*op.ns == NS_NETLOOM {
        return super::commits::dispatch(ctx, op).await;
    }
    if &*op.ns != NS_BASE {
        return Err(RpcError::not_supported(format!(
            "the operation <{}> ({}) is not supported",
            op.name, op.ns
        )));
    }
    match &*op.name {
        "get-config" => get_config(ctx, op, rpc).await,
        "get" => get(ctx, op, rpc).await,
        "edit-config" => edit_config(ctx, op, rpc).await,
        "copy-config" => copy_config(ctx, op, rpc).await,
        "delete-config" => delete_config(ctx, op).await,
        "lock" | "unlock" => {
            ctx.may_write(&op.name)?;
            let datastore = match op.param("target").and_then(nmda::lock_target) {
                Some(nmda) => nmda?,
                None => datastore(op, "target")?,
            };
            let request = if &*op.name == "lock" {
                Request::Lock { datastore }
            } else {
                Request::Unlock { datastore }
            };
            ctx.call(request).await.map(|_| Answer::Ok)
        }
        "close-session" => Ok(Answer::Close),
        "kill-session" => kill_session(ctx, op).await,
        "commit" => commit(ctx, op).await,
        "cancel-commit" => {
            ctx.may_write("cancel-commit")?;
            let persist_id = op.param("persist-id").map(|p| p.text().to_owned());
            ctx.call(Request::CancelCommit { persist_id })
                .await
                .map(|_| Answer::Ok)
        }
        "discard-changes" => {
            ctx.may_write("discard-changes")?;
            ctx.call(Request::DiscardChanges).await.map(|_| Answer::Ok)
        }
        "validate" => validate(ctx, op, rpc).await,
        other => Err(RpcError::not_supported(format!(
            "the operation <{other}> is not supported"
        ))),
    }
}

/// The datastore named in `<source>`/`<target>`.
fn datastore(op: &Element, param: &str) -> Result<DatastoreId, RpcError> {
    let p = op
        .param(param)
        .ok_or_else(|| RpcError::missing_element(param))?;
    let ds = p
        .children
        .first()
        .ok_or_else(|| RpcError::missing_element(param))?;
    if &*ds.ns != NS_BASE && !ds.ns.is_empty() {
        return Err(RpcError::bad_element(
            param,
            format!("<{}> is not a datastore", ds.name),
        ));
    }
    match &*ds.name {
        "running" => Ok(DatastoreId::Running),
        "candidate" => Ok(DatastoreId::Candidate),
        "startup" => Ok(DatastoreId::Startup),
        "url" => Err(RpcError::not_supported(
            "the :url capability is not supported",
        )),
        other => Err(RpcError::bad_element(
            param,
            format!("<{other}> is not a datastore"),
        )),
    }
}

/// A datastore's content as an RFC 7951 document.
pub(crate) fn datastore_json(ctx: &Ctx, ds: DatastoreId) -> Result<Value, RpcError> {
    let snaps = ctx.snapshots();
    let units = &snaps.get(ds).units;
    let text = ctx
        .shared
        .schema
        .to_json(units.iter().map(|(k, v)| (k, &**v)));
    serde_json::from_str(&text).map_err(|e| RpcError::failed(format!("stored data: {e}")))
}

/// Running, the engine's state, netconf-state and the yang-library: what `<get>` and
/// get-data on operational read.
pub(crate) async fn operational_json(ctx: &Ctx) -> Result<Value, RpcError> {
    let mut doc = datastore_json(ctx, DatastoreId::Running)?;
    // Running comes redacted for this session's reader (snapshots), and so does the state.
    if let (Some(obj), Value::Object(state)) = (doc.as_object_mut(), state_json(ctx).await?) {
        obj.extend(state);
    }
    Ok(doc)
}

/// The operational datastore's state roots as this session's user may read them: the
/// engine's state with the kernel's interfaces merged in, netconf-state and the
/// yang-library.
async fn state_json(ctx: &Ctx) -> Result<Value, RpcError> {
    let state = ctx
        .shared
        .handle
        .state(&ctx.who)
        .await
        .map_err(RpcError::from)?;
    let locks = match ctx.call(Request::Locks).await? {
        Reply::Locks(l) => l,
        _ => Vec::new(),
    };
    let caps = capabilities(&ctx.shared.schema);
    let mut doc = match state {
        Value::Object(state) => state,
        _ => serde_json::Map::new(),
    };
    for extra in [
        monitoring::netconf_state(&ctx.shared, &caps, &locks),
        monitoring::yang_library(&ctx.shared.schema),
    ] {
        if let Value::Object(e) = extra {
            doc.extend(e);
        }
    }
    let mut doc = Value::Object(doc);
    if ctx.identity.reader() == Reader::Other {
        // The engine's state must not reopen the door running's redaction closed.
        ctx.shared.schema.redact_document(&mut doc);
    }
    Ok(doc)
}

/// The `<filter>` of get and get-config.
fn selection<'a>(op: &'a Element, rpc: &Element) -> Result<Selection<'a>, RpcError> {
    let Some(f) = op.param("filter") else {
        return Ok(Selection::All);
    };
    match f.attr("", "type").unwrap_or("subtree") {
        "subtree" => Ok(Selection::Subtree(f)),
        "xpath" => {
            let select = f
                .attr("", "select")
                .ok_or_else(|| RpcError::missing_attribute("select", "filter"))?;
            Ok(Selection::XPath {
                select: select.to_owned(),
                prefixes: scope(rpc, op, f),
            })
        }
        other => Err(RpcError::bad_attribute(
            "type",
            "filter",
            format!("the filter type '{other}' is not supported"),
        )),
    }
}

/// `<data>` for a read of `doc`.
fn reply_data(ctx: &Ctx, doc: Value, read: &Read<'_>) -> Result<Answer, RpcError> {
    let schema = &ctx.shared.schema;
    if !read.is_plain() {
        return render::render(schema, doc, read).map(Answer::Data);
    }
    let doc = match read.selection {
        Selection::Subtree(f) => filter::subtree(schema, &doc, f),
        _ => doc,
    };
    data::to_xml(schema, &doc).map(Answer::Data)
}

async fn get_config(ctx: &mut Ctx, op: &Element, rpc: &Element) -> Result<Answer, RpcError> {
    let ds = datastore(op, "source")?;
    let read = Read {
        selection: selection(op, rpc)?,
        with_defaults: WithDefaults::from_op(op)?,
        ..Default::default()
    };
    if let Some(answer) = ctx.fast_config_reply(ds, &read, "<data>")? {
        return Ok(answer);
    }
    reply_data(ctx, datastore_json(ctx, ds)?, &read)
}

async fn get(ctx: &mut Ctx, op: &Element, rpc: &Element) -> Result<Answer, RpcError> {
    let read = Read {
        selection: selection(op, rpc)?,
        with_defaults: WithDefaults::from_op(op)?,
        state: true,
        ..Default::default()
    };
    if let Some(answer) = ctx.fast_operational_reply(&read, "<data>").await? {
        return Ok(answer);
    }
    reply_data(ctx, operational_json(ctx).await?, &read)
}

/// A netloom `<comment>` given with a change.
pub(crate) fn comment(op: &Element) -> Option<String> {
    op.child(NS_NETLOOM, "comment").map(|c| c.text().to_owned())
}

/// Prefix declarations in scope at `<config>` (declared on the rpc or the operation).
pub(crate) fn scope(rpc: &Element, op: &Element, config: &Element) -> Vec<(String, String)> {
    let mut out = rpc.prefixes.clone();
    out.extend(op.prefixes.iter().cloned());
    out.extend(config.prefixes.iter().cloned());
    out
}

async fn edit_config(ctx: &mut Ctx, op: &Element, rpc: &Element) -> Result<Answer, RpcError> {
    ctx.may_write("edit-config")?;
    let target = datastore(op, "target")?;
    if target == DatastoreId::Startup {
        return Err(RpcError::invalid_value(
            "edit-config targets running or candidate; use copy-config for startup",
        ));
    }
    let default_op = match op.param("default-operation").map(Element::text) {
        None | Some("merge") => Some(EditOp::Merge),
        Some("replace") => Some(EditOp::Replace),
        Some("none") => None,
        Some(other) => {
            return Err(RpcError::bad_element(
                "default-operation",
                format!("'{other}' is not a default operation"),
            ))
        }
    };
    let test_only = match op.param("test-option").map(Element::text) {
        None | Some("test-then-set") | Some("set") => false,
        Some("test-only") => true,
        Some(other) => {
            return Err(RpcError::bad_element(
                "test-option",
                format!("'{other}' is not a test option"),
            ))
        }
    };
    // Every edit-config is one all-or-nothing engine transaction, which satisfies
    // rollback-on-error and stop-on-error alike; continue-on-error cannot be honoured
    // without leaving a partial change, so it is refused rather than silently upgraded.
    match op.param("error-option").map(Element::text) {
        None | Some("stop-on-error") | Some("rollback-on-error") => {}
        Some("continue-on-error") => {
            return Err(RpcError::not_supported(
                "continue-on-error is not supported: every edit-config is all or nothing",
            ))
        }
        Some(other) => {
            return Err(RpcError::bad_element(
                "error-option",
                format!("'{other}' is not an error option"),
            ))
        }
    }
    if op.param("url").is_some() {
        return Err(RpcError::not_supported(
            "the :url capability is not supported",
        ));
    }
    let config = op
        .param("config")
        .ok_or_else(|| RpcError::missing_element("config"))?;
    let batch = data::edits_from_config(
        &ctx.shared.schema,
        ctx.shared.reader_helper.as_ref(),
        config,
        scope(rpc, op, config),
        default_op,
    )?;
    if test_only {
        // validated by the engine as a commit would be (netloom's own checks too) on a
        // copy of the target; nothing is written
        return ctx
            .call(Request::ValidateEdits {
                base: Some(target),
                batch,
            })
            .await
            .map(|_| Answer::Ok);
    }
    if batch.is_empty() {
        return Ok(Answer::Ok);
    }
    let before = (target == DatastoreId::Running).then(|| ctx.snapshots().running.units.clone());
    ctx.call(Request::EditBatch {
        datastore: target,
        batch,
        comment: comment(op),
    })
    .await?;
    if let Some(before) = before {
        ctx.prerender_running(&before);
    }
    Ok(Answer::Ok)
}

/// `<config>` given inline as a source: the edits that replace a datastore with it.
fn inline_config(ctx: &Ctx, op: &Element, rpc: &Element) -> Result<Option<Vec<Edit>>, RpcError> {
    let Some(config) = op.param("source").and_then(|s| s.param("config")) else {
        return Ok(None);
    };
    // A replace: never the fast reader's (merges only), so plain edits.
    data::general_edits(
        &ctx.shared.schema,
        config,
        scope(rpc, op, config),
        Some(EditOp::Replace),
    )
    .map(Some)
}

async fn copy_config(ctx: &mut Ctx, op: &Element, rpc: &Element) -> Result<Answer, RpcError> {
    ctx.may_write("copy-config")?;
    let to = datastore(op, "target")?;
    if let Some(edits) = inline_config(ctx, op, rpc)? {
        return ctx
            .call(Request::Edit {
                datastore: to,
                edits,
                comment: comment(op),
            })
            .await
            .map(|_| Answer::Ok);
    }
    let from = datastore(op, "source")?;
    if from == to {
        return Err(RpcError::invalid_value(
            "source and target are the same datastore",
        ));
    }
    let wd = WithDefaults::from_op(op)?;
    if let Some(
        wd @ (WithDefaults::ReportAll | WithDefaults::ReportAllTagged | WithDefaults::Trim),
    ) = wd
    {
        // The copy is the source as that mode reports it: defaults made explicit, or
        // values equal to their default left out.
        let value =
            render::with_defaults_json(&ctx.shared.schema, &datastore_json(ctx, from)?, wd)?;
        return ctx
            .call(Request::Edit {
                datastore: to,
                edits: vec![Edit {
                    op: EditOp::Replace,
                    path: netloom_yang::DataPath::root(),
                    value: Some(value),
                }],
                comment: comment(op),
            })
            .await
            .map(|_| Answer::Ok);
    }
    ctx.call(Request::Copy { from, to })
        .await
        .map(|_| Answer::Ok)
}

async fn delete_config(ctx: &mut Ctx, op: &Element) -> Result<Answer, RpcError> {
    ctx.may_write("delete-config")?;
    let target = datastore(op, "target")?;
    if target == DatastoreId::Running {
        return Err(RpcError::invalid_value(
            "the running datastore cannot be deleted",
        ));
    }
    ctx.call(Request::Edit {
        datastore: target,
        edits: vec![Edit {
            op: EditOp::Replace,
            path: netloom_yang::DataPath::root(),
            value: Some(Value::Object(Default::default())),
        }],
        comment: None,
    })
    .await
    .map(|_| Answer::Ok)
}

async fn kill_session(ctx: &mut Ctx, op: &Element) -> Result<Answer, RpcError> {
    ctx.may_write("kill-session")?;
    let text = op
        .param("session-id")
        .ok_or_else(|| RpcError::missing_element("session-id"))?
        .text();
    let id: u64 = text
        .parse()
        .map_err(|_| RpcError::invalid_value(format!("'{text}' is not a session id")))?;
    if id == ctx.who.session {
        return Err(RpcError::invalid_value(
            "a session cannot kill itself; use close-session",
        ));
    }
    let target = ctx.shared.sessions.lock().ok().and_then(|s| {
        s.get(&id)
            .map(|e| (e.user.clone(), e.kill.clone(), e.killed_by.clone()))
    });
    let Some((user, kill, killed_by)) = target else {
        return Err(RpcError::invalid_value(format!(
            "there is no NETCONF session {id}"
        )));
    };
    // Release its locks and roll back its unconfirmed commit before answering, so the
    // caller can lock right after <ok/>.
    let victim = Principal { session: id, user };
    ctx.shared
        .handle
        .call(&victim, Request::EndSession)
        .await
        .map_err(RpcError::from)?;
    killed_by.store(ctx.who.session, std::sync::atomic::Ordering::Relaxed);
    kill.notify_one();
    tracing::info!(killed = id, "kill-session");
    Ok(Answer::Ok)
}

async fn commit(ctx: &mut Ctx, op: &Element) -> Result<Answer, RpcError> {
    ctx.may_write("commit")?;
    let text = |name: &str| op.param(name).map(|e| e.text().to_owned());
    let confirmed = if op.param("confirmed").is_some() {
        let timeout_secs = match text("confirm-timeout") {
            None => 600,
            Some(t) => t.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                RpcError::bad_element("confirm-timeout", format!("'{t}' is not a timeout"))
            })?,
        };
        Some(Confirmed {
            timeout_secs,
            persist: text("persist"),
        })
    } else {
        None
    };
    let before = ctx.snapshots().running.units.clone();
    ctx.call(Request::Commit {
        comment: comment(op),
        confirmed,
        persist_id: text("persist-id"),
    })
    .await?;
    ctx.prerender_running(&before);
    Ok(Answer::Ok)
}

async fn validate(ctx: &mut Ctx, op: &Element, rpc: &Element) -> Result<Answer, RpcError> {
    if let Some(edits) = inline_config(ctx, op, rpc)? {
        return ctx
            .call(Request::ValidateEdits {
                base: None,
                batch: EditBatch::from(edits),
            })
            .await
            .map(|_| Answer::Ok);
    }
    let datastore = datastore(op, "source")?;
    ctx.call(Request::Validate { datastore })
        .await
        .map(|_| Answer::Ok)
}
