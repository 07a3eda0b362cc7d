#!/usr/bin/env bash
# CLI benchmarks (issue 7): 10,000 `set` lines piped into one configure session plus one
# commit; Tab-completion latency with 100,000 networks in running; the CLI's peak resident
# memory with the schema loaded. Prints a table with the command behind each figure.
# Usage: tests/bench/cli.sh   (PROFILE=release for an optimised build; default debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-debug}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p netloom-daemon -p netloom-cli
bin=${CARGO_TARGET_DIR:-target}/$profile
dir=$(mktemp -d)
trap 'kill $daemon 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
NETLOOM_ADMIN_PASSWORD=bench "$bin/netloomd" --data-dir "$dir/data" --restconf 127.0.0.1:0 \
  --netconf 127.0.0.1:0 --gnmi 127.0.0.1:0 --cni-socket "$dir/cni.sock" --log warn &
daemon=$!
export NETLOOM_CLI_SOCKET=$dir/data/cli.sock
for _ in $(seq 100); do [ -S "$NETLOOM_CLI_SOCKET" ] && break; sleep 0.1; done

now() { date +%s.%N; }
# 1. 10,000 set lines (2,500 networks x 4 leaves) and one commit, in one session.
{
  echo configure
  for i in $(seq 2500); do
    echo "set networks network n$i type bridge"
    echo "set networks network n$i mtu $((1000 + i))"
    echo "set networks network n$i description \"bench network $i\""
    echo "set networks network n$i bridge hairpin true"
  done
  echo 'commit comment "10k set lines"'
} > "$dir/set.txt"
t0=$(now); "$bin/netloom" < "$dir/set.txt" > /dev/null; t1=$(now)
set_s=$(python3 -c "print(round($t1 - $t0, 2))")
count=$("$bin/netloom" -c "show networks" | tail -n +2 | wc -l)

# 2. 100,000 networks in running (one edit request straight on the socket), then complete.
t0=$(now)
python3 - "$NETLOOM_CLI_SOCKET" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def ask(o):
    f.write(json.dumps(o) + "\n"); f.flush(); r = json.loads(f.readline())
    assert r["ok"], r
ask({"op": "configure"})
ask({"op": "edit", "edits": [{"op": "merge", "path": "/netloom-host:networks/network[name='big%d']" % i,
                              "value": {"name": "big%d" % i, "type": "bridge"}} for i in range(100000)]})
ask({"op": "commit", "comment": "100k networks"})
PY
t1=$(now)
load_s=$(python3 -c "print(round($t1 - $t0, 1))")
complete_op=$("$bin/netloom" --complete "show networks big9999" 2>&1 >/dev/null)
complete_set=$("$bin/netloom" --complete "configure:set networks network big4242" 2>&1 >/dev/null)
complete_ref=$("$bin/netloom" --complete "configure:set pods pod default web interface eth0 network big1234" 2>&1 >/dev/null)

# 3. Peak RSS of the CLI (schema loaded, one show against 102,500 networks' keys).
rss() { python3 -c 'import resource,subprocess,sys; subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss//1024)' "$@"; }
rss_show=$(rss "$bin/netloom" -c "show commits")
rss_complete=$(rss "$bin/netloom" --complete "configure:set networks network big")

printf '%-44s %-28s %s\n' "benchmark ($profile build)" "result" "command"
printf '%-44s %-28s %s\n' "10,000 set lines + 1 commit, one session" "${set_s} s ($count networks)" "netloom < set.txt (tests/bench/cli.sh)"
printf '%-44s %-28s %s\n' "(setup) 100k networks in one edit + commit" "${load_s} s" "one socket edit request (python3, in tests/bench/cli.sh)"
printf '%-44s %-28s %s\n' "Tab completion, 100k networks, show" "${complete_op#completion: }" "netloom --complete 'show networks big9999'"
printf '%-44s %-28s %s\n' "Tab completion, 100k networks, set" "${complete_set#completion: }" "netloom --complete 'configure:set networks network big4242'"
printf '%-44s %-28s %s\n' "Tab completion, leafref to 100k networks" "${complete_ref#completion: }" "netloom --complete 'configure:set pods pod default web interface eth0 network big1234'"
printf '%-44s %-28s %s\n' "CLI peak RSS, schema loaded" "${rss_show} MB" "netloom -c 'show commits'"
printf '%-44s %-28s %s\n' "CLI peak RSS, completing over 100k keys" "${rss_complete} MB" "netloom --complete 'configure:set networks network big'"
