//! NETCONF end to end, the parts that rest on the standard modules: with-defaults
//! (RFC 6243), :xpath, NMDA get-data/edit-data (RFC 8526), ietf-netconf-monitoring and
//! get-schema (RFC 6022), the yang-library, RFC 6470 notifications with create-subscription
//! filters, netloom's commit RPCs, the operator role, a commit the kernel refuses, and
//! netconf-console2 as a second client. Scripts share tests/netconf/prelude.py.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use netloom_tests::cni::{kernel_daemon, Netns};
use netloom_tests::{need_root, python, Daemon, ADMIN_PASSWORD};

const PRELUDE: &str = include_str!("../netconf/prelude.py");
const PROTOCOL: &str = include_str!("../netconf/protocol.py");

/// Run `script` (with the preludes) against the daemon; `wrapper` runs python inside the
/// daemon's network namespace. Panics with the output and the daemon's log on failure.
fn run_in(d: &Daemon, wrapper: &[&str], script: &str) -> String {
    let py = python(&["ncclient", "netconf_console"]);
    let mut cmd = match wrapper.split_first() {
        Some((w, args)) => {
            let mut c = Command::new(w);
            c.args(args).arg(&py);
            c
        }
        None => Command::new(&py),
    };
    let out = cmd
        .arg("-c")
        .arg(format!("{PRELUDE}\n{PROTOCOL}\n{script}"))
        .arg(d.netconf.ip().to_string())
        .arg(d.netconf.port().to_string())
        .arg(ADMIN_PASSWORD)
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

fn run(d: &Daemon, script: &str) -> String {
    run_in(d, &[], script)
}

#[test]
fn with_defaults_in_all_four_modes() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
m = connect()
caps = list(m.server_capabilities)
wd = [c for c in caps if ":with-defaults:1.0" in c]
assert wd and "basic-mode=explicit" in wd[0], caps
assert "also-supported=report-all,report-all-tagged,trim" in wd[0], wd
m.edit_config(target="running", config=config(
    network("b1", mtu=1400) + network("b2", extra="<bridge><hairpin>false</hairpin></bridge>")))
sub = ("subtree", '<networks xmlns="%s"/>' % NL)

def hairpin(data, name):
    return data.find(".//nl:network[nl:name='%s']/nl:bridge/nl:hairpin" % name, NS)

# explicit (no parameter, and the basic mode): only what was set.
for data in (m.get_config(source="running", filter=sub).data,
             m.get_config(source="running", filter=sub, with_defaults="explicit").data):
    assert hairpin(data, "b1") is None and hairpin(data, "b2").text == "false"
# report-all: the bridge container's defaults (its when holds for a bridge network), and
# no macvlan defaults (their when is false).
data = m.get_config(source="running", filter=sub, with_defaults="report-all").data
assert hairpin(data, "b1").text == "false"
assert data.find(".//nl:network[nl:name='b1']/nl:bridge/nl:gateway", NS).text == "true"
assert data.find(".//nl:macvlan", NS) is None
# report-all-tagged: every value equal to its default carries wd:default="true".
data = m.get_config(source="running", filter=sub, with_defaults="report-all-tagged").data
for name in ("b1", "b2"):
    assert hairpin(data, name).get(WD_ATTR) == "true", etree.tostring(data)
mtu = data.find(".//nl:network[nl:name='b1']/nl:mtu", NS)
assert mtu.text == "1400" and mtu.get(WD_ATTR) is None
# trim: values equal to their default are left out, even when set.
data = m.get_config(source="running", filter=sub, with_defaults="trim").data
assert hairpin(data, "b2") is None
assert data.find(".//nl:network[nl:name='b1']/nl:mtu", NS).text == "1400"
# get takes it too, and get-data.
data = m.get(filter=sub, with_defaults="report-all").data
assert hairpin(data, "b1").text == "false"
data = rpc(m, '<get-data xmlns="%s" xmlns:ds="%s"><datastore>ds:running</datastore>'
              '<with-defaults xmlns="%s">report-all</with-defaults></get-data>' % (NMDA, DS, WD))
assert data.find(".//nl:network[nl:name='b1']/nl:bridge/nl:gateway", NS).text == "true"
# copy-config with report-all stores the defaults explicitly.
rpc(m, '<copy-config xmlns="%s"><target><startup/></target><source><running/></source>'
       '<with-defaults xmlns="%s">report-all</with-defaults></copy-config>' % (BASE, WD))
data = m.get_config(source="startup", filter=sub).data
assert hairpin(data, "b1").text == "false"
expect_error(lambda: rpc(m, '<get-config xmlns="%s"><source><running/></source>'
                            '<with-defaults xmlns="%s">sometimes</with-defaults></get-config>'
                            % (BASE, WD)), "invalid-value")
# A configuration read shows no state, whatever the mode (the monitoring counters have
# defaults too).
whole = m.get_config(source="running", with_defaults="report-all").data
assert whole.find(".//{urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring}netconf-state") is None
assert whole.find(".//nl:system/nl:commit-history", NS).text == "1000"
# Read again after a change: the entry's new defaults-filled form, not the kept one.
m.edit_config(target="running", config=config(network("b1", mtu=1300)))
data = m.get_config(source="running", filter=sub, with_defaults="report-all").data
assert data.find(".//nl:network[nl:name='b1']/nl:mtu", NS).text == "1300"
assert hairpin(data, "b1").text == "false"
# Only values equal to their default selected: trim shows nothing (once a crash of the
# daemon, in libyang's printer), by subtree and by XPath, and the session goes on.
m.edit_config(target="running", config='<config><system xmlns="%s"><commit-history>1000</commit-history></system></config>' % NL)
only = ("subtree", '<system xmlns="%s"><commit-history/></system>' % NL)
data = m.get_config(source="running", filter=only, with_defaults="trim").data
assert len(data) == 0, etree.tostring(data)
data = m.get_config(source="running", filter=("xpath", ({"x": NL}, "/x:system/x:commit-history")), with_defaults="trim").data
assert len(data) == 0, etree.tostring(data)
data = m.get_config(source="running", filter=only, with_defaults="report-all-tagged").data
assert data.find(".//nl:commit-history", NS).get(WD_ATTR) == "true", etree.tostring(data)
"#,
    );
}

#[test]
fn xpath_filters_and_nmda() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
m = connect()
caps = list(m.server_capabilities)
assert any(":xpath:1.0" in c for c in caps)
assert any("yang-library:1.1" in c and "content-id=" in c for c in caps)
m.edit_config(target="running", config=config(network("x1", mtu=1400) + network("x2", mtu=1300)))
# An XPath filter with the filter element's own prefix declarations.
data = m.get_config(source="running", filter=("xpath", ({"x": NL}, "/x:networks/x:network[x:name='x2']/x:mtu"))).data
nets = data.findall(".//nl:network", NS)
assert len(nets) == 1 and nets[0].find("nl:name", NS).text == "x2", etree.tostring(data)
assert nets[0].find("nl:mtu", NS).text == "1300" and nets[0].find("nl:type", NS) is None
# One entry by its key, the whole entry (the fast path's form), and with report-all.
data = m.get_config(source="running", filter=("xpath", ({"x": NL}, "/x:networks/x:network[x:name='x2']"))).data
nets = data.findall(".//nl:network", NS)
assert len(nets) == 1 and nets[0].find("nl:mtu", NS).text == "1300", etree.tostring(data)
data = m.get_config(source="running", filter=("xpath", ({"x": NL}, '/x:networks/x:network[x:name="x1"]')), with_defaults="report-all").data
nets = data.findall(".//nl:network", NS)
assert len(nets) == 1 and nets[0].find("nl:bridge/nl:gateway", NS).text == "true", etree.tostring(data)
# get over state: this session in netconf-state.
data = m.get(filter=("xpath", ({"m": MON}, "/m:netconf-state/m:sessions/m:session[m:session-id=%s]" % m.session_id))).data
assert data.find(".//mon:session/mon:username", NS).text == "admin", etree.tostring(data)
# Bad XPath and an undeclared prefix: invalid-value.
expect_error(lambda: m.get_config(source="running", filter=("xpath", ({"x": NL}, "/x:networks/["))), "invalid-value")
expect_error(lambda: m.get_config(source="running", filter=("xpath", "/y:networks")), "invalid-value")

# NMDA: edit-data on candidate, get-data from every datastore.
rpc(m, '<edit-data xmlns="%s" xmlns:ds="%s"><datastore>ds:candidate</datastore><config>%s</config></edit-data>'
       % (NMDA, DS, network("x3", mtu=1280)))
def get_data(ds, extra=""):
    return rpc(m, '<get-data xmlns="%s" xmlns:ds="%s"><datastore>ds:%s</datastore>%s</get-data>'
                  % (NMDA, DS, ds, extra))
def names(data):
    return sorted(n.text for n in data.findall(".//nl:network/nl:name", NS))
assert names(get_data("candidate")) == ["x1", "x2", "x3"]
assert names(get_data("running")) == ["x1", "x2"]
assert names(get_data("intended")) == ["x1", "x2"]
m.commit()
op = get_data("operational", "<with-origin/>")
assert names(op) == ["x1", "x2", "x3"]
nets = op.find(".//nl:networks", NS)
assert nets.get(OR_ATTR).endswith(":intended"), nets.attrib
assert op.find(".//mon:netconf-state", NS) is not None
# Origin filter: learned (state) only; config-filter false: state only.
learned = get_data("operational", '<origin-filter xmlns:or="%s">or:learned</origin-filter>' % ORIGIN)
assert learned.find(".//nl:networks", NS) is None and learned.find(".//mon:netconf-state", NS) is not None
state = get_data("operational", "<config-filter>false</config-filter>")
assert state.find(".//nl:networks", NS) is None
cfg = get_data("operational", "<config-filter>true</config-filter>")
assert cfg.find(".//mon:netconf-state", NS) is None and names(cfg) == ["x1", "x2", "x3"]
# Subtree and XPath filters, max-depth.
sub = get_data("running", '<subtree-filter><networks xmlns="%s"><network><name>x1</name></network></networks></subtree-filter>' % NL)
assert names(sub) == ["x1"]
xp = get_data("running", '<xpath-filter xmlns:x="%s">/x:networks/x:network[x:mtu=1300]</xpath-filter>' % NL)
assert names(xp) == ["x2"]
shallow = get_data("running", "<max-depth>2</max-depth>")
assert names(shallow) == ["x1", "x2", "x3"] and shallow.find(".//nl:mtu", NS) is None
expect_error(lambda: get_data("running", "<with-origin/>"), "invalid-value")
expect_error(lambda: get_data("nowhere"), "invalid-value")
# RFC 8526 3.3: lock and unlock name an NMDA datastore in <datastore>; a second session is
# refused with lock-denied and the holder's session-id, and may lock once it is released.
def ds_lock(session, op, ds):
    return rpc(session, '<%s xmlns="%s"><target><datastore xmlns="%s" xmlns:ds="%s">ds:%s</datastore></target></%s>'
                        % (op, BASE, NMDA, DS, ds, op))
other = connect()
m.discard_changes()  # a candidate with uncommitted changes cannot be locked (RFC 6241 7.5)
ds_lock(m, "lock", "candidate")
e = expect_error(lambda: ds_lock(other, "lock", "candidate"), "lock-denied")
assert e.info and "session-id>%s</" % m.session_id in e.info, e.info
expect_error(lambda: other.lock("candidate"), "lock-denied")
expect_error(lambda: other.edit_config(target="candidate", config=config(network("locked"))), "lock-denied")
ds_lock(other, "lock", "running")  # another datastore: its own lock
ds_lock(other, "unlock", "running")
expect_error(lambda: ds_lock(other, "unlock", "candidate"), "operation-failed")
expect_error(lambda: ds_lock(m, "lock", "operational"), "invalid-value")
ds_lock(m, "unlock", "candidate")
ds_lock(other, "lock", "candidate")
ds_lock(other, "unlock", "candidate")
other.close_session()
"#,
    );
}

#[test]
fn monitoring_schemas_and_yang_library() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
a = connect(); b = connect()
a.lock("candidate")
st = a.get(filter=("subtree", '<netconf-state xmlns="%s"/>' % MON)).data
ns = st.find(".//mon:netconf-state", NS)
caps = [c.text for c in ns.findall("mon:capabilities/mon:capability", NS)]
assert any(":candidate:1.0" in c for c in caps)
lock = ns.find("mon:datastores/mon:datastore[mon:name='candidate']/mon:locks/mon:global-lock", NS)
assert lock.find("mon:locked-by-session", NS).text == str(a.session_id)
assert lock.find("mon:locked-time", NS).text
assert ns.find("mon:datastores/mon:datastore[mon:name='running']/mon:locks", NS) is None
ids = sorted(s.find("mon:session-id", NS).text for s in ns.findall("mon:sessions/mon:session", NS))
assert str(a.session_id) in ids and str(b.session_id) in ids, ids
me = ns.find("mon:sessions/mon:session[mon:session-id='%s']" % a.session_id, NS)
assert me.find("mon:transport", NS).text.split(":")[-1] == "netconf-ssh"
assert me.find("mon:source-host", NS).text == "127.0.0.1"
assert int(me.find("mon:in-rpcs", NS).text) >= 1
stats = ns.find("mon:statistics", NS)
assert int(stats.find("mon:in-sessions", NS).text) >= 2
expect_error(lambda: a.edit_config(target="running", config=config("<bogus xmlns='urn:x'/>")), "unknown-namespace")
me = a.get(filter=("subtree", '<netconf-state xmlns="%s"><sessions><session><session-id>%s</session-id></session></sessions></netconf-state>' % (MON, a.session_id))).data
assert int(me.find(".//mon:out-rpc-errors", NS).text) >= 1, etree.tostring(me)
schemas = {(s.find("mon:identifier", NS).text, s.find("mon:version", NS).text)
           for s in ns.findall("mon:schemas/mon:schema", NS)}
for name in ("netloom-host", "ietf-netconf", "ietf-netconf-monitoring", "ietf-netconf-nmda",
             "ietf-netconf-with-defaults", "ietf-netconf-notifications", "ietf-origin",
             "ietf-netconf-acm", "ietf-yang-types", "ietf-datastores"):
    assert any(n == name for n, _ in schemas), (name, schemas)
# get-schema: every listed module's text; YIN too; unknown ones are invalid-value.
for name, version in schemas:
    text = a.get_schema(name, version or None).data
    assert ("module %s" % name) in text or ("submodule %s" % name) in text, name
text = a.get_schema("ietf-netconf-monitoring").data
assert "rpc get-schema" in text and 'revision 2010-10-04' in text
yin = rpc(a, '<get-schema xmlns="%s"><identifier>ietf-origin</identifier><format>yin</format></get-schema>' % MON)
assert yin.find(".//{urn:ietf:params:xml:ns:yang:yin:1}module") is not None, etree.tostring(yin)
expect_error(lambda: a.get_schema("no-such-module"), "invalid-value")
expect_error(lambda: a.get_schema("netloom-host", "1999-01-01"), "invalid-value")
# ietf-yang-library through get.
yl = a.get(filter=("subtree", '<yang-library xmlns="%s"/>' % YL)).data
mods = {m.find("yl:name", NS).text for m in yl.findall(".//yl:module-set/yl:module", NS)}
assert {"netloom-host", "ietf-netconf-nmda", "ietf-netconf-monitoring"} <= mods, mods
imports = {m.find("yl:name", NS).text for m in yl.findall(".//yl:module-set/yl:import-only-module", NS)}
assert "ietf-netconf-acm" in imports, imports
dss = {d.find("yl:name", NS).text.split(":")[-1] for d in yl.findall(".//yl:datastore", NS)}
assert dss == {"running", "candidate", "startup", "intended", "operational"}, dss
feats = [f.text for f in yl.findall(".//yl:module[yl:name='ietf-netconf']/yl:feature", NS)]
assert "xpath" in feats and "url" not in feats, feats
# Whole-config reads still return only netloom's tree.
cfg = a.get_config(source="running").data
assert all(c.tag.startswith("{%s}" % NL) for c in cfg), [c.tag for c in cfg]
"#,
    );
}

#[test]
fn notifications_confirmed_commit_sessions_and_filters() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
watch = connect()
watch.create_subscription()
onlyme = connect()
# Subtree filter: only session-start events of user admin; XPath filter: only session ends.
onlyme.create_subscription(filter=("subtree",
    '<netconf-session-start xmlns="%s"><username>admin</username></netconf-session-start>' % NCN))
ends = connect()
rpc(ends, '<create-subscription xmlns="%s"><filter type="xpath" xmlns:n="%s" select="/n:netconf-session-end"/></create-subscription>' % (NOTIF, NCN))

w = connect()
w.edit_config(target="candidate", config=config(network("c1", mtu=1400)))
w.commit(confirmed=True, timeout="30")
w.edit_config(target="candidate", config=config(network("c1", mtu=1300)))
w.commit(confirmed=True, timeout="40")
w.commit()
w.edit_config(target="candidate", config=config(network("c2")))
w.commit(confirmed=True, timeout="1")
poll("the confirmed commit to expire", lambda: "c2" not in networks(w))
w.edit_config(target="candidate", config=config(network("c3")))
w.commit(confirmed=True, persist="p1")
rpc(w, '<cancel-commit xmlns="%s"><persist-id>p1</persist-id></cancel-commit>' % BASE)
w.close_session()

def events(m, name, count):
    seen = []
    deadline = time.time() + 20
    while time.time() < deadline and len(seen) < count:
        n = m.take_notification(block=True, timeout=1)
        if n is None:
            continue
        ev = etree.fromstring(n.notification_xml.encode())
        body = [c for c in ev if etree.QName(c).localname != "eventTime"][0]
        if etree.QName(body).localname == name or name is None:
            seen.append(body)
    return seen

cc = events(watch, "netconf-confirmed-commit", 6)
kinds = [(e.find("ncn:confirm-event", NS).text, getattr(e.find("ncn:timeout", NS), "text", None))
         for e in cc]
assert kinds == [("start", "30"), ("extend", "40"), ("complete", None), ("start", "1"),
                 ("timeout", None), ("start", "600")], kinds
assert cc[0].find("ncn:session-id", NS).text == str(w.session_id)
assert cc[4].find("ncn:username", NS) is None  # a timeout names no session
cancel = events(watch, "netconf-confirmed-commit", 1)
assert cancel[0].find("ncn:confirm-event", NS).text == "cancel", etree.tostring(cancel[0])
# Session start/end of the other session reach the watcher.
# onlyme sees the starts of `ends` and `w` (connected after it subscribed).
starts = events(onlyme, None, 2)
assert all(etree.QName(s).localname == "netconf-session-start" for s in starts)
ids = [s.find("ncn:session-id", NS).text for s in starts]
assert ids == [str(ends.session_id), str(w.session_id)], ids
end = events(ends, None, 1)[0]
assert etree.QName(end).localname == "netconf-session-end"
assert end.find("ncn:session-id", NS).text == str(w.session_id)
assert end.find("ncn:termination-reason", NS).text == "closed"
# The filtered subscriptions got nothing else.
assert onlyme.take_notification(block=True, timeout=1) is None
assert ends.take_notification(block=True, timeout=1) is None
"#,
    );
}

#[test]
fn netloom_commit_rpcs_and_the_operator_role() {
    let d = Daemon::start(&[]);
    let hash = netloom_northbound::auth::hash_password("op-pass").unwrap();
    run(
        &d,
        &r#"
m = connect()
m.edit_config(target="candidate", config=config(network("r1", mtu=1400)))
first = rpc(m, '<commit xmlns="%s"><comment>first one</comment></commit>' % NL).find("nl:id", NS).text
m.edit_config(target="candidate", config=config(network("r2")))
rpc(m, '<commit xmlns="%s"><comment>second</comment></commit>' % NL)
commits = rpc(m, '<list-commits xmlns="%s"><limit>2</limit></list-commits>' % NL).findall("nl:commit", NS)
assert len(commits) == 2, len(commits)
assert commits[0].find("nl:comment", NS).text == "second"
assert commits[1].find("nl:id", NS).text == first
assert commits[1].find("nl:user", NS).text == "admin" and commits[1].find("nl:time", NS).text
assert commits[1].find("nl:confirmed", NS).text == "not-required"
back = rpc(m, '<rollback xmlns="%s"><id>%s</id><comment>undo</comment></rollback>' % (NL, first))
assert int(back.find("nl:id", NS).text) > int(first)
assert sorted(networks(m)) == ["r1"]
latest = rpc(m, '<list-commits xmlns="%s"><limit>1</limit></list-commits>' % NL).find("nl:commit", NS)
assert latest.find("nl:comment", NS).text == "undo"
expect_error(lambda: rpc(m, '<rollback xmlns="%s"><id>999999</id></rollback>' % NL), "invalid-value")

# The operator role: reads work, every write is access-denied, nothing changes.
m.edit_config(target="running", config=config(
    '<system xmlns="%s"><user><name>op</name><password>%s</password><role>operator</role></user></system>'
    % (NL, "OP_HASH")))
op = connect("op", "op-pass")
before = m.get_config(source="running").data_xml
assert sorted(networks(op)) == ["r1"]
op.get(filter=("subtree", '<netconf-state xmlns="%s"/>' % MON))
rpc(op, '<list-commits xmlns="%s"/>' % NL)
rpc(op, '<get-data xmlns="%s" xmlns:ds="%s"><datastore>ds:operational</datastore></get-data>' % (NMDA, DS))
writes = [
    lambda: op.edit_config(target="running", config=config(network("z"))),
    lambda: op.edit_config(target="candidate", config=config(network("z"))),
    lambda: rpc(op, '<edit-data xmlns="%s" xmlns:ds="%s"><datastore>ds:running</datastore><config>%s</config></edit-data>' % (NMDA, DS, network("z"))),
    lambda: op.copy_config(source="running", target="startup"),
    lambda: op.delete_config(target="startup"),
    lambda: op.lock("running"),
    lambda: op.commit(),
    lambda: op.discard_changes(),
    lambda: rpc(op, '<commit xmlns="%s"/>' % NL),
    lambda: rpc(op, '<rollback xmlns="%s"><id>%s</id></rollback>' % (NL, first)),
    lambda: rpc(op, '<cancel-commit xmlns="%s"/>' % NL),
    lambda: op.kill_session(m.session_id),
]
for w in writes:
    expect_error(w, "access-denied")
assert m.get_config(source="running").data_xml == before
assert m.get_config(source="candidate").data_xml == before

# Password hashes (nacm:default-deny-all) reach admins only, whichever read path answers:
# the cached fast path, a subtree filter on the users, XPath (the general path), <get>,
# get-data on running, candidate and operational; the rest of the user entries stays.
assert "$argon2" in before and "<name>op</name>" in before
USERS = '<system xmlns="%s"><user/></system>' % NL
def get_data(c, ds):
    return etree.tostring(rpc(c, '<get-data xmlns="%s" xmlns:ds="%s"><datastore>ds:%s</datastore></get-data>' % (NMDA, DS, ds))).decode()
reads = {
    "get-config": lambda c: c.get_config(source="running").data_xml,
    "get-config candidate": lambda c: c.get_config(source="candidate").data_xml,
    "subtree": lambda c: c.get_config(source="running", filter=("subtree", USERS)).data_xml,
    "entry": lambda c: c.get_config(source="running", filter=("subtree",
        '<system xmlns="%s"><user><name>op</name></user></system>' % NL)).data_xml,
    "xpath": lambda c: c.get_config(source="running", filter=("xpath", ({"nl": NL}, "/nl:system/nl:user"))).data_xml,
    "get": lambda c: c.get(filter=("subtree", USERS)).data_xml,
    "get all": lambda c: c.get().data_xml,
    "get-data running": lambda c: get_data(c, "running"),
    "get-data operational": lambda c: get_data(c, "operational"),
}
for name, read in reads.items():
    mine, theirs = read(op), read(m)
    assert "<name>op</name>" in mine and "operator" in mine, (name, mine)
    assert "argon2" not in mine and "<password" not in mine, (name, mine)
    assert "$argon2" in theirs, (name, theirs)
# A second operator read is the same bytes (the redacted view and the XML cache are reused).
assert op.get_config(source="running").data_xml == reads["get-config"](op)
"#
        .replace("OP_HASH", &hash),
    );
}

#[test]
fn netconf_console2_drives_the_daemon() {
    let d = Daemon::start(&[]);
    run(
        &d,
        r#"
out = console("--hello")
assert "urn:ietf:params:netconf:capability:candidate:1.0" in out, out
cfg = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
cfg.write(network("nc2", mtu=1450))
cfg.close()
console("--db", "candidate", "--edit-config", cfg.name)
assert "nc2" not in networks(connect())
console("--commit")
assert networks(connect())["nc2"] == 1450
out = console("--get-config", "-x", "/nl:networks/nl:network[nl:name='nc2']/nl:mtu", "--ns", "nl=" + NL)
assert "<mtu>1450</mtu>" in out, out
out = console("--get-config", "--with-defaults", "report-all-tagged")
assert "hairpin" in out and "default=\"true\"" in out, out
out = console("--get-schema", "netloom-host")
assert "module netloom-host" in out
"#,
    );
}

#[test]
fn a_commit_the_kernel_refuses_leaves_running_untouched() {
    need_root!();
    let node = Netns::new("ncref");
    let d = kernel_daemon(&node, &[]);
    let net = format!("--net={}", node.path());
    let out = run_in(
        &d,
        &["nsenter", &net],
        r#"
m = connect()
m.edit_config(target="candidate", config=config(network("ok1", mtu=1400)))
m.commit()
before_running = m.get_config(source="running").data_xml
# A VXLAN network on an uplink that does not exist: libyang accepts it, the kernel refuses.
m.edit_config(target="candidate", config=config(network("bad", kind="vxlan",
    extra="<uplink>nosuchdev0</uplink><vxlan><vni>42</vni><remote>192.0.2.1</remote></vxlan>")))
e = expect_error(lambda: m.commit(), "operation-failed")
print("REFUSED:", e.message)
assert m.get_config(source="running").data_xml == before_running
assert "bad" in networks(m, "candidate") and "bad" not in networks(m)
# Through edit-config on running, too.
expect_error(lambda: m.edit_config(target="running", config=config(network("bad2", kind="vxlan",
    extra="<uplink>nosuchdev0</uplink><vxlan><vni>43</vni><remote>192.0.2.1</remote></vxlan>"))), "operation-failed")
assert m.get_config(source="running").data_xml == before_running
"#,
    );
    assert!(out.contains("REFUSED: the dataplane refused"), "{out}");
    // The kernel kept only what running says: ok1's bridge, no VXLAN device.
    let links = node.links();
    assert!(
        !links
            .iter()
            .any(|l| l.starts_with("vx") || l.contains("bad")),
        "{links:?}"
    );
}
