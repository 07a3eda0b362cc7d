//! Tab completion and `?` help, from the YANG schema (node names, descriptions, types,
//! ranges, enumerations) and from live data the daemon holds (list keys such as network
//! and pod names, leafref targets, commit ids).

use serde_json::{json, Value};

use crate::command::{children, data_path, tokenize_partial, type_summary, walk, Step, Want, Word};
use crate::operational::TARGETS;
use crate::shell::{Shell, CONFIGURE, OPERATIONAL};
use crate::show::{at, cell};

/// How many live keys one completion fetches.
const KEY_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub word: String,
    pub help: String,
}

#[derive(Debug, Default)]
pub struct Completion {
    /// Character column where the word being completed starts.
    pub start: usize,
    pub candidates: Vec<Candidate>,
    /// What the word is when it is a value: `<mtu> uint16 68..65535: ...`.
    pub note: Option<String>,
}

fn fixed(list: &[(&str, &str)]) -> Vec<Candidate> {
    list.iter()
        .map(|(w, h)| Candidate {
            word: (*w).to_owned(),
            help: (*h).to_owned(),
        })
        .collect()
}

fn words(list: &[&str]) -> Vec<Candidate> {
    list.iter()
        .map(|w| Candidate {
            word: (*w).to_owned(),
            help: String::new(),
        })
        .collect()
}

/// A description's first sentence on one line.
pub fn describe(text: Option<&str>) -> String {
    let flat = text
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_owned(),
        None => flat,
    }
}

/// What may come at the end of `line` (the text left of the cursor).
pub fn complete(shell: &mut Shell, line: &str) -> Completion {
    let (mut ws, open) = tokenize_partial(line);
    let ends_in_space = open.is_none() && line.ends_with(char::is_whitespace);
    let (start, partial) = match ws.last() {
        Some(w) if !ends_in_space => (w.start, w.text.clone()),
        _ => (line.chars().count(), String::new()),
    };
    if !ends_in_space && !ws.is_empty() {
        ws.pop();
    }
    let mut c = Completion {
        start,
        ..Completion::default()
    };
    analyse(shell, &ws, &partial, &mut c);
    c.candidates.retain(|x| x.word.starts_with(&partial));
    c
}

fn analyse(shell: &mut Shell, ws: &[Word], partial: &str, c: &mut Completion) {
    if let Some(bar) = ws.iter().position(|w| w.text == "|" && !w.quoted) {
        c.candidates = match ws.len() - bar {
            1 => fixed(&[
                ("json", "RFC 7951 JSON"),
                ("xml", "XML"),
                ("display", "display set|json|xml"),
            ]),
            2 if ws[bar + 1].text == "display" => words(&["set", "json", "xml"]),
            _ => Vec::new(),
        };
        return;
    }
    if shell.config.is_none() {
        operational(shell, ws, partial, c);
        return;
    }
    let Some(cmd) = ws.first() else {
        c.candidates = fixed(CONFIGURE);
        return;
    };
    let context = shell
        .config
        .as_ref()
        .map(|k| k.context.clone())
        .unwrap_or_default();
    match cmd.text.as_str() {
        "set" | "delete" | "edit" | "show" => {
            schema_slot(shell, &context, &ws[1..], partial, "private", c)
        }
        "rollback" if ws.len() == 1 => commit_ids(shell, c),
        "commit" if ws.len() % 2 == 1 => {
            c.candidates = fixed(&[
                ("comment", "A comment for the commit log"),
                ("confirmed", "Roll back after MINUTES unless confirmed"),
            ])
        }
        "commit" if ws.last().is_some_and(|w| w.text == "confirmed") => {
            c.note = Some("<minutes> 1..65535 (or seconds as 30s)".into())
        }
        "exit" | "quit" if ws.len() == 1 => {
            c.candidates = fixed(&[("discard", "Drop uncommitted changes")])
        }
        "run" => operational(shell, &ws[1..], partial, c),
        _ => {}
    }
}

fn operational(shell: &mut Shell, ws: &[Word], partial: &str, c: &mut Completion) {
    let Some(cmd) = ws.first() else {
        c.candidates = fixed(OPERATIONAL);
        return;
    };
    if cmd.text != "show" {
        return;
    }
    let Some(target) = ws.get(1) else {
        c.candidates = fixed(TARGETS);
        return;
    };
    let list_path: &[&str] = match target.text.as_str() {
        "configuration" => return schema_slot(shell, &[], &ws[2..], partial, "running", c),
        "networks" => &["networks", "network"],
        "pods" => &["pods", "pod"],
        "services" => &["services", "service"],
        "policies" => &["policies", "policy"],
        "sriov" => &["sriov", "physical-function"],
        _ => return,
    };
    let mut path: Vec<Word> = list_path
        .iter()
        .map(|p| Word {
            text: (*p).to_owned(),
            start: 0,
            end: 0,
            quoted: false,
        })
        .collect();
    path.extend_from_slice(&ws[2..]);
    if let Ok(w) = walk(&shell.schema, &[], &path, true) {
        if matches!(w.want, Want::Key { .. }) {
            schema_slot(shell, &[], &path, partial, "running", c);
        }
    }
}

fn schema_slot(
    shell: &mut Shell,
    context: &[Step],
    ws: &[Word],
    partial: &str,
    source: &str,
    c: &mut Completion,
) {
    let Ok(walked) = walk(&shell.schema, context, ws, true) else {
        return;
    };
    let schema = &shell.schema;
    match walked.want {
        Want::Child(parent) => {
            c.candidates = children(schema, parent, true)
                .into_iter()
                .map(|n| Candidate {
                    word: schema.node(n).name.clone(),
                    help: describe(schema.node(n).description.as_deref()),
                })
                .collect();
        }
        Want::Key { list, fixed } => {
            let info = schema.node(list);
            let key_name = info.keys[fixed.len()].clone();
            if let Some(leaf) = schema.child(list, None, &key_name) {
                c.note = Some(format!(
                    "<{key_name}> {}: {}",
                    type_summary(schema, leaf),
                    describe(schema.node(leaf).description.as_deref())
                ));
            }
            c.candidates = live_keys(shell, &walked.steps, &fixed, partial, source, c);
        }
        Want::Value(leaf) => {
            let info = schema.node(leaf);
            c.note = Some(format!(
                "<{}> {}: {}",
                info.name,
                type_summary(schema, leaf),
                describe(info.description.as_deref())
            ));
            c.candidates = if !info.enums.is_empty() {
                words(&info.enums.iter().map(String::as_str).collect::<Vec<_>>())
            } else if info.type_name.as_deref() == Some("Bool") {
                words(&["true", "false"])
            } else {
                leafref_keys(shell, &walked.steps, partial, c)
            };
        }
        Want::Done => c.note = Some("<Enter> to run".into()),
    }
}

fn key_candidates(keys: &Value) -> Vec<Candidate> {
    keys.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|k| Candidate {
            word: k.to_owned(),
            help: String::new(),
        })
        .collect()
}

/// Existing key values of the list the last step is (without its keys yet).
fn live_keys(
    shell: &mut Shell,
    steps: &[Step],
    fixed: &[String],
    partial: &str,
    source: &str,
    c: &mut Completion,
) -> Vec<Candidate> {
    let Some(list) = steps.last().map(|s| s.node) else {
        return Vec::new();
    };
    if steps.len() == 2 && shell.schema.node(list).unit.is_some() {
        return top_level_keys(
            shell,
            &shell.schema.schema_path(list),
            fixed,
            partial,
            source,
            c,
        );
    }
    // A list inside a unit: read the unit and pick the keys out.
    let head = data_path(&shell.schema, &steps[..2.min(steps.len())]);
    let Ok(path) = head.to_xpath() else {
        return Vec::new();
    };
    let Ok(mut reply) = shell
        .client
        .call(&json!({"op": "get", "source": source, "path": path}))
    else {
        return Vec::new();
    };
    let doc = reply["data"].take();
    let Some(entries) = at(&shell.schema, &doc, steps).and_then(Value::as_array) else {
        return Vec::new();
    };
    let info = shell.schema.node(list);
    let mut out: Vec<Candidate> = entries
        .iter()
        .filter(|e| info.keys.iter().zip(fixed).all(|(k, v)| cell(&e[k]) == *v))
        .map(|e| Candidate {
            word: cell(&e[&info.keys[fixed.len()]]),
            help: String::new(),
        })
        .collect();
    out.dedup();
    if shell.schema.node(list).name == "vf" && steps.len() >= 3 {
        vf_ids(shell, &doc, steps, &mut out);
    }
    out
}

/// A PF's VF ids: the configured ones and the others below `num-vfs` (which the schema's
/// `must` allows), each marked with the container holding it, if any.
fn vf_ids(shell: &mut Shell, doc: &Value, steps: &[Step], out: &mut Vec<Candidate>) {
    let pf_steps = &steps[..steps.len() - 1];
    let num = at(&shell.schema, doc, pf_steps)
        .and_then(|pf| pf["num-vfs"].as_u64())
        .unwrap_or(0);
    let pf = pf_steps
        .last()
        .and_then(|s| s.keys.first())
        .cloned()
        .unwrap_or_default();
    let held: Vec<(String, String)> = shell
        .client
        .call(&json!({"op": "state"}))
        .map(|mut r| r["data"]["netloom-host:state"]["vf-allocation"].take())
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|a| cell(&a["physical-function"]) == pf)
        .map(|a| (cell(&a["id"]), cell(&a["container-id"])))
        .collect();
    for c in out.iter_mut() {
        c.help = "configured".into();
    }
    for id in 0..num.min(KEY_LIMIT as u64) {
        let id = id.to_string();
        if !out.iter().any(|c| c.word == id) {
            out.push(Candidate {
                word: id,
                help: "not configured yet".into(),
            });
        }
    }
    for c in out.iter_mut() {
        if let Some((_, ctr)) = held.iter().find(|(id, _)| *id == c.word) {
            let short: String = ctr.chars().take(12).collect();
            c.help = format!("{}, in use by container {short}", c.help);
        }
    }
    out.sort_by_key(|c| c.word.parse::<u64>().unwrap_or(u64::MAX));
}

fn top_level_keys(
    shell: &mut Shell,
    path: &str,
    fixed: &[String],
    partial: &str,
    source: &str,
    c: &mut Completion,
) -> Vec<Candidate> {
    let request = json!({"op": "keys", "path": path, "fixed": fixed, "prefix": partial,
                         "limit": KEY_LIMIT, "source": source});
    match shell.client.call(&request) {
        Ok(reply) => {
            if reply["more"] == true {
                let note = c.note.take().unwrap_or_default();
                c.note = Some(format!("{note} (more than {KEY_LIMIT} match; type more)"));
            }
            key_candidates(&reply["keys"])
        }
        Err(_) => Vec::new(),
    }
}

/// For a leafref to a top-level list's key: that list's existing keys.
fn leafref_keys(
    shell: &mut Shell,
    steps: &[Step],
    partial: &str,
    c: &mut Completion,
) -> Vec<Candidate> {
    let Some(unit) = steps.get(1).and_then(|s| shell.schema.node(s.node).unit) else {
        return Vec::new();
    };
    let leaf_path: Vec<String> = steps[2..]
        .iter()
        .map(|s| shell.schema.member_name(s.node))
        .collect();
    let target = shell
        .schema
        .dependencies()
        .key_refs()
        .find(|k| k.from == unit && k.leaf_path == leaf_path)
        .map(|k| k.to);
    match target {
        Some(to) => {
            let path = shell.schema.unit(to).path_prefix().to_owned();
            top_level_keys(shell, &path, &[], partial, "private", c)
        }
        None => Vec::new(),
    }
}

fn commit_ids(shell: &mut Shell, c: &mut Completion) {
    c.note = Some("<id> a commit to return to".into());
    if let Ok(reply) = shell
        .client
        .call(&json!({"op": "commits", "limit": KEY_LIMIT}))
    {
        c.candidates = reply["commits"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Candidate {
                word: cell(&e["id"]),
                help: format!(
                    "{} {} {}",
                    cell(&e["time"]),
                    cell(&e["user"]),
                    e["comment"].as_str().unwrap_or("")
                ),
            })
            .collect();
    }
}

/// `?`: what may come next, one per line with its description.
pub fn help_text(c: &Completion) -> String {
    let mut out = String::from("Possible completions:\n");
    if let Some(note) = &c.note {
        out.push_str(&format!("  {note}\n"));
    }
    let width = c
        .candidates
        .iter()
        .map(|x| x.word.len())
        .max()
        .unwrap_or(0)
        .max(12);
    for x in &c.candidates {
        out.push_str(format!("  {:<width$}  {}", x.word, x.help).trim_end());
        out.push('\n');
    }
    if c.note.is_none() && c.candidates.is_empty() {
        out.push_str("  (nothing matches here)\n");
    }
    out
}
