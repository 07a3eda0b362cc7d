//! The event stream's `filter` (RFC 8040 section 4.8.4, used as RFC 5277 section 3.6 says):
//! an XPath 1.0 expression whose boolean value, on the event notification's XML, decides
//! whether the event is sent. Context as RFC 8040 fixes it: every module the server knows
//! is a prefix (its name) bound to its namespace, the core function library, no
//! variables, the root node as context node. The document is the notification's content
//! (the `netconf-config-change` element is the root element), so expressions are written
//! against the YANG modules' data: `/ietf-netconf-notifications:netconf-config-change/...`.

use netloom_yang::Schema;
use sxd_xpath::{Context, Factory};

use super::encode::namespace_of;
use super::error::Error;

/// Notification modules netloom sends events of, beside the schema's own modules.
const EVENT_MODULES: &[&str] = &["ietf-netconf-notifications", "ietf-restconf"];

/// A checked filter. The compiled form is not `Send`, so each evaluation compiles the
/// text again (microseconds, against the milliseconds a commit takes).
#[derive(Debug, Clone)]
pub struct EventFilter {
    expression: String,
    namespaces: Vec<(String, String)>,
}

fn refused(expression: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(
        None,
        format!("filter '{expression}' is not a usable XPath 1.0 expression: {why}"),
    )
}

impl EventFilter {
    /// Parse the expression and try it once on an empty notification, so a syntax error,
    /// an unknown prefix or an unknown function is a 400 now, not a silent stream later.
    pub fn new(expression: &str, schema: &Schema) -> Result<EventFilter, Error> {
        let mut namespaces: Vec<(String, String)> = schema
            .context()
            .modules(false)
            .map(|m| (m.name().to_owned(), m.namespace().to_owned()))
            .collect();
        for m in EVENT_MODULES {
            if let Some(ns) = namespace_of(schema, m) {
                namespaces.push(((*m).to_owned(), ns));
            }
        }
        // sxd-xpath panics on a prefix it has no namespace for: refuse those first.
        if let Some(p) = prefixes(expression)
            .into_iter()
            .find(|p| !namespaces.iter().any(|(name, _)| name == p))
        {
            return Err(refused(
                expression,
                format!("'{p}' is not a module of this server"),
            ));
        }
        let filter = EventFilter {
            expression: expression.to_owned(),
            namespaces,
        };
        filter
            .evaluate("<empty/>")
            .map_err(|why| refused(expression, why))?;
        Ok(filter)
    }

    /// Whether the event (its content as XML) passes; an expression that fails on this
    /// event's data lets nothing through.
    pub fn matches(&self, event_xml: &str) -> bool {
        match self.evaluate(event_xml) {
            Ok(pass) => pass,
            Err(why) => {
                tracing::debug!(filter = %self.expression, error = %why, "stream filter failed on an event");
                false
            }
        }
    }

    fn evaluate(&self, xml: &str) -> Result<bool, String> {
        let xpath = Factory::new()
            .build(&self.expression)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the expression is empty".to_owned())?;
        let package = sxd_document::parser::parse(xml).map_err(|e| format!("{e:?}"))?;
        let document = package.as_document();
        let mut context = Context::new();
        for (prefix, ns) in &self.namespaces {
            context.set_namespace(prefix, ns);
        }
        xpath
            .evaluate(&context, document.root())
            .map(|v| v.boolean())
            .map_err(|e| e.to_string())
    }
}

/// The namespace prefixes an expression uses (`p:name`, `p:*`, `p:fn(`), string literals
/// and axes (`child::`) left out.
fn prefixes(expression: &str) -> Vec<String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            let colon = chars.get(i) == Some(&':');
            let axis = chars.get(i + 1) == Some(&':');
            if colon && !axis {
                out.push(chars[start..i].iter().collect());
            }
            if colon && axis {
                i += 2;
            } else if colon {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EVENT: &str = r#"<netconf-config-change xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"><changed-by><username>admin</username></changed-by><datastore>running</datastore><edit><target>/netloom-host:networks/network[name='a']</target><operation>create</operation></edit></netconf-config-change>"#;

    #[test]
    fn filters_select_events_by_their_content() {
        let s = Schema::new().unwrap();
        let f = |e: &str| EventFilter::new(e, &s).unwrap().matches(EVENT);
        assert!(f(
            "/ietf-netconf-notifications:netconf-config-change/ietf-netconf-notifications:edit[ietf-netconf-notifications:operation='create']"
        ));
        assert!(!f(
            "/ietf-netconf-notifications:netconf-config-change/ietf-netconf-notifications:edit[ietf-netconf-notifications:operation='delete']"
        ));
        assert!(f(
            "contains(//ietf-netconf-notifications:target, \"network[name='a']\")"
        ));
        assert!(f("count(//ietf-netconf-notifications:edit) = 1"));
        // Unprefixed names are in no namespace, so they match nothing here.
        assert!(!f("/netconf-config-change"));
        assert_eq!(
            prefixes("/a:b[c:d='x:y']/child::e:f | \"g:h\""),
            ["a", "c", "e"]
        );
        for bad in ["/a[", "/nope:x", "/a/nope:b", "frobnicate(1)", ""] {
            assert!(EventFilter::new(bad, &s).is_err(), "{bad}");
        }
        // Odd but parseable input never panics (sxd-xpath does on unbound prefixes).
        for odd in [
            "$x",
            "//*[",
            "1 div 0",
            "namespace::*",
            "id('a')",
            "lang('en')",
            "ietf-restconf:*",
            "//@*",
            "processing-instruction('x')",
            "string(/*) = 'a' or count(//*) > 3",
            "/*/ietf-netconf-notifications:edit[last()]",
        ] {
            if let Ok(f) = EventFilter::new(odd, &s) {
                let _ = f.matches(EVENT);
            }
        }
    }
}
