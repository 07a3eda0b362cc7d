//! `/restconf/operations`: netloom's RPCs (`commit`, `cancel-commit`, `rollback` of module
//! netloom-host) invoked with POST, input as `{"netloom-host:input": {...}}` or
//! `<input xmlns=...>`, output as `{"netloom-host:output": {...}}`.
//!
//! A RESTCONF request may arrive on any connection, so a confirmed commit must carry
//! `persist`: otherwise it would be rolled back as soon as the connection that made it
//! closed (the session ends with it).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::encode::{self, MediaType};
use super::error::Error;
use super::App;
use crate::api::{Confirmed, Principal, Reply, Request};

const MODULE: &str = "netloom-host";
pub const OPERATIONS: &[&str] = &["commit", "cancel-commit", "rollback"];

/// GET /restconf/operations.
pub fn list(app: &App, media: MediaType) -> Response {
    let body = if media.is_xml() {
        let ns = encode::namespace_of(&app.schema, MODULE).unwrap_or_default();
        let mut out =
            String::from("<operations xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">");
        for op in OPERATIONS {
            out.push_str(&format!(
                "<{op} xmlns=\"{ns}\">/restconf/operations/{MODULE}:{op}</{op}>"
            ));
        }
        out.push_str("</operations>");
        out
    } else {
        let ops: Map<String, Value> = OPERATIONS
            .iter()
            .map(|o| (format!("{MODULE}:{o}"), json!([null])))
            .collect();
        json!({"ietf-restconf:operations": ops}).to_string()
    };
    ([(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// The input leaves, by name, from a JSON or XML body (absent body: no input).
fn input(media: Option<MediaType>, body: &str) -> Result<Map<String, Value>, Error> {
    if body.trim().is_empty() {
        return Ok(Map::new());
    }
    match media {
        Some(MediaType::Json) => match super::data::parse_json(body)? {
            Value::Object(mut m) => match m.remove(&format!("{MODULE}:input")) {
                Some(Value::Object(i)) if m.is_empty() => Ok(i),
                _ => Err(Error::invalid(
                    None,
                    format!("the body must be {{\"{MODULE}:input\": {{...}}}}"),
                )),
            },
            _ => Err(Error::invalid(None, "the body must be an object")),
        },
        Some(MediaType::Xml) => xml_input(body),
        Some(other) => Err(Error::UnsupportedMediaType(other.content_type().into())),
        None => Err(Error::UnsupportedMediaType("no Content-Type".into())),
    }
}

/// `<input><leaf>text</leaf>...</input>`: the inputs are flat leaves.
fn xml_input(body: &str) -> Result<Map<String, Value>, Error> {
    use quick_xml::events::Event;
    let root = encode::xml_root(body)?;
    if root.name != "input" {
        return Err(Error::invalid(None, "the body must be an <input> element"));
    }
    let mut out = Map::new();
    let mut reader = quick_xml::Reader::from_str(&body[root.inner]);
    let mut current: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| Error::Malformed(format!("malformed XML: {e}")))?
        {
            Event::Start(s) => {
                if current.is_some() {
                    return Err(Error::invalid(None, "operation inputs are leaves"));
                }
                let name = s.local_name().as_ref().to_owned();
                out.insert(name.clone(), json!(""));
                current = Some(name);
            }
            Event::Empty(s) => {
                let name = s.local_name().as_ref().to_owned();
                out.insert(name, json!([null]));
            }
            Event::Text(t) if current.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if current.is_some() => text.push_str(&t.xml10_content()),
            // Entity and character references arrive apart from the text around them.
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        let name: &str = r.as_ref();
                        crate::netconf::xml::predefined(name).ok_or_else(|| {
                            Error::Malformed(format!("undeclared entity '&{name};'"))
                        })?
                    }
                    Err(e) => {
                        return Err(Error::Malformed(format!("bad character reference: {e}")))
                    }
                };
                text.push(c);
            }
            Event::End(_) => {
                if let Some(c) = current.take() {
                    out.insert(c, json!(text.trim()));
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn text(input: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match input.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Error::invalid(
            Some(format!("/{MODULE}:input/{name}")),
            format!("'{name}' is not a value"),
        )),
    }
}

fn number<T: std::str::FromStr>(
    input: &Map<String, Value>,
    name: &str,
) -> Result<Option<T>, Error> {
    text(input, name)?
        .map(|t| {
            t.parse::<T>().map_err(|_| {
                Error::invalid(
                    Some(format!("/{MODULE}:input/{name}")),
                    format!("'{t}' is not a valid {name}"),
                )
            })
        })
        .transpose()
}

/// POST /restconf/operations/netloom-host:<op>.
pub async fn invoke(
    app: &App,
    who: &Principal,
    op: &str,
    content: Option<MediaType>,
    body: &str,
    media: MediaType,
) -> Result<Response, Error> {
    let name = op
        .strip_prefix(&format!("{MODULE}:"))
        .filter(|n| OPERATIONS.contains(n))
        .ok_or_else(|| Error::NotFound(format!("/restconf/operations/{op}")))?;
    let input = input(content, body)?;
    let known: &[&str] = match name {
        "commit" => &[
            "comment",
            "confirmed",
            "confirm-timeout",
            "persist",
            "persist-id",
        ],
        "cancel-commit" => &["persist-id"],
        _ => &["id", "comment"],
    };
    if let Some(k) = input.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::Api(
            crate::api::ApiError {
                path: Some(format!("/{MODULE}:{name}/input/{k}")),
                ..crate::api::ApiError::new(
                    netloom_yang::ErrorTag::UnknownElement,
                    format!("'{name}' has no input '{k}'"),
                )
            },
            false,
        ));
    }
    let request = match name {
        "commit" => {
            let confirmed = if input.contains_key("confirmed") {
                let persist = text(&input, "persist")?;
                if persist.is_none() {
                    return Err(Error::invalid(
                        Some(format!("/{MODULE}:commit/input/persist")),
                        "over RESTCONF a confirmed commit needs 'persist': the connection that made it may close at any time",
                    ));
                }
                let timeout_secs = number::<u32>(&input, "confirm-timeout")?.unwrap_or(600);
                if timeout_secs == 0 {
                    return Err(Error::invalid(None, "confirm-timeout must be at least 1"));
                }
                Some(Confirmed {
                    timeout_secs,
                    persist,
                })
            } else {
                None
            };
            Request::Commit {
                comment: text(&input, "comment")?,
                confirmed,
                persist_id: text(&input, "persist-id")?,
            }
        }
        "cancel-commit" => Request::CancelCommit {
            persist_id: text(&input, "persist-id")?,
        },
        _ => Request::Rollback {
            id: number::<u64>(&input, "id")?.ok_or_else(|| {
                Error::Api(
                    crate::api::ApiError::new(
                        netloom_yang::ErrorTag::MissingElement,
                        "rollback needs 'id'",
                    ),
                    false,
                )
            })?,
            comment: text(&input, "comment")?,
        },
    };
    let reply = app
        .handle
        .call(who, request)
        .await
        .map_err(|e| Error::from_api(e, false))?;
    let id = match reply {
        Reply::Committed { id } | Reply::Unchanged { id } if name != "cancel-commit" => id,
        _ => return Ok(StatusCode::NO_CONTENT.into_response()),
    };
    let body = if media.is_xml() {
        let ns = encode::namespace_of(&app.schema, MODULE).unwrap_or_default();
        format!("<output xmlns=\"{ns}\"><id>{id}</id></output>")
    } else {
        // uint64 is a string in RFC 7951 JSON.
        json!({format!("{MODULE}:output"): {"id": id.to_string()}}).to_string()
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    Ok(resp)
}
