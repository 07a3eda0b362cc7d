#!/usr/bin/env python3
"""NETCONF benchmark (issue 4): netloom side by side with yuma123 netconfd, driven by the same
ncclient code over real SSH on loopback, printed as one table with ratios.

  cargo build --release -p netloom-daemon      # the figures want a release netloomd
  apt-get install netconfd openssh-server      # the peer (not needed by the test suite)
  .venv/bin/python tests/bench/netconf.py --netloomd target/release/netloomd

Lines: one edit-config creating N entries (default 10k): the first, on a fresh server, and the
median of --creates such creates (default 3; the list removed untimed between them: a single
one is at the mercy of whatever else the machine does in that quarter second); get-config of those N, cold (the
median of the first gets right after each create) and warm (the median of the next --warm gets); <get> of
them (the operational datastore, configuration and state, the same subtree filter; median of 3); <validate> of
a candidate adding N more to those N (staged untimed, the median of --validates, then discarded); get-config of
the N with with-defaults report-all (every default made explicit): the first (the server's first such read
of them) and the median of the other --report-alls - 1; K sequential
one-entry edit-config + commit (candidate) on top of them; and, netloom only, the p99 of a
one-entry edit-config + commit once the list holds --big entries (default 100k; goal <= 10 ms)
and (Rust client) one <validate> of a candidate adding as many again, and the time a restart takes
to listen again with them.
netconfd runs behind a private sshd (key login, `netconf` subsystem through
netconf-subsystem's port@socket form) with --target=candidate and the bench module
tests/bench/nlbench.yang (netloom-host's networks/network, the leaves the bench sets).
Both clients offer --cipher first (default chacha20-poly1305@openssh.com, russh's default;
`--cipher aes256-gcm@openssh.com` for AES); paramiko has no chacha20 and then keeps its own
order. Each table's title names the cipher its client offered first.
Everything runs in a temporary directory that is removed at the end.

The same lines are then measured again with the Rust client (`netloom-netconf-bench`, built
by `cargo build --release -p netloom-tests --bin netloom-netconf-bench`; looked for beside
--netloomd unless --rust-client names it) against a fresh instance of each server, and
printed as a second table: ncclient's lxml parsing and paramiko's crypto flatten the ratios
of the first one.
Under it: the SSH transfer alone of netloom's get-config reply (the Rust client's in-process
russh server), back to back and after 100 ms idle: on the project's VMs a transfer after the
machine idled (as right after a long commit) costs more, and the cold get-config pays it.
"""
import json
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import ncclient.transport.session
import paramiko
from ncclient import manager

# ncclient polls its reply queue every TICK seconds (0.1 by default), which would dominate
# every per-RPC figure.
ncclient.transport.session.TICK = 0.001

HERE = os.path.dirname(os.path.abspath(__file__))
NETLOOM_NS = "urn:netloom:yang:netloom-host"
BENCH_NS = "urn:netloom:yang:nlbench"
PASSWORD = "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    sys.exit("%s did not listen on %d" % (what, port))


def entries(first, count):
    return "".join("<network><name>n%d</name><type>bridge</type><mtu>1500</mtu></network>" % i
                   for i in range(first, first + count))


def config(ns, inner):
    return '<config><networks xmlns="%s">%s</networks></config>' % (ns, inner)


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


class Netloom:
    name = "netloom"
    ns = NETLOOM_NS

    def __init__(self, binary, tmp):
        self.port = free_port()
        data = os.path.join(tmp, "netloom")
        os.mkdir(data)
        self.log = open(os.path.join(tmp, "netloomd.log"), "w")
        self.args = [binary, "--data-dir", data, "--netconf", "127.0.0.1:%d" % self.port,
                     "--restconf", "127.0.0.1:%d" % free_port(), "--restconf-plaintext",
                     "--gnmi", "127.0.0.1:%d" % free_port(), "--gnmi-plaintext",
                     "--cni-socket", os.path.join(data, "cni.sock"),
                     "--cli-socket", os.path.join(data, "cli.sock"), "--log", "warn"]
        self.start()

    def start(self):
        env = dict(os.environ, NETLOOM_ADMIN_PASSWORD=PASSWORD)
        self.proc = subprocess.Popen(self.args, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "netloomd", seconds=600)

    def restart(self):
        """Stop and start again on the same data; seconds until NETCONF listens."""
        self.stop()
        t = time.perf_counter()
        self.start()
        return time.perf_counter() - t

    def connect(self):
        return manager.connect(host="127.0.0.1", port=self.port, username="admin",
                               password=PASSWORD, hostkey_verify=False, allow_agent=False,
                               look_for_keys=False, timeout=600)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


class Netconfd:
    name = "netconfd"
    ns = BENCH_NS

    def __init__(self, tmp):
        d = os.path.join(tmp, "yuma")
        os.mkdir(d)
        self.port = free_port()
        sock = os.path.join(d, "ncxserver.sock")
        self.key = os.path.join(d, "client_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(d, "host_key")], check=True)
        shutil.copy(self.key + ".pub", os.path.join(d, "authorized_keys"))
        with open(os.path.join(d, "startup.xml"), "w") as f:
            f.write('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>\n')
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write("\n".join([
                "Port %d" % self.port, "ListenAddress 127.0.0.1",
                "HostKey %s/host_key" % d, "PidFile %s/sshd.pid" % d,
                "AuthorizedKeysFile %s/authorized_keys" % d, "StrictModes no", "UsePAM no",
                "PasswordAuthentication no", "PermitRootLogin prohibit-password",
                'Subsystem netconf "/usr/sbin/netconf-subsystem --ncxserver-sockname=%d@%s"'
                % (self.port, sock), ""]))
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = open(os.path.join(tmp, "netconfd.log"), "w")
        self.netconfd = subprocess.Popen(
            ["netconfd", "--module=%s" % os.path.join(HERE, "nlbench.yang"),
             "--startup=%s" % os.path.join(d, "startup.xml"),
             "--superuser=%s" % os.environ.get("USER", "root"), "--target=candidate",
             "--access-control=off", "--port=%d" % self.port,
             "--ncxserver-sockname=%s" % sock, "--log-level=error"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=d)
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if self.netconfd.poll() is not None or time.time() > deadline:
                sys.exit("netconfd did not start; see its log")
            time.sleep(0.1)
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f",
                                      os.path.join(d, "sshd_config")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.sshd, "sshd")

    def connect(self):
        return manager.connect(host="127.0.0.1", port=self.port,
                               username=os.environ.get("USER", "root"), key_filename=self.key,
                               hostkey_verify=False, allow_agent=False, look_for_keys=False,
                               timeout=600)

    def stop(self):
        for p in (self.sshd, self.netconfd):
            p.terminate()
            p.wait(30)


def offer_first(cipher):
    """Make paramiko (under ncclient) offer `cipher` first if it has it; the one it offers
    first either way."""
    order = list(paramiko.Transport._preferred_ciphers)
    if cipher in order:
        order.remove(cipher)
        order.insert(0, cipher)
        paramiko.Transport._preferred_ciphers = tuple(order)
    return order[0]


def measure(server, n, ops, warm, creates, validates, report_alls):
    """{line: (total seconds, samples or None)} for one server."""
    m = server.connect()
    out = {}
    def get(op="get-config", **wd):
        t = time.perf_counter()
        f = ("subtree", '<networks xmlns="%s"/>' % server.ns)
        if op == "get":
            reply = m.get(filter=f, **wd)
        else:
            reply = m.get_config(source="running", filter=f, **wd)
        got = len(reply.data.findall(".//{%s}network" % server.ns))
        assert got == n, (server.name, got)
        return time.perf_counter() - t

    # `creates` creates, the list removed (untimed) between them, each followed by the cold
    # get-config (the first after it): the medians count.
    times, colds = [], []
    for r in range(max(1, creates)):
        if r:
            m.edit_config(target="candidate", config=(
                '<config><networks xmlns="%s" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'
                ' nc:operation="delete"/></config>' % server.ns))
            m.commit()
        t = time.perf_counter()
        m.edit_config(target="candidate", config=config(server.ns, entries(0, n)))
        m.commit()
        times.append(time.perf_counter() - t)
        colds.append(get())
    out["create"] = (statistics.median(times), times)
    out["get"] = (statistics.median(colds), colds)
    # then the warm ones, after the last create's cold one
    gets = [get() for _ in range(warm)]
    out["get_warm"] = (statistics.median(gets) if warm else float("nan"), None)
    # <get>: the operational datastore (configuration and state), the same filter
    ops_ = [get(op="get") for _ in range(3)]
    out["get_op"] = (statistics.median(ops_), ops_)
    # <validate> of a candidate adding n more entries to running's n
    checks = []
    if validates:
        m.edit_config(target="candidate", config=config(server.ns, entries(n, n)))
    for _ in range(validates):
        t = time.perf_counter()
        m.validate(source="candidate")
        checks.append(time.perf_counter() - t)
    if validates:
        m.discard_changes()
    out["validate"] = (statistics.median(checks) if checks else float("nan"), checks)
    alls = [get(with_defaults="report-all") for _ in range(report_alls)]
    out["report_all_first"] = (alls[0] if alls else float("nan"), None)
    out["report_all"] = (statistics.median(alls[1:] or alls) if alls else float("nan"), alls)

    lat = []
    for i in range(ops):
        t = time.perf_counter()
        m.edit_config(target="candidate", config=config(server.ns, entries(n + i, 1)))
        m.commit()
        lat.append(time.perf_counter() - t)
    out["edit"] = (sum(lat), lat)
    m.close_session()
    return out


def measure_rust(client, server, n, ops, warm, cipher, creates=1, validates=0, report_alls=0):
    """The same lines as measure(), driven by the Rust client."""
    cmd = [client, "--port", str(server.port), "--ns", server.ns, "--entries", str(n),
           "--ops", str(ops), "--gets", str(1 + warm), "--cipher", cipher,
           "--creates", str(creates), "--validates", str(validates),
           "--report-alls", str(report_alls)]
    if isinstance(server, Netloom):
        cmd += ["--user", "admin", "--password", PASSWORD]
    else:
        cmd += ["--user", os.environ.get("USER", "root"), "--key", server.key]
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert r["got"] == n, (server.name, r["got"])
    return {"create": (r["create"], r["creates"]), "get": (r["get"], None),
            "get_warm": (r["get_warm"], None),
            "get_op": (r["get_op"], None),
            "get_bytes": r["get_bytes"],
            "validate": (r["validate"], r["validates"]),
            "report_all": (r["report_all"], None),
            "report_all_first": (r["report_all_first"], None),
            "edit": (sum(r["edit"]), r["edit"])}


def transport_floor(client, cipher, size):
    """The SSH transfer alone of a `size`-byte reply (the Rust client's in-process russh
    server, netloomd's settings): median seconds back to back, and after 100 ms idle each."""
    def one(*extra):
        out = subprocess.run([client, "--raw-ssh", str(size), "--reps", "15", "--cipher", cipher,
                              *extra], check=True, capture_output=True, text=True).stdout
        return json.loads(out)["median"]
    return one(), one("--idle", "100")


def table(title, results, n, ops, warm, report_alls):
    creates = len(results["netloom"]["create"][1] or [None])
    for r in results.values():
        r["create_first"] = ((r["create"][1] or [r["create"][0]])[0], None)
    lines = [("create_first", "edit-config + commit creating %d, fresh server" % n),
             ("create", "edit-config + commit creating %d (median of %d)" % (n, creates)),
             ("get", "get-config of %d entries, cold (median of %d)" % (n, creates)),
             ("get_warm", "get-config of %d entries, warm (median of %d)" % (n, warm)),
             ("get_op", "get of %d entries (operational datastore, median of 3)" % n),
             ("validate", "validate of a candidate adding %d (median of %d)" % (
                 n, len(results["netloom"]["validate"][1] or [None]))),
             ("report_all_first", "get-config of %d, with-defaults report-all, first" % n),
             ("report_all", "get-config of %d, report-all again (median of %d)" % (
                 n, max(report_alls - 1, 1))),
             ("edit", "%d x one-entry edit-config + commit at %d+" % (ops, n))]
    print(title)
    print("%-52s %12s %12s %9s" % ("", "netloom s", "netconfd s", "ratio"))
    for key, label in lines:
        nl = results["netloom"][key][0]
        nd = results.get("netconfd", {}).get(key, (None,))[0]
        print("%-52s %12.4f %12s %9s" % (label, nl, "-" if nd is None else "%.4f" % nd,
                                         "-" if nd is None else "%.1fx" % (nd / nl)))
    for name in results:
        print("%s creates: %s s" % (name, " ".join(
            "%.4f" % x for x in results[name]["create"][1] or [])))
        lat_ = results[name]["edit"][1]
        print("%s one-entry edit+commit at %d: p50 %.2f ms, p99 %.2f ms" % (
            name, n, statistics.median(lat_) * 1e3, pct(lat_, 99) * 1e3))


def big(server, n, ops):
    m = server.connect()
    t = time.perf_counter()
    m.edit_config(target="candidate", config=config(server.ns, entries(0, n)))
    m.commit()
    load = time.perf_counter() - t
    lat = []
    for i in range(ops):
        t = time.perf_counter()
        m.edit_config(target="candidate", config=config(server.ns, entries(n + i, 1)))
        m.commit()
        lat.append(time.perf_counter() - t)
    m.close_session()
    return load, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netloomd", required=True, help="the netloomd binary (a release build)")
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100000)
    ap.add_argument("--big-ops", type=int, default=1000,
                    help="one-entry edits at --big entries (netloom only, both clients)")
    ap.add_argument("--no-netconfd", action="store_true", help="measure netloom only")
    ap.add_argument("--rust-client", help="the netloom-netconf-bench binary")
    ap.add_argument("--warm", type=int, default=10,
                    help="get-configs after the first (cold) one; their median is the warm figure")
    ap.add_argument("--creates", type=int, default=3,
                    help="creates of --entries per server and client (the list removed, "
                         "untimed, between them); the table shows their median")
    ap.add_argument("--validates", type=int, default=3,
                    help="<validate>s of the candidate holding --entries, per server and client")
    ap.add_argument("--report-alls", type=int, default=3,
                    help="get-configs of --entries with with-defaults report-all, per server "
                         "and client")
    ap.add_argument("--cipher", default="chacha20-poly1305@openssh.com",
                    help="the cipher both clients offer first (paramiko, which lacks chacha20, "
                         "keeps its own order then; the table says which it offered)")
    a = ap.parse_args()
    paramiko_cipher = offer_first(a.cipher)
    client = a.rust_client or os.path.join(os.path.dirname(os.path.abspath(a.netloomd)),
                                           "netloom-netconf-bench")
    if not os.access(client, os.X_OK):
        sys.exit("no Rust client at %s (build netloom-netconf-bench or pass --rust-client)"
                 % client)
    tmp = tempfile.mkdtemp(prefix="nc-bench-")
    try:
        results, rust = {}, {}
        servers = [lambda: Netloom(a.netloomd, tmp)]
        if not a.no_netconfd:
            servers.append(lambda: Netconfd(tmp))
        for make in servers:
            for measured, run in ((results, lambda s: measure(s, a.entries, a.ops, a.warm,
                                                               a.creates, a.validates,
                                                               a.report_alls)),
                                  (rust, lambda s: measure_rust(client, s, a.entries, a.ops,
                                                                a.warm, a.cipher, a.creates,
                                                                a.validates, a.report_alls))):
                # a fresh server (and datastore) for each client
                for sub in ("netloom", "yuma"):
                    shutil.rmtree(os.path.join(tmp, sub), ignore_errors=True)
                s = make()
                try:
                    measured[s.name] = run(s)
                finally:
                    s.stop()
        floor = transport_floor(client, a.cipher, rust["netloom"]["get_bytes"])
        shutil.rmtree(os.path.join(tmp, "netloom"), ignore_errors=True)
        s = Netloom(a.netloomd, tmp)
        try:
            load, lat = big(s, a.big, a.big_ops)
        finally:
            s.stop()
        shutil.rmtree(os.path.join(tmp, "netloom"), ignore_errors=True)
        s = Netloom(a.netloomd, tmp)
        try:
            big_rust = measure_rust(client, s, a.big, a.big_ops, 0, a.cipher, validates=1)
            restart = s.restart()
        finally:
            s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    table("ncclient (Python) client, cipher offered first: %s:" % paramiko_cipher,
          results, a.entries, a.ops, a.warm, a.report_alls)
    print()
    table("Rust client (netloom-netconf-bench), cipher offered first: %s:" % a.cipher,
          rust, a.entries, a.ops, a.warm, a.report_alls)
    print("the SSH transfer alone of netloom's %d-byte get-config reply (russh both ends): "
          "%.2f ms back to back, %.2f ms after 100 ms idle (median of 15)" % (
              rust["netloom"]["get_bytes"], floor[0] * 1e3, floor[1] * 1e3))
    print()
    print("netloom at %d entries (loaded in %.1f s): one-entry edit+commit p50 %.2f ms, "
          "p99 %.2f ms over %d (goal p99 <= 10 ms; ncclient)" % (
              a.big, load, statistics.median(lat) * 1e3, pct(lat, 99) * 1e3, len(lat)))
    lat = big_rust["edit"][1]
    print("netloom at %d entries (loaded in %.1f s): one-entry edit+commit p50 %.2f ms, "
          "p99 %.2f ms over %d (goal p99 <= 10 ms; Rust client)" % (
              a.big, big_rust["create"][0], statistics.median(lat) * 1e3, pct(lat, 99) * 1e3,
              len(lat)))
    print("netloom at %d entries: validate of a candidate adding %d more %.3f s (Rust client)"
          % (a.big, a.big, big_rust["validate"][0]))
    print("netloom restarted with %d entries: NETCONF listening after %.2f s" % (a.big, restart))


if __name__ == "__main__":
    main()
