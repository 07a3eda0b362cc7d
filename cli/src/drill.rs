//! Drill-down `show`: one network (its settings, pools with their usage, the pods attached),
//! one pod (its interfaces, configured and as attached), one pod interface (configuration,
//! the attachment's host end, MAC and addresses, counters when the daemon has them). Tables
//! by default; `| json` and `| xml` give the configuration and the matching state,
//! `| display set` the configuration.

use serde_json::{json, Value};

use crate::command::{walk, Display, ParseError, Word};
use crate::shell::{no_more, Failure, Shell};
use crate::show::{cell, render, table};

fn word(text: &str) -> Word {
    Word {
        text: text.to_owned(),
        start: 0,
        end: 0,
        quoted: false,
    }
}

/// Check list keys against their types (errors point at the word) and get the entry.
fn entry(shell: &mut Shell, path: &[&str], keys: &[&Word]) -> Result<Option<Value>, Failure> {
    let mut words: Vec<Word> = path.iter().map(|p| word(p)).collect();
    words.extend(keys.iter().map(|w| (*w).clone()));
    let walked = walk(&shell.schema, &[], &words, true)?;
    let head = crate::command::data_path(&shell.schema, &walked.steps);
    let xpath = head
        .to_xpath()
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let doc = shell.client.call(&json!({"op": "get", "path": xpath}))?["data"].take();
    Ok(doc[format!("netloom-host:{}", path[0])][path[1]]
        .as_array()
        .and_then(|a| a.first())
        .cloned())
}

/// The operational state's list `name`.
fn state_list(shell: &mut Shell, name: &str) -> Result<Vec<Value>, Failure> {
    let data = shell.client.call(&json!({"op": "state"}))?["data"].take();
    Ok(data["netloom-host:state"][name]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// A config entry (and state entries) in a non-default display.
fn rendered(
    shell: &Shell,
    container: &str,
    list: &str,
    entry: &Value,
    state: Vec<(&str, Vec<Value>)>,
    display: Display,
) -> String {
    let mut doc = json!({ format!("netloom-host:{container}"): { list: [entry] } });
    if display != Display::Set {
        let state: serde_json::Map<String, Value> = state
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), Value::Array(v)))
            .collect();
        if !state.is_empty() {
            doc["netloom-host:state"] = Value::Object(state);
        }
    }
    render(&shell.schema, &doc, display)
}

/// Every leaf under `v` as (space-separated path, value) rows; list entries are named by
/// their first member (the key), leaf-lists joined by commas.
fn properties(v: &Value, prefix: &str, skip: &[&str], rows: &mut Vec<Vec<String>>) {
    let Some(members) = v.as_object() else {
        return;
    };
    for (member, value) in members {
        let name = member.rsplit(':').next().unwrap_or(member);
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix} {name}")
        };
        if skip.contains(&path.as_str()) {
            continue;
        }
        match value {
            Value::Object(_) => properties(value, &path, skip, rows),
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                for item in items {
                    let label = item
                        .as_object()
                        .and_then(|o| o.values().next())
                        .map(cell)
                        .unwrap_or_default();
                    let first = item.as_object().and_then(|o| o.keys().next().cloned());
                    let mut rest = item.clone();
                    if let (Some(o), Some(k)) = (rest.as_object_mut(), first) {
                        o.remove(&k);
                    }
                    properties(&rest, &format!("{path} {label}"), skip, rows);
                }
            }
            other => rows.push(vec![path, cell(other)]),
        }
    }
}

/// `show networks NAME`.
pub fn network(
    shell: &mut Shell,
    keys: &[Word],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let Some(name) = keys.first() else {
        return Ok(());
    };
    no_more(&keys[1..])?;
    let Some(net) = entry(shell, &["networks", "network"], &[name])? else {
        return Err(Failure::Refused(format!("no network '{}'", name.text)));
    };
    let attached: Vec<Value> = state_list(shell, "attachment")?
        .into_iter()
        .filter(|a| a["network"] == net["name"])
        .collect();
    let usage: Vec<Value> = state_list(shell, "pool-usage")?
        .into_iter()
        .filter(|u| u["network"] == net["name"])
        .collect();
    if display != Display::Default {
        let state = vec![("attachment", attached), ("pool-usage", usage)];
        out.push_str(&rendered(
            shell, "networks", "network", &net, state, display,
        ));
        return Ok(());
    }
    out.push_str(&format!("network {}\n", cell(&net["name"])));
    let mut rows = Vec::new();
    properties(&net, "", &["name", "ipam pool"], &mut rows);
    out.push_str(&table(&["PROPERTY", "VALUE"], &rows));
    let pools: Vec<Vec<String>> = net["ipam"]["pool"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let u = usage.iter().find(|u| u["pool"] == p["name"]);
            vec![
                cell(&p["name"]),
                cell(&p["subnet"]),
                cell(&p["gateway"]),
                u.map_or("-".into(), |u| cell(&u["size"])),
                u.map_or("-".into(), |u| cell(&u["allocated"])),
            ]
        })
        .collect();
    if !pools.is_empty() {
        out.push('\n');
        out.push_str(&table(
            &["POOL", "SUBNET", "GATEWAY", "SIZE", "ALLOCATED"],
            &pools,
        ));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = attached
        .iter()
        .map(|a| {
            vec![
                format!("{}/{}", cell(&a["pod-namespace"]), cell(&a["pod-name"])),
                cell(&a["interface"]),
                cell(&a["address"]),
                cell(&a["mac"]),
                cell(&a["host-interface"]),
            ]
        })
        .collect();
    out.push_str(&table(
        &["ATTACHED-POD", "INTERFACE", "ADDRESSES", "MAC", "HOST-IF"],
        &rows,
    ));
    Ok(())
}

/// A pod as config and attachments know it.
struct Pod {
    namespace: String,
    name: String,
    config: Option<Value>,
    attachments: Vec<Value>,
}

/// Which pod `words` name: `NAMESPACE NAME`, `NAMESPACE/NAME`, or a `NAME` found in one
/// namespace only; and the words after it.
fn find_pod<'w>(shell: &mut Shell, words: &'w [Word]) -> Result<(Pod, &'w [Word]), Failure> {
    let attachments = state_list(shell, "attachment")?;
    let first = &words[0];
    let (namespace, name, rest) = if let Some((ns, n)) = first.text.split_once('/') {
        (ns.to_owned(), n.to_owned(), &words[1..])
    } else if words.len() >= 2 && words[1].text != "interface" {
        (first.text.clone(), words[1].text.clone(), &words[2..])
    } else {
        // One name: look for it in every namespace, configured or attached.
        let all = shell
            .client
            .call(&json!({"op": "get", "path": "/netloom-host:pods/pod"}))?["data"]
            .take();
        let mut found: Vec<String> = all["netloom-host:pods"]["pod"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == first.text.as_str())
            .map(|p| cell(&p["namespace"]))
            .chain(
                attachments
                    .iter()
                    .filter(|a| a["pod-name"] == first.text.as_str())
                    .map(|a| cell(&a["pod-namespace"])),
            )
            .collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [ns] => (ns.clone(), first.text.clone(), &words[1..]),
            [] => return Err(ParseError::at(first, format!("no pod '{}'", first.text)).into()),
            many => {
                return Err(ParseError::at(
                    first,
                    format!(
                        "pod '{}' is in several namespaces ({}): give NAMESPACE NAME",
                        first.text,
                        many.join(", ")
                    ),
                )
                .into())
            }
        }
    };
    let (ns_word, name_word) = (word(&namespace), word(&name));
    let config = entry(shell, &["pods", "pod"], &[&ns_word, &name_word]).map_err(|e| match e {
        // The keys were typed as one word or two: point at the first.
        Failure::Parse(p) => Failure::Parse(ParseError::at(first, p.message)),
        other => other,
    })?;
    let attachments: Vec<Value> = attachments
        .into_iter()
        .filter(|a| a["pod-namespace"] == namespace.as_str() && a["pod-name"] == name.as_str())
        .collect();
    if config.is_none() && attachments.is_empty() {
        return Err(ParseError::at(first, format!("no pod {namespace}/{name}")).into());
    }
    Ok((
        Pod {
            namespace,
            name,
            config,
            attachments,
        },
        rest,
    ))
}

/// `show pods NAMESPACE NAME [interface IFNAME]` (or `NAME`, `NAMESPACE/NAME`).
pub fn pod(
    shell: &mut Shell,
    words: &[Word],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let (pod, rest) = find_pod(shell, words)?;
    let interface = match rest {
        [] => None,
        [kw, ifname] if kw.text == "interface" => Some(ifname),
        [kw] if kw.text == "interface" => {
            return Err(ParseError {
                col: kw.end + 1,
                message: "interface needs a name".into(),
            }
            .into())
        }
        [other, ..] => {
            return Err(ParseError::at(
                other,
                format!("unexpected '{}'; interface IFNAME", other.text),
            )
            .into())
        }
    };
    let configured: Vec<Value> = pod
        .config
        .as_ref()
        .and_then(|c| c["interface"].as_array().cloned())
        .unwrap_or_default();
    match interface {
        None => pod_view(shell, &pod, &configured, display, out),
        Some(ifname) => interface_view(shell, &pod, &configured, ifname, display, out),
    }
}

fn pod_view(
    shell: &mut Shell,
    pod: &Pod,
    configured: &[Value],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    if display != Display::Default {
        let config = pod
            .config
            .clone()
            .unwrap_or_else(|| json!({"namespace": pod.namespace, "name": pod.name}));
        let state = vec![("attachment", pod.attachments.clone())];
        out.push_str(&rendered(shell, "pods", "pod", &config, state, display));
        return Ok(());
    }
    let mut names: Vec<String> = configured.iter().map(|i| cell(&i["name"])).collect();
    for a in &pod.attachments {
        let n = cell(&a["interface"]);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let c = configured.iter().find(|i| cell(&i["name"]) == *n);
            let a = pod.attachments.iter().find(|a| cell(&a["interface"]) == *n);
            let get = |v: Option<&Value>, k: &str| v.map_or("-".into(), |v| cell(&v[k]));
            vec![
                n.clone(),
                c.or(a).map_or("-".into(), |v| cell(&v["network"])),
                get(c, "address"),
                get(a, "address"),
                get(a, "mac"),
                get(a, "host-interface"),
                a.map_or("-".into(), |a| {
                    cell(&a["container-id"]).chars().take(12).collect()
                }),
            ]
        })
        .collect();
    out.push_str(&format!("pod {}/{}\n", pod.namespace, pod.name));
    out.push_str(&table(
        &[
            "INTERFACE",
            "NETWORK",
            "FIXED-ADDRESSES",
            "ADDRESSES",
            "MAC",
            "HOST-IF",
            "CONTAINER",
        ],
        &rows,
    ));
    Ok(())
}

fn interface_view(
    shell: &mut Shell,
    pod: &Pod,
    configured: &[Value],
    ifname: &Word,
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let c = configured.iter().find(|i| cell(&i["name"]) == ifname.text);
    let attachments: Vec<Value> = pod
        .attachments
        .iter()
        .filter(|a| cell(&a["interface"]) == ifname.text)
        .cloned()
        .collect();
    if c.is_none() && attachments.is_empty() {
        return Err(ParseError::at(
            ifname,
            format!(
                "pod {}/{} has no interface '{}'",
                pod.namespace, pod.name, ifname.text
            ),
        )
        .into());
    }
    let a = attachments.first();
    // Counters of the host end (or of the pod end, `netns/ifname`) when the daemon has them.
    let counters = state_list(shell, "interface")?.into_iter().find(|i| {
        a.is_some_and(|a| {
            i["name"] == a["host-interface"]
                || cell(&i["name"]) == format!("{}/{}", cell(&a["netns"]), ifname.text)
        })
    });
    if display != Display::Default {
        let mut config = json!({"namespace": pod.namespace, "name": pod.name});
        if let Some(c) = c {
            config["interface"] = json!([c]);
        }
        let mut state = vec![("attachment", attachments.clone())];
        if let Some(i) = &counters {
            state.push(("interface", vec![i.clone()]));
        }
        out.push_str(&rendered(shell, "pods", "pod", &config, state, display));
        return Ok(());
    }
    let get = |v: Option<&Value>, k: &str| v.map_or("-".into(), |v| cell(&v[k]));
    let mut rows = vec![
        vec!["pod".into(), format!("{}/{}", pod.namespace, pod.name)],
        vec!["interface".into(), ifname.text.clone()],
        vec!["network".into(), get(c.or(a), "network")],
        vec!["fixed addresses".into(), get(c, "address")],
        vec!["configured mac".into(), get(c, "mac")],
        vec![
            "attached".into(),
            if a.is_some() { "yes" } else { "no" }.into(),
        ],
        vec!["container".into(), get(a, "container-id")],
        vec!["netns".into(), get(a, "netns")],
        vec!["host end".into(), get(a, "host-interface")],
        vec!["mac".into(), get(a, "mac")],
        vec!["addresses".into(), get(a, "address")],
        vec!["attached at".into(), get(a, "created")],
    ];
    match &counters {
        Some(i) => {
            rows.push(vec!["oper-status".into(), cell(&i["oper-status"])]);
            if let Some(cs) = i["counters"].as_object() {
                rows.extend(cs.iter().map(|(k, v)| vec![k.clone(), cell(v)]));
            }
        }
        None => rows.push(vec!["counters".into(), "- (none reported)".into()]),
    }
    out.push_str(&table(&["FIELD", "VALUE"], &rows));
    Ok(())
}
