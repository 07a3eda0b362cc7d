//! Configure mode: `set`/`delete` go to this session's private candidate in the daemon,
//! `edit`/`up`/`top` move in the tree, and `commit` (plain, with a comment, or confirmed)
//! puts the session's changes on running unless someone else changed the same things first.

use serde_json::{json, Value};

use crate::client::ClientError;
use crate::command::Walked;
use crate::command::{
    edit_path, set_value, spell, split_display, walk, ParseError, Step, Want, Word,
};
use crate::operational::show_config;
use crate::shell::{help, no_more, unknown_command, Failure, Flow, Shell, CONFIGURE};
use crate::show::diff;

#[derive(Debug, Default)]
pub struct Configure {
    /// Where `edit` moved to.
    pub context: Vec<Step>,
    /// Whether the private candidate holds uncommitted changes.
    pub dirty: bool,
}

/// The `[edit ...]` banner of the current level.
pub fn banner(shell: &Shell) -> Option<String> {
    let c = shell.config.as_ref()?;
    Some(if c.context.is_empty() {
        "[edit]".to_owned()
    } else {
        format!("[edit {}]", spell(&shell.schema, &c.context))
    })
}

fn context(shell: &Shell) -> Vec<Step> {
    shell
        .config
        .as_ref()
        .map(|c| c.context.clone())
        .unwrap_or_default()
}

fn set_dirty(shell: &mut Shell, dirty: bool) {
    if let Some(c) = shell.config.as_mut() {
        c.dirty = dirty;
    }
}

fn end_of(words: &[Word]) -> usize {
    words.last().map_or(0, |w| w.end + 1)
}

pub fn exec(shell: &mut Shell, words: &[Word], out: &mut String) -> Result<Flow, Failure> {
    let cmd = &words[0];
    let args = &words[1..];
    match cmd.text.as_str() {
        "set" => {
            let walked = walk(&shell.schema, &context(shell), args, true)?;
            if walked.steps.len() == context(shell).len() && walked.value.is_none() {
                return Err(ParseError {
                    col: end_of(words),
                    message: "set what? a path, and a value for a leaf".into(),
                }
                .into());
            }
            let value = set_value(&shell.schema, &walked, end_of(words))?;
            edit(shell, "merge", &walked, Some(value))?;
        }
        "delete" => {
            let walked = walk(&shell.schema, &context(shell), args, true)?;
            if walked.steps.len() == context(shell).len() {
                return Err(ParseError {
                    col: end_of(words),
                    message: "delete what? a path".into(),
                }
                .into());
            }
            if let Want::Key { list, fixed } = &walked.want {
                if !fixed.is_empty() {
                    return Err(ParseError {
                        col: end_of(words),
                        message: format!(
                            "missing key '{}'",
                            shell.schema.node(*list).keys[fixed.len()]
                        ),
                    }
                    .into());
                }
            }
            edit(shell, "delete", &walked, None)?;
        }
        "edit" => {
            let walked = walk(&shell.schema, &context(shell), args, true)?;
            match walked.want {
                Want::Child(Some(_)) if !args.is_empty() => {
                    if let Some(c) = shell.config.as_mut() {
                        c.context = walked.steps;
                    }
                }
                _ => {
                    return Err(ParseError {
                        col: args.first().map_or(end_of(words), |w| w.start),
                        message: "edit needs a container or a list entry (with its keys)".into(),
                    }
                    .into())
                }
            }
        }
        "up" => {
            no_more(args)?;
            if let Some(c) = shell.config.as_mut() {
                c.context.pop();
            }
        }
        "top" => {
            no_more(args)?;
            if let Some(c) = shell.config.as_mut() {
                c.context.clear();
            }
        }
        "show" => {
            let (args, display) = split_display(args)?;
            let ctx = context(shell);
            show_config(shell, &ctx, args, "private", display, out)?;
        }
        "compare" => {
            no_more(args)?;
            let reply = shell.client.call(&json!({"op": "compare"}))?;
            let changes = reply["changes"].as_array().cloned().unwrap_or_default();
            let text = diff(&shell.schema, &changes);
            out.push_str(if text.is_empty() {
                "no changes\n"
            } else {
                &text
            });
        }
        "validate" => {
            no_more(args)?;
            shell.client.call(&json!({"op": "validate"}))?;
            out.push_str("configuration is valid\n");
        }
        "commit" => commit(shell, cmd, args, out)?,
        "confirm" => {
            // `confirm persist-id ID` confirms another front end's persisted commit.
            let mut req = json!({"op": "confirm"});
            if let Some(w) = args.first() {
                if w.text != "persist-id" {
                    return Err(ParseError::at(
                        w,
                        format!("unexpected '{}'; confirm [persist-id ID]", w.text),
                    )
                    .into());
                }
                let Some(id) = args.get(1) else {
                    return Err(ParseError {
                        col: w.end + 1,
                        message: "'persist-id' needs a value".into(),
                    }
                    .into());
                };
                no_more(&args[2..])?;
                req["persist_id"] = Value::String(id.text.clone());
            }
            shell.client.call(&req)?;
            shell.confirm_pending = false;
            out.push_str("commit confirmed\n");
        }
        "rollback" => {
            let Some(id) = args.first() else {
                return Err(ParseError {
                    col: end_of(words),
                    message: "rollback to which commit? (an id from `show commits`)".into(),
                }
                .into());
            };
            no_more(&args[1..])?;
            let n: u64 = id
                .text
                .parse()
                .map_err(|_| ParseError::at(id, format!("'{}' is not a commit id", id.text)))?;
            let reply = shell.client.call(&json!({"op": "rollback", "id": n}))?;
            let edits = reply["edits"].as_u64().unwrap_or(0);
            if edits == 0 {
                out.push_str(&format!(
                    "commit {n}'s configuration is what running has; nothing to commit\n"
                ));
            } else {
                out.push_str(&format!(
                    "loaded commit {n}'s configuration into the candidate; `compare` to review it, `commit` to apply it\n"
                ));
            }
            set_dirty(shell, edits > 0);
        }
        "discard" => {
            no_more(args)?;
            shell.client.call(&json!({"op": "discard"}))?;
            set_dirty(shell, false);
            out.push_str("uncommitted changes discarded\n");
        }
        "update" => {
            no_more(args)?;
            let reply = shell.client.call(&json!({"op": "update"}))?;
            out.push_str(&format!(
                "candidate now based on commit {}\n",
                reply["base"]
            ));
        }
        "run" => {
            let Some(first) = args.first() else {
                return Err(ParseError {
                    col: end_of(words),
                    message: "run which operational command?".into(),
                }
                .into());
            };
            if first.text == "configure" {
                return Err(ParseError::at(first, "already in configure mode").into());
            }
            return shell.exec_operational(args, out).map(|_| Flow::Continue);
        }
        "help" => help(CONFIGURE, out),
        "exit" | "quit" => return exit(shell, args, out),
        _ => return Err(unknown_command(cmd, CONFIGURE).into()),
    }
    Ok(Flow::Continue)
}

fn edit(shell: &mut Shell, op: &str, walked: &Walked, value: Option<Value>) -> Result<(), Failure> {
    let e = wire_edit(shell, op, walked, value)?;
    shell.client.call(&json!({"op": "edit", "edits": [e]}))?;
    set_dirty(shell, true);
    Ok(())
}

fn wire_edit(
    shell: &Shell,
    op: &str,
    walked: &Walked,
    value: Option<Value>,
) -> Result<Value, Failure> {
    let path = edit_path(&shell.schema, walked)
        .to_xpath()
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let mut e = json!({"op": op, "path": path});
    if let Some(v) = value {
        e["value"] = v;
    }
    Ok(e)
}

/// A `set` line checked and turned into its edit without sending it (scripts batch them);
/// None when the line is anything else.
pub fn batchable(shell: &Shell, words: &[Word]) -> Result<Option<Value>, Failure> {
    if shell.config.is_none() || words.first().is_none_or(|w| w.text != "set") {
        return Ok(None);
    }
    let ctx = context(shell);
    let walked = walk(&shell.schema, &ctx, &words[1..], true)?;
    if walked.steps.len() == ctx.len() && walked.value.is_none() {
        return Ok(None);
    }
    let value = set_value(&shell.schema, &walked, end_of(words))?;
    wire_edit(shell, "merge", &walked, Some(value)).map(Some)
}

/// Send a batch of edits in one request; on failure, the index of the edit the daemon's
/// error names (by path), when it names one.
pub fn send_batch(shell: &mut Shell, edits: Vec<Value>) -> Result<(), (Option<usize>, Failure)> {
    let paths: Vec<String> = edits
        .iter()
        .map(|e| e["path"].as_str().unwrap_or("").to_owned())
        .collect();
    match shell.client.call(&json!({"op": "edit", "edits": edits})) {
        Ok(_) => {
            set_dirty(shell, true);
            Ok(())
        }
        Err(ClientError::Daemon {
            path: Some(p),
            message,
            ..
        }) => {
            let at = paths
                .iter()
                .position(|e| p.starts_with(e.as_str()) || e.starts_with(p.as_str()));
            Err((at, Failure::Refused(message)))
        }
        Err(e) => Err((None, e.into())),
    }
}

/// `commit [comment TEXT] [confirmed MINUTES]` (`confirmed 30s` takes seconds).
fn commit(shell: &mut Shell, cmd: &Word, args: &[Word], out: &mut String) -> Result<(), Failure> {
    let mut req = json!({"op": "commit"});
    let mut minutes = None;
    let mut i = 0;
    while i < args.len() {
        let word = &args[i];
        let Some(arg) = args.get(i + 1) else {
            return Err(ParseError {
                col: word.end + 1,
                message: format!("'{}' needs a value", word.text),
            }
            .into());
        };
        match word.text.as_str() {
            "comment" => req["comment"] = Value::String(arg.text.clone()),
            "confirmed" => {
                let secs = parse_timeout(&arg.text).ok_or_else(|| {
                    ParseError::at(
                        arg,
                        format!(
                            "'{}' is not a number of minutes (1..65535, or seconds as 30s)",
                            arg.text
                        ),
                    )
                })?;
                req["confirmed_secs"] = Value::from(secs);
                minutes = Some(arg.text.clone());
            }
            _ => {
                return Err(ParseError::at(
                    word,
                    format!(
                        "unknown commit option '{}': comment TEXT, confirmed MINUTES",
                        word.text
                    ),
                )
                .into())
            }
        }
        i += 2;
    }
    let _ = cmd;
    let reply = shell.client.call(&req)?;
    if reply.get("commit").is_some() {
        set_dirty(shell, false);
    }
    match (&minutes, reply.get("commit")) {
        (Some(m), Some(id)) => {
            shell.confirm_pending = true;
            let when = m
                .strip_suffix('s')
                .map_or(format!("{m} minute(s)"), |s| format!("{s} second(s)"));
            out.push_str(&format!(
                "commit {id} complete; it is rolled back in {when} unless confirmed (`confirm` here or from any CLI session)\n"
            ));
        }
        _ => report_commit(&reply, out, "commit complete"),
    }
    Ok(())
}

fn parse_timeout(text: &str) -> Option<u32> {
    let (n, scale) = match text.strip_suffix('s') {
        Some(secs) => (secs, 1),
        None => (text, 60),
    };
    let n: u32 = n.parse().ok()?;
    (1..=65535).contains(&n).then_some(n * scale)
}

fn report_commit(reply: &Value, out: &mut String, what: &str) {
    if let Some(id) = reply.get("commit") {
        out.push_str(&format!("{what}: commit {id}\n"));
    } else {
        out.push_str("no changes to commit\n");
    }
}

fn exit(shell: &mut Shell, args: &[Word], out: &mut String) -> Result<Flow, Failure> {
    let discard = match args.first() {
        Some(w) if w.text == "discard" => true,
        Some(w) => {
            return Err(ParseError::at(
                w,
                format!(
                    "unexpected '{}'; `exit discard` drops uncommitted changes",
                    w.text
                ),
            )
            .into())
        }
        None => false,
    };
    let Some(c) = shell.config.as_mut() else {
        return Ok(Flow::Continue);
    };
    if !c.context.is_empty() && !discard {
        c.context.pop();
        return Ok(Flow::Continue);
    }
    if c.dirty && !discard {
        return Err(Failure::Refused(
            "uncommitted changes: `commit` them, or `exit discard` to drop them".into(),
        ));
    }
    shell.client.call(&json!({"op": "leave"}))?;
    shell.config = None;
    out.push_str("left configure mode\n");
    Ok(Flow::Continue)
}
