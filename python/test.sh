#!/usr/bin/env bash
# Builds the wpool Python extension (dev profile, in the workspace's target
# directory so wasmtime is not compiled twice), installs it into a venv under
# target/, builds the test guests and runs pytest on python/tests.
#
# Needs: Rust with the wasm32-wasip2 target, Python >= 3.11 with maturin and
# pytest (scripts/setup.sh). Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
python="${PYTHON:-python3}"

echo "python/test.sh: building the test guests" >&2
cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path "$root/guest/Cargo.toml" --target-dir "$target/guests" \
    --package hostile --package echo
export WPOOL_TEST_GUESTS="$target/guests/wasm32-wasip2/release"

echo "python/test.sh: building the extension" >&2
wheels="$target/wheels/python-dev"
rm -rf "$wheels"
"$python" -m maturin build --profile dev --manifest-path "$here/Cargo.toml" \
    --interpreter "$python" --out "$wheels"

venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheels"/wpool-*.whl

# From tests/, so the source folder python/wpool (no extension inside) does
# not shadow the installed package.
cd "$here/tests"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
