//! netloom's own RPCs over NETCONF (module netloom-host, the same definitions RESTCONF
//! serves): `commit` and `cancel-commit` with a comment, `rollback` to a retained commit,
//! and `list-commits` (id, time, user, comment, size and confirmation of each).

use std::fmt::Write as _;

use netloom_store::CommitRecord;

use super::errors::RpcError;
use super::ops::{Answer, Ctx, NS_NETLOOM};
use super::xml::{escape, Element};
use crate::api::{date_and_time, Confirmed, Reply, Request};

fn text(op: &Element, name: &str) -> Option<String> {
    op.child(NS_NETLOOM, name).map(|e| e.text().to_owned())
}

fn number<T: std::str::FromStr>(op: &Element, name: &str) -> Result<Option<T>, RpcError> {
    text(op, name)
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| RpcError::invalid_value(format!("'{t}' is not a valid {name}")))
        })
        .transpose()
}

/// The `<id>` of the commit a change made (or of the current one when nothing changed).
fn commit_id(reply: Reply) -> Answer {
    match reply {
        Reply::Committed { id } | Reply::Unchanged { id } => {
            Answer::Body(format!("<id xmlns=\"{NS_NETLOOM}\">{id}</id>"))
        }
        _ => Answer::Ok,
    }
}

fn record(out: &mut String, r: &CommitRecord) {
    let _ = write!(
        out,
        "<commit xmlns=\"{NS_NETLOOM}\"><id>{}</id><time>{}</time><user>{}</user>",
        r.id,
        date_and_time(r.time_ms),
        escape(&r.user)
    );
    if let Some(c) = &r.comment {
        let _ = write!(out, "<comment>{}</comment>", escape(c));
    }
    let _ = write!(
        out,
        "<changes>{}</changes><confirmed>{}</confirmed></commit>",
        r.changes.len(),
        r.confirm.as_str()
    );
}

pub(crate) async fn dispatch(ctx: &mut Ctx, op: &Element) -> Result<Answer, RpcError> {
    match &*op.name {
        "commit" => {
            ctx.may_write("commit")?;
            let confirmed = if op.child(NS_NETLOOM, "confirmed").is_some() {
                Some(Confirmed {
                    timeout_secs: number::<u32>(op, "confirm-timeout")?
                        .filter(|&t| t > 0)
                        .unwrap_or(600),
                    persist: text(op, "persist"),
                })
            } else {
                None
            };
            let reply = ctx
                .call(Request::Commit {
                    comment: text(op, "comment"),
                    confirmed,
                    persist_id: text(op, "persist-id"),
                })
                .await?;
            Ok(commit_id(reply))
        }
        "cancel-commit" => {
            ctx.may_write("cancel-commit")?;
            ctx.call(Request::CancelCommit {
                persist_id: text(op, "persist-id"),
            })
            .await
            .map(|_| Answer::Ok)
        }
        "rollback" => {
            ctx.may_write("rollback")?;
            let id = number::<u64>(op, "id")?.ok_or_else(|| RpcError::missing_element("id"))?;
            let reply = ctx
                .call(Request::Rollback {
                    id,
                    comment: text(op, "comment"),
                })
                .await?;
            Ok(commit_id(reply))
        }
        "list-commits" => {
            let limit = number::<u32>(op, "limit")?.map_or(usize::MAX, |l| l as usize);
            let records = match ctx
                .call(Request::Commits {
                    limit,
                    with_diff: true,
                })
                .await?
            {
                Reply::Commits(r) => r,
                _ => Vec::new(),
            };
            let mut out = String::new();
            for r in &records {
                record(&mut out, r);
            }
            Ok(if out.is_empty() {
                Answer::Ok
            } else {
                Answer::Body(out)
            })
        }
        other => Err(RpcError::not_supported(format!(
            "netloom-host has no operation <{other}>"
        ))),
    }
}
