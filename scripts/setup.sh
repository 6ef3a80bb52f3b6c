#!/usr/bin/env bash
# One-time set-up for building and testing wpool on a fresh machine:
#  - the wasm32-wasip2 Rust target (every Rust guest is built for it);
#  - clang + wasi-libc for the C guest tests (Debian/Ubuntu packages), when
#    they are missing and apt-get can install them. Without them those tests
#    are skipped with a note (CI requires them: WPOOL_REQUIRE_C_GUESTS=1).
set -euo pipefail

rustup target add wasm32-wasip2

c_toolchain_works() {
    printf 'int main(void){return 0;}\n' |
        clang --target=wasm32-wasi --sysroot=/usr -x c -o /dev/null - 2>/dev/null
}

if c_toolchain_works; then
    exit 0
fi
packages="clang lld wasi-libc libclang-rt-dev-wasm32"
if command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "setup: C guest toolchain missing; as root run: apt-get install -y $packages" >&2
            exit 0
        fi
    fi
    echo "setup: installing the C guest toolchain: $packages"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $packages
else
    echo "setup: no apt-get; install clang and wasi-libc for the C guest tests ($packages)" >&2
fi
