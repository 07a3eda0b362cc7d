//! Operational `show` commands: configuration and state as tables by default, or in any
//! display (`| json`, `| xml`, `| display set`).

use netloom_yang::NodeKind;
use serde_json::{json, Value};

use crate::command::{data_path, walk, Display, ParseError, Step, Want, Word};
use crate::shell::{no_more, Failure, Shell};
use crate::show::{at, braces, cell, prune, render, table};

/// What `show` can show, and how.
pub const TARGETS: &[(&str, &str)] = &[
    ("networks", "Networks (NAME for one in full)"),
    (
        "pods",
        "Pods and their interfaces ([NAMESPACE] NAME [interface IFNAME] for one)",
    ),
    ("attachments", "CNI attachments of pods"),
    ("ipam", "IP pool usage"),
    ("sriov", "SR-IOV physical functions and VFs"),
    ("services", "Services"),
    ("policies", "Firewall policies"),
    ("interfaces", "Interface counters"),
    ("commits", "The commit log ([COUNT])"),
    ("configuration", "The running configuration ([PATH])"),
    ("state", "All operational state"),
];

pub fn show(
    shell: &mut Shell,
    cmd: &Word,
    words: &[Word],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let Some(target) = words.first() else {
        return Err(ParseError {
            col: cmd.end + 1,
            message: format!(
                "show what? {}",
                TARGETS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        .into());
    };
    let rest = &words[1..];
    match target.text.as_str() {
        "networks" if !rest.is_empty() => crate::drill::network(shell, rest, display, out),
        "pods" if !rest.is_empty() => crate::drill::pod(shell, rest, display, out),
        "networks" => config_table(
            shell,
            &["networks", "network"],
            rest,
            display,
            out,
            networks,
        ),
        "pods" => config_table(shell, &["pods", "pod"], rest, display, out, pods),
        "services" => config_table(
            shell,
            &["services", "service"],
            rest,
            display,
            out,
            services,
        ),
        "policies" => config_table(shell, &["policies", "policy"], rest, display, out, policies),
        "sriov" => config_table(
            shell,
            &["sriov", "physical-function"],
            rest,
            display,
            out,
            sriov,
        ),
        "attachments" => state_table(shell, "attachment", rest, display, out, attachments),
        "ipam" => state_table(shell, "pool-usage", rest, display, out, pool_usage),
        "interfaces" => state_table(shell, "interface", rest, display, out, interfaces),
        "state" => {
            no_more(rest)?;
            let data = shell.client.call(&json!({"op": "state"}))?["data"].take();
            out.push_str(&render(&shell.schema, &data, pick(display, Display::Json)));
            Ok(())
        }
        "commits" => commits(shell, rest, display, out),
        "configuration" => configuration(shell, rest, display, out),
        _ => Err(ParseError::at(
            target,
            format!(
                "unknown show target '{}'; one of: {}",
                target.text,
                TARGETS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into()),
    }
}

fn pick(display: Display, default: Display) -> Display {
    if display == Display::Default {
        default
    } else {
        display
    }
}

/// `show configuration [PATH]` (also configure mode's `show`, on the private candidate).
pub fn show_config(
    shell: &mut Shell,
    context: &[Step],
    words: &[Word],
    source: &str,
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let walked = walk(&shell.schema, context, words, true)?;
    if let Want::Key { list, fixed } = &walked.want {
        // `show networks network` (no key): the whole list.
        if !fixed.is_empty() {
            let info = shell.schema.node(*list);
            return Err(Failure::Refused(format!(
                "'{}' needs {} key(s)",
                info.name,
                info.keys.len()
            )));
        }
    }
    let steps = &walked.steps;
    let mut req = json!({"op": "get", "source": source});
    if !steps.is_empty() {
        let head = data_path(&shell.schema, &steps[..steps.len().min(2)]);
        req["path"] = Value::String(
            head.to_xpath()
                .map_err(|e| Failure::Refused(e.to_string()))?,
        );
    }
    let doc = shell.client.call(&req)?["data"].take();
    if display != Display::Default {
        let pruned = prune(&shell.schema, &doc, steps).unwrap_or(json!({}));
        out.push_str(&render(&shell.schema, &pruned, display));
        return Ok(());
    }
    let Some(value) = at(&shell.schema, &doc, steps) else {
        return Ok(());
    };
    let parent = steps.last().map(|s| s.node);
    match parent.map(|p| shell.schema.node(p).kind) {
        Some(NodeKind::Leaf) | Some(NodeKind::LeafList) => {
            let name = &shell
                .schema
                .node(parent.unwrap_or(netloom_yang::NodeId(0)))
                .name;
            out.push_str(&format!("{name} {};\n", cell(value)));
        }
        Some(NodeKind::List) if steps.last().is_some_and(|s| s.keys.is_empty()) => {
            // The whole list: show each entry under the list's parent.
            let wrapped = prune(&shell.schema, &doc, steps).unwrap_or(json!({}));
            let inner = at(&shell.schema, &wrapped, &steps[..steps.len() - 1]).cloned();
            let grand = steps.len().checked_sub(2).map(|i| steps[i].node);
            out.push_str(&braces(&shell.schema, grand, &inner.unwrap_or(json!({}))));
        }
        _ => out.push_str(&braces(&shell.schema, parent, value)),
    }
    Ok(())
}

fn configuration(
    shell: &mut Shell,
    words: &[Word],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    show_config(shell, &[], words, "running", display, out)
}

type Rows = fn(&[Value]) -> (Vec<&'static str>, Vec<Vec<String>>);

/// A top-level config list as a table, or one entry in full when its keys are given.
fn config_table(
    shell: &mut Shell,
    path: &[&str],
    keys: &[Word],
    display: Display,
    out: &mut String,
    rows: Rows,
) -> Result<(), Failure> {
    let mut words: Vec<Word> = path
        .iter()
        .map(|p| Word {
            text: (*p).to_owned(),
            start: 0,
            end: 0,
            quoted: false,
        })
        .collect();
    words.extend_from_slice(keys);
    if !keys.is_empty() || display != Display::Default {
        return show_config(shell, &[], &words, "running", display, out);
    }
    let doc = shell.client.call(&json!({
        "op": "get",
        "path": format!("/netloom-host:{}/{}", path[0], path[1]),
    }))?["data"]
        .take();
    let entries = doc[format!("netloom-host:{}", path[0])][path[1]]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (headers, rows) = rows(&entries);
    out.push_str(&table(&headers, &rows));
    Ok(())
}

/// A list of the operational state as a table.
fn state_table(
    shell: &mut Shell,
    list: &str,
    rest: &[Word],
    display: Display,
    out: &mut String,
    rows: Rows,
) -> Result<(), Failure> {
    no_more(rest)?;
    let data = shell.client.call(&json!({"op": "state"}))?["data"].take();
    let entries = data["netloom-host:state"][list].clone();
    if display != Display::Default {
        let doc = match entries {
            Value::Null => json!({}),
            e => json!({"netloom-host:state": {list: e}}),
        };
        out.push_str(&render(&shell.schema, &doc, display));
        return Ok(());
    }
    let (headers, rows) = rows(entries.as_array().map(Vec::as_slice).unwrap_or_default());
    out.push_str(&table(&headers, &rows));
    Ok(())
}

fn commits(
    shell: &mut Shell,
    rest: &[Word],
    display: Display,
    out: &mut String,
) -> Result<(), Failure> {
    let limit = match rest.first() {
        Some(w) => w
            .text
            .parse::<usize>()
            .map_err(|_| ParseError::at(w, format!("'{}' is not a count", w.text)))?,
        None => 20,
    };
    no_more(rest.get(1..).unwrap_or_default())?;
    let reply = shell
        .client
        .call(&json!({"op": "commits", "limit": limit}))?;
    let list = reply["commits"].as_array().cloned().unwrap_or_default();
    if display != Display::Default {
        let entries: Vec<Value> = list
            .iter()
            .map(|c| {
                let mut e = c.clone();
                e["id"] = Value::String(cell(&c["id"]));
                if e["comment"].is_null() {
                    if let Some(o) = e.as_object_mut() {
                        o.remove("comment");
                    }
                }
                e
            })
            .collect();
        let doc = json!({"netloom-host:state": {"commit": entries}});
        out.push_str(&render(&shell.schema, &doc, display));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            ["id", "time", "user", "confirmed", "comment"]
                .iter()
                .map(|k| cell(&c[*k]))
                .collect()
        })
        .collect();
    out.push_str(&table(
        &["ID", "TIME", "USER", "CONFIRMED", "COMMENT"],
        &rows,
    ));
    Ok(())
}

fn networks(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|n| {
            let pools: Vec<String> = n["ipam"]["pool"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| cell(&p["subnet"]))
                .collect();
            vec![
                cell(&n["name"]),
                cell(&n["type"]),
                cell(&n["uplink"]),
                cell(&n["mtu"]),
                cell(&n["vlan-id"]),
                cell(&n["vxlan"]["vni"]),
                if pools.is_empty() {
                    "-".into()
                } else {
                    pools.join(",")
                },
            ]
        })
        .collect();
    (
        vec!["NAME", "TYPE", "UPLINK", "MTU", "VLAN", "VNI", "POOLS"],
        rows,
    )
}

fn pods(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut rows = Vec::new();
    for p in entries {
        let ifs = p["interface"].as_array().cloned().unwrap_or_default();
        if ifs.is_empty() {
            rows.push(vec![
                cell(&p["namespace"]),
                cell(&p["name"]),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for i in ifs {
            rows.push(vec![
                cell(&p["namespace"]),
                cell(&p["name"]),
                cell(&i["name"]),
                cell(&i["network"]),
                cell(&i["address"]),
            ]);
        }
    }
    (
        vec!["NAMESPACE", "NAME", "INTERFACE", "NETWORK", "ADDRESSES"],
        rows,
    )
}

fn services(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|s| {
            let ports: Vec<String> = s["port"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", cell(&p["port"]), cell(&p["protocol"])))
                .collect();
            let endpoints = s["endpoint"].as_array().map_or(0, Vec::len);
            vec![
                cell(&s["namespace"]),
                cell(&s["name"]),
                cell(&s["type"]),
                cell(&s["vip"]),
                if ports.is_empty() {
                    "-".into()
                } else {
                    ports.join(",")
                },
                endpoints.to_string(),
            ]
        })
        .collect();
    (
        vec!["NAMESPACE", "NAME", "TYPE", "VIPS", "PORTS", "ENDPOINTS"],
        rows,
    )
}

fn policies(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|p| {
            vec![
                cell(&p["name"]),
                cell(&p["applies-to"]["network"]),
                cell(&p["applies-to"]["pod-namespace"]),
                cell(&p["default-action"]),
                p["rule"].as_array().map_or(0, Vec::len).to_string(),
            ]
        })
        .collect();
    (
        vec!["NAME", "NETWORKS", "POD-NAMESPACE", "DEFAULT", "RULES"],
        rows,
    )
}

fn sriov(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|p| {
            let vfs: Vec<String> = p["vf"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| cell(&v["id"]))
                .collect();
            vec![
                cell(&p["name"]),
                cell(&p["num-vfs"]),
                if vfs.is_empty() {
                    "-".into()
                } else {
                    vfs.join(",")
                },
            ]
        })
        .collect();
    (vec!["PHYSICAL-FUNCTION", "NUM-VFS", "CONFIGURED-VFS"], rows)
}

fn attachments(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|a| {
            let id = cell(&a["container-id"]);
            vec![
                id.chars().take(12).collect(),
                format!("{}/{}", cell(&a["pod-namespace"]), cell(&a["pod-name"])),
                cell(&a["interface"]),
                cell(&a["network"]),
                cell(&a["address"]),
                cell(&a["mac"]),
                cell(&a["host-interface"]),
            ]
        })
        .collect();
    (
        vec![
            "CONTAINER",
            "POD",
            "INTERFACE",
            "NETWORK",
            "ADDRESSES",
            "MAC",
            "HOST-IF",
        ],
        rows,
    )
}

fn pool_usage(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|u| {
            vec![
                cell(&u["network"]),
                cell(&u["pool"]),
                cell(&u["size"]),
                cell(&u["allocated"]),
            ]
        })
        .collect();
    (vec!["NETWORK", "POOL", "SIZE", "ALLOCATED"], rows)
}

fn interfaces(entries: &[Value]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = entries
        .iter()
        .map(|i| {
            let c = &i["counters"];
            vec![
                cell(&i["name"]),
                cell(&i["oper-status"]),
                cell(&c["in-pkts"]),
                cell(&c["in-octets"]),
                cell(&c["out-pkts"]),
                cell(&c["out-octets"]),
                cell(&c["in-errors"]),
                cell(&c["out-errors"]),
            ]
        })
        .collect();
    (
        vec![
            "NAME",
            "STATUS",
            "IN-PKTS",
            "IN-OCTETS",
            "OUT-PKTS",
            "OUT-OCTETS",
            "IN-ERR",
            "OUT-ERR",
        ],
        rows,
    )
}
