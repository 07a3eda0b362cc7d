//! The CLI socket protocol: one JSON object per line each way, strictly request then reply.
//!
//! Requests are `{"op": "<name>", ...}`:
//! - `hello` -> `{user, role, session}`
//! - `get {source: running|candidate|startup|private, path?}` -> `{data, commit}`: the
//!   RFC 7951 document of the units under `path` (an XPath down to at most a top-level list
//!   entry); `private` is this session's candidate (configure mode)
//! - `state` -> `{data}`; `commits {limit, diff}` -> `{commits: [...]}`
//! - `keys {path, fixed, prefix, limit, source}` -> `{keys, more}`: distinct values of the
//!   key after the `fixed` ones of the top-level list `path`, starting with `prefix`
//! - `configure` -> `{base}`; `leave`; `edit {edits: [{op, path, value?}]}`; `compare` ->
//!   `{changes: [{path, old, new}]}`; `validate`; `discard`; `update` (rebase on running);
//!   `commit {comment?, confirmed_secs?}` -> `{commit}` or `{unchanged}` (a confirmed
//!   commit is persistent: it outlives the session, any admin session may `confirm` it);
//!   `confirm {persist_id?}`; `rollback {id}` -> `{loaded, edits}`: commit `id`'s
//!   configuration loaded into the private candidate (nothing committed); `lock`/`unlock`
//!
//! Replies are `{"ok": true, ...}` or `{"ok": false, "error": {tag, path?, message}}`.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::ApiError;

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum CliRequest {
    Hello,
    Get {
        #[serde(default = "running")]
        source: String,
        #[serde(default)]
        path: Option<String>,
    },
    State,
    Commits {
        #[serde(default = "default_limit")]
        limit: usize,
        #[serde(default)]
        diff: bool,
    },
    Keys {
        path: String,
        #[serde(default)]
        fixed: Vec<String>,
        #[serde(default)]
        prefix: String,
        #[serde(default = "default_limit")]
        limit: usize,
        #[serde(default = "running")]
        source: String,
    },
    Configure,
    Leave,
    Edit {
        edits: Vec<WireEdit>,
    },
    Compare,
    Update,
    Validate,
    Discard,
    Commit {
        #[serde(default)]
        comment: Option<String>,
        #[serde(default)]
        confirmed_secs: Option<u32>,
    },
    Confirm {
        #[serde(default)]
        persist_id: Option<String>,
    },
    Rollback {
        id: u64,
    },
    Lock,
    Unlock,
}

fn running() -> String {
    "running".into()
}

fn default_limit() -> usize {
    100
}

/// An edit as the wire carries it: `op` is merge, replace, create, delete or remove.
#[derive(Debug, Clone, Deserialize)]
pub struct WireEdit {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// A successful reply with these fields.
pub fn ok(fields: Value) -> Value {
    let mut v = json!({"ok": true});
    if let (Some(out), Value::Object(more)) = (v.as_object_mut(), fields) {
        out.extend(more);
    }
    v
}

/// A failed reply.
pub fn failed(e: &ApiError) -> Value {
    let mut err = json!({"tag": e.tag.as_str(), "message": e.message});
    if let (Some(obj), Some(path)) = (err.as_object_mut(), &e.path) {
        obj.insert("path".into(), Value::String(path.clone()));
    }
    json!({"ok": false, "error": err})
}
