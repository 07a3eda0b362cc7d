//! `<rpc-error>` (RFC 6241 section 4.3 and appendix A): the one place NETCONF errors are made
//! and where the request API's errors are mapped to error-type, error-tag and error-info.

use std::fmt::Write as _;

use netloom_yang::ErrorTag;

use super::xml::{escape, NS_BASE};
use crate::api::ApiError;

/// The layer an error belongs to (RFC 6241 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Rpc,
    Protocol,
    Application,
}

impl Layer {
    fn as_str(self) -> &'static str {
        match self {
            Layer::Rpc => "rpc",
            Layer::Protocol => "protocol",
            Layer::Application => "application",
        }
    }
}

/// One `<rpc-error>`; always of severity error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tag}: {message}")]
pub struct RpcError {
    pub layer: Layer,
    /// An error-tag of RFC 6241 appendix A.
    pub tag: &'static str,
    pub app_tag: Option<String>,
    /// An instance-identifier of the data the error is about.
    pub path: Option<String>,
    pub message: String,
    /// error-info children (base namespace): bad-element, bad-attribute, session-id, ...
    pub info: Vec<(&'static str, String)>,
}

impl RpcError {
    pub fn new(layer: Layer, tag: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            layer,
            tag,
            app_tag: None,
            path: None,
            message: message.into(),
            info: Vec::new(),
        }
    }

    pub fn with_info(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.info.push((name, value.into()));
        self
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Rpc, "malformed-message", message)
    }

    pub fn too_big(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Rpc, "too-big", message)
    }

    /// A required parameter (element) is missing.
    pub fn missing_element(element: &str) -> Self {
        RpcError::new(
            Layer::Protocol,
            "missing-element",
            format!("the parameter <{element}> is missing"),
        )
        .with_info("bad-element", element)
    }

    pub fn bad_element(element: &str, message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "bad-element", message).with_info("bad-element", element)
    }

    pub fn unknown_element(element: &str, message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "unknown-element", message).with_info("bad-element", element)
    }

    pub fn unknown_namespace(element: &str, ns: &str) -> Self {
        RpcError::new(
            Layer::Protocol,
            "unknown-namespace",
            format!("the namespace '{ns}' of <{element}> is not known here"),
        )
        .with_info("bad-element", element)
        .with_info("bad-namespace", ns)
    }

    pub fn bad_attribute(attribute: &str, element: &str, message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "bad-attribute", message)
            .with_info("bad-attribute", attribute)
            .with_info("bad-element", element)
    }

    pub fn missing_attribute(attribute: &str, element: &str) -> Self {
        RpcError::new(
            Layer::Rpc,
            "missing-attribute",
            format!("<{element}> needs the attribute '{attribute}'"),
        )
        .with_info("bad-attribute", attribute)
        .with_info("bad-element", element)
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "operation-not-supported", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "access-denied", message)
    }

    pub fn invalid_value(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Protocol, "invalid-value", message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        RpcError::new(Layer::Application, "operation-failed", message)
    }

    /// Append the `<rpc-error>` element.
    pub fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "<rpc-error><error-type>{}</error-type><error-tag>{}</error-tag>\
             <error-severity>error</error-severity>",
            self.layer.as_str(),
            self.tag
        );
        if let Some(t) = &self.app_tag {
            let _ = write!(out, "<error-app-tag>{}</error-app-tag>", escape(t));
        }
        if let Some(p) = &self.path {
            let _ = write!(out, "<error-path>{}</error-path>", escape(p));
        }
        if !self.message.is_empty() {
            let _ = write!(
                out,
                "<error-message xml:lang=\"en\">{}</error-message>",
                escape(&self.message)
            );
        }
        if !self.info.is_empty() {
            out.push_str("<error-info>");
            for (name, value) in &self.info {
                let _ = write!(out, "<{name}>{}</{name}>", escape(value));
            }
            out.push_str("</error-info>");
        }
        out.push_str("</rpc-error>");
    }

    /// An `<rpc-reply>` carrying this error; `attrs` are the request's attributes, echoed.
    pub fn reply(&self, attrs: &str) -> String {
        let mut out = format!("<rpc-reply xmlns=\"{NS_BASE}\"{attrs}>");
        self.write(&mut out);
        out.push_str("</rpc-reply>");
        out
    }
}

/// The holder's session id in a lock-denied message ("... locked by session N (user)").
fn holder_session(message: &str) -> Option<String> {
    let rest = message.split("locked by session ").nth(1)?;
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

impl From<ApiError> for RpcError {
    fn from(e: ApiError) -> Self {
        let (layer, tag) = match e.tag {
            ErrorTag::InvalidValue => (Layer::Application, "invalid-value"),
            ErrorTag::UnknownElement => (Layer::Application, "unknown-element"),
            ErrorTag::MissingElement => (Layer::Application, "missing-element"),
            ErrorTag::DataExists => (Layer::Application, "data-exists"),
            ErrorTag::DataMissing => (Layer::Application, "data-missing"),
            ErrorTag::MalformedMessage => (Layer::Rpc, "malformed-message"),
            ErrorTag::OperationFailed => (Layer::Application, "operation-failed"),
            ErrorTag::OperationNotSupported => (Layer::Application, "operation-not-supported"),
            ErrorTag::InUse => (Layer::Protocol, "in-use"),
            ErrorTag::LockDenied => (Layer::Protocol, "lock-denied"),
            ErrorTag::AccessDenied => (Layer::Protocol, "access-denied"),
            ErrorTag::ResourceDenied => (Layer::Application, "resource-denied"),
            ErrorTag::BadElement => (Layer::Application, "bad-element"),
        };
        let mut out = RpcError::new(layer, tag, e.message.clone());
        out.app_tag = e.app_tag;
        out.path = e.path.filter(|p| !p.is_empty() && p != "/");
        match e.tag {
            // RFC 6241 appendix A: lock-denied carries the holder's session (0 if not a
            // NETCONF session).
            ErrorTag::LockDenied => {
                out = out.with_info(
                    "session-id",
                    holder_session(&e.message).unwrap_or_else(|| "0".into()),
                );
            }
            ErrorTag::UnknownElement | ErrorTag::MissingElement | ErrorTag::BadElement => {
                let element = out
                    .path
                    .as_deref()
                    .and_then(|p| p.rsplit('/').next())
                    .map(|s| s.split('[').next().unwrap_or(s).to_owned());
                if let Some(el) = element {
                    out = out.with_info("bad-element", el);
                }
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_denied_names_the_holder() {
        let e = ApiError::new(
            ErrorTag::LockDenied,
            "candidate is locked by session 42 (admin)",
        );
        let r = RpcError::from(e);
        assert_eq!(r.tag, "lock-denied");
        assert_eq!(r.layer, Layer::Protocol);
        let mut out = String::new();
        r.write(&mut out);
        assert!(
            out.contains("<error-info><session-id>42</session-id></error-info>"),
            "{out}"
        );
        assert!(out.contains("<error-severity>error</error-severity>"));
    }
}
