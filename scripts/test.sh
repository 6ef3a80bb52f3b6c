#!/usr/bin/env bash
# The whole test suite (the README's test command; CI runs it too):
#  1. the one-time set-up (scripts/setup.sh);
#  2. the host workspace: unit, integration and end-to-end tests, which build
#     and run the real guests, and the cluster tests (real nats-server and
#     `wpool worker` processes on 127.0.0.1);
#  3. the use-case guests' own unit tests, run natively;
#  4. the Python package: the extension built by cargo with the workspace's
#     features (`python/test.sh --maturin` builds the wheel with maturin, as
#     `pip install ./python` does), tested with pytest (python/test.sh) on
#     the machine's Python, then on CPython 3.14 when there is one
#     (bench/python314.sh finds it, or installs it with
#     scripts/install-python314.sh; in CI it must): one abi3 build for both.
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
py314="$(bash bench/python314.sh || true)"
if [ -n "$py314" ]; then
    step "Python package on $("$py314" --version) (the same abi3 extension)"
    deps="${CARGO_TARGET_DIR:-target}/py314-pytest"
    if ! PYTHONPATH="$deps" "$py314" -c 'import pytest' 2>/dev/null; then
        python3 -m pip install -q --disable-pip-version-check --target "$deps" \
            --python-version 3.14 --implementation cp --only-binary=:all: pytest
    fi
    PYTHONPATH="$(cd "$deps" && pwd)" PYTHON="$py314" bash python/test.sh
elif [ "${CI:-}" = true ]; then
    echo "CI: no CPython 3.14 could be installed (scripts/install-python314.sh)" >&2
    exit 1
else
    echo "(no CPython 3.14 here: the Python tests ran on $(python3 --version) only)"
fi
step "all tests done"
