//! The CLI: its socket protocol spoken directly, and `netloom` driven through a
//! pseudo-terminal against the real daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use cli_support::*;
use netloom_tests::{netloom_path, Daemon};
use serde_json::{json, Value};

#[test]
fn socket_protocol_private_candidates_and_conflicts() {
    let d = Daemon::start(&[]);
    let mut a = Conn::open(&d);
    let hello = a.ok(json!({"op": "hello"}));
    assert_eq!(hello["user"], "root");
    assert_eq!(hello["role"], "admin");

    // Edits stay private until commit.
    a.ok(json!({"op": "configure"}));
    a.ok(set(
        "/netloom-host:networks/network[name='blue']/type",
        json!("bridge"),
    ));
    let mut b = Conn::open(&d);
    let running = b.ok(json!({"op": "get", "path": "/netloom-host:networks"}));
    assert_eq!(running["data"], json!({}), "{running}");
    let private = a.ok(json!({"op": "get", "source": "private", "path": "/netloom-host:networks"}));
    assert_eq!(
        private["data"]["netloom-host:networks"]["network"][0]["name"],
        "blue"
    );
    let cmp = a.ok(json!({"op": "compare"}));
    assert_eq!(
        cmp["changes"][0]["path"],
        "/netloom-host:networks/network[name='blue']"
    );
    let keys = a.ok(json!({"op": "keys", "path": "/netloom-host:networks/network", "source": "private", "prefix": "bl"}));
    assert_eq!(keys["keys"], json!(["blue"]));

    // A second session changes the same network first: a's commit is refused as a conflict.
    b.ok(json!({"op": "configure"}));
    b.ok(set(
        "/netloom-host:networks/network[name='blue']/type",
        json!("macvlan"),
    ));
    b.ok(set(
        "/netloom-host:networks/network[name='blue']/uplink",
        json!("eth0"),
    ));
    let committed = b.ok(json!({"op": "commit", "comment": "b first"}));
    assert!(committed["commit"].as_u64().is_some(), "{committed}");
    let refused = a.ask(json!({"op": "commit"}));
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["error"]["tag"], "in-use");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("network[name='blue']"));
    let running = b.ok(json!({"op": "get", "path": "/netloom-host:networks/network[name='blue']"}));
    assert_eq!(
        running["data"]["netloom-host:networks"]["network"][0]["type"],
        "macvlan"
    );

    // Changes elsewhere are no conflict: a's edit of another network commits on top of b's.
    a.ok(json!({"op": "discard"}));
    a.ok(set(
        "/netloom-host:networks/network[name='red']/type",
        json!("bridge"),
    ));
    b.ok(set(
        "/netloom-host:networks/network[name='green']/type",
        json!("bridge"),
    ));
    b.ok(json!({"op": "commit"}));
    a.ok(json!({"op": "commit", "comment": "red"}));
    let keys = b.ok(json!({"op": "keys", "path": "/netloom-host:networks/network"}));
    assert_eq!(keys["keys"], json!(["blue", "green", "red"]));
    let log = b.ok(json!({"op": "commits", "limit": 1}));
    assert_eq!(log["commits"][0]["comment"], "red");

    // A lock held by a session goes away when its connection does.
    a.ok(json!({"op": "lock"}));
    let locked = b.ask(set(
        "/netloom-host:networks/network[name='x']/type",
        json!("bridge"),
    ));
    assert_eq!(locked["ok"], true);
    let denied = b.ask(json!({"op": "commit"}));
    assert_eq!(denied["error"]["tag"], "lock-denied", "{denied}");
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = b.ask(json!({"op": "commit"}));
        if r["ok"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lock never released: {r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // Malformed requests get an error and the connection stays usable.
    let bad = b.ask(json!({"op": "frobnicate"}));
    assert_eq!(bad["error"]["tag"], "malformed-message");
    b.ok(json!({"op": "hello"}));
}

// ---- `netloom` itself: through a pseudo-terminal, and as a script ----

#[test]
fn terminal_completion_help_errors_and_commit() {
    let d = Daemon::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue type bridge",
            "set networks network green type bridge",
            "commit",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);

    // Tab completes schema nodes (networks, network, mtu) and live keys (blue).
    keys(&mut p, "set netw\tnetw\tbl\tmt\t1400");
    run(&mut p, "", CONFIG_PROMPT);
    let shown = run(&mut p, "compare", CONFIG_PROMPT);
    assert!(
        !shown.contains("- set networks network blue type bridge"),
        "{shown}"
    );
    assert!(
        shown.contains("+ set networks network blue mtu 1400"),
        "{shown}"
    );
    // A double tab lists every live key.
    keys(&mut p, "set networks network \t");
    p.exp_string("\x07").unwrap();
    keys(&mut p, "\t");
    p.exp_string("green").unwrap();
    keys(&mut p, "\x15");

    // `?` explains the next word from the schema, then gives the line back.
    keys(&mut p, "set networks network blue ?");
    p.exp_string("Possible completions:").unwrap();
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    assert!(
        help.contains("mtu") && help.contains("The MTU of the pods' interfaces"),
        "{help}"
    );
    keys(&mut p, "mtu ?");
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    assert!(help.contains("<mtu> uint16 68..65535"), "{help}");
    keys(&mut p, "\x15");
    keys(&mut p, "set networks network blue type ?");
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    assert!(
        help.contains("macvlan") && help.contains("How pods attach"),
        "{help}"
    );
    keys(&mut p, "\x15");

    // Bad input: one line pointing at the word; the session goes on.
    let e = run(&mut p, "frobnicate now", CONFIG_PROMPT);
    assert!(e.contains("^ error: unknown command 'frobnicate'"), "{e}");
    let e = run(&mut p, "set networks network blue mtu 70000", CONFIG_PROMPT);
    assert!(
        e.contains("^ error: bad value for 'mtu' (uint16 68..65535)"),
        "{e}"
    );
    let caret = e.lines().find(|l| l.contains("^ error")).unwrap();
    assert_eq!(
        caret.find('^'),
        Some(CONFIG_PROMPT.len() + "set networks network blue mtu ".len()),
        "{e}"
    );
    let e = run(&mut p, "set networks network blue mtu many", CONFIG_PROMPT);
    assert!(e.contains("^ error: bad value for 'mtu'"), "{e}");
    let e = run(&mut p, "set networks netwerk blue", CONFIG_PROMPT);
    assert!(e.contains("^ error: unknown element 'netwerk'"), "{e}");
    let e = run(
        &mut p,
        "set networks network blue description \"never closed",
        CONFIG_PROMPT,
    );
    assert!(e.contains("^ error: unbalanced quote"), "{e}");

    // edit/up/top move around; show is relative to the level.
    run(&mut p, "edit networks network blue", CONFIG_PROMPT);
    run(&mut p, "set description \"the blue one\"", CONFIG_PROMPT);
    let shown = run(&mut p, "show", CONFIG_PROMPT);
    assert!(
        shown.contains("description \"the blue one\";") && shown.contains("mtu 1400;"),
        "{shown}"
    );
    run(&mut p, "top", CONFIG_PROMPT);
    let v = run(&mut p, "validate", CONFIG_PROMPT);
    assert!(v.contains("configuration is valid"), "{v}");
    let c = run(
        &mut p,
        "commit comment \"from the terminal\"",
        CONFIG_PROMPT,
    );
    assert!(c.contains("commit complete"), "{c}");
    assert_eq!(running_network(&d, "blue")["mtu"], 1400);
    assert_eq!(running_network(&d, "blue")["description"], "the blue one");

    // Commit ids come live for rollback, with what each commit was.
    keys(&mut p, "rollback ?");
    p.exp_string("Possible completions:").unwrap();
    let help = p.exp_string(CONFIG_PROMPT).unwrap();
    assert!(
        help.contains("initial configuration") && help.contains("from the terminal"),
        "{help}"
    );
    keys(&mut p, "\x15");

    // exit warns about uncommitted changes and stays; exit discard leaves.
    run(&mut p, "set networks network blue mtu 1500", CONFIG_PROMPT);
    let w = run(&mut p, "exit", CONFIG_PROMPT);
    assert!(w.contains("uncommitted changes"), "{w}");
    let w = run(&mut p, "exit discard", PROMPT);
    assert!(w.contains("left configure mode"), "{w}");
    let log = run(&mut p, "show commits", PROMPT);
    assert!(log.contains("from the terminal"), "{log}");
    assert_eq!(running_network(&d, "blue")["mtu"], 1400);
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn terminal_confirmed_commit_rolls_back_unless_confirmed() {
    let d = Daemon::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let mut p = terminal(&d, home.path());
    run(&mut p, "configure", CONFIG_PROMPT);
    run(
        &mut p,
        "set networks network red type bridge",
        CONFIG_PROMPT,
    );
    let c = run(&mut p, "commit confirmed 3s", CONFIG_PROMPT);
    assert!(
        c.contains("rolled back in 3 second(s) unless confirmed"),
        "{c}"
    );
    assert_eq!(running_network(&d, "red")["type"], "bridge");
    // Not confirmed: the daemon's timer takes it back while this session is still open.
    eventually(
        "the rollback of the unconfirmed commit",
        Duration::from_secs(10),
        || running_network(&d, "red").is_null(),
    );

    run(
        &mut p,
        "set networks network red type bridge",
        CONFIG_PROMPT,
    );
    let c = run(&mut p, "commit confirmed 5", CONFIG_PROMPT);
    assert!(c.contains("rolled back in 5 minute(s)"), "{c}");
    let c = run(&mut p, "confirm", CONFIG_PROMPT);
    assert!(c.contains("commit confirmed"), "{c}");
    let log = run(&mut p, "run show commits 1", CONFIG_PROMPT);
    assert!(log.contains("confirmed"), "{log}");
    assert_eq!(running_network(&d, "red")["type"], "bridge");
    let c = run(&mut p, "confirm", CONFIG_PROMPT);
    assert!(c.contains("error: no confirmed commit is waiting"), "{c}");
    p.send_line("exit").unwrap();
    p.exp_string(PROMPT).unwrap();
}

#[test]
fn terminal_sessions_detect_conflicts() {
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
    run(&mut a, "set networks network blue mtu 1400", CONFIG_PROMPT);
    run(&mut b, "set networks network blue mtu 9000", CONFIG_PROMPT);
    let c = run(&mut b, "commit", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    let c = run(&mut a, "commit", CONFIG_PROMPT);
    assert!(
        c.contains("error: conflict") && c.contains("network[name='blue']"),
        "{c}"
    );
    assert_eq!(running_network(&d, "blue")["mtu"], 9000);
    // compare shows what a's commit would do to running as it is now.
    let cmp = run(&mut a, "compare", CONFIG_PROMPT);
    assert!(
        cmp.contains("- set networks network blue mtu 9000"),
        "{cmp}"
    );
    assert!(
        cmp.contains("+ set networks network blue mtu 1400"),
        "{cmp}"
    );
    // The operator decides: take b's commit in and put a's change on top.
    run(&mut a, "update", CONFIG_PROMPT);
    let c = run(&mut a, "commit", CONFIG_PROMPT);
    assert!(c.contains("commit complete"), "{c}");
    assert_eq!(running_network(&d, "blue")["mtu"], 1400);
}

#[test]
fn scripts_displays_and_exit_codes() {
    let d = Daemon::start(&[]);
    let (code, out, err) = script(
        &d,
        &[
            "configure",
            "set networks network blue type vxlan",
            "set networks network blue vxlan vni 100",
            "set networks network blue vxlan remote 10.0.0.2",
            "set pods pod default web interface eth0 network blue",
            "commit",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = script(&d, &["show networks"]);
    assert_eq!(code, 0);
    let header = out.lines().next().unwrap();
    assert!(
        header.starts_with("NAME  TYPE   UPLINK  MTU  VLAN  VNI"),
        "{out}"
    );
    assert!(out.contains("blue  vxlan  -       -    -     100"), "{out}");
    let (_, out, _) = script(&d, &["show pods"]);
    assert!(out.contains("default    web   eth0       blue"), "{out}");
    let (_, out, _) = script(&d, &["show networks | json"]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["netloom-host:networks"]["network"][0]["vxlan"]["vni"],
        100
    );
    let (_, out, _) = script(&d, &["show networks blue | xml"]);
    assert!(
        out.contains("<networks xmlns=\"urn:netloom:yang:netloom-host\">")
            && out.contains("<vni>100</vni>"),
        "{out}"
    );
    let (_, out, _) = script(&d, &["show configuration | display set"]);
    assert!(
        out.contains("set networks network blue vxlan remote 10.0.0.2\n"),
        "{out}"
    );
    assert!(
        out.contains("set pods pod default web interface eth0 network blue\n"),
        "{out}"
    );
    let (_, out, _) = script(&d, &["show commits"]);
    assert!(out.starts_with("ID  TIME"), "{out}");

    // The first failing line stops a script with status 1 and says where.
    let (code, _, err) = script(&d, &["show networks", "show netwroks", "show pods"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2, column 6 ('netwroks'): unknown show target"),
        "{err}"
    );
    let mut c = Command::new(netloom_path());
    c.env("NETLOOM_CLI_SOCKET", &d.cli_socket)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"configure\nset networks network red type bridge\nset networks network red mtu 10\ncommit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 3, column 30 ('10'): bad value for 'mtu'"),
        "{err}"
    );
    assert!(running_network(&d, "red").is_null());

    // No daemon: status 2.
    let mut c = Command::new(netloom_path());
    let out = c
        .env("NETLOOM_CLI_SOCKET", d.data_dir.join("nothing.sock"))
        .arg("-c")
        .arg("show networks")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn other_users_read_but_never_write() {
    if my_uid() != 0 {
        println!("skipped: not root, so cannot run the CLI as another user");
        return;
    }
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
    // nobody must reach the socket and the binary: open the data dir for traversal only.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d.data_dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let as_nobody = |cmds: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(netloom_path())
            .env("NETLOOM_CLI_SOCKET", &d.cli_socket);
        for cmd in cmds {
            c.arg("-c").arg(cmd);
        }
        c.output().unwrap()
    };
    let out = as_nobody(&["show networks"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("blue"));
    // password hashes (nacm:default-deny-all) are shown to administrators only
    let hash = netloom_northbound::auth::hash_password("operator-pw").unwrap();
    let (code, _, err) = script(
        &d,
        &[
            "configure",
            &format!("set system user op password {hash}"),
            "set system user op role operator",
            "commit",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, admins, err) = script(&d, &["show configuration"]);
    assert_eq!(code, 0, "{err}");
    assert!(admins.contains("$argon2"), "{admins}");
    let out = as_nobody(&["show configuration"]);
    let theirs = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(theirs.contains("operator"), "{theirs}");
    assert!(
        !theirs.contains("$argon2"),
        "a read-only peer read a hash: {theirs}"
    );
    let out = as_nobody(&["configure"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is read-only"), "{err}");
    // Below the CLI too: the socket refuses a read-only peer's writes whatever it sends.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(format!(
            "import socket;s=socket.socket(socket.AF_UNIX);s.connect({:?});f=s.makefile('rw');\
             f.write('{{\"op\":\"rollback\",\"id\":1}}\\n');f.flush();print(f.readline())",
            d.cli_socket.display().to_string()
        ))
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(reply.contains("access-denied"), "{reply}");
    assert_eq!(running_network(&d, "blue")["type"], "bridge");
}

fn my_uid() -> u32 {
    // The owner of /proc/self is this process's uid; no libc call needed.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}
