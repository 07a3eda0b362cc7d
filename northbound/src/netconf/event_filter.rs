//! The `<filter>` of create-subscription (RFC 5277 section 2.1.1): a subtree filter matched
//! against the event's XML, or an XPath evaluated by libyang on the event parsed as its
//! YANG notification. An event is sent when the filter selects anything of it.

use std::sync::Arc;

use netloom_yang::Schema;
use yang3::data::{Data, DataFormat, DataOperation, DataTree};

use super::errors::RpcError;
use super::ops;
use super::render;
use super::xml::{self, Element};

pub(crate) enum EventFilter {
    Subtree(Element),
    XPath { schema: Arc<Schema>, expr: String },
}

impl EventFilter {
    /// The filter of `op` (create-subscription), if any.
    pub fn from_op(
        schema: &Arc<Schema>,
        rpc_scope: Vec<(String, String)>,
        filter: &Element,
    ) -> Result<Self, RpcError> {
        match filter.attr("", "type").unwrap_or("subtree") {
            "subtree" => Ok(EventFilter::Subtree(filter.clone())),
            "xpath" => {
                let select = filter
                    .attr("", "select")
                    .ok_or_else(|| RpcError::missing_attribute("select", "filter"))?;
                let mut prefixes = rpc_scope;
                prefixes.extend(filter.prefixes.iter().cloned());
                let expr = render::module_prefixed(schema, select, &prefixes)?;
                // Checked against the schema now, so a bad expression fails the subscription.
                schema.context().find_xpath(&expr).map_err(|e| {
                    RpcError::invalid_value(format!("the XPath '{select}' is not valid: {e}"))
                })?;
                Ok(EventFilter::XPath {
                    schema: schema.clone(),
                    expr,
                })
            }
            other => Err(RpcError::bad_attribute(
                "type",
                "filter",
                format!("the filter type '{other}' is not supported"),
            )),
        }
    }

    /// Whether the event (the notification's content element, as XML) passes.
    pub fn passes(&self, event: &str) -> bool {
        match self {
            EventFilter::Subtree(f) => match xml::parse(event.as_bytes()) {
                Ok(e) => f.children.iter().any(|c| selects(c, &e)),
                Err(_) => false,
            },
            EventFilter::XPath { schema, expr } => {
                let tree = DataTree::parse_op_string(
                    schema.context(),
                    event,
                    DataFormat::XML,
                    DataOperation::NotificationYang,
                );
                match tree {
                    Ok(t) => t.find_xpath(expr).is_ok_and(|mut s| s.next().is_some()),
                    Err(e) => {
                        tracing::debug!(error = %e, "an event the XPath filter cannot read");
                        false
                    }
                }
            }
        }
    }
}

/// Whether the filter node `f` selects anything of the element `e` (RFC 6241 section 6.2
/// semantics, without a schema: every element is matched by name and namespace).
fn selects(f: &Element, e: &Element) -> bool {
    if f.name != e.name || (!f.ns.is_empty() && f.ns != e.ns) {
        return false;
    }
    if f.children.is_empty() {
        let t = f.text();
        return t.is_empty() || e.text() == t;
    }
    let (content, others): (Vec<&Element>, Vec<&Element>) = f
        .children
        .iter()
        .partition(|c| c.children.is_empty() && !c.text().is_empty());
    let any = |c: &Element| e.children.iter().any(|ec| selects(c, ec));
    content.iter().all(|c| any(c)) && (others.is_empty() || others.iter().any(|c| any(c)))
}

/// The prefix declarations in scope at create-subscription.
pub fn scope(rpc: &Element, op: &Element, filter: &Element) -> Vec<(String, String)> {
    ops::scope(rpc, op, filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NCN: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications";

    #[test]
    fn subtree_and_xpath_select_events() {
        let schema = Arc::new(Schema::new().unwrap());
        let start = format!(
            "<netconf-session-start xmlns=\"{NCN}\"><username>ops</username><session-id>7</session-id></netconf-session-start>"
        );
        let end = format!(
            "<netconf-session-end xmlns=\"{NCN}\"><username>ops</username><session-id>7</session-id><termination-reason>closed</termination-reason></netconf-session-end>"
        );
        let f = xml::parse(
            format!("<filter><netconf-session-start xmlns=\"{NCN}\"><username>ops</username></netconf-session-start></filter>").as_bytes(),
        )
        .unwrap();
        let sub = EventFilter::from_op(&schema, Vec::new(), &f).unwrap();
        assert!(sub.passes(&start));
        assert!(!sub.passes(&end));
        let f = xml::parse(
            format!("<filter type=\"xpath\" xmlns:n=\"{NCN}\" select=\"/n:netconf-session-end[n:termination-reason='closed']\"/>").as_bytes(),
        )
        .unwrap();
        let xp = EventFilter::from_op(&schema, Vec::new(), &f).unwrap();
        assert!(xp.passes(&end));
        assert!(!xp.passes(&start));
    }
}
