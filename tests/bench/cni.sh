#!/usr/bin/env bash
# CNI latency, side by side in one run: Debian's reference plugins (bridge + host-local,
# macvlan; exec'd one after another the way a meta-plugin chains them) against netloom-cni
# + netloomd (--dataplane kernel) for the same pods. Root only; everything happens inside
# network namespaces this script makes and removes.
#   tests/bench/cni.sh [PODS]        (default 100; BIN=dir of netloomd/netloom-cni/netloom-seed)
set -euo pipefail
cd "$(dirname "$0")/../.."
PODS=${1:-100}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug}
PLUGINS=/usr/lib/cni
[ "$(id -u)" -eq 0 ] || { echo "cni.sh: needs root"; exit 1; }
[ -x "$PLUGINS/bridge" ] || { echo "cni.sh: apt-get install containernetworking-plugins"; exit 1; }
for b in netloomd netloom-cni netloom-seed; do [ -x "$BIN/$b" ] || { echo "cni.sh: $BIN/$b missing (cargo build --workspace)"; exit 1; }; done

W=$(mktemp -d); TAG=nlb$$
NODE=$TAG-node
cleanup() {
  [ -f "$W/pid" ] && kill "$(cat "$W/pid")" 2>/dev/null && sleep 0.3
  for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG" || true); do ip netns del "$ns"; done
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$NODE"
ip -n "$NODE" link set lo up
ip -n "$NODE" link add upl0 type veth peer name upl0p
ip -n "$NODE" link set upl0 up; ip -n "$NODE" link set upl0p up
for i in $(seq 1 "$PODS"); do ip netns add "$TAG-p$i"; done

cat > "$W/seed.json" <<JSON
[["/netloom-host:networks/network[name='blue']", {"type": "bridge", "ipam": {"pool": [{"name": "v4", "subnet": "10.60.0.0/16", "gateway": "10.60.0.1"}]}}],
 ["/netloom-host:networks/network[name='green']", {"type": "macvlan", "uplink": "upl0", "ipam": {"pool": [{"name": "v4", "subnet": "10.61.0.0/16"}]}}],
 ["/netloom-host:networks/network[name='red']", {"type": "bridge", "ipam": {"pool": [{"name": "v4", "subnet": "10.62.0.0/16", "gateway": "10.62.0.1"}]}}]]
JSON
mkdir "$W/data"
"$BIN/netloom-seed" "$W/data/netloom.db" "$W/seed.json"
NETLOOM_ADMIN_PASSWORD=bench nsenter --net=/run/netns/"$NODE" "$BIN/netloomd" --data-dir "$W/data" \
  --dataplane kernel --cni-socket "$W/cni.sock" --restconf 127.0.0.1:0 --netconf 127.0.0.1:0 \
  --gnmi 127.0.0.1:0 --log warn 2>"$W/netloomd.log" &
echo $! > "$W/pid"
for _ in $(seq 100); do [ -S "$W/cni.sock" ] && break; sleep 0.05; done

# The reference plugins run inside the node's netns, as the runtime would run them there.
W="$W" TAG="$TAG" NODE="$NODE" PODS="$PODS" BIN="$BIN" PLUGINS="$PLUGINS" python3 - <<'PY'
import json, os, subprocess, time, statistics
from concurrent.futures import ThreadPoolExecutor
W, TAG, NODE, PODS, BIN, PL = (os.environ[k] for k in ("W", "TAG", "NODE", "PODS", "BIN", "PLUGINS"))
PODS = int(PODS)
NODE_NS = f"--net=/run/netns/{NODE}"

def run(argv, env, conf):
    e = {"CNI_PATH": PL, **env}
    t = time.perf_counter()
    p = subprocess.run(argv, input=json.dumps(conf).encode(), env=e, capture_output=True)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        raise SystemExit(f"{argv} {env.get('CNI_COMMAND')} failed: {p.stdout[:300]} {p.stderr[:300]}")
    return dt

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
    total = 0
    order = range(nifs) if cmd == "ADD" else reversed(range(nifs))
    for k in order:
        kind, name, subnet = REF_NETS[k]
        env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": f"ref{i}", "CNI_NETNS": f"/run/netns/{TAG}-p{i}",
               "CNI_IFNAME": "eth0" if k == 0 else f"net{k}"}
        total += run(["nsenter", NODE_NS, f"{PL}/{kind}"], env, ref_conf(kind, name, subnet))
    return total

def nl(cmd, i, nifs):
    nets = ["blue", "green", "red"][:nifs]
    conf = {"cniVersion": "1.1.0", "name": "bench", "type": "netloom-cni", "socket": f"{W}/cni.sock", "networks": nets}
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": f"nl{i}", "CNI_NETNS": f"/run/netns/{TAG}-p{i}", "CNI_IFNAME": "eth0"}
    return run([f"{BIN}/netloom-cni"], env, conf)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

rows = []
for nifs in (1, 3):
    for who, f in (("reference", ref), ("netloom", nl)):
        adds = [f("ADD", i, nifs) for i in range(1, PODS + 1)]
        dels = [f("DEL", i, nifs) for i in range(1, PODS + 1)]
        rows.append((nifs, who, adds, dels))

print(f"\nCNI latency, {PODS} pods each (ms)")
print(f"{'ifaces':>6} {'plugin':>10} {'ADD p50':>8} {'ADD p99':>8} {'DEL p50':>8} {'DEL p99':>8}")
for nifs, who, a, d in rows:
    print(f"{nifs:>6} {who:>10} {pct(a,50):8.2f} {pct(a,99):8.2f} {pct(d,50):8.2f} {pct(d,99):8.2f}")
for nifs in (1, 3):
    r = [x for x in rows if x[0] == nifs]
    ra, na = statistics.median(r[0][2]), statistics.median(r[1][2])
    rd, nd = statistics.median(r[0][3]), statistics.median(r[1][3])
    print(f"{nifs}-interface pod: netloom is {ra/na:.1f}x faster on ADD (p50), {rd/nd:.1f}x on DEL (p50)")

# concurrent: every pod's 3-interface ADD at once, then every DEL at once
for who, f in (("netloom", nl),):
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PODS) as ex:
        lat = list(ex.map(lambda i: f("ADD", i, 3), range(1, PODS + 1)))
    wall = time.perf_counter() - t
    with ThreadPoolExecutor(max_workers=PODS) as ex:
        list(ex.map(lambda i: f("DEL", i, 3), range(1, PODS + 1)))
    print(f"{PODS} concurrent 3-interface ADDs ({who}): p50 {pct(lat,50):.1f} ms, p99 {pct(lat,99):.1f} ms, "
          f"{PODS/wall:.0f} pods/s, 0 failures")
PY
