#!/usr/bin/env bash
# Builds wpool's Python wheel (release profile, in the workspace's target
# directory), then runs executor_bench.py on Python 3.14 when there is one
# (bench/python314.sh: installed into target/py314 by
# ../shared/tools/python314.sh when that script is present), else on python3
# (no InterpreterPoolExecutor there). Arguments go
# to executor_bench.py (e.g. --quick).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"

py="${PYTHON_BENCH:-}"
if [ -z "$py" ]; then
    py="$(bash "$root/bench/python314.sh" || true)"
    py="${py:-python3}"
fi

wheels="$target/wheels/python-release"
rm -rf "$wheels"
python3 -m maturin build --release --manifest-path "$root/python/Cargo.toml" \
    --interpreter python3 --out "$wheels" >&2
# One abi3 wheel serves every CPython >= 3.11: unpack it beside the bench.
site="$target/python-bench-site"
rm -rf "$site"
python3 -m pip install --quiet --target "$site" --no-deps "$wheels"/wpool-*.whl
PYTHONPATH="$site:$here" exec "$py" "$here/executor_bench.py" "$@"
