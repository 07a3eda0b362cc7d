//! Dispatch. Paths are routed here from the raw request URI (RESTCONF keys are
//! percent-encoded and must stay so until the path parser splits them), the caller is
//! authenticated, the answer's media type negotiated, and every error rendered once in that
//! media type.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::data::{self, DataRequest, View};
use super::encode::{self, MediaType};
use super::error::Error;
use super::query::Query;
use super::{access, events, library, operations, patch, App, Connection};

pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(dispatch).with_state(app)
}

const ACCEPT_PATCH: &str = "application/yang-data+json, application/yang-data+xml, application/yang-patch+json, application/yang-patch+xml";

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().clone();
    let uri_path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let media = encode::negotiate(req.headers()).unwrap_or(MediaType::Json);
    let resp = match handle(&app, req).await {
        Ok(r) => r,
        Err(e) => {
            if e.status().is_server_error() {
                tracing::warn!(%method, path = %uri_path, error = %e, "request failed");
            }
            e.into_response_as(media, Some(&app.schema))
        }
    };
    tracing::debug!(%method, path = %uri_path, status = resp.status().as_u16(), us = started.elapsed().as_micros() as u64, "request");
    resp
}

fn method_not_allowed(method: &Method, allow: &'static str) -> Error {
    Error::MethodNotAllowed {
        method: method.to_string(),
        allow,
    }
}

fn options(allow: &'static str, patch: bool) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    if patch {
        resp.headers_mut()
            .insert("accept-patch", HeaderValue::from_static(ACCEPT_PATCH));
    }
    resp
}

async fn handle(app: &Arc<App>, req: Request) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    if path == "/.well-known/host-meta" {
        return match method {
            Method::GET | Method::HEAD => Ok(library::host_meta()),
            Method::OPTIONS => Ok(options("GET, HEAD, OPTIONS", false)),
            _ => Err(method_not_allowed(&method, "GET, HEAD, OPTIONS")),
        };
    }
    let Some(rest) = path.strip_prefix("/restconf") else {
        return Err(Error::NotFound(path));
    };
    let conn = parts
        .extensions
        .get::<Connection>()
        .cloned()
        .ok_or_else(|| Error::Malformed("no connection".into()))?;
    let identity = access::authenticate(&app.auth, conn.peer, &parts.headers).await?;
    let who = conn.principal(&identity.user);
    let media = encode::negotiate(&parts.headers)?;
    let query = Query::parse(parts.uri.query())?;
    let head = method == Method::HEAD;
    let read_only = "GET, HEAD, OPTIONS";

    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest == "/yang-library-version" {
        return match method {
            Method::GET | Method::HEAD if rest.is_empty() => Ok(library::root(app, media)),
            Method::GET | Method::HEAD => Ok(library::library_version(app, media)),
            Method::OPTIONS => Ok(options(read_only, false)),
            _ => Err(method_not_allowed(&method, read_only)),
        };
    }
    if let Some(op) = rest.strip_prefix("/operations") {
        let allow = if op.is_empty() {
            read_only
        } else {
            "OPTIONS, POST"
        };
        return match (&method, op.strip_prefix('/')) {
            (&Method::OPTIONS, _) => Ok(options(allow, false)),
            (&Method::GET | &Method::HEAD, None) => Ok(operations::list(app, media)),
            (&Method::POST, Some(op)) => {
                access::require_write(&identity)?;
                let content = if parts.headers.contains_key(header::CONTENT_TYPE) {
                    Some(encode::content_type(&parts.headers)?)
                } else {
                    None
                };
                let text = data::body_text(body, &parts.headers, app.max_body).await?;
                operations::invoke(app, &who, op, content, &text, media).await
            }
            _ => Err(method_not_allowed(&method, allow)),
        };
    }
    if let Some(file) = rest.strip_prefix("/yang/") {
        return match method {
            Method::GET | Method::HEAD => library::download(app, file),
            Method::OPTIONS => Ok(options(read_only, false)),
            _ => Err(method_not_allowed(&method, read_only)),
        };
    }
    if let Some(stream) = rest.strip_prefix("/streams/") {
        let xml = match stream {
            // The bare stream speaks what Accept asks for.
            "NETCONF" => media.is_xml(),
            "NETCONF/json" => false,
            "NETCONF/xml" => true,
            _ => return Err(Error::NotFound(path)),
        };
        return match method {
            Method::GET => events::stream(app.clone(), who, query, xml).await,
            Method::OPTIONS => Ok(options("GET, OPTIONS", false)),
            _ => Err(method_not_allowed(&method, "GET, OPTIONS")),
        };
    }
    let (view, data_path) = if let Some(p) = rest.strip_prefix("/data") {
        if !p.is_empty() && !p.starts_with('/') {
            return Err(Error::NotFound(path));
        }
        (View::Unified, p)
    } else if let Some(p) = rest.strip_prefix("/ds/") {
        let (name, p) = match p.find('/') {
            Some(i) => (&p[..i], &p[i..]),
            None => (p, ""),
        };
        let name = percent_encoding::percent_decode_str(name)
            .decode_utf8_lossy()
            .into_owned();
        (
            View::parse(&name).ok_or_else(|| Error::NotFound(path.clone()))?,
            p,
        )
    } else {
        return Err(Error::NotFound(path));
    };
    let data_path = data_path.trim_start_matches('/');

    // Synthesized read-only resources of the IETF modules netloom implements.
    let steps: Vec<&str> = data_path.split('/').collect();
    let synthesized = match steps[0] {
        "ietf-yang-library:yang-library" => Some(library::yang_library(app, &parts.headers)),
        "ietf-yang-library:modules-state" => Some(library::modules_state(app, &parts.headers)),
        "ietf-restconf-monitoring:restconf-state" => {
            let oldest = match app
                .handle
                .call(
                    &who,
                    crate::api::Request::Commits {
                        limit: 100_000,
                        with_diff: false,
                    },
                )
                .await
            {
                Ok(crate::api::Reply::Commits(c)) => c.last().map(|c| c.time_ms),
                _ => None,
            };
            Some(library::monitoring(app, &parts.headers, oldest))
        }
        _ => None,
    };
    if let Some(doc) = synthesized {
        return match method {
            Method::GET | Method::HEAD => library::synthesized(app, doc, &steps, media),
            Method::OPTIONS => Ok(options(read_only, false)),
            _ => Err(method_not_allowed(&method, read_only)),
        };
    }

    let r = DataRequest {
        app,
        who,
        reader: identity.reader(),
        view,
        path: data_path,
        query,
        headers: &parts.headers,
        media,
    };
    match method {
        Method::GET => data::read(r, false).await,
        Method::HEAD => data::read(r, head).await,
        Method::OPTIONS => Ok(options(view.allow(), view.allow().contains("PATCH"))),
        Method::PUT | Method::POST | Method::PATCH | Method::DELETE => {
            access::require_write(&identity)?;
            if method == Method::DELETE {
                return data::delete(r).await;
            }
            let text = data::body_text(body, &parts.headers, app.max_body).await?;
            match method {
                Method::PUT => data::put(r, &text).await,
                Method::POST => data::create(r, &text).await,
                _ => match encode::content_type(&parts.headers)? {
                    m @ (MediaType::PatchJson | MediaType::PatchXml) => {
                        patch::yang_patch(r, m, &text).await
                    }
                    _ => data::merge(r, &text).await,
                },
            }
        }
        _ => Err(method_not_allowed(&method, view.allow())),
    }
}
