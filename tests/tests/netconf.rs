//! NETCONF over SSH end to end: the real netloomd, ncclient (and paramiko for raw framing,
//! OpenSSH's `ssh -s` for base:1.0 and public keys) as clients, over real SSH on loopback.
//! Each test drives one Python script (tests/netconf/prelude.py + the script below) that
//! asserts on the server's replies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use netloom_tests::{python, Daemon, ADMIN_PASSWORD};

const PRELUDE: &str = include_str!("../netconf/prelude.py");

/// Run `script` against the daemon's NETCONF port; panics with its output (and the daemon's
/// log) when an assertion fails. Returns stdout.
fn run(d: &Daemon, script: &str) -> String {
    let py = python(&["ncclient"]);
    let out = Command::new(py)
        .arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .arg(d.netconf.ip().to_string())
        .arg(d.netconf.port().to_string())
        .arg(ADMIN_PASSWORD)
        .env("NETCONF_DATA_DIR", &d.data_dir)
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "script failed\n--- stdout\n{stdout}\n--- stderr\n{}\n--- daemon log (tail)\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log_tail(40)
    );
    stdout
}

#[test]
fn hello_framings_sessions_and_timeouts() {
    let d = Daemon::start(&[
        "--netconf-hello-timeout",
        "1",
        "--netconf-idle-timeout",
        "3",
    ]);
    assert!(d.data_dir.join("netconf-host-key").exists());
    let mode = std::fs::metadata(d.data_dir.join("netconf-host-key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    run(
        &d,
        r#"
a = connect(); b = connect()
assert a.session_id != b.session_id, (a.session_id, b.session_id)
caps = list(a.server_capabilities)
for c in (":candidate", ":writable-running", ":confirmed-commit:1.1", ":validate:1.1",
          ":startup", ":rollback-on-error", "base:1.1"):
    assert any(c in x for x in caps), (c, caps)
assert any("module=netloom-host" in x for x in caps)
a.close_session(); b.close_session()  # before the idle timeout (3 s) would

# base:1.0 end-of-message framing and base:1.1 chunks on bare channels.
for base11 in (False, True):
    r = Raw(base11=base11)
    sid = etree.fromstring(r.server_hello).find("nc:session-id", NS).text
    assert int(sid) > 0
    rep = r.rpc("<get-config><source><running/></source></get-config>", mid="m1")
    assert rep.get("message-id") == "m1" and rep.find("nc:data", NS) is not None
    rep = r.rpc("<close-session/>", mid="m2")
    assert rep.find("nc:ok", NS) is not None
    assert r.closed(10), "close-session must close the channel"

# No hello within the hello timeout (1 s): the server closes.
r = Raw(hello=False)
assert r.closed(10)
# A client hello carrying a session-id is a protocol error: closed.
r = Raw(hello=False)
r.send_raw(('<hello xmlns="%s"><capabilities><capability>urn:ietf:params:netconf:base:1.0'
            '</capability></capabilities><session-id>4</session-id></hello>]]>]]>' % BASE).encode())
assert r.closed(10)
# Idle (3 s without an RPC): closed.
r = Raw()
assert r.closed(15)
"#,
    );
}

#[test]
fn openssh_subsystem_with_a_public_key_speaks_base_1_0() {
    let d = Daemon::start(&[]);
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    run(
        &d,
        &format!(
            r#"
m = connect()
m.edit_config(target="running", config=config(
    '<system xmlns="%s"><user><name>admin</name><authorized-key>{}</authorized-key></user></system>' % NL))
m.close_session()
"#,
            public.trim()
        ),
    );
    let hello = "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
        <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>\
        <rpc message-id=\"1\" xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><get-config>\
        <source><running/></source></get-config></rpc>]]>]]>\
        <rpc message-id=\"2\" xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><close-session/></rpc>]]>]]>";
    let mut child = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
        ])
        .arg(&key)
        .args([
            "-p",
            &d.netconf.port().to_string(),
            "-s",
            "admin@127.0.0.1",
            "netconf",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hello.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ssh -s failed: {:?}\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("<session-id>"), "{stdout}");
    assert!(stdout.contains("<authorized-key>ssh-ed25519"), "{stdout}");
    assert!(
        stdout.contains("message-id=\"2\"><ok/></rpc-reply>]]>]]>"),
        "{stdout}"
    );
}

#[test]
fn reads_and_subtree_filters() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
m = connect()
m.edit_config(target="running", config=config(network("a", 1400) + network("b", 1500)))
assert networks(m) == {"a": 1400, "b": 1500}, networks(m)
# content match selects one entry; selection of one leaf keeps the key.
data = m.get_config(source="running", filter=("subtree",
    '<networks xmlns="%s"><network><name>b</name></network></networks>' % NL)).data
assert [n.text for n in data.findall(".//nl:name", NS)] == ["b"]
assert data.find(".//nl:type", NS).text == "bridge"
data = m.get_config(source="running", filter=("subtree",
    '<networks xmlns="%s"><network><mtu/></network></networks>' % NL)).data
assert data.find(".//nl:type", NS) is None and len(data.findall(".//nl:mtu", NS)) == 2
# another namespace selects nothing
data = m.get_config(source="running", filter=("subtree", '<networks xmlns="urn:other"/>')).data
assert len(data) == 0
# candidate mirrors running; startup is written by copy-config.
assert networks(m, "candidate") == {"a": 1400, "b": 1500}
assert networks(m, "startup") == {}
m.copy_config(source="running", target="startup")
assert networks(m, "startup") == {"a": 1400, "b": 1500}
m.delete_config(target="startup")
assert networks(m, "startup") == {}
expect_error(lambda: m.delete_config(target="running"), "invalid-value")
# get: config and operational state together
data = m.get().data
assert data.find("nl:networks", NS) is not None and data.find("nl:state", NS) is not None
data = m.get(filter=("subtree", '<state xmlns="%s"/>' % NL)).data
assert data.find("nl:networks", NS) is None and data.find("nl:state", NS) is not None
m.close_session()
"#,
    );
}

/// A read of a large list is rendered once per datastore version and its body shared by the
/// replies that follow (netconf/reply_cache.rs): every reply still carries its own
/// message-id, in both framings, for get-config and get-data, and a change (a commit, an
/// edit of candidate) shows in the very next read.
#[test]
fn large_reads_follow_every_change() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
N = 700  # ~50 KB of <data>: above the size from which bodies are shared
m = connect()
m.edit_config(target="running", config=config('<networks xmlns="%s">%s</networks>' % (NL, "".join(
    "<network><name>n%d</name><type>bridge</type><mtu>1500</mtu></network>" % i
    for i in range(N)))))
FILTER = '<filter type="subtree"><networks xmlns="%s"/></filter>' % NL

def names(data):
    return {n.find("nl:name", NS).text: int(n.find("nl:mtu", NS).text)
            for n in data.findall(".//nl:network", NS)}

want = {"n%d" % i: 1500 for i in range(N)}
for base11 in (False, True):
    r = Raw(base11=base11)
    for mid in ("a1", "a2", "a3"):
        rep = r.rpc("<get-config><source><running/></source>%s</get-config>" % FILTER, mid=mid)
        assert rep.get("message-id") == mid, (mid, rep.attrib)
        assert names(rep.find("nc:data", NS)) == want
    for mid in ("d1", "d2"):
        rep = r.rpc('<get-data xmlns="%s" xmlns:ds="%s"><datastore>ds:running</datastore>'
                    '<subtree-filter><networks xmlns="%s"/></subtree-filter></get-data>'
                    % (NMDA, DS, NL), mid=mid)
        assert rep.get("message-id") == mid
        data = rep.find("{%s}data" % NMDA)
        assert data is not None and names(data) == want, etree.tostring(rep)[:300]
    r.rpc("<close-session/>", mid="x")

assert networks(m) == want
# A commit changes the next read; so does an edit of candidate, which running does not see.
m.edit_config(target="running", config=config(network("n5", 1400)))
want["n5"] = 1400
assert networks(m) == want
m.edit_config(target="running", config=config(network("n6", op="delete")))
del want["n6"]
assert networks(m) == want and networks(m, "candidate") == want
m.edit_config(target="candidate", config=config(network("n7", 9000)))
assert networks(m) == want
assert networks(m, "candidate") == dict(want, n7=9000)
m.discard_changes()
assert networks(m, "candidate") == want

# Bulk changes (past the size from which the reads likely to follow are rendered before the
# change is answered): the very next reads, filtered and not, carry exactly the new content.
BULK = 4200
def bulk(op=None):
    attr = ' nc:operation="%s"' % op if op else ""
    return config('<networks xmlns="%s">%s</networks>' % (NL, "".join(
        "<network%s><name>b%d</name><type>bridge</type><mtu>1400</mtu></network>" % (attr, i)
        for i in range(BULK))), nc_ns=True)
def everything():
    return names(m.get_config(source="running").data)
m.edit_config(target="candidate", config=bulk())
m.commit()
want.update({"b%d" % i: 1400 for i in range(BULK)})
assert networks(m) == want and everything() == want
m.edit_config(target="running", config=config(network("n8", 1300)))
want["n8"] = 1300
assert networks(m) == want and everything() == want
m.edit_config(target="running", config=bulk("delete"))
want = {k: v for k, v in want.items() if not k.startswith("b")}
assert networks(m) == want and everything() == want
m.close_session()
"#,
    );
}

#[test]
fn edit_config_operations_and_rpc_errors() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
m = connect()
m.edit_config(target="running", config=config(network("br0", 1400, op="create")))
e = expect_error(lambda: m.edit_config(target="running",
    config=config(network("br0", op="create"))), "data-exists")
assert e.type == "application" and e.severity == "error", (e.type, e.severity)
assert "network[name='br0']" in e.path, e.path
# merge changes a leaf, replace drops what the new entry does not have
m.edit_config(target="running", config=config(network("br0", 1300)))
assert networks(m) == {"br0": 1300}
m.edit_config(target="running", config=config(network("br0", op="replace")))
assert networks(m) == {"br0": None}
# delete of what is missing fails, remove does not
e = expect_error(lambda: m.edit_config(target="running",
    config=config(network("nope", op="delete"))), "data-missing")
m.edit_config(target="running", config=config(network("nope", op="remove")))
# default-operation none: only the marked leaf changes
m.edit_config(target="running", default_operation="none", config=config(
    '<networks xmlns="%s" xmlns:nc="%s"><network><name>br0</name><mtu nc:operation="merge">1600</mtu></network></networks>' % (NL, BASE)))
assert networks(m) == {"br0": 1600}
# test-only validates without writing
m.edit_config(target="running", test_option="test-only", config=config(network("t", 1000)))
assert networks(m) == {"br0": 1600}
try:
    m.edit_config(target="running", test_option="test-only", config=config(network("mv", kind="macvlan")))
    raise AssertionError("test-only accepted a macvlan without uplink")
except RPCError:
    pass
# ... and checks what a commit checks beyond the schema: a pool overlapping running's
pool = "<ipam><pool><name>v4</name><subnet>%s</subnet></pool></ipam>"
m.edit_config(target="running", config=config(network("p1", extra=pool % "10.8.1.0/24")))
m.edit_config(target="running", test_option="test-only",
              config=config(network("p2", extra=pool % "10.8.2.0/24")))
try:
    m.edit_config(target="running", test_option="test-only",
                  config=config(network("p2", extra=pool % "10.8.0.0/16")))
    raise AssertionError("test-only accepted a pool overlapping p1's")
except RPCError as e:
    assert "overlaps" in e.message, e.message
m.edit_config(target="running", config=config(network("p1", op="delete")))
assert networks(m) == {"br0": 1600}
# a bad edit (a macvlan without uplink) beside a good one: nothing applied
before = m.get_config(source="running").data_xml
try:
    m.edit_config(target="running", error_option="rollback-on-error",
                  config=config(network("ok1", 1000) + network("mv", kind="macvlan")))
    raise AssertionError("a macvlan without uplink was accepted")
except RPCError as e:
    assert e.type == "application", e.type
    assert "mv" in (e.path or "") + e.message, (e.path, e.message)
assert m.get_config(source="running").data_xml == before
expect_error(lambda: m.edit_config(target="running", error_option="continue-on-error",
    config=config(network("x", 1000))), "operation-not-supported")
# bad names, namespaces and operations
e = expect_error(lambda: m.edit_config(target="running",
    config=config('<networks xmlns="%s"><bogus/></networks>' % NL)), "unknown-element")
assert e.info is not None and "bogus" in e.info, e.info
expect_error(lambda: m.edit_config(target="running",
    config=config('<networks xmlns="urn:nowhere"/>')), "unknown-namespace")
expect_error(lambda: m.edit_config(target="running",
    config=config(network("br0", op="frobnicate"))), "bad-attribute")
expect_error(lambda: m.edit_config(target="running",
    config=config(network("br0", mtu=5))), "invalid-value")
assert networks(m) == {"br0": 1600}
m.close_session()
"#,
    );
}

#[test]
fn locks_contend_and_kill_session_releases_them() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
a = connect(); b = connect()
a.lock("running"); a.lock("candidate")
e = expect_error(lambda: b.lock("running"), "lock-denied")
assert e.type == "protocol", e.type
assert e.info is not None and "<session-id>%s</session-id>" % a.session_id in e.info.replace(' xmlns="%s"' % BASE, ""), e.info
# the holder can write; the other session cannot
a.edit_config(target="running", config=config(network("x", 1400)))
e = expect_error(lambda: b.edit_config(target="running", config=config(network("y", 1400))), "lock-denied")
expect_error(lambda: b.unlock("running"), "operation-failed")
# kill-session releases a's locks before answering
expect_error(lambda: b.kill_session(b.session_id), "invalid-value")
b.kill_session(a.session_id)
b.lock("running"); b.lock("candidate")
poll("the killed session to close", lambda: not a.connected)
b.unlock("running"); b.unlock("candidate")
# closing a session releases its locks too
c = connect(); c.lock("running"); c.close_session()
b.lock("running"); b.unlock("running")
assert networks(b) == {"x": 1400}
b.close_session()
"#,
    );
}

#[test]
fn candidate_commit_and_confirmed_commit() {
    let mut d = Daemon::start(&[]);
    run(
        &d,
        r#"
m = connect()
m.edit_config(target="candidate", config=config(network("c1", 1400)))
assert networks(m, "candidate") == {"c1": 1400} and networks(m) == {}
m.discard_changes()
assert networks(m, "candidate") == {}
m.edit_config(target="candidate", config=config(network("c1", 1400)))
m.validate(source="candidate")
m.commit()
assert networks(m) == {"c1": 1400}
# a bad candidate fails validate and commit; running keeps its value
m.edit_config(target="candidate", config=config(network("mv", kind="macvlan")))
try:
    m.validate(source="candidate"); raise AssertionError("validate accepted an invalid candidate")
except RPCError as e:
    assert e.type == "application"
try:
    m.commit(); raise AssertionError("commit of an invalid candidate succeeded")
except RPCError as e:
    assert e.type == "application"
m.discard_changes()
assert networks(m) == {"c1": 1400}
# validate of a configuration given inline: netloom's own checks count as for a commit
def pooled(name, subnet):
    return ("<network><name>%s</name><type>bridge</type><ipam><pool><name>v4</name>"
            "<subnet>%s</subnet></pool></ipam></network>" % (name, subnet))
def inline(*entries):
    return etree.fromstring(config('<networks xmlns="%s">%s</networks>' % (NL, "".join(entries))))
m.validate(source=inline(pooled("i1", "10.9.1.0/24"), pooled("i2", "10.9.2.0/24")))
try:
    m.validate(source=inline(pooled("i1", "10.9.0.0/16"), pooled("i2", "10.9.1.0/24")))
    raise AssertionError("validate accepted overlapping pools")
except RPCError as e:
    assert "overlaps" in e.message, e.message
try:
    m.validate(source=inline(pooled("i1", "10.9.1.0/33")))
    raise AssertionError("validate accepted a /33")
except RPCError as e:
    assert e.type == "application", e.type
assert networks(m) == {"c1": 1400} and networks(m, "candidate") == {"c1": 1400}
# confirmed commit that is confirmed
m.edit_config(target="candidate", config=config(network("c2", 1500)))
m.commit(confirmed=True, timeout="30")
m.commit()
# confirmed commit that expires: rolled back
m.edit_config(target="candidate", config=config(network("c3", 1500)))
m.commit(confirmed=True, timeout="1")
assert "c3" in networks(m)
poll("the confirmed commit to roll back", lambda: "c3" not in networks(m))
assert networks(m) == {"c1": 1400, "c2": 1500}
# persist: survives the session; another session confirms with the persist-id
m.edit_config(target="candidate", config=config(network("c4", 1500)))
m.commit(confirmed=True, timeout="60", persist="p-4")
m.close_session()
n = connect()
assert "c4" in networks(n)
n.commit(persist_id="p-4")
# cancel-commit with the persist-id rolls back
n.edit_config(target="candidate", config=config(network("c5", 1500)))
n.commit(confirmed=True, timeout="60", persist="p-5")
try:
    n.cancel_commit(persist_id="wrong"); raise AssertionError("cancel-commit with a wrong persist-id")
except RPCError:
    pass
n.cancel_commit(persist_id="p-5")
assert "c5" not in networks(n)
# a persisted confirmed commit left pending for the restart below
n.edit_config(target="candidate", config=config(network("c6", 1500)))
n.commit(confirmed=True, timeout="4", persist="p-6")
assert "c6" in networks(n)
n.close_session()
"#,
    );
    d.restart();
    run(
        &d,
        r#"
m = connect()
poll("the persisted confirmed commit to roll back after the restart", lambda: "c6" not in networks(m))
assert networks(m) == {"c1": 1400, "c2": 1500, "c4": 1500}, networks(m)
m.close_session()
"#,
    );
}

#[test]
fn hostile_input_gets_errors_or_a_clean_close() {
    let d = Daemon::start(&["--netconf-idle-timeout", "3"]);
    run(
        &d,
        r#"
m = connect()
m.edit_config(target="running", config=config(network("keep", 1400)))
before = m.get_config(source="running").data_xml
m.close_session()  # the idle timeout is 3 s: reconnect at the end

r = Raw()
assert error_tag(r.rpc("<get-config><source><running/></source>")) == "malformed-message"
laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10) for i in range(1, 10))
          + ']><rpc xmlns="%s" message-id="2"><get>&lol9;</get></rpc>' % BASE)
r.send(laughs)
assert error_tag(r.read()) == "malformed-message"
deep = "".join("<n%d>" % i for i in range(100)) + "".join("</n%d>" % i for i in reversed(range(100)))
rep = r.rpc('<edit-config><target><running/></target><config>%s</config></edit-config>' % deep, mid="3")
assert error_tag(rep) == "malformed-message"
r.send('<rpc xmlns="%s"><get/></rpc>' % BASE)
assert error_tag(r.read()) == "missing-attribute"
assert error_tag(r.rpc('<frob xmlns="urn:x"/>', mid="4")) == "operation-not-supported"
assert error_tag(r.rpc('<get-config><source><running/></source></get-config><get/>', mid="5")) == "malformed-message"
# after all that, the session still answers
assert r.rpc("<get-config><source><running/></source></get-config>", mid="6").find("nc:data", NS) is not None

# bad chunk sizes and a 100 MB chunk: an rpc-error, then the session is closed
for bad, tag in ((b"\n#abc\n", "malformed-message"), (b"\n#0\n", "malformed-message"),
                 (b"\n#104857600\n" + b"x" * 65536, "too-big")):
    r = Raw()
    r.send_raw(bad)
    assert error_tag(r.read()) == tag, bad[:12]
    assert r.closed(10)

# half a frame, then silence: other sessions are served meanwhile; the idle timeout closes it
r = Raw()
r.send_raw(b"\n#100\n<rpc xmlns=")
other = connect()
other.edit_config(target="running", config=config(network("other", 1500)))
other.edit_config(target="running", config=config(network("other", op="delete")))
assert r.closed(15)
m = connect()
assert m.get_config(source="running").data_xml == before
m.close_session()
"#,
    );
}

#[test]
fn notifications_live_and_replayed() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
import datetime
NN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
def take(m, name, about=""):
    deadline = time.time() + 20
    while time.time() < deadline:
        n = m.take_notification(timeout=5)
        if n is not None and n.notification_ele.find(".//{%s}%s" % (NN, name)) is not None \
                and about in n.notification_xml:
            return n.notification_ele
    raise AssertionError("no %s notification" % name)
start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
time.sleep(0.01)
w = connect()
w.edit_config(target="running", config=config(network("early", 1400)))
listener = connect()
listener.create_subscription()
# interleave: RPCs still work on the subscribed session
got = networks(listener)
assert got == {"early": 1400}, got
expect_error(lambda: listener.create_subscription(), "in-use")
w.edit_config(target="running", config=config(network("late", 1500)))
ev = take(listener, "netconf-config-change")
targets = [t.text for t in ev.findall(".//{%s}target" % NN)]
assert any("late" in t for t in targets), targets
shown = etree.tostring(ev).decode()
assert ev.find(".//{%s}session-id" % NN).text == str(w.session_id), shown
assert ev.find(".//{%s}operation" % NN).text == "create", shown
third = connect()
ev = take(listener, "netconf-session-start")
assert ev.find(".//{%s}session-id" % NN).text == str(third.session_id)
third.close_session()
ev = take(listener, "netconf-session-end")
assert ev.find(".//{%s}termination-reason" % NN).text == "closed"
# replay from the commit log
r = connect()
r.create_subscription(start_time=start)
# (startTime has whole seconds: the daemon's own first commit may be replayed too)
ev = take(r, "netconf-config-change", about="early")
assert ev.find(".//{%s}session-id" % NN).text == "0"
expect_error(lambda: connect().create_subscription(stream_name="nope"), "invalid-value")
for m in (w, listener, r):
    m.close_session()
"#,
    );
}

/// Read until the server closes; what it sent. Panics if it has not closed in `within`.
fn read_to_close(c: &mut std::net::TcpStream, within: Duration) -> Vec<u8> {
    use std::io::Read;
    c.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => got,
        // a reset after the server's disconnect is a close too
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => got,
        Err(e) => panic!(
            "the server did not close the connection: {e} (read {} bytes)",
            got.len()
        ),
    }
}

#[test]
fn connections_that_do_not_log_in_are_closed() {
    use std::io::Write;
    let d = Daemon::start(&["--netconf-login-timeout", "1"]);
    let limit = Duration::from_secs(20);
    // Silent: never sends its SSH identification.
    let mut silent = std::net::TcpStream::connect(d.netconf).unwrap();
    // Stalled in key exchange: identifies itself and stops.
    let mut stalled = std::net::TcpStream::connect(d.netconf).unwrap();
    stalled.write_all(b"SSH-2.0-stall\r\n").unwrap();
    let got = read_to_close(&mut silent, limit);
    assert!(
        got.starts_with(b"SSH-2.0-"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    read_to_close(&mut stalled, limit);
    for line in [
        "no identification within the login timeout",
        "no login within the login timeout",
    ] {
        assert!(d.wait_log(line, limit), "{line}:\n{}", d.log_tail(20));
    }
}

#[test]
fn running_out_of_file_descriptors_ends_no_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_wrapped(
        dir.path().to_owned(),
        Some(dir),
        &["prlimit", "--nofile=192", "--"],
        &["--gnmi-plaintext"],
    );
    // Connections the daemon accepts take a descriptor each until accept fails; the
    // accept queue (at least 128) holds the ones after that.
    let mut held = Vec::new();
    let failed = |d: &Daemon| d.wait_log("NETCONF accept failed", Duration::ZERO);
    while !failed(&d) {
        assert!(
            held.len() < 400,
            "no accept failed under 192 descriptors:\n{}",
            d.log_tail(20)
        );
        held.push(std::net::TcpStream::connect(d.netconf).unwrap());
    }
    // The gNMI, CNI and CLI listeners' accepts fail too while no descriptor is free.
    let gnmi = std::net::TcpStream::connect(d.gnmi).unwrap();
    let unix = [&d.cni_socket, &d.cli_socket].map(std::os::unix::net::UnixStream::connect);
    let logged = |line: String| {
        assert!(
            d.wait_log(&line, Duration::from_secs(10)),
            "{line}:\n{}",
            d.log_tail(20)
        )
    };
    for what in ["gNMI", "CNI", "CLI"] {
        logged(format!("{what} accept failed"));
    }
    drop(held);
    drop(gnmi);
    drop(unix);
    // Every listener serves again once descriptors are free: a CNI call through the shim,
    // a CLI connection, and a real NETCONF session.
    let (ok, v) = netloom_tests::cni::cni(
        &d.cni_socket,
        "VERSION",
        "",
        "",
        "",
        "",
        netloom_tests::cni::conf(serde_json::json!({})),
    );
    assert!(ok, "{v}");
    let _cli = std::os::unix::net::UnixStream::connect(&d.cli_socket).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let caps = rt.block_on(async {
        let mut c = netloom_tests::gnmi::connect(d.gnmi).await;
        c.capabilities(netloom_northbound::gnmi::proto::gnmi::CapabilityRequest::default())
            .await
    });
    assert!(caps.is_ok_and(|r| !r.into_inner().supported_models.is_empty()));
    for what in ["gNMI", "CNI", "CLI"] {
        logged(format!("{what} accepting again"));
    }
    let out = run(
        &d,
        r#"
m = connect()
assert m.get_config(source="running").data is not None
m.close_session()
print("served")
"#,
    );
    assert!(out.contains("served"));
    assert!(
        d.wait_log("NETCONF accepting again", Duration::from_secs(10)),
        "{}",
        d.log_tail(20)
    );
}
