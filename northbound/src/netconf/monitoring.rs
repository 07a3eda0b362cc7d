//! What the server says about itself: ietf-netconf-monitoring (RFC 6022) `netconf-state`
//! (capabilities, datastores and their locks, schemas, sessions with counters, statistics),
//! `<get-schema>` (every module of the context, as YANG or YIN), and ietf-yang-library
//! (RFC 8525, plus the RFC 7895 `modules-state` older clients read) for `<get>`.

use std::sync::atomic::{AtomicU32, Ordering};

use netloom_store::{DatastoreId, LockHolder};
use netloom_yang::{Schema, MODULES, PROTOCOL_MODULES};
use serde_json::{json, Map, Value};
use yang3::schema::{SchemaModule, SchemaOutputFormat, SchemaPrinterFlags};

use super::errors::{Layer, RpcError};
use super::ops::Answer;
use super::xml::{escape, Element};
use super::Shared;
use crate::api::date_and_time;

pub const NS_MONITORING: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring";
const MODULE_SET: &str = "netloom";

/// The counters RFC 6022 keeps per session and for the server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub in_rpcs: AtomicU32,
    pub in_bad_rpcs: AtomicU32,
    pub out_rpc_errors: AtomicU32,
    pub out_notifications: AtomicU32,
}

impl Counters {
    pub fn bump(counter: &AtomicU32) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn json(&self, into: &mut Map<String, Value>) {
        let get = |c: &AtomicU32| json!(c.load(Ordering::Relaxed));
        into.insert("in-rpcs".into(), get(&self.in_rpcs));
        into.insert("in-bad-rpcs".into(), get(&self.in_bad_rpcs));
        into.insert("out-rpc-errors".into(), get(&self.out_rpc_errors));
        into.insert("out-notifications".into(), get(&self.out_notifications));
    }
}

/// Server-wide statistics.
#[derive(Debug)]
pub(crate) struct Statistics {
    pub start_ms: i64,
    pub in_bad_hellos: AtomicU32,
    pub in_sessions: AtomicU32,
    pub dropped_sessions: AtomicU32,
    /// The sum over every session, ended ones included.
    pub totals: Counters,
}

impl Statistics {
    pub fn new(start_ms: i64) -> Self {
        Statistics {
            start_ms,
            in_bad_hellos: AtomicU32::new(0),
            in_sessions: AtomicU32::new(0),
            dropped_sessions: AtomicU32::new(0),
            totals: Counters::default(),
        }
    }
}

fn datastore_name(ds: DatastoreId) -> &'static str {
    match ds {
        DatastoreId::Running => "running",
        DatastoreId::Candidate => "candidate",
        DatastoreId::Startup => "startup",
    }
}

/// The host part of a `host:port` peer address.
pub fn peer_host(peer: &str) -> &str {
    peer.rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(peer)
        .trim_matches(['[', ']'])
}

/// `{"ietf-netconf-monitoring:netconf-state": {...}}`.
pub(crate) fn netconf_state(
    shared: &Shared,
    capabilities: &[String],
    locks: &[(DatastoreId, LockHolder)],
) -> Value {
    let datastores: Vec<Value> = [
        DatastoreId::Running,
        DatastoreId::Candidate,
        DatastoreId::Startup,
    ]
    .into_iter()
    .map(|ds| {
        let mut entry = json!({"name": datastore_name(ds)});
        if let Some((_, h)) = locks.iter().find(|(d, _)| *d == ds) {
            entry["locks"] = json!({"global-lock": {
                "locked-by-session": h.session,
                "locked-time": date_and_time(h.since_ms),
            }});
        }
        entry
    })
    .collect();
    let schemas: Vec<Value> = modules(&shared.schema)
        .iter()
        .map(|m| {
            json!({
                "identifier": m.name(),
                "version": m.revision().unwrap_or(""),
                "format": "ietf-netconf-monitoring:yang",
                "namespace": m.namespace(),
                "location": ["NETCONF"],
            })
        })
        .collect();
    let sessions: Vec<Value> = shared
        .sessions
        .lock()
        .map(|s| {
            s.iter()
                .map(|(id, e)| {
                    let mut entry = Map::new();
                    entry.insert("session-id".into(), json!(id));
                    entry.insert(
                        "transport".into(),
                        json!("ietf-netconf-monitoring:netconf-ssh"),
                    );
                    entry.insert("username".into(), json!(e.user));
                    let host = peer_host(&e.peer);
                    if !host.is_empty() {
                        entry.insert("source-host".into(), json!(host));
                    }
                    entry.insert("login-time".into(), json!(date_and_time(e.login_ms)));
                    e.counters.json(&mut entry);
                    Value::Object(entry)
                })
                .collect()
        })
        .unwrap_or_default();
    let stats = &shared.stats;
    let mut statistics = Map::new();
    statistics.insert(
        "netconf-start-time".into(),
        json!(date_and_time(stats.start_ms)),
    );
    let get = |c: &AtomicU32| json!(c.load(Ordering::Relaxed));
    statistics.insert("in-bad-hellos".into(), get(&stats.in_bad_hellos));
    statistics.insert("in-sessions".into(), get(&stats.in_sessions));
    statistics.insert("dropped-sessions".into(), get(&stats.dropped_sessions));
    stats.totals.json(&mut statistics);
    json!({"ietf-netconf-monitoring:netconf-state": {
        "capabilities": {"capability": capabilities},
        "datastores": {"datastore": datastores},
        "schemas": {"schema": schemas},
        "sessions": {"session": sessions},
        "statistics": statistics,
    }})
}

/// Every module of the context, libyang's own included.
fn modules(schema: &Schema) -> Vec<SchemaModule<'_>> {
    schema.context().modules(false).collect()
}

/// The features netloom enables in a module.
fn features(name: &str) -> &'static [&'static str] {
    PROTOCOL_MODULES
        .iter()
        .find(|p| p.module.name == name)
        .map(|p| p.features)
        .unwrap_or(&[])
}

/// `ietf-yang-library:yang-library` and the deprecated `modules-state`.
pub fn yang_library(schema: &Schema) -> Value {
    let all = modules(schema);
    let content_id = schema.context().get_module_set_id().to_string();
    let mut implemented = Vec::new();
    let mut import_only = Vec::new();
    let mut legacy = Vec::new();
    for m in &all {
        let revision = m.revision().unwrap_or("");
        let mut entry = json!({"name": m.name(), "namespace": m.namespace()});
        if !revision.is_empty() {
            entry["revision"] = json!(revision);
        }
        let mut old = json!({
            "name": m.name(),
            "revision": revision,
            "namespace": m.namespace(),
            "conformance-type": if m.is_implemented() { "implement" } else { "import" },
        });
        let f = features(m.name());
        if m.is_implemented() {
            if !f.is_empty() {
                entry["feature"] = json!(f);
                old["feature"] = json!(f);
            }
            implemented.push(entry);
        } else {
            entry["revision"] = json!(revision);
            import_only.push(entry);
        }
        legacy.push(old);
    }
    let datastores: Vec<Value> = ["running", "candidate", "startup", "intended", "operational"]
        .iter()
        .map(|d| json!({"name": format!("ietf-datastores:{d}"), "schema": MODULE_SET}))
        .collect();
    json!({
        "ietf-yang-library:yang-library": {
            "module-set": [{
                "name": MODULE_SET,
                "module": implemented,
                "import-only-module": import_only,
            }],
            "schema": [{"name": MODULE_SET, "module-set": [MODULE_SET]}],
            "datastore": datastores,
            "content-id": content_id,
        },
        "ietf-yang-library:modules-state": {
            "module-set-id": content_id,
            "module": legacy,
        }
    })
}

/// `<get-schema>` (RFC 6022 section 3.1).
pub fn get_schema(schema: &Schema, op: &Element) -> Result<Answer, RpcError> {
    let param = |name: &str| op.child(NS_MONITORING, name).map(|e| e.text().to_owned());
    let identifier = param("identifier").ok_or_else(|| RpcError::missing_element("identifier"))?;
    let version = param("version").filter(|v| !v.is_empty());
    // An identityref: `yang`, or prefixed (`ncm:yang`).
    let format = param("format");
    let format = format
        .as_deref()
        .map(|f| f.rsplit_once(':').map(|(_, l)| l).unwrap_or(f))
        .unwrap_or("yang");
    let all = modules(schema);
    let found: Vec<&SchemaModule<'_>> = all
        .iter()
        .filter(|m| m.name() == identifier)
        .filter(|m| version.as_deref().is_none_or(|v| m.revision() == Some(v)))
        .collect();
    let module = match found.as_slice() {
        [m] => *m,
        [] => {
            return Err(RpcError::invalid_value(format!(
                "there is no schema '{identifier}'{}",
                version
                    .as_deref()
                    .map(|v| format!(" revision {v}"))
                    .unwrap_or_default()
            )))
        }
        _ => {
            let mut e = RpcError::new(
                Layer::Application,
                "operation-failed",
                format!("several revisions of '{identifier}' exist; give a version"),
            );
            e.app_tag = Some("data-not-unique".into());
            return Err(e);
        }
    };
    let body = match format {
        "yang" => {
            let embedded = MODULES
                .iter()
                .chain(PROTOCOL_MODULES.iter().map(|p| &p.module))
                .find(|m| m.name == module.name() && Some(m.revision) == module.revision());
            let text = match embedded {
                Some(m) => m.text.to_owned(),
                None => print(module, SchemaOutputFormat::YANG)?,
            };
            escape(&text).into_owned()
        }
        "yin" => {
            let text = print(module, SchemaOutputFormat::YIN)?;
            // The reply embeds the YIN document: drop its XML declaration.
            match text.strip_prefix("<?xml") {
                Some(rest) => rest
                    .split_once("?>")
                    .map(|(_, r)| r.trim_start().to_owned())
                    .unwrap_or_default(),
                None => text,
            }
        }
        other => {
            return Err(RpcError::invalid_value(format!(
                "schemas are available as yang or yin, not '{other}'"
            )))
        }
    };
    Ok(Answer::Body(format!(
        "<data xmlns=\"{NS_MONITORING}\">{body}</data>"
    )))
}

fn print(module: &SchemaModule<'_>, format: SchemaOutputFormat) -> Result<String, RpcError> {
    module
        .print_string(format, SchemaPrinterFlags::empty())
        .map_err(|e| RpcError::failed(format!("printing {}: {e}", module.name())))
}
