//! RESTCONF errors and their one mapping to HTTP (RFC 8040 section 7): the status for each
//! error-tag, and the `ietf-restconf:errors` body in the client's encoding.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use netloom_yang::ErrorTag;
use serde_json::{json, Map, Value};

use netloom_yang::Schema;

use super::encode::{xml_escape, MediaType};
use super::error_path;
use crate::api::{ApiError, STALE_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--restconf-plaintext refuses {0}: plaintext HTTP is for loopback addresses only")]
    PlaintextNotLoopback(SocketAddr),
    #[error("binding the RESTCONF listener {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("RESTCONF TLS: {0}")]
    Tls(String),

    /// The engine or the YANG layer refused; `missing_is_404` when the request targeted a
    /// resource that must exist (GET, PATCH, DELETE).
    #[error("{0}")]
    Api(ApiError, bool),
    #[error("authentication required")]
    Unauthenticated,
    #[error("too many failed logins")]
    Throttled(Duration),
    #[error("{0}")]
    Forbidden(String),
    #[error("no resource {0}")]
    NotFound(String),
    #[error("{method} is not allowed on this resource")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("none of the accepted media types is served: {0}")]
    NotAcceptable(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("a precondition failed: {0}")]
    Precondition(String),
}

impl Error {
    pub fn invalid(path: Option<String>, message: impl Into<String>) -> Self {
        Error::Api(
            ApiError {
                path,
                ..ApiError::new(ErrorTag::InvalidValue, message)
            },
            false,
        )
    }

    pub fn missing(path: impl Into<String>) -> Self {
        Error::Api(
            ApiError {
                path: Some(path.into()),
                ..ApiError::new(ErrorTag::DataMissing, "the data does not exist")
            },
            true,
        )
    }

    /// An engine error; a stale conditional write becomes 412.
    pub fn from_api(e: ApiError, missing_is_404: bool) -> Self {
        if e.app_tag.as_deref() == Some(STALE_VERSION) {
            return Error::Precondition(e.message);
        }
        Error::Api(e, missing_is_404)
    }

    pub fn from_yang(e: netloom_yang::Error) -> Self {
        let message = match &e {
            netloom_yang::Error::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Error::Api(
            ApiError {
                tag: e.tag(),
                path: e.error_path().map(str::to_owned),
                message,
                app_tag: None,
            },
            false,
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::PlaintextNotLoopback(_) | Error::Bind { .. } | Error::Tls(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::Api(e, missing_is_404) => status_of(e.tag, *missing_is_404),
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Malformed(_) | Error::BadQuery(_) => StatusCode::BAD_REQUEST,
            Error::Precondition(_) => StatusCode::PRECONDITION_FAILED,
        }
    }

    /// One `error` entry of `ietf-restconf:errors`.
    pub fn entry(&self) -> ErrorEntry {
        let (kind, tag, path, app_tag) = match self {
            Error::Api(e, _) => (
                if e.tag == ErrorTag::MalformedMessage {
                    "protocol"
                } else {
                    "application"
                },
                e.tag.as_str(),
                e.path.clone(),
                e.app_tag.clone(),
            ),
            Error::Unauthenticated | Error::Throttled(_) | Error::Forbidden(_) => {
                ("protocol", "access-denied", None, None)
            }
            Error::NotFound(_) => ("protocol", "invalid-value", None, None),
            Error::MethodNotAllowed { .. } => ("protocol", "operation-not-supported", None, None),
            Error::NotAcceptable(_) | Error::UnsupportedMediaType(_) => {
                ("protocol", "invalid-value", None, None)
            }
            Error::BodyTooLarge(_) => ("transport", "too-big", None, None),
            Error::Malformed(_) => ("protocol", "malformed-message", None, None),
            Error::BadQuery(_) => ("protocol", "invalid-value", None, None),
            Error::Precondition(_) => ("protocol", "operation-failed", None, None),
            Error::PlaintextNotLoopback(_) | Error::Bind { .. } | Error::Tls(_) => {
                ("application", "operation-failed", None, None)
            }
        };
        let message = match self {
            Error::Api(e, _) => e.message.clone(),
            other => other.to_string(),
        };
        ErrorEntry {
            kind,
            tag,
            path,
            message,
            app_tag,
        }
    }

    /// The response in `media` (JSON unless the client asked for XML); with the schema,
    /// error paths are written as instance-identifiers of that encoding.
    pub fn into_response_as(self, media: MediaType, schema: Option<&Schema>) -> Response {
        let status = self.status();
        let body = render(&[self.entry()], media, schema);
        let mut resp =
            (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response();
        let h = resp.headers_mut();
        match &self {
            Error::Unauthenticated => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"netloom\", charset=\"UTF-8\""),
                );
            }
            Error::Throttled(after) => {
                if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            Error::MethodNotAllowed { allow, .. } => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        resp
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.into_response_as(MediaType::Json, None)
    }
}

/// RFC 8040 section 7's table.
fn status_of(tag: ErrorTag, missing_is_404: bool) -> StatusCode {
    match tag {
        ErrorTag::InUse
        | ErrorTag::LockDenied
        | ErrorTag::ResourceDenied
        | ErrorTag::DataExists => StatusCode::CONFLICT,
        ErrorTag::DataMissing if missing_is_404 => StatusCode::NOT_FOUND,
        ErrorTag::DataMissing => StatusCode::CONFLICT,
        ErrorTag::InvalidValue
        | ErrorTag::UnknownElement
        | ErrorTag::MissingElement
        | ErrorTag::BadElement
        | ErrorTag::MalformedMessage => StatusCode::BAD_REQUEST,
        ErrorTag::AccessDenied => StatusCode::FORBIDDEN,
        ErrorTag::OperationNotSupported => StatusCode::NOT_IMPLEMENTED,
        ErrorTag::OperationFailed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// One RFC 8040 `error`.
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    pub kind: &'static str,
    pub tag: &'static str,
    pub path: Option<String>,
    pub message: String,
    pub app_tag: Option<String>,
}

impl ErrorEntry {
    pub fn to_json(&self, schema: Option<&Schema>) -> Value {
        let mut e = Map::new();
        e.insert("error-type".into(), json!(self.kind));
        e.insert("error-tag".into(), json!(self.tag));
        if let Some(a) = &self.app_tag {
            e.insert("error-app-tag".into(), json!(a));
        }
        if let Some(p) = &self.path {
            let p = schema
                .and_then(|s| error_path::json(s, p))
                .unwrap_or_else(|| p.clone());
            e.insert("error-path".into(), json!(p));
        }
        e.insert("error-message".into(), json!(self.message));
        Value::Object(e)
    }

    pub fn to_xml(&self, out: &mut String, schema: Option<&Schema>) {
        out.push_str("<error><error-type>");
        out.push_str(self.kind);
        out.push_str("</error-type><error-tag>");
        out.push_str(self.tag);
        out.push_str("</error-tag>");
        if let Some(a) = &self.app_tag {
            out.push_str(&format!("<error-app-tag>{}</error-app-tag>", xml_escape(a)));
        }
        if let Some(p) = &self.path {
            match schema.and_then(|s| error_path::xml(s, p)) {
                Some(x) => x.write_element(out),
                None => out.push_str(&format!("<error-path>{}</error-path>", xml_escape(p))),
            }
        }
        out.push_str(&format!(
            "<error-message>{}</error-message></error>",
            xml_escape(&self.message)
        ));
    }
}

/// `ietf-restconf:errors` holding `entries`.
pub fn render(entries: &[ErrorEntry], media: MediaType, schema: Option<&Schema>) -> String {
    if media.is_xml() {
        let mut out = String::from("<errors xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">");
        for e in entries {
            e.to_xml(&mut out, schema);
        }
        out.push_str("</errors>");
        out
    } else {
        let errors: Vec<Value> = entries.iter().map(|e| e.to_json(schema)).collect();
        json!({"ietf-restconf:errors": {"error": errors}}).to_string()
    }
}
