//! The NMDA operations (RFC 8526): `<get-data>` on running, candidate, startup, intended
//! and operational (subtree or XPath filter, config-filter, max-depth, origin filters,
//! with-origin, with-defaults) and `<edit-data>` on running and candidate. netloom has no
//! configuration transformations, so intended is running; operational is running (origin
//! intended) plus the state the engine and this server report (origin learned).

use netloom_store::DatastoreId;
use netloom_yang::EditOp;

use super::data;
use super::errors::RpcError;
use super::ops::{self, Answer, Ctx};
use super::render::{self, Origins, Read, Selection, WithDefaults};
use super::xml::Element;
use crate::api::Request;

pub const NS_NMDA: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda";

/// An NMDA datastore (the identities of ietf-datastores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nmda {
    Config(DatastoreId),
    Intended,
    Operational,
}

fn param<'a>(op: &'a Element, name: &str) -> Option<&'a Element> {
    op.child(NS_NMDA, name)
}

/// An identityref's local name (`ds:running` -> `running`).
fn local(text: &str) -> &str {
    text.rsplit_once(':').map(|(_, l)| l).unwrap_or(text)
}

/// The `<target>` of lock/unlock naming an NMDA datastore (RFC 8526 section 3.3 augments
/// both with `<datastore>`); None when it names a classic one. Only the configuration
/// datastores that take writes can be locked.
pub(crate) fn lock_target(target: &Element) -> Option<Result<DatastoreId, RpcError>> {
    target.child(NS_NMDA, "datastore")?;
    Some(match datastore(target) {
        Ok(Nmda::Config(id)) => Ok(id),
        Ok(Nmda::Intended | Nmda::Operational) => Err(RpcError::invalid_value(
            "intended and operational are read-only: there is nothing to lock",
        )
        .with_info("bad-element", "datastore")),
        Err(e) => Err(e),
    })
}

fn datastore(op: &Element) -> Result<Nmda, RpcError> {
    let el = param(op, "datastore").ok_or_else(|| RpcError::missing_element("datastore"))?;
    Ok(match local(el.text()) {
        "running" => Nmda::Config(DatastoreId::Running),
        "candidate" => Nmda::Config(DatastoreId::Candidate),
        "startup" => Nmda::Config(DatastoreId::Startup),
        "intended" => Nmda::Intended,
        "operational" => Nmda::Operational,
        other => {
            return Err(RpcError::invalid_value(format!(
                "'{other}' is not a datastore of this server"
            ))
            .with_info("bad-element", "datastore"))
        }
    })
}

pub(crate) async fn get_data(
    ctx: &mut Ctx,
    op: &Element,
    rpc: &Element,
) -> Result<Answer, RpcError> {
    let ds = datastore(op)?;
    let operational = ds == Nmda::Operational;
    let selection = match (param(op, "subtree-filter"), param(op, "xpath-filter")) {
        (Some(f), _) => Selection::Subtree(f),
        (None, Some(x)) => Selection::XPath {
            select: x.text().to_owned(),
            prefixes: ops::scope(rpc, op, x),
        },
        (None, None) => Selection::All,
    };
    let config_filter = match param(op, "config-filter").map(Element::text) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(RpcError::invalid_value(format!(
                "config-filter is true or false, not '{other}'"
            )))
        }
    };
    let max_depth = match param(op, "max-depth").map(Element::text) {
        None | Some("unbounded") => None,
        Some(t) => Some(t.parse::<u16>().ok().filter(|&d| d > 0).ok_or_else(|| {
            RpcError::invalid_value(format!("max-depth is 1..65535 or unbounded, not '{t}'"))
        })?),
    };
    let list = |name: &str| -> Vec<String> {
        op.children
            .iter()
            .filter(|c| &*c.ns == NS_NMDA && &*c.name == name)
            .map(|c| local(c.text()).to_owned())
            .collect()
    };
    let (only, not) = (list("origin-filter"), list("negated-origin-filter"));
    let annotate = param(op, "with-origin").is_some();
    if !operational && (annotate || !only.is_empty() || !not.is_empty()) {
        return Err(RpcError::invalid_value(
            "origin filters and with-origin apply to the operational datastore only",
        ));
    }
    let read = Read {
        selection,
        with_defaults: WithDefaults::from_op(op)?,
        config_filter,
        max_depth,
        state: operational,
        origins: (annotate || !only.is_empty() || !not.is_empty()).then_some(Origins {
            annotate,
            only,
            not,
        }),
    };
    let config = match ds {
        Nmda::Config(id) => Some(id),
        Nmda::Intended => Some(DatastoreId::Running),
        Nmda::Operational => None,
    };
    let open = format!("<data xmlns=\"{NS_NMDA}\">");
    let fast = match config {
        Some(id) => ctx.fast_config_reply(id, &read, &open)?,
        None => ctx.fast_operational_reply(&read, &open).await?,
    };
    if let Some(answer) = fast {
        return Ok(answer);
    }
    let doc = match ds {
        Nmda::Config(id) => ops::datastore_json(ctx, id)?,
        Nmda::Intended => ops::datastore_json(ctx, DatastoreId::Running)?,
        Nmda::Operational => ops::operational_json(ctx).await?,
    };
    let xml = if read.is_plain() {
        let doc = match read.selection {
            Selection::Subtree(f) => super::filter::subtree(&ctx.shared.schema, &doc, f),
            _ => doc,
        };
        data::to_xml(&ctx.shared.schema, &doc)?
    } else {
        render::render(&ctx.shared.schema, doc, &read)?
    };
    Ok(Answer::Body(format!(
        "<data xmlns=\"{NS_NMDA}\">{xml}</data>"
    )))
}

pub(crate) async fn edit_data(
    ctx: &mut Ctx,
    op: &Element,
    rpc: &Element,
) -> Result<Answer, RpcError> {
    ctx.may_write("edit-data")?;
    let target = match datastore(op)? {
        Nmda::Config(id @ (DatastoreId::Running | DatastoreId::Candidate)) => id,
        _ => {
            return Err(RpcError::invalid_value(
                "edit-data targets running or candidate",
            ))
        }
    };
    let default_op = match param(op, "default-operation").map(Element::text) {
        None | Some("merge") => Some(EditOp::Merge),
        Some("replace") => Some(EditOp::Replace),
        Some("none") => None,
        Some(other) => {
            return Err(RpcError::bad_element(
                "default-operation",
                format!("'{other}' is not a default operation"),
            ))
        }
    };
    if param(op, "url").is_some() {
        return Err(RpcError::not_supported(
            "the :url capability is not supported",
        ));
    }
    let config = param(op, "config").ok_or_else(|| RpcError::missing_element("config"))?;
    let batch = data::edits_from_config(
        &ctx.shared.schema,
        ctx.shared.reader_helper.as_ref(),
        config,
        ops::scope(rpc, op, config),
        default_op,
    )?;
    if batch.is_empty() {
        return Ok(Answer::Ok);
    }
    ctx.call(Request::EditBatch {
        datastore: target,
        batch,
        comment: ops::comment(op),
    })
    .await
    .map(|_| Answer::Ok)
}

#[cfg(test)]
mod lock_tests {
    use super::*;
    use crate::netconf::xml::parse;

    fn target(inner: &str) -> Element {
        parse(
            format!(
                r#"<target xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">{inner}</target>"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn nmda_lock_targets() {
        let t = target(&format!(
            r#"<datastore xmlns="{NS_NMDA}">ds:candidate</datastore>"#
        ));
        assert_eq!(lock_target(&t).unwrap().unwrap(), DatastoreId::Candidate);
        let t = target(&format!(
            r#"<datastore xmlns="{NS_NMDA}">ds:operational</datastore>"#
        ));
        assert_eq!(lock_target(&t).unwrap().unwrap_err().tag, "invalid-value");
        let t = target(r#"<running xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>"#);
        assert!(lock_target(&t).is_none());
    }
}
