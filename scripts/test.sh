#!/usr/bin/env bash
# The whole test suite (the README's test command; CI runs it too):
#  1. the one-time set-up (scripts/setup.sh);
#  2. the host workspace: unit, integration and end-to-end tests, which build
#     and run the real guests, and the cluster tests (real nats-server and
#     `wpool worker` processes on 127.0.0.1);
#  3. the use-case guests' own unit tests, run natively;
#  4. the Python package: built with maturin, installed into a venv under
#     target/, tested with pytest (python/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
step() { echo "-- $* (at ${SECONDS}s)"; }
step "set-up"
bash scripts/setup.sh
step "host workspace"
cargo test --workspace
step "use-case guests, natively"
cargo test --manifest-path guest/Cargo.toml -p crypto -p etl -p scrape -p image-guest
step "Python package"
bash python/test.sh
step "all tests done"
