//! Data resources: `/restconf/data` and the NMDA datastores of RFC 8527 under
//! `/restconf/ds/ietf-datastores:*`. GET/HEAD read snapshots (streaming large answers);
//! PUT, POST, PATCH and DELETE each become ONE `Request::Edit`, so a write is all or nothing.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use netloom_store::{DatastoreId, Snapshot};
use netloom_yang::{DataPath, Edit, EditOp, NodeKind, Schema, Segment};
use serde_json::Value;

use super::conditional::{self, Validators};
use super::encode::{self, MediaType};
use super::error::Error;
use super::query::{Content, Query, WithDefaults};
use super::tree::{self, Target};
use super::App;
use crate::api::{Principal, Request};

/// Which datastore a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `/restconf/data`: running configuration plus operational state; writes go to running.
    Unified,
    Config(DatastoreId),
    /// `ds/ietf-datastores:operational`: running plus state, read-only.
    Operational,
    /// `ds/ietf-datastores:intended`: running as validated (netloom has nothing inactive).
    Intended,
}

impl View {
    pub fn parse(name: &str) -> Option<View> {
        Some(match name {
            "ietf-datastores:running" => View::Config(DatastoreId::Running),
            "ietf-datastores:candidate" => View::Config(DatastoreId::Candidate),
            "ietf-datastores:startup" => View::Config(DatastoreId::Startup),
            "ietf-datastores:operational" => View::Operational,
            "ietf-datastores:intended" => View::Intended,
            _ => return None,
        })
    }

    fn datastore(self) -> DatastoreId {
        match self {
            View::Config(ds) => ds,
            _ => DatastoreId::Running,
        }
    }

    fn writable(self) -> bool {
        matches!(self, View::Unified | View::Config(_))
    }

    fn has_state(self) -> bool {
        matches!(self, View::Unified | View::Operational)
    }

    pub fn allow(self) -> &'static str {
        if self.writable() {
            "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"
        } else {
            "GET, HEAD, OPTIONS"
        }
    }

    /// The URL prefix of this view's resources.
    pub fn prefix(self) -> String {
        match self {
            View::Unified => "/restconf/data".into(),
            View::Config(ds) => format!("/restconf/ds/ietf-datastores:{ds}"),
            View::Operational => "/restconf/ds/ietf-datastores:operational".into(),
            View::Intended => "/restconf/ds/ietf-datastores:intended".into(),
        }
    }
}

/// One request on a data resource, as the router hands it over.
pub struct DataRequest<'a> {
    pub app: &'a Arc<App>,
    pub who: Principal,
    /// Whether secret nodes (password hashes) are shown.
    pub reader: crate::secrets::Reader,
    pub view: View,
    pub path: &'a str,
    pub query: Query,
    pub headers: &'a HeaderMap,
    pub media: MediaType,
}

pub fn resolve(schema: &Schema, path: &str) -> Result<DataPath, Error> {
    let parsed = DataPath::parse_restconf(path).map_err(Error::from_yang)?;
    schema.resolve(&parsed).map_err(Error::from_yang)
}

fn data_headers(resp: &mut Response, media: MediaType, v: Option<&Validators>) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = v {
        v.apply(h);
    }
}

async fn state_doc(app: &App, who: &Principal) -> Result<Value, Error> {
    // the engine's state with the kernel's interfaces merged in
    app.handle
        .state(who)
        .await
        .map_err(|e| Error::from_api(e, false))
}

/// GET and HEAD.
pub async fn read(r: DataRequest<'_>, head: bool) -> Result<Response, Error> {
    r.query
        .allow_only("GET", &["content", "depth", "fields", "with-defaults"])?;
    let schema = &r.app.schema;
    let path = resolve(schema, r.path)?;
    let snap: Arc<Snapshot> = r
        .app
        .handle
        .snapshots_for(schema, r.reader)
        .get(r.view.datastore())
        .clone();
    let validators =
        (r.view != View::Operational).then(|| Validators::of(r.view.datastore(), &snap));
    if let Some(v) = &validators {
        if conditional::not_modified(r.headers, v)? {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            v.apply(resp.headers_mut());
            return Ok(resp);
        }
    }
    let target = Target::of(schema, &path);
    let content = if r.view.has_state() {
        r.query.content
    } else {
        Content::Config
    };
    let want_config = content != Content::Nonconfig;
    let want_state = content != Content::Config && r.view.has_state();
    let state = match (&target, want_state) {
        (Target::Root | Target::State, true) => Some(state_doc(r.app, &r.who).await?),
        _ => None,
    };
    let xml = r.media.is_xml();

    if target.streams() && !r.query.transforms() {
        let exists = match &target {
            Target::Root => true,
            Target::Container(root) => {
                want_config && tree::container_has_data(schema, &snap.units, *root)
            }
            Target::List(list) => want_config && tree::list_has_data(&snap.units, *list),
            _ => false,
        };
        if !exists {
            return Err(Error::missing(format!("/{}", path.to_restconf())));
        }
        let mut resp = if head {
            Response::new(Body::empty())
        } else {
            stream(
                r.app.schema.clone(),
                snap.clone(),
                target,
                xml,
                want_config,
                state,
            )
        };
        data_headers(&mut resp, r.media, validators.as_ref());
        return Ok(resp);
    }

    // Materialize: `{"member": value}` for the target, then transform.
    let (member, mut value, node) = match &target {
        Target::Root | Target::Container(_) | Target::List(_) => {
            let mut buf = Vec::new();
            tree::write_target(
                schema,
                &snap.units,
                &target,
                false,
                want_config,
                state.as_ref(),
                &mut buf,
            )
            .map_err(|e| Error::Malformed(e.to_string()))?;
            let doc: Value =
                serde_json::from_slice(&buf).map_err(|e| Error::Malformed(e.to_string()))?;
            let Value::Object(map) = doc else {
                return Err(Error::missing("/"));
            };
            let Some((member, value)) = map.into_iter().next() else {
                return Err(Error::missing(format!("/{}", path.to_restconf())));
            };
            let empty = value.as_object().is_some_and(|m| m.is_empty())
                || value.as_array().is_some_and(Vec::is_empty);
            if empty && !matches!(target, Target::Root) {
                return Err(Error::missing(format!("/{}", path.to_restconf())));
            }
            (member, value, path.segments.last().and_then(|s| s.node))
        }
        Target::Inner { unit, steps } => {
            let found = want_config
                .then(|| tree::unit_value(&snap.units, unit))
                .flatten()
                .and_then(|v| {
                    let entry_unit = schema.unit(unit.list).list_node().is_some();
                    tree::dig(schema, v, steps, entry_unit)
                });
            let value = match found {
                Some(v) => v,
                // A node made only of defaults exists for report-all (RFC 6243 section
                // 3.1): start from nothing and let the defaults fill it.
                None if want_config
                    && matches!(
                        r.query.with_defaults,
                        WithDefaults::ReportAll | WithDefaults::ReportAllTagged
                    ) =>
                {
                    match super::defaults::reference(schema, &snap.units, &target) {
                        Some(Value::Object(_)) => Value::Object(Default::default()),
                        Some(leaf) => leaf,
                        None => return Err(Error::missing(format!("/{}", path.to_restconf()))),
                    }
                }
                None => return Err(Error::missing(format!("/{}", path.to_restconf()))),
            };
            let node = path.segments.last().and_then(|s| s.node);
            (
                node.map(|n| tree::qualified(schema, n)).unwrap_or_default(),
                value,
                node,
            )
        }
        Target::State => {
            let doc = state.unwrap_or(Value::Null);
            let mut steps = path.segments.clone();
            let first = steps.remove(0);
            let root = first
                .node
                .map(|n| tree::qualified(schema, n))
                .unwrap_or_default();
            let found = doc.get(&root).cloned().and_then(|v| {
                if steps.is_empty() {
                    Some(v)
                } else {
                    tree::dig(schema, v, &steps, false)
                }
            });
            let value = found.ok_or_else(|| Error::missing(format!("/{}", path.to_restconf())))?;
            let node = path.segments.last().and_then(|s| s.node);
            (
                node.map(|n| tree::qualified(schema, n)).unwrap_or_default(),
                value,
                node,
            )
        }
    };
    let node = if matches!(target, Target::Root) {
        None
    } else {
        node
    };
    let mode = r.query.with_defaults;
    if mode != WithDefaults::Explicit {
        let reference = matches!(
            mode,
            WithDefaults::ReportAll | WithDefaults::ReportAllTagged
        )
        .then(|| super::defaults::reference(schema, &snap.units, &target))
        .flatten();
        super::defaults::apply_defaults(schema, node, &mut value, mode, reference.as_ref());
    }
    if let Some(f) = &r.query.fields {
        tree::select_fields(schema, node, &mut value, f);
    }
    if let Some(d) = r.query.depth {
        match &mut value {
            Value::Array(items) => items.iter_mut().for_each(|i| tree::prune_depth(i, 1, d)),
            other => tree::prune_depth(other, 1, d),
        }
    }
    let mut doc = serde_json::Map::new();
    doc.insert(member, value);
    let doc = Value::Object(doc);
    let body = if xml {
        let mut out = String::new();
        encode::XmlWriter::new(schema).document(&mut out, &doc);
        out
    } else {
        doc.to_string()
    };
    let mut resp = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    data_headers(&mut resp, r.media, validators.as_ref());
    Ok(resp)
}

/// Stream a large target from the snapshot's unit texts on a blocking thread, through a
/// small channel: memory stays at a few chunks however large the answer.
fn stream(
    schema: Arc<Schema>,
    snap: Arc<Snapshot>,
    target: Target,
    xml: bool,
    config: bool,
    state: Option<Value>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut sink = ChunkSink {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let done = tree::write_target(
            &schema,
            &snap.units,
            &target,
            xml,
            config,
            state.as_ref(),
            &mut sink,
        )
        .and_then(|_| sink.flush_chunk());
        if let Err(e) = done {
            tracing::debug!(error = %e, "streaming a read stopped");
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    Response::new(Body::from_stream(body))
}

const CHUNK: usize = 64 << 10;

struct ChunkSink {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChunkSink {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        // The client went away: stop writing.
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The request body as UTF-8 text, at most `max` bytes.
pub async fn body_text(body: Body, headers: &HeaderMap, max: usize) -> Result<String, Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Error::BodyTooLarge(max));
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| Error::BodyTooLarge(max))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::Malformed("the body is not UTF-8".into()))
}

/// The value of the target node from a PUT/PATCH body: `{"module:name": value}` in JSON, or
/// the node's element in XML (`<data>` for the datastore root).
pub fn target_value(
    schema: &Schema,
    path: &DataPath,
    media: MediaType,
    body: &str,
) -> Result<Value, Error> {
    let Some(last) = path.segments.last() else {
        return root_value(schema, media, body);
    };
    let node = last
        .node
        .ok_or_else(|| Error::invalid(None, "unresolved path"))?;
    let info = schema.node(node);
    let (member, value) = match media {
        MediaType::Json => single_member(body)?,
        MediaType::Xml => {
            let parent = DataPath {
                segments: path.segments[..path.segments.len() - 1].to_vec(),
            };
            encode::xml_child_of(schema, &parent, body)?
        }
        _ => return Err(Error::UnsupportedMediaType(media.content_type().into())),
    };
    let (module, name) = match member.split_once(':') {
        Some((m, n)) => (Some(m), n),
        None => (None, member.as_str()),
    };
    if name != info.name || module.is_some_and(|m| m != info.module) {
        return Err(Error::invalid(
            Some(format!("/{}", path.to_restconf())),
            format!(
                "the body holds '{member}', the target is '{}:{}'",
                info.module, info.name
            ),
        ));
    }
    Ok(value)
}

fn root_value(schema: &Schema, media: MediaType, body: &str) -> Result<Value, Error> {
    match media {
        MediaType::Json => {
            let (member, value) = single_member(body)?;
            if member != "ietf-restconf:data" {
                return Err(Error::invalid(
                    None,
                    "a datastore body is {\"ietf-restconf:data\": {...}}",
                ));
            }
            Ok(value)
        }
        MediaType::Xml => {
            let root = encode::xml_root(body)?;
            if root.name != "data"
                || root.namespace.as_deref() != Some("urn:ietf:params:xml:ns:yang:ietf-restconf")
            {
                return Err(Error::invalid(None, "a datastore body is <data xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">"));
            }
            let inner = &body[root.inner];
            if inner.trim().is_empty() {
                return Ok(Value::Object(Default::default()));
            }
            let json = schema
                .convert(
                    inner,
                    netloom_yang::Encoding::Xml,
                    netloom_yang::Encoding::Json,
                )
                .map_err(Error::from_yang)?;
            serde_json::from_str(&json).map_err(|e| Error::Malformed(e.to_string()))
        }
        _ => Err(Error::UnsupportedMediaType(media.content_type().into())),
    }
}

pub fn parse_json(body: &str) -> Result<Value, Error> {
    serde_json::from_str(body).map_err(|e| Error::Malformed(format!("malformed JSON: {e}")))
}

fn single_member(body: &str) -> Result<(String, Value), Error> {
    match parse_json(body)? {
        Value::Object(map) if map.len() == 1 => Ok(map.into_iter().next().unwrap_or_default()),
        _ => Err(Error::invalid(
            None,
            "the body must be an object with exactly one member",
        )),
    }
}

/// Whether the target exists in the snapshot (for 201/204, If-Match: *, PATCH).
pub fn exists(schema: &Schema, units: &netloom_yang::UnitMap, path: &DataPath) -> bool {
    match Target::of(schema, path) {
        Target::Root => true,
        Target::Container(r) => tree::container_has_data(schema, units, r),
        Target::List(l) => tree::list_has_data(units, l),
        Target::Inner { unit, steps } => {
            let entry_unit = schema.unit(unit.list).list_node().is_some();
            tree::unit_value(units, &unit)
                .and_then(|v| tree::dig(schema, v, &steps, entry_unit))
                .is_some()
        }
        Target::State => false,
    }
}

/// Send one edit (guarded by the preconditions) and answer its status.
async fn write(
    r: &DataRequest<'_>,
    edits: Vec<Edit>,
    guard: Option<u64>,
    missing_is_404: bool,
) -> Result<(), Error> {
    let ds = r.view.datastore();
    let mut request = Request::Edit {
        datastore: ds,
        edits,
        comment: None,
    };
    if let Some(version) = guard {
        request = Request::IfVersion {
            datastore: ds,
            version,
            request: Box::new(request),
        };
    }
    r.app
        .handle
        .call(&r.who, request)
        .await
        .map(|_| ())
        .map_err(|e| Error::from_api(e, missing_is_404))
}

fn written(status: StatusCode, app: &App, view: View, location: Option<String>) -> Response {
    let mut resp = status.into_response();
    let snap = app.handle.snapshots().get(view.datastore()).clone();
    Validators::of(view.datastore(), &snap).apply(resp.headers_mut());
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    resp
}

fn check_writable(r: &DataRequest<'_>, method: &Method) -> Result<(), Error> {
    if !r.view.writable() {
        return Err(Error::MethodNotAllowed {
            method: method.to_string(),
            allow: r.view.allow(),
        });
    }
    Ok(())
}

fn preconditions(r: &DataRequest<'_>, path: &DataPath) -> Result<(bool, Option<u64>), Error> {
    let snap = r.app.handle.snapshots().get(r.view.datastore()).clone();
    let exists = exists(&r.app.schema, &snap.units, path);
    let v = Validators::of(r.view.datastore(), &snap);
    Ok((exists, conditional::check_write(r.headers, &v, exists)?))
}

/// PUT: create or replace the target.
pub async fn put(r: DataRequest<'_>, body: &str) -> Result<Response, Error> {
    check_writable(&r, &Method::PUT)?;
    r.query.allow_only("PUT", &["insert", "point"])?;
    let schema = &r.app.schema;
    let path = resolve(schema, r.path)?;
    let media = encode::content_type(r.headers)?;
    let value = target_value(schema, &path, media, body)?;
    let (existed, guard) = preconditions(&r, &path)?;
    if let Some(edit) = super::patch::ordered_insert(&r, &path, &value, super::ordered::Mode::Put)?
    {
        // The order was computed from this snapshot: guard against a commit in between.
        let g = guard.or(Some(
            r.app.handle.snapshots().get(r.view.datastore()).version,
        ));
        write(&r, vec![edit], g, false).await?;
        return Ok(written(
            if existed {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::CREATED
            },
            r.app,
            r.view,
            None,
        ));
    }
    write(
        &r,
        vec![Edit {
            op: EditOp::Replace,
            path,
            value: Some(value),
        }],
        guard,
        false,
    )
    .await?;
    Ok(written(
        if existed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::CREATED
        },
        r.app,
        r.view,
        None,
    ))
}

/// POST on a data resource: create the child in the body.
pub async fn create(r: DataRequest<'_>, body: &str) -> Result<Response, Error> {
    check_writable(&r, &Method::POST)?;
    r.query.allow_only("POST", &["insert", "point"])?;
    let schema = &r.app.schema;
    let parent = resolve(schema, r.path)?;
    let media = encode::content_type(r.headers)?;
    let (member, value) = match media {
        MediaType::Json => single_member(body)?,
        MediaType::Xml => encode::xml_child_of(schema, &parent, body)?,
        _ => return Err(Error::UnsupportedMediaType(media.content_type().into())),
    };
    let (module, name) = match member.split_once(':') {
        Some((m, n)) => (Some(m.to_owned()), n.to_owned()),
        None => (None, member.clone()),
    };
    let parent_node = parent.segments.last().and_then(|s| s.node);
    let child = match parent_node {
        None => module.as_deref().and_then(|m| schema.root(m, &name)),
        Some(p) => schema.child(p, module.as_deref(), &name),
    }
    .ok_or_else(|| {
        Error::Api(
            crate::api::ApiError {
                path: Some(format!("/{}", parent.to_restconf())),
                ..crate::api::ApiError::new(
                    netloom_yang::ErrorTag::UnknownElement,
                    format!("no child '{member}' here"),
                )
            },
            false,
        )
    })?;
    let info = schema.node(child);
    let mut seg = Segment {
        module: Some(info.module.clone()),
        name: info.name.clone(),
        keys: Vec::new(),
        value: None,
        node: None,
    };
    match info.kind {
        NodeKind::List => {
            let entry = match &value {
                Value::Array(a) if a.len() == 1 => &a[0],
                Value::Array(_) => return Err(Error::invalid(None, "POST creates one list entry")),
                other => other,
            };
            for k in &info.keys {
                let v = entry.get(k).and_then(tree::scalar).ok_or_else(|| {
                    Error::Api(
                        crate::api::ApiError::new(
                            netloom_yang::ErrorTag::MissingElement,
                            format!("the entry has no key '{k}'"),
                        ),
                        false,
                    )
                })?;
                seg.keys.push((k.clone(), v));
            }
        }
        NodeKind::LeafList => {
            let v = match &value {
                Value::Array(a) if a.len() == 1 => tree::scalar(&a[0]),
                other => tree::scalar(other),
            };
            seg.value =
                Some(v.ok_or_else(|| Error::invalid(None, "POST creates one leaf-list entry"))?);
        }
        _ => {}
    }
    let mut child_path = parent.clone();
    child_path.segments.push(seg);
    let child_path = schema.resolve(&child_path).map_err(Error::from_yang)?;
    let (_, guard) = preconditions(&r, &parent)?;
    let location = format!("{}/{}", r.view.prefix(), child_path.to_restconf());
    let (edits, guard) = match super::patch::ordered_insert(
        &r,
        &child_path,
        &value,
        super::ordered::Mode::Create,
    )? {
        // The order was computed from this snapshot: guard against a commit in between.
        Some(edit) => (
            vec![edit],
            guard.or(Some(
                r.app.handle.snapshots().get(r.view.datastore()).version,
            )),
        ),
        None => (
            vec![Edit {
                op: EditOp::Create,
                path: child_path,
                value: Some(value),
            }],
            guard,
        ),
    };
    write(&r, edits, guard, false).await?;
    Ok(written(StatusCode::CREATED, r.app, r.view, Some(location)))
}

/// PATCH with a plain body: merge into the existing target.
pub async fn merge(r: DataRequest<'_>, body: &str) -> Result<Response, Error> {
    check_writable(&r, &Method::PATCH)?;
    r.query.allow_only("PATCH", &[])?;
    let schema = &r.app.schema;
    let path = resolve(schema, r.path)?;
    let media = encode::content_type(r.headers)?;
    let value = target_value(schema, &path, media, body)?;
    let (existed, guard) = preconditions(&r, &path)?;
    if !existed {
        return Err(Error::missing(format!("/{}", path.to_restconf())));
    }
    write(
        &r,
        vec![Edit {
            op: EditOp::Merge,
            path,
            value: Some(value),
        }],
        guard,
        true,
    )
    .await?;
    Ok(written(StatusCode::NO_CONTENT, r.app, r.view, None))
}

/// DELETE the target.
pub async fn delete(r: DataRequest<'_>) -> Result<Response, Error> {
    check_writable(&r, &Method::DELETE)?;
    r.query.allow_only("DELETE", &[])?;
    let path = resolve(&r.app.schema, r.path)?;
    let (_, guard) = preconditions(&r, &path)?;
    write(
        &r,
        vec![Edit {
            op: EditOp::Delete,
            path,
            value: None,
        }],
        guard,
        true,
    )
    .await?;
    Ok(written(StatusCode::NO_CONTENT, r.app, r.view, None))
}
