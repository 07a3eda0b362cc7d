#!/usr/bin/env python3
"""NETCONF benchmark (issue 4): drives a running netloomd with ncclient over real SSH and prints
a table. Start the daemon first, e.g.
  NETLOOM_ADMIN_PASSWORD=pw netloomd --data-dir /tmp/nb --netconf 127.0.0.1:8830 ...
  .venv/bin/python tests/bench/netconf.py --port 8830 --password pw --entries 10000 --ops 1000
Only netloom is measured: a side-by-side yuma123 netconfd run is not automated here.
"""
import argparse
import statistics
import time

import ncclient.transport.session
from ncclient import manager

# ncclient polls its reply queue every TICK seconds (0.1 by default), which would dominate
# every per-RPC figure.
ncclient.transport.session.TICK = 0.001

NL = "urn:netloom:yang:netloom-host"


def entries(first, count):
    return "".join("<network><name>n%d</name><type>bridge</type><mtu>1500</mtu></network>" % i
                   for i in range(first, first + count))


def config(inner):
    return '<config><networks xmlns="%s">%s</networks></config>' % (NL, inner)


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8830)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", required=True)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--ops", type=int, default=1000)
    a = ap.parse_args()
    m = manager.connect(host=a.host, port=a.port, username=a.user, password=a.password,
                        hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=600)
    rows = []

    t = time.perf_counter()
    m.edit_config(target="running", config=config(entries(0, a.entries)))
    rows.append(("edit-config creating %d entries (running)" % a.entries, time.perf_counter() - t, None))

    t = time.perf_counter()
    reply = m.get_config(source="running", filter=("subtree", '<networks xmlns="%s"/>' % NL))
    got = len(reply.data.findall(".//{%s}network" % NL))
    rows.append(("get-config of %d entries" % got, time.perf_counter() - t, None))

    lat = []
    for i in range(a.ops):
        t = time.perf_counter()
        m.edit_config(target="candidate", config=config(entries(a.entries + i, 1)))
        m.commit()
        lat.append(time.perf_counter() - t)
    rows.append(("%d x (one-entry edit-config + commit) at %d+ entries" % (a.ops, a.entries),
                 sum(lat), lat))

    lat1 = []
    for i in range(a.ops):
        t = time.perf_counter()
        m.edit_config(target="running", config=config(
            "<network><name>n%d</name><mtu>%d</mtu></network>" % (i, 1400 + i % 50)))
        lat1.append(time.perf_counter() - t)
    rows.append(("%d x one-leaf edit-config on running" % a.ops, sum(lat1), lat1))
    m.close_session()

    print("%-58s %10s %9s %9s %9s" % ("netloom NETCONF", "total s", "p50 ms", "p99 ms", "ops/s"))
    for name, total, samples in rows:
        if samples:
            print("%-58s %10.3f %9.2f %9.2f %9.0f" % (name, total, statistics.median(samples) * 1e3,
                                                     pct(samples, 99) * 1e3, len(samples) / total))
        else:
            print("%-58s %10.3f %9s %9s %9s" % (name, total, "-", "-", "-"))


if __name__ == "__main__":
    main()
