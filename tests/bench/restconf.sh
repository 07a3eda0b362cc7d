#!/usr/bin/env bash
# RESTCONF benchmarks (issue 3): PATCH into 100k entries, GET of 100k entries, 1,000
# concurrent GETs. Usage: tests/bench/restconf.sh [ENTRIES] (default 100000).
# PROFILE=release times an optimised netloomd (builds netloom-daemon and the bench only).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-dev}
flag=()
dir=debug
if [ "$profile" = release ]; then flag=(--release); dir=release; fi
cargo build "${flag[@]}" -p netloom-daemon --bin netloomd
cargo build "${flag[@]}" -p netloom-tests --bin netloom-restconf-bench
target=${CARGO_TARGET_DIR:-target}
NETLOOMD="$target/$dir/netloomd" "$target/$dir/netloom-restconf-bench" "${1:-100000}"
