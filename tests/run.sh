#!/usr/bin/env bash
# The one command that runs every netloom test: installs what a fresh Debian 12 machine
# lacks (packaging/dev-setup.sh), then runs the whole workspace's tests and closes with one
# summary line over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/dev-setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The end-to-end tests exec the workspace's binaries (netloomd, netloom, netloom-cni); cargo
# test builds binaries only for packages with integration tests, so build them all first.
cargo build --workspace --bins --locked 2>&1 | tee "$log" || status=$?
[ "$status" -eq 0 ] && { cargo test --workspace --locked "$@" 2>&1 | tee -a "$log" || status=$?; }
awk '/^test result:/ {
       for (i = 1; i < NF; i++) {
         if ($(i + 1) ~ /^passed/) p += $i
         if ($(i + 1) ~ /^failed/) f += $i
         if ($(i + 1) ~ /^ignored/) s += $i
       }
     }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
