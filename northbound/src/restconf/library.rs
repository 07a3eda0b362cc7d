//! Discovery and schema: `/.well-known/host-meta` (RFC 6415), the `/restconf` root, the
//! yang-library-version, `ietf-yang-library:yang-library` (RFC 8525) listing every module of
//! the schema context with a download location, the module download itself (by exact name
//! and revision from the context: nothing is read from the file system, so no path
//! traversal), and `ietf-restconf-monitoring:restconf-state` (capabilities and streams).

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use yang3::schema::{SchemaOutputFormat, SchemaPrinterFlags};

use super::encode::{MediaType, XmlWriter};
use super::error::Error;
use super::App;
use crate::api::date_and_time;

pub const YANG_LIBRARY_VERSION: &str = "2019-01-04";
const MODULE_SET: &str = "netloom";

pub fn host_meta() -> Response {
    (
        [(header::CONTENT_TYPE, "application/xrd+xml")],
        "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='restconf' href='/restconf'/>\n</XRD>\n",
    )
        .into_response()
}

fn respond(app: &App, doc: Value, media: MediaType) -> Response {
    let body = if media.is_xml() {
        let mut out = String::new();
        XmlWriter::new(&app.schema).document(&mut out, &doc);
        out
    } else {
        doc.to_string()
    };
    ([(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

pub fn root(app: &App, media: MediaType) -> Response {
    respond(
        app,
        json!({"ietf-restconf:restconf": {"data": {}, "operations": {}, "yang-library-version": YANG_LIBRARY_VERSION}}),
        media,
    )
}

pub fn library_version(app: &App, media: MediaType) -> Response {
    respond(
        app,
        json!({"ietf-restconf:yang-library-version": YANG_LIBRARY_VERSION}),
        media,
    )
}

/// The absolute base URL the client reached us at.
pub fn base_url(app: &App, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", app.scheme)
}

fn module_url(base: &str, name: &str, revision: Option<&str>) -> String {
    match revision {
        Some(r) => format!("{base}/restconf/yang/{name}@{r}.yang"),
        None => format!("{base}/restconf/yang/{name}.yang"),
    }
}

/// The `ietf-yang-library:yang-library` document.
pub fn yang_library(app: &App, headers: &HeaderMap) -> Value {
    let base = base_url(app, headers);
    let mut implemented = Vec::new();
    let mut import_only = Vec::new();
    let mut ids = Vec::new();
    for m in app.schema.context().modules(false) {
        let name = m.name().to_owned();
        let rev = m.revision().map(str::to_owned);
        ids.push(format!("{name}@{}", rev.as_deref().unwrap_or("")));
        let mut entry = json!({
            "name": name,
            "namespace": m.namespace(),
            "location": [module_url(&base, &name, rev.as_deref())],
        });
        if let Some(r) = &rev {
            entry["revision"] = json!(r);
        }
        if m.is_implemented() {
            implemented.push(entry);
        } else {
            import_only.push(entry);
        }
    }
    ids.sort();
    let content_id = format!("{:x}", sha2_digest(&ids.join(",")));
    let datastores: Vec<Value> = ["running", "candidate", "startup", "intended", "operational"]
        .iter()
        .map(|d| json!({"name": format!("ietf-datastores:{d}"), "schema": MODULE_SET}))
        .collect();
    json!({"ietf-yang-library:yang-library": {
        "module-set": [{"name": MODULE_SET, "module": implemented, "import-only-module": import_only}],
        "schema": [{"name": MODULE_SET, "module-set": [MODULE_SET]}],
        "datastore": datastores,
        "content-id": content_id,
    }})
}

/// `ietf-yang-library:modules-state` (RFC 7895), for clients older than RFC 8525: the same
/// loaded modules, with the features each has enabled and the submodules it includes.
pub fn modules_state(app: &App, headers: &HeaderMap) -> Value {
    let base = base_url(app, headers);
    let mut modules = Vec::new();
    let mut ids = Vec::new();
    for m in app.schema.context().modules(false) {
        let name = m.name().to_owned();
        let rev = m.revision().unwrap_or("").to_owned();
        ids.push(format!("{name}@{rev}"));
        let text = m
            .print_string(SchemaOutputFormat::YANG, SchemaPrinterFlags::empty())
            .unwrap_or_default();
        let features: Vec<String> = statements(&text, "feature")
            .into_iter()
            .filter(|f| m.feature_value(f).unwrap_or(false))
            .collect();
        let submodules: Vec<Value> = statements(&text, "include")
            .into_iter()
            .map(|sub| {
                // The newest revision comes first in a module's text.
                let rev = m
                    .get_submodule_latest(&sub)
                    .and_then(|s| {
                        s.print_string(SchemaOutputFormat::YANG, SchemaPrinterFlags::empty())
                            .ok()
                    })
                    .and_then(|t| statements(&t, "revision").into_iter().next());
                json!({
                    "name": sub,
                    "revision": rev.clone().unwrap_or_default(),
                    "schema": module_url(&base, &sub, rev.as_deref()),
                })
            })
            .collect();
        let mut entry = json!({
            "name": name,
            "revision": rev,
            "schema": module_url(&base, &name, m.revision()),
            "namespace": m.namespace(),
            "conformance-type": if m.is_implemented() { "implement" } else { "import" },
        });
        if !features.is_empty() {
            entry["feature"] = json!(features);
        }
        if !submodules.is_empty() {
            entry["submodule"] = json!(submodules);
        }
        modules.push(entry);
    }
    ids.sort();
    json!({"ietf-yang-library:modules-state": {
        "module-set-id": format!("{:x}", sha2_digest(&ids.join(","))),
        "module": modules,
    }})
}

/// The arguments of a module's top-level `keyword` statements (`feature`, `include`), read
/// from the module as libyang prints it (one statement per line).
fn statements(yang: &str, keyword: &str) -> Vec<String> {
    yang.lines()
        .filter_map(|l| {
            l.strip_prefix("  ")?
                .strip_prefix(keyword)?
                .strip_prefix(' ')
        })
        .filter_map(|rest| {
            let arg: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            (!arg.is_empty()).then_some(arg)
        })
        .collect()
}

fn sha2_digest(text: &str) -> u64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(text.as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// `ietf-restconf-monitoring:restconf-state`.
pub fn monitoring(app: &App, headers: &HeaderMap, replay_from_ms: Option<i64>) -> Value {
    let base = base_url(app, headers);
    let mut stream = json!({
        "name": "NETCONF",
        "description": "netconf-config-change notifications (RFC 6470) for every commit of running",
        "replay-support": true,
        "access": [
            {"encoding": "json", "location": format!("{base}/restconf/streams/NETCONF/json")},
            {"encoding": "xml", "location": format!("{base}/restconf/streams/NETCONF/xml")},
        ],
    });
    if let Some(ms) = replay_from_ms {
        stream["replay-log-creation-time"] = json!(date_and_time(ms));
    }
    json!({"ietf-restconf-monitoring:restconf-state": {
        "capabilities": {"capability": [
            "urn:ietf:params:restconf:capability:defaults:1.0?basic-mode=explicit",
            "urn:ietf:params:restconf:capability:depth:1.0",
            "urn:ietf:params:restconf:capability:fields:1.0",
            "urn:ietf:params:restconf:capability:with-defaults:1.0",
            "urn:ietf:params:restconf:capability:replay:1.0",
            "urn:ietf:params:restconf:capability:filter:1.0",
            "urn:ietf:params:restconf:capability:yang-patch:1.0",
        ]},
        "streams": {"stream": [stream]},
    }})
}

/// Serve a synthesized resource (`ietf-yang-library:...`, `ietf-restconf-monitoring:...`)
/// or a path below it.
pub fn synthesized(
    app: &App,
    doc: Value,
    steps: &[&str],
    media: MediaType,
) -> Result<Response, Error> {
    let mut member = steps[0].to_owned();
    let mut value = doc.get(steps[0]).cloned().unwrap_or(Value::Null);
    for step in &steps[1..] {
        if step.contains('=') {
            return Err(Error::NotFound(format!("/{}", steps.join("/"))));
        }
        value = value
            .get(step)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("/{}", steps.join("/"))))?;
        let module = member
            .split_once(':')
            .map(|(m, _)| m)
            .unwrap_or("")
            .to_owned();
        member = format!("{module}:{step}");
    }
    let mut out = serde_json::Map::new();
    out.insert(member, value);
    Ok(respond(app, Value::Object(out), media))
}

/// GET /restconf/yang/<name>[@<revision>].yang
pub fn download(app: &App, file: &str) -> Result<Response, Error> {
    let not_found = || Error::NotFound(format!("/restconf/yang/{file}"));
    let stem = file.strip_suffix(".yang").ok_or_else(not_found)?;
    let (name, revision) = match stem.split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (stem, None),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && !s.starts_with('.')
    };
    if !valid(name) || revision.is_some_and(|r| !valid(r)) {
        return Err(not_found());
    }
    if let Some(m) = netloom_yang::MODULES
        .iter()
        .find(|m| m.name == name && revision.is_none_or(|r| r == m.revision))
    {
        return Ok(([(header::CONTENT_TYPE, "application/yang")], m.text).into_response());
    }
    let ctx = app.schema.context();
    let module = ctx
        .modules(false)
        .find(|m| m.name() == name && revision.is_none_or(|r| m.revision() == Some(r)))
        .ok_or_else(not_found)?;
    let text = module
        .print_string(SchemaOutputFormat::YANG, SchemaPrinterFlags::empty())
        .map_err(|_| not_found())?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/yang")],
        text,
    )
        .into_response())
}
