//! One CLI connection: identify the peer, answer its requests in order, and end the engine
//! session when it goes.

use std::sync::Arc;

use netloom_store::{DatastoreId, SessionId, Snapshot};
use netloom_yang::{DataPath, Edit, ErrorTag, Schema};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tracing::Instrument;

use super::candidate::{edit_op, yang_error, PrivateCandidate};
use super::history;
use super::peer::{self, Role};
use super::protocol::{failed, ok, CliRequest, WireEdit};
use super::read;
use crate::api::{ApiError, Confirmed, Handle, Principal, Reply, Request, STALE_VERSION};
use crate::secrets::redact_changes;

/// The persist id (RFC 6241 section 8.4) of every confirmed commit made from the CLI: the
/// commit outlives the session that made it (and a CLI or daemon restart), and `confirm`
/// from any admin CLI session confirms it. One is pending at a time, so one id serves.
pub const CLI_PERSIST_ID: &str = "netloom-cli";

/// Longest request line accepted (10k edits fit easily).
const MAX_LINE: u64 = 64 << 20;

struct Session {
    handle: Handle,
    schema: Arc<Schema>,
    who: Principal,
    role: Role,
    candidate: Option<PrivateCandidate>,
}

pub async fn run(stream: UnixStream, handle: Handle, schema: Arc<Schema>, id: SessionId) {
    let cred = match stream.peer_cred() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "CLI peer without credentials; closing");
            return;
        }
    };
    let (user, role) = peer::identify(cred.uid(), cred.gid());
    let span =
        tracing::info_span!("cli", session = id, user = %user, role = ?role, pid = ?cred.pid());
    let mut session = Session {
        handle,
        schema,
        who: Principal { session: id, user },
        role,
        candidate: None,
    };
    async move {
        tracing::info!("CLI session started");
        if let Err(e) = session.serve(stream).await {
            tracing::info!(error = %e, "CLI connection failed");
        }
        if let Err(e) = session.call(Request::EndSession).await {
            tracing::warn!(error = %e, "ending the CLI session");
        }
        tracing::info!("CLI session ended");
    }
    .instrument(span)
    .await;
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorTag::InvalidValue, message)
}

impl Session {
    async fn serve(&mut self, stream: UnixStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut line = String::new();
        loop {
            line.clear();
            let n = (&mut reader).take(MAX_LINE).read_line(&mut line).await?;
            if n == 0 {
                return Ok(());
            }
            if !line.ends_with('\n') && n as u64 == MAX_LINE {
                let e = ApiError::new(ErrorTag::MalformedMessage, "request line too long");
                write
                    .write_all(format!("{}\n", failed(&e)).as_bytes())
                    .await?;
                return Ok(());
            }
            if line.trim().is_empty() {
                continue;
            }
            let reply = match serde_json::from_str::<CliRequest>(&line) {
                Ok(request) => match self.dispatch(request).await {
                    Ok(v) => ok(v),
                    Err(e) => failed(&e),
                },
                Err(e) => failed(&ApiError::new(ErrorTag::MalformedMessage, e.to_string())),
            };
            let mut text = reply.to_string();
            text.push('\n');
            write.write_all(text.as_bytes()).await?;
        }
    }

    async fn call(&self, request: Request) -> Result<Reply, ApiError> {
        self.handle.call(&self.who, request).await
    }

    fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.role.may_write() {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorTag::AccessDenied,
            format!(
                "{what}: user '{}' is read-only (root or the 'netloom' group may change the configuration)",
                self.who.user
            ),
        ))
    }

    fn candidate(&mut self) -> Result<&mut PrivateCandidate, ApiError> {
        self.candidate
            .as_mut()
            .ok_or_else(|| ApiError::new(ErrorTag::OperationFailed, "not in configure mode"))
    }

    /// The datastores as this peer may read them (no secrets unless admin).
    fn snapshots(&self) -> Arc<crate::api::Snapshots> {
        self.handle.snapshots_for(&self.schema, self.role.reader())
    }

    fn running(&self) -> Arc<Snapshot> {
        self.snapshots().running.clone()
    }

    fn source(&self, name: &str) -> Result<Arc<Snapshot>, ApiError> {
        let snaps = self.snapshots();
        Ok(match name {
            "private" => match &self.candidate {
                Some(c) if c.is_dirty() => Arc::new(Snapshot {
                    units: c.units().clone(),
                    commit_id: c.base().commit_id,
                    version: c.base().version,
                    modified_ms: c.base().modified_ms,
                }),
                _ => snaps.running.clone(),
            },
            other => snaps
                .get(other.parse::<DatastoreId>().map_err(invalid)?)
                .clone(),
        })
    }

    async fn dispatch(&mut self, request: CliRequest) -> Result<Value, ApiError> {
        match request {
            CliRequest::Hello => Ok(json!({
                "user": self.who.user,
                "role": self.role,
                "session": self.who.session,
                "commit": self.running().commit_id,
            })),
            CliRequest::Get { source, path } => {
                let snap = self.source(&source)?;
                let data = read::document(&self.schema, &snap.units, path.as_deref())?;
                Ok(json!({"data": data, "commit": snap.commit_id}))
            }
            CliRequest::State => {
                // the engine's state with the kernel's interfaces merged in
                let data = self.handle.state(&self.who).await?;
                Ok(json!({ "data": data }))
            }
            CliRequest::Commits { limit, diff } => {
                match self
                    .call(Request::Commits {
                        limit,
                        with_diff: diff,
                    })
                    .await?
                {
                    Reply::Commits(mut records) => {
                        let reader = self.role.reader();
                        for r in &mut records {
                            r.changes = redact_changes(&self.schema, reader, &r.changes);
                        }
                        Ok(read::commits(records, diff))
                    }
                    _ => Ok(json!({ "commits": [] })),
                }
            }
            CliRequest::Keys {
                path,
                fixed,
                prefix,
                limit,
                source,
            } => {
                let snap = self.source(&source)?;
                let (keys, more) =
                    read::keys(&self.schema, &snap.units, &path, &fixed, &prefix, limit)?;
                Ok(json!({"keys": keys, "more": more}))
            }
            CliRequest::Configure => {
                self.require_admin("configure")?;
                let running = self.running();
                let base = running.commit_id;
                if self.candidate.is_none() {
                    self.candidate = Some(PrivateCandidate::new(running));
                }
                Ok(json!({ "base": base }))
            }
            CliRequest::Leave => {
                self.candidate = None;
                Ok(json!({}))
            }
            CliRequest::Edit { edits } => {
                self.require_admin("edit")?;
                let edits = parse_edits(&edits)?;
                let schema = self.schema.clone();
                let running = self.running();
                let cand = self.candidate()?;
                // A session without uncommitted changes follows running, so others' commits
                // (and rollbacks) before its first edit are never conflicts.
                if !cand.is_dirty() && cand.base().commit_id != running.commit_id {
                    cand.reset(running);
                }
                cand.edit(&schema, edits)?;
                Ok(json!({}))
            }
            CliRequest::Compare => {
                let running = self.running();
                let schema = self.schema.clone();
                let diffs = self.candidate()?.compare(&schema, &running)?;
                let changes: Vec<Value> = diffs
                    .iter()
                    .map(|d| json!({"path": &*d.path, "old": d.old.as_deref(), "new": d.new.as_deref()}))
                    .collect();
                Ok(json!({ "changes": changes }))
            }
            CliRequest::Validate => {
                self.require_admin("validate")?;
                let edits = self.candidate()?.edits().to_vec();
                self.on_shared_candidate(
                    edits,
                    Request::Validate {
                        datastore: DatastoreId::Candidate,
                    },
                )
                .await?;
                Ok(json!({}))
            }
            CliRequest::Update => {
                let running = self.running();
                let schema = self.schema.clone();
                let base = running.commit_id;
                self.candidate()?.rebase(&schema, running)?;
                Ok(json!({ "base": base }))
            }
            CliRequest::Discard => {
                let running = self.running();
                self.candidate()?.reset(running);
                Ok(json!({}))
            }
            CliRequest::Commit {
                comment,
                confirmed_secs,
            } => {
                self.require_admin("commit")?;
                self.commit(comment, confirmed_secs).await
            }
            CliRequest::Confirm { persist_id } => {
                self.require_admin("confirm")?;
                // Without a pending confirmed commit, a confirming commit would be a plain
                // commit of the shared candidate: refuse instead.
                if !self.confirm_pending().await? {
                    return Err(ApiError::new(
                        ErrorTag::OperationFailed,
                        "no confirmed commit is waiting for confirmation (it may have been rolled back already)",
                    ));
                }
                self.on_shared_candidate(
                    Vec::new(),
                    Request::Commit {
                        comment: None,
                        confirmed: None,
                        persist_id: Some(persist_id.unwrap_or_else(|| CLI_PERSIST_ID.into())),
                    },
                )
                .await?;
                Ok(json!({}))
            }
            CliRequest::Rollback { id } => {
                self.require_admin("rollback")?;
                let running = self.running();
                let limit =
                    usize::try_from(running.commit_id.saturating_sub(id) + 1).unwrap_or(usize::MAX);
                let records = match self
                    .call(Request::Commits {
                        limit,
                        with_diff: true,
                    })
                    .await?
                {
                    Reply::Commits(r) => r,
                    _ => Vec::new(),
                };
                let schema = self.schema.clone();
                let target =
                    history::units_at(&schema, &running.units, running.commit_id, &records, id)?;
                let edits = self.candidate()?.load(&schema, running, &target)?;
                Ok(json!({ "loaded": id, "edits": edits }))
            }
            CliRequest::Lock => {
                self.require_admin("lock")?;
                self.call(Request::Lock {
                    datastore: DatastoreId::Running,
                })
                .await?;
                Ok(json!({}))
            }
            CliRequest::Unlock => {
                self.call(Request::Unlock {
                    datastore: DatastoreId::Running,
                })
                .await?;
                Ok(json!({}))
            }
        }
    }

    /// Whether a confirmed commit waits for its confirmation (it is the newest commit: while
    /// it waits, no one else may change running).
    async fn confirm_pending(&self) -> Result<bool, ApiError> {
        Ok(
            match self
                .call(Request::Commits {
                    limit: 1,
                    with_diff: false,
                })
                .await?
            {
                Reply::Commits(c) => c.first().is_some_and(|r| r.confirm.as_str() == "pending"),
                _ => false,
            },
        )
    }

    /// Commit the private candidate's edits, unless that would change a leaf someone else
    /// changed since the candidate's base. A plain commit is made only while running is
    /// still the version checked (the engine checks that atomically); a confirmed commit
    /// goes through the shared candidate, which the engine's confirmed-commit timer works on.
    async fn commit(
        &mut self,
        comment: Option<String>,
        confirmed_secs: Option<u32>,
    ) -> Result<Value, ApiError> {
        // Another commit slipping in between the check and the commit: check again.
        for _ in 0..3 {
            let running = self.running();
            let schema = self.schema.clone();
            let cand = self.candidate()?;
            let conflicts = cand.conflicts(&schema, &running)?;
            if !conflicts.is_empty() {
                let listed: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
                return Err(ApiError {
                    tag: ErrorTag::InUse,
                    path: conflicts.first().map(|c| c.path.clone()),
                    message: format!(
                        "conflict: since this session started from commit {}, running changed (now commit {}) where this session's changes apply: {}; nothing was committed; `discard` to start over, or `update` to put this session's changes on top",
                        cand.base().commit_id,
                        running.commit_id,
                        listed.join(", ")
                    ),
                    app_tag: None,
                });
            }
            let edits = cand.edits().to_vec();
            if edits.is_empty() {
                return Ok(json!({ "unchanged": running.commit_id }));
            }
            let reply = match confirmed_secs {
                None => {
                    let edit = Request::Edit {
                        datastore: DatastoreId::Running,
                        edits,
                        comment: comment.clone(),
                    };
                    match self
                        .call(Request::IfVersion {
                            datastore: DatastoreId::Running,
                            version: running.version,
                            request: Box::new(edit),
                        })
                        .await
                    {
                        Err(e) if e.app_tag.as_deref() == Some(STALE_VERSION) => continue,
                        other => other?,
                    }
                }
                Some(secs) => {
                    // Extending a pending confirmed commit (this CLI's) needs its persist id.
                    let persist_id = self
                        .confirm_pending()
                        .await?
                        .then(|| CLI_PERSIST_ID.to_owned());
                    self.on_shared_candidate(
                        edits,
                        Request::Commit {
                            comment: comment.clone(),
                            confirmed: Some(Confirmed {
                                timeout_secs: secs,
                                persist: Some(CLI_PERSIST_ID.into()),
                            }),
                            persist_id,
                        },
                    )
                    .await?
                }
            };
            let running = self.running();
            self.candidate()?.reset(running);
            return Ok(commit_reply(reply));
        }
        Err(ApiError::new(
            ErrorTag::InUse,
            "running kept changing while committing; try again",
        ))
    }

    /// Put `edits` on the shared candidate under this session's lock, make `request`, and
    /// leave the candidate as running again. The lock is refused while another session has
    /// uncommitted changes there, so no one else's work is ever discarded.
    async fn on_shared_candidate(
        &mut self,
        edits: Vec<Edit>,
        request: Request,
    ) -> Result<Reply, ApiError> {
        self.call(Request::Lock {
            datastore: DatastoreId::Candidate,
        })
        .await?;
        let result = async {
            if !edits.is_empty() {
                self.call(Request::Edit {
                    datastore: DatastoreId::Candidate,
                    edits,
                    comment: None,
                })
                .await?;
            }
            self.call(request).await
        }
        .await;
        if result.is_err() || matches!(result, Ok(Reply::Done)) {
            if let Err(e) = self.call(Request::DiscardChanges).await {
                tracing::warn!(error = %e, "discarding the shared candidate");
            }
        }
        if let Err(e) = self
            .call(Request::Unlock {
                datastore: DatastoreId::Candidate,
            })
            .await
        {
            tracing::warn!(error = %e, "unlocking the shared candidate");
        }
        result
    }
}

fn commit_reply(reply: Reply) -> Value {
    match reply {
        Reply::Committed { id } => json!({ "commit": id }),
        Reply::Unchanged { id } => json!({ "unchanged": id }),
        _ => json!({}),
    }
}

fn parse_edits(wire: &[WireEdit]) -> Result<Vec<Edit>, ApiError> {
    wire.iter()
        .map(|w| {
            Ok(Edit {
                op: edit_op(&w.op)?,
                path: DataPath::parse_xpath(&w.path).map_err(yang_error)?,
                value: w.value.clone(),
            })
        })
        .collect()
}
