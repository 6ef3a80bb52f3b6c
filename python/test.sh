#!/usr/bin/env bash
# Builds the wpool Python extension, puts it beside the package's Python
# files in a folder under target/, builds the test guests and runs pytest on
# python/tests.
#
# The extension is built by cargo with the whole workspace selected (dev
# profile), so it reuses the Wasmtime that `cargo test --workspace` built:
# a maturin build selects only this crate, resolves other dependency features
# and compiles Wasmtime a second time (~10 minutes on 2 cores). `--maturin`
# builds and installs the wheel with maturin into a venv under target/
# instead, the way `pip install ./python` does.
#
# Needs: Rust with the wasm32-wasip2 target, Python >= 3.11 with pytest
# (and maturin for --maturin; scripts/setup.sh installs both). Other
# arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
python="${PYTHON:-python3}"
maturin=0
if [ "${1:-}" = "--maturin" ]; then
    maturin=1
    shift
fi

echo "python/test.sh: building the test guests" >&2
cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path "$root/guest/Cargo.toml" --target-dir "$target/guests" \
    --package hostile --package echo
export WPOOL_TEST_GUESTS="$target/guests/wasm32-wasip2/release"

if [ "$maturin" = 1 ]; then
    echo "python/test.sh: building the wheel with maturin" >&2
    wheels="$target/wheels/python-dev"
    rm -rf "$wheels"
    "$python" -m maturin build --profile dev --manifest-path "$here/Cargo.toml" \
        --interpreter "$python" --out "$wheels"
    venv="$target/python-venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv --system-site-packages "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheels"/wpool-*.whl
    python="$venv/bin/python"
else
    echo "python/test.sh: building the extension (cargo, workspace features)" >&2
    (cd "$root" && cargo build --quiet --workspace --lib --bins --tests)
    site="$target/python-dev/site"
    rm -rf "$site"
    mkdir -p "$site/wpool"
    cp "$here"/wpool/*.py "$here/wpool/_wpool.pyi" "$here/wpool/py.typed" "$site/wpool/"
    # The abi3 name a wheel gives it: every CPython >= 3.11 loads it.
    cp "$target/debug/lib_wpool.so" "$site/wpool/_wpool.abi3.so"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

# From tests/, so the source folder python/wpool (no extension inside) does
# not shadow the built package.
cd "$here/tests"
exec "$python" -m pytest -q -p no:cacheprovider "$@" .
