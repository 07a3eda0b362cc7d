#!/usr/bin/env bash
# The full-kernel lane: runs end-to-end tests that need kernel features this machine's kernel
# lacks (802.1q VLAN, ipvlan, ...) inside a VM booted with Debian's full 6.1 kernel under
# software emulation (virtme-ng, qemu TCG; the VM shares the host's root file system read-only,
# so the test binaries built here run inside). NETLOOM_FULL_KERNEL=1 is set in the VM: there a
# test that would skip for a missing kernel feature fails instead.
#
#   tests/full-kernel.sh [TEST[:FILTER] ...]     (default: cni_uplink)
#
# TEST is a test target of netloom-tests (tests/tests/TEST.rs), FILTER a libtest name filter.
# Installs what it needs itself: apt qemu-system-x86, linux-image-amd64, busybox-static
# (virtme-ng's initramfs), tcpdump; virtme-ng in its own venv, .venv-full-kernel (not the
# repo's .venv, which CI builds). Builds with the normal debug profile into
# $CARGO_TARGET_DIR (or target/), boots the kernel once, streams the tests' output,
# prints a summary and exits non-zero when any test binary failed (or ran longer than
# $NETLOOM_LANE_TIMEOUT seconds, default 1800).
# Needs root (network namespaces in the VM). Not part of .ci/run: too slow, too heavy an
# install. Everything runs ~30x slower in the VM: for correctness, never timing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" -eq 0 ] || { echo "full-kernel: needs root (apt, network namespaces)" >&2; exit 2; }

apt_packages=(qemu-system-x86 linux-image-amd64 busybox-static tcpdump)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "full-kernel: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
venv=.venv-full-kernel
if [ ! -x "$venv/bin/vng" ]; then
  echo "full-kernel: installing virtme-ng into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check virtme-ng==1.42
fi

# Debian's full kernel: the newest one in /boot that has the 802.1q module, or $NETLOOM_KERNEL.
kernel=${NETLOOM_KERNEL:-}
if [ -z "$kernel" ]; then
  for k in $(ls -v /boot/vmlinuz-* 2>/dev/null); do
    ver=${k#/boot/vmlinuz-}
    [ -d "/lib/modules/$ver/kernel/net/8021q" ] && kernel=$k
  done
fi
[ -n "$kernel" ] || { echo "full-kernel: no kernel with 802.1q modules in /boot" >&2; exit 2; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cni_uplink)

# Build on the host: the daemon and CLI binaries the harness execs, then each test binary.
cargo build --locked -p netloom-daemon -p netloom-cli --bins
scratch=$(mktemp -d /tmp/netloom-full-kernel.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
: >"$scratch/plan"
for t in "${targets[@]}"; do
  name=${t%%:*}
  filter=""
  [ "$name" = "$t" ] || filter=${t#*:}
  exe=$(cargo test --locked -p netloom-tests --test "$name" --no-run --message-format=json |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
  [ -n "$exe" ] || { echo "full-kernel: no test binary for $name" >&2; exit 2; }
  printf '%s\t%s\t%s\n' "$name" "$exe" "$filter" >>"$scratch/plan"
done

# What the VM runs: each test binary in turn (one test at a time: the emulated CPUs are
# slow), its exit status written to the shared scratch dir.
printf 'lane_timeout=%s\n' "${NETLOOM_LANE_TIMEOUT:-1800}" >"$scratch/guest.sh"
cat >>"$scratch/guest.sh" <<'EOF'
set -u
export NETLOOM_FULL_KERNEL=1 RUST_BACKTRACE=1
scratch=$(dirname "$0")
echo "full-kernel: guest kernel $(uname -r)"
while IFS=$'\t' read -r name exe filter; do
  echo "=== $name ${filter:+(filter $filter)}"
  start=$(date +%s)
  # bounded: a hung test fails the lane instead of holding the VM forever
  # shellcheck disable=SC2086
  timeout "$lane_timeout" "$exe" $filter --test-threads=1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$filter" "$rc" "$(($(date +%s) - start))" >>"$scratch/results"
done <"$scratch/plan"
EOF

echo "full-kernel: booting $kernel (software emulation, nice 19)"
start=$(date +%s)
: >"$scratch/results"
# vng execs its helpers (virtme-run) by name; its output goes through a pipe because the VM
# console reopens stdout (a log file given as stdout would be overwritten from its start)
PATH="$repo/$venv/bin:$PATH" nice -n 19 "$venv/bin/vng" --disable-kvm --run "$kernel" --cpus 2 --memory 2G \
  --rwdir "$scratch" --cwd "$repo" --exec "bash $scratch/guest.sh" 2>&1 | cat || true
echo "full-kernel: VM done in $(($(date +%s) - start)) s"

failed=0
echo "full-kernel: summary"
while IFS=$'\t' read -r name exe filter; do
  line=$(awk -F'\t' -v n="$name" -v f="$filter" '$1 == n && $2 == f' "$scratch/results" | head -1)
  if [ -z "$line" ]; then
    echo "  $name${filter:+ ($filter)}: DID NOT RUN"
    failed=1
  else
    rc=$(cut -f3 <<<"$line")
    secs=$(cut -f4 <<<"$line")
    if [ "$rc" = 0 ]; then
      echo "  $name${filter:+ ($filter)}: passed in $secs s"
    else
      echo "  $name${filter:+ ($filter)}: FAILED (exit $rc) in $secs s"
      failed=1
    fi
  fi
done <"$scratch/plan"
exit $failed
