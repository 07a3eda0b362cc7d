#!/usr/bin/env bash
# CNI latency, side by side in one run: Debian's reference plugins (bridge + host-local,
# macvlan; exec'd one after another the way a meta-plugin chains them) against netloom-cni
# + netloomd (--dataplane kernel) for the same pods. The two alternate pod by pod (who goes
# first alternates too), so background load hits both alike. Then 100 concurrent ADDs (and
# DELs) of 1- and 3-interface pods through netloom. Root only; everything happens inside
# network namespaces this script makes and removes. Run it under `chrt -f 10` on a shared
# machine so other work does not distort it. Every call is timed by netloom-exec-timer from
# just before its exec to its exit (Python's own fork cost counts for neither plugin); the
# concurrent calls are all released at once from threads made beforehand. Beside netloom's
# concurrent lines, two floors measured in the same run: "exec only" (the shim exec'd and
# answered, VERSION, nothing behind it) and "bare kernel" (netloom-bare-pods: the same
# pods' minimum rtnetlink work, no daemon, exec, IPAM or store), with the CPU each took.
#   tests/bench/cni.sh [PODS]   (default 100; BIN=dir of netloomd/netloom-cni/netloom-seed/
#                                netloom-exec-timer/netloom-bare-pods; CONCURRENT_ONLY=1
#                                skips the interleaved table)
set -euo pipefail
cd "$(dirname "$0")/../.."
PODS=${1:-100}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug}
PLUGINS=/usr/lib/cni
[ "$(id -u)" -eq 0 ] || { echo "cni.sh: needs root"; exit 1; }
[ -x "$PLUGINS/bridge" ] || { echo "cni.sh: apt-get install containernetworking-plugins"; exit 1; }
for b in netloomd netloom-cni netloom-seed netloom-exec-timer netloom-bare-pods; do [ -x "$BIN/$b" ] || { echo "cni.sh: $BIN/$b missing (cargo build --workspace)"; exit 1; }; done

W=$(mktemp -d); TAG=nlb$$
NODE=$TAG-node
cleanup() {
  [ -f "$W/pid" ] && kill "$(cat "$W/pid")" 2>/dev/null && sleep 0.3
  for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG" || true); do ip netns del "$ns"; done
  [ -n "${KEEP_LOG:-}" ] && cp "$W/netloomd.log" "$KEEP_LOG"
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$NODE"
ip -n "$NODE" link set lo up
ip -n "$NODE" link add upl0 type veth peer name upl0p
ip -n "$NODE" link set upl0 up; ip -n "$NODE" link set upl0p up
for i in $(seq 1 "$PODS"); do
  ip netns add "$TAG-r$i"; ip netns add "$TAG-n$i"
  # the concurrent runs attach pods of their own, as a runtime would: reusing a container
  # id right after its DEL would wait for that DEL's links to be unregistered
  ip netns add "$TAG-c1-$i"; ip netns add "$TAG-c3-$i"
  # and so do the bare-kernel runs (the floor: the same pods' rtnetlink work, nothing else)
  ip netns add "$TAG-b1-$i"; ip netns add "$TAG-b3-$i"
done
for br in bare0 bare2; do ip -n "$NODE" link add "$br" type bridge; ip -n "$NODE" link set "$br" up; done
ip -n "$NODE" addr add 10.80.0.1/16 dev bare0; ip -n "$NODE" addr add 10.82.0.1/16 dev bare2

cat > "$W/seed.json" <<JSON
[["/netloom-host:networks/network[name='blue']", {"type": "bridge", "ipam": {"pool": [{"name": "v4", "subnet": "10.60.0.0/16", "gateway": "10.60.0.1"}]}}],
 ["/netloom-host:networks/network[name='green']", {"type": "macvlan", "uplink": "upl0", "ipam": {"pool": [{"name": "v4", "subnet": "10.61.0.0/16"}]}}],
 ["/netloom-host:networks/network[name='red']", {"type": "bridge", "ipam": {"pool": [{"name": "v4", "subnet": "10.62.0.0/16", "gateway": "10.62.0.1"}]}}]]
JSON
mkdir "$W/data"
"$BIN/netloom-seed" "$W/data/netloom.db" "$W/seed.json"
NETLOOM_ADMIN_PASSWORD=bench nsenter --net=/run/netns/"$NODE" "$BIN/netloomd" --data-dir "$W/data" \
  --dataplane kernel --cni-socket "$W/cni.sock" --restconf 127.0.0.1:0 --netconf 127.0.0.1:0 \
  --gnmi 127.0.0.1:0 --log "${NETLOOMD_LOG:-warn}" 2>"$W/netloomd.log" &
echo $! > "$W/pid"
for _ in $(seq 100); do [ -S "$W/cni.sock" ] && break; sleep 0.05; done

# The reference plugins run inside the node's netns, as the runtime would run them there.
W="$W" TAG="$TAG" NODE="$NODE" PODS="$PODS" BIN="$BIN" PLUGINS="$PLUGINS" python3 - <<'PY'
import json, os, subprocess, statistics
W, TAG, NODE, PODS, BIN, PL = (os.environ[k] for k in ("W", "TAG", "NODE", "PODS", "BIN", "PLUGINS"))
PODS = int(PODS)
NODE_NS = f"--net=/run/netns/{NODE}"

def call(argv, env, conf):
    return {"argv": argv, "env": {"CNI_PATH": PL, **env}, "stdin": json.dumps(conf)}

def timed(calls, concurrent=False, check=True):
    """Run the calls through netloom-exec-timer: (ms per call, None when it failed; wall ms)."""
    req = json.dumps({"concurrent": concurrent, "calls": calls}).encode()
    p = subprocess.run([f"{BIN}/netloom-exec-timer"], input=req, capture_output=True, check=True)
    out = json.loads(p.stdout)
    ms = []
    for c, r in zip(calls, out["calls"]):
        if not r["ok"]:
            msg = f"{c['argv']} {c['env'].get('CNI_COMMAND')} failed: {r['output'][:300]}"
            if check:
                raise SystemExit(msg)
            print(msg)
        ms.append(r["ms"] if r["ok"] else None)
    return ms, out["wallMs"]

def ref_conf(kind, name, subnet):
    ipam = {"type": "host-local", "subnet": subnet, "dataDir": f"{W}/hostlocal"}
    c = {"cniVersion": "1.0.0", "name": name, "type": kind, "ipam": ipam}
    if kind == "bridge":
        c.update({"bridge": f"rb-{name}", "isGateway": True})
    else:
        c.update({"master": "upl0"})
    return c

REF_NETS = [("bridge", "rblue", "10.70.0.0/16"), ("macvlan", "rgreen", "10.71.0.0/16"), ("bridge", "rred", "10.72.0.0/16")]

def ref(cmd, i, nifs):
    """One pod through the reference plugins: one exec per interface, one after another."""
    calls = []
    order = range(nifs) if cmd == "ADD" else reversed(range(nifs))
    for k in order:
        kind, name, subnet = REF_NETS[k]
        env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": f"ref{i}", "CNI_NETNS": f"/run/netns/{TAG}-r{i}",
               "CNI_IFNAME": "eth0" if k == 0 else f"net{k}"}
        calls.append(call(["nsenter", NODE_NS, f"{PL}/{kind}"], env, ref_conf(kind, name, subnet)))
    return sum(timed(calls)[0])

def nl_call(cmd, i, nifs, pod="n"):
    nets = ["blue", "green", "red"][:nifs]
    conf = {"cniVersion": "1.1.0", "name": "bench", "type": "netloom-cni", "socket": f"{W}/cni.sock", "networks": nets}
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": f"nl{pod}{i}", "CNI_NETNS": f"/run/netns/{TAG}-{pod}{i}", "CNI_IFNAME": "eth0"}
    return call([f"{BIN}/netloom-cni"], env, conf)

def nl(cmd, i, nifs):
    return timed([nl_call(cmd, i, nifs)])[0][0]

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def interleaved(cmd, nifs):
    """Every pod's call through both, alternating pod by pod and who goes first."""
    r, n = [], []
    for i in range(1, PODS + 1):
        if i % 2:
            r.append(ref(cmd, i, nifs)); n.append(nl(cmd, i, nifs))
        else:
            n.append(nl(cmd, i, nifs)); r.append(ref(cmd, i, nifs))
    return r, n

rows = []
for nifs in (() if os.environ.get("CONCURRENT_ONLY") else (1, 3)):
    ra, na = interleaved("ADD", nifs)
    rd, nd = interleaved("DEL", nifs)
    rows += [(nifs, "reference", ra, rd), (nifs, "netloom", na, nd)]

if rows:
    print(f"\nCNI latency, {PODS} pods each, reference and netloom interleaved pod by pod (ms)")
    print(f"{'ifaces':>6} {'plugin':>10} {'ADD p50':>8} {'ADD p99':>8} {'DEL p50':>8} {'DEL p99':>8}")
    for nifs, who, a, d in rows:
        print(f"{nifs:>6} {who:>10} {pct(a,50):8.2f} {pct(a,99):8.2f} {pct(d,50):8.2f} {pct(d,99):8.2f}")
    for nifs in (1, 3):
        r = [x for x in rows if x[0] == nifs]
        ra, na = statistics.median(r[0][2]), statistics.median(r[1][2])
        rd, nd = statistics.median(r[0][3]), statistics.median(r[1][3])
        print(f"{nifs}-interface pod: netloom is {ra/na:.1f}x faster on ADD (p50), {rd/nd:.1f}x on DEL (p50)")

# concurrent: every pod's ADD at once, then every DEL at once; failures counted, not fatal.
# Beside each, the bare kernel: the same pods' minimum rtnetlink work (netloom-bare-pods:
# veth born in the pod with its host end on the bridge, up; address, up, default route;
# a macvlan for the second interface), all released at once, no daemon, exec, IPAM or store.
def node_links():
    out = subprocess.run(["ip", "-n", NODE, "-o", "link"], capture_output=True, text=True, check=True)
    return len(out.stdout.splitlines())

def settle(baseline):
    """Wait (bounded) for DELs' unlinking to finish, so it does not land in the next run."""
    import time
    deadline = time.monotonic() + 20
    while node_links() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)

def cpu_ms(pid=None):
    """CPU time (user + system) of a process and its threads, or of this script's waited
    children (the timer, the shims it waited for, the bare-kernel tool), in ms."""
    if pid is None:
        import resource
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (r.ru_utime + r.ru_stime) * 1000
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")

DAEMON = int(open(f"{W}/pid").read())

def bare(cmd, nifs):
    argv = [f"{BIN}/netloom-bare-pods", cmd.lower(), str(nifs), f"/run/netns/{TAG}-b{nifs}-", str(PODS), "bare0,bare2", "upl0"]
    p = subprocess.run(["nsenter", NODE_NS] + argv, capture_output=True, check=True)
    out = json.loads(p.stdout)
    return [c["ms"] if c["ok"] else None for c in out["calls"]], out["wallMs"], [c["output"] for c in out["calls"] if not c["ok"]]

def row(nifs, cmd, who, out, wall, cpu):
    lat = [x for x in out if x is not None]
    failed = len(out) - len(lat)
    if not lat:
        print(f"{nifs:>6} {cmd:>4} {who:>11} {'-':>8} {'-':>8} {'-':>8} {'-':>7} {failed:>6} {cpu:7.0f}")
        return
    print(f"{nifs:>6} {cmd:>4} {who:>11} {pct(lat,50):8.1f} {pct(lat,99):8.1f} {max(lat):8.1f} {PODS/wall*1000:7.0f} {failed:>6} {cpu:7.0f}")

print(f"\n{PODS} concurrent calls, netloom beside the floors (ms; cpu: user+system of everything the run made)")
print(f"{'ifaces':>6} {'cmd':>4} {'who':>11} {'p50':>8} {'p99':>8} {'max':>8} {'pods/s':>7} {'failed':>6} {'cpu ms':>7}")
# the exec floor: the shim exec'd and answered by the daemon (VERSION: no work behind it)
cpu = cpu_ms() + cpu_ms(DAEMON)
out, wall = timed([nl_call("VERSION", i, 1, "c1-") for i in range(1, PODS + 1)], concurrent=True, check=False)
row("-", "VER", "exec only", out, wall, cpu_ms() + cpu_ms(DAEMON) - cpu)
baseline = node_links()
for nifs in (1, 3):
    host_ends = PODS * ((nifs + 1) // 2)  # one per bridge interface of each pod
    live = 0
    for cmd in ("ADD", "DEL"):
        step = host_ends if cmd == "ADD" else -host_ends
        cpu = cpu_ms()
        out, wall, errors = bare(cmd, nifs)
        for e in errors[:3]:
            print(f"bare kernel {cmd}: {e}")
        row(nifs, cmd, "bare kernel", out, wall, cpu_ms() - cpu)
        live += step
        settle(baseline + live)
        calls = [nl_call(cmd, i, nifs, f"c{nifs}-") for i in range(1, PODS + 1)]
        cpu = cpu_ms() + cpu_ms(DAEMON)
        out, wall = timed(calls, concurrent=True, check=False)
        live += step
        # a DEL's unlinking, left running after its answer, counts in its CPU
        settle(baseline + live)
        row(nifs, cmd, "netloom", out, wall, cpu_ms() + cpu_ms(DAEMON) - cpu)
PY
