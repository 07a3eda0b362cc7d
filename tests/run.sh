#!/usr/bin/env bash
# The one command that runs every netloom test: installs what a fresh Debian 12 machine
# lacks (packaging/dev-setup.sh), then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/dev-setup.sh
cargo test --workspace --locked "$@"
