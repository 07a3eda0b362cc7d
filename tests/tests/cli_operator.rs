//! `netloom` operator workflows on a pseudo-terminal against the real daemon: `rollback N`
//! loaded into the candidate, conflicts found leaf by leaf between two sessions, confirmed
//! commits that outlive the CLI session (and a daemon restart), drill-down `show` of a
//! network, a pod and a pod interface, and completion of VF ids from live data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::time::Duration;

use cli_support::*;
use netloom_tests::cni::{cni, conf, pod_args};
use netloom_tests::Daemon;
use serde_json::{json, Value};

/// The newest commit's id.
fn newest_commit(d: &Daemon) -> u64 {
    let mut c = Conn::open(d);
    c.ok(json!({"op": "commits", "limit": 1}))["commits"][0]["id"]
        .as_u64()
        .unwrap()
}

fn running_doc(d: &Daemon) -> Value {
    Conn::open(d).ok(json!({"op": "get"}))["data"].clone()
}

#[test]
fn rollback_loads_an_old_configuration_to_compare_and_commit() {
    let d = Daemon::start(&[]);
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue type bridge",
            "set networks network blue mtu 1400",
            "set networks network red type bridge",
            "commit comment \"the good one\"",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let good = newest_commit(&d);
    let good_doc = running_doc(&d);
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue mtu 9000",
            "delete networks network red",
            "set networks network green type bridge",
            "commit comment \"the bad one\"",
        ],
    );
    assert_eq!(code, 0, "{err}");

    let home = tempfile::tempdir().unwrap();
    let mut p = terminal(&d, home.path());
    let e = run(&mut p, &format!("rollback {good}"), PROMPT);
    assert!(e.contains("'rollback' is a configure-mode command"), "{e}");
    run(&mut p, "configure", CONFIG_PROMPT);
    keys(&mut p, "rollback ?");
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    assert!(
        help.contains(&good.to_string()) && help.contains("the good one"),
        "{help}"
    );
    keys(&mut p, "\x15");
    let out = run(&mut p, &format!("rollback {good}"), CONFIG_PROMPT);
    assert!(out.contains("loaded commit"), "{out}");
    // Nothing is committed yet: compare shows what a commit would do.
    assert_eq!(running_network(&d, "blue")["mtu"], 9000);
    let cmp = run(&mut p, "compare", CONFIG_PROMPT);
    for line in [
        "- set networks network blue mtu 9000",
        "+ set networks network blue mtu 1400",
        "+ set networks network red type bridge",
        "- set networks network green type bridge",
    ] {
        assert!(cmp.contains(line), "missing {line:?} in {cmp}");
    }
    let shown = run(&mut p, "show networks network red", CONFIG_PROMPT);
    assert!(shown.contains("type bridge;"), "{shown}");
    let c = run(&mut p, "commit comment \"back to good\"", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    assert_eq!(running_doc(&d), good_doc);
    // Loading what running already is: nothing to commit.
    let again = run(&mut p, &format!("rollback {good}"), CONFIG_PROMPT);
    assert!(again.contains("nothing to commit"), "{again}");
    let e = run(&mut p, "rollback 999", CONFIG_PROMPT);
    assert!(e.contains("error: there is no commit 999"), "{e}");
    run(&mut p, "exit", PROMPT);
}

#[test]
fn two_terminals_conflict_only_on_the_same_leaf() {
    let d = Daemon::start(&[]);
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue type bridge",
            "commit",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let home = tempfile::tempdir().unwrap();
    let mut a = terminal(&d, home.path());
    let mut b = terminal(&d, home.path());
    run(&mut a, "configure", CONFIG_PROMPT);
    run(&mut b, "configure", CONFIG_PROMPT);

    // Different leaves of the same network: both commit, neither loses anything.
    run(&mut a, "set networks network blue mtu 1400", CONFIG_PROMPT);
    run(
        &mut b,
        "set networks network blue description bee",
        CONFIG_PROMPT,
    );
    let c = run(&mut b, "commit", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    let c = run(&mut a, "commit", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    let blue = running_network(&d, "blue");
    assert_eq!(
        (blue["mtu"].clone(), blue["description"].clone()),
        (json!(1400), json!("bee"))
    );

    // The same leaf: the second commit is refused with the leaf, theirs and yours.
    run(&mut a, "set networks network blue mtu 1500", CONFIG_PROMPT);
    run(&mut b, "set networks network blue mtu 9000", CONFIG_PROMPT);
    let c = run(&mut b, "commit", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    let c = run(&mut a, "commit", CONFIG_PROMPT);
    assert!(
        c.contains("error: conflict")
            && c.contains("network[name='blue']/mtu (theirs 9000, yours 1500)")
            && c.contains("nothing was committed"),
        "{c}"
    );
    assert_eq!(running_network(&d, "blue")["mtu"], 9000);
    // Deleting the network b just changed would undo b's work: refused too.
    run(&mut a, "discard", CONFIG_PROMPT);
    run(&mut a, "delete networks network blue", CONFIG_PROMPT);
    run(&mut b, "set networks network blue mtu 9100", CONFIG_PROMPT);
    run(&mut b, "commit", CONFIG_PROMPT);
    let c = run(&mut a, "commit", CONFIG_PROMPT);
    assert!(c.contains("/mtu (theirs 9100, yours (absent))"), "{c}");
    assert_eq!(running_network(&d, "blue")["mtu"], 9100);
    run(&mut a, "exit discard", PROMPT);
}

/// Log lines containing `what`.
fn logged(d: &Daemon, what: &str) -> usize {
    d.log().iter().filter(|l| l.contains(what)).count()
}

/// Wait until every CLI session the daemon started has ended.
fn all_sessions_ended(d: &Daemon) {
    eventually("every CLI session to end", Duration::from_secs(10), || {
        logged(d, "CLI session ended") == logged(d, "CLI session started")
    });
}

fn quit(mut p: rexpect::session::PtySession, prompt: &str) -> String {
    p.send_line("exit").unwrap();
    if prompt == CONFIG_PROMPT {
        p.exp_string(PROMPT).unwrap();
        p.send_line("exit").unwrap();
    }
    p.exp_eof().unwrap()
}

fn commit_state(d: &Daemon) -> String {
    let mut c = Conn::open(d);
    c.ok(json!({"op": "commits", "limit": 1}))["commits"][0]["confirmed"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn confirmed_commits_outlive_the_cli_session_and_a_restart() {
    let mut d = Daemon::start(&[]);
    let home = tempfile::tempdir().unwrap();

    // Confirmed in one session, confirmed from another after the first one ended.
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);
    run(
        &mut p,
        "set networks network red type bridge",
        CONFIG_PROMPT,
    );
    let c = run(&mut p, "commit confirmed 1", CONFIG_PROMPT);
    assert!(
        c.contains("rolled back in 1 minute(s) unless confirmed"),
        "{c}"
    );
    let bye = quit(p, CONFIG_PROMPT);
    assert!(bye.contains("the confirmed commit still waits"), "{bye}");
    all_sessions_ended(&d);
    assert_eq!(running_network(&d, "red")["type"], "bridge");
    assert_eq!(commit_state(&d), "pending");
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);
    let c = run(&mut p, "confirm", CONFIG_PROMPT);
    assert!(c.contains("commit confirmed"), "{c}");
    quit(p, CONFIG_PROMPT);
    assert_eq!(commit_state(&d), "confirmed");

    // Across a daemon restart too.
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);
    run(
        &mut p,
        "set networks network green type bridge",
        CONFIG_PROMPT,
    );
    run(&mut p, "commit confirmed 1", CONFIG_PROMPT);
    quit(p, CONFIG_PROMPT);
    d.restart();
    let mut p = terminal(&d, home.path());
    let log = run(&mut p, "show commits 1", PROMPT);
    assert!(log.contains("pending"), "{log}");
    run(&mut p, "configure", CONFIG_PROMPT);
    let c = run(&mut p, "confirm", CONFIG_PROMPT);
    assert!(c.contains("commit confirmed"), "{c}");
    quit(p, CONFIG_PROMPT);
    assert_eq!(running_network(&d, "green")["type"], "bridge");
    assert_eq!(commit_state(&d), "confirmed");

    // Never confirmed: the daemon's timer rolls it back after the session is long gone.
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);
    run(
        &mut p,
        "set networks network yellow type bridge",
        CONFIG_PROMPT,
    );
    run(&mut p, "commit confirmed 2s", CONFIG_PROMPT);
    quit(p, CONFIG_PROMPT);
    assert_eq!(running_network(&d, "yellow")["type"], "bridge");
    eventually(
        "the unconfirmed commit's rollback",
        Duration::from_secs(20),
        || running_network(&d, "yellow").is_null(),
    );
    assert_eq!(running_network(&d, "green")["type"], "bridge");
    let (_, out, _) = script(&d, &["show commits 2"]);
    assert!(out.contains("rolled-back"), "{out}");
}

#[test]
fn drill_down_show_and_vf_completion() {
    let d = Daemon::start(&[]);
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue type bridge",
            "set networks network blue mtu 1450",
            "set networks network blue ipam pool v4 subnet 10.9.0.0/24",
            "set networks network blue ipam pool v4 gateway 10.9.0.1",
            "set pods pod default web interface eth0 network blue",
            "set sriov physical-function ens1 num-vfs 4",
            "set sriov physical-function ens1 vf 0 trust true",
            "set sriov physical-function ens1 vf 2 vlan 100",
            "commit",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (ok, added) = cni(
        &d.cni_socket,
        "ADD",
        "ctr-web-0123456789",
        "/run/netns/cli-test-web",
        "eth0",
        &pod_args("web"),
        conf(json!({})),
    );
    assert!(ok, "{added}");
    let mac = added["interfaces"][1]["mac"].as_str().unwrap().to_owned();
    let host = added["interfaces"][0]["name"].as_str().unwrap().to_owned();
    let addr = added["ips"][0]["address"].as_str().unwrap().to_owned();

    let home = tempfile::tempdir().unwrap();
    let mut p = terminal(&d, home.path());
    let net = run(&mut p, "show networks blue", PROMPT);
    assert!(net.contains("network blue"), "{net}");
    let has_row = |text: &str, start: &[&str]| {
        text.lines().any(|l| {
            l.split_whitespace()
                .take(start.len())
                .eq(start.iter().copied())
        })
    };
    assert!(has_row(&net, &["mtu", "1450"]), "{net}");
    assert!(has_row(&net, &["v4", "10.9.0.0/24", "10.9.0.1"]), "{net}");
    assert!(
        has_row(&net, &["default/web", "eth0", &addr, &mac, &host]),
        "{net}"
    );

    let pod = run(&mut p, "show pods web", PROMPT);
    assert!(pod.contains("pod default/web"), "{pod}");
    let row = pod.lines().find(|l| l.starts_with("eth0")).unwrap();
    assert!(
        row.contains("blue") && row.contains(&addr) && row.contains(&mac) && row.contains(&host),
        "{pod}"
    );
    let same = run(&mut p, "show pods default web", PROMPT);
    assert_eq!(
        same.lines().skip(1).collect::<Vec<_>>(),
        pod.lines().skip(1).collect::<Vec<_>>()
    );

    let iface = run(&mut p, "show pods default web interface eth0", PROMPT);
    for (field, value) in [
        ("host end", host.as_str()),
        ("mac", &mac),
        ("addresses", &addr),
    ] {
        assert!(
            iface
                .lines()
                .any(|l| l.starts_with(field) && l.trim_end().ends_with(value)),
            "{field} {value} in {iface}"
        );
    }
    let e = run(&mut p, "show pods web interface eth9", PROMPT);
    assert!(
        e.contains("^ error: pod default/web has no interface 'eth9'"),
        "{e}"
    );
    let e = run(&mut p, "show pods nosuch", PROMPT);
    assert!(e.contains("^ error: no pod 'nosuch'"), "{e}");

    // Other displays: configuration with the matching state.
    let (code, out, err) = script(&d, &["show pods web interface eth0 | json"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["netloom-host:state"]["attachment"][0]["mac"],
        mac.as_str()
    );
    assert_eq!(
        doc["netloom-host:pods"]["pod"][0]["interface"][0]["network"],
        "blue"
    );
    let (_, out, _) = script(&d, &["show networks blue | xml"]);
    assert!(
        out.contains("<mtu>1450</mtu>") && out.contains("<attachment>"),
        "{out}"
    );
    let (_, out, _) = script(&d, &["show networks blue | display set"]);
    assert!(
        out.contains("set networks network blue ipam pool v4 subnet 10.9.0.0/24\n"),
        "{out}"
    );

    // VF ids come from the PF's live configuration: configured ones and the rest below
    // num-vfs.
    run(&mut p, "configure", CONFIG_PROMPT);
    keys(&mut p, "set sriov physical-function ens1 vf ?");
    p.exp_string("Possible completions:").unwrap();
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    for (id, what) in [
        ("0", "configured"),
        ("1", "not configured yet"),
        ("2", "configured"),
        ("3", "not configured yet"),
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(id) && l.trim_end().ends_with(what)),
            "VF {id} {what} in {help}"
        );
    }
    assert!(!help.contains("  4 "), "{help}");
    keys(&mut p, "\x15");
    keys(&mut p, "set sriov physical-function e\tvf 3\tvlan 7");
    run(&mut p, "", CONFIG_PROMPT);
    let cmp = run(&mut p, "compare", CONFIG_PROMPT);
    assert!(
        cmp.contains("+ set sriov physical-function ens1 vf 3 vlan 7"),
        "{cmp}"
    );
    run(&mut p, "exit discard", PROMPT);
}

/// CLI sessions take their ids from the one counter every front end draws from (so locks
/// and kill-session name one session whatever protocol it speaks): a RESTCONF connection
/// accepted between two CLI sessions leaves a gap in the CLI's ids.
#[test]
fn session_ids_are_shared_with_the_other_front_ends() {
    let d = Daemon::start(&[]);
    let hello = |d: &Daemon| {
        Conn::open(d).ok(json!({"op": "hello"}))["session"]
            .as_u64()
            .unwrap()
    };
    let first = hello(&d);
    let second = hello(&d);
    assert_eq!(second, first + 1, "nothing else connected in between");
    let _restconf = std::net::TcpStream::connect(d.restconf).unwrap();
    let mut last = second;
    eventually(
        "a CLI session id after the RESTCONF connection's",
        Duration::from_secs(5),
        || {
            let next = hello(&d);
            let gap = next > last + 1;
            last = next;
            gap
        },
    );
}
