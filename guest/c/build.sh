#!/bin/sh
# Build the C guests as WASI preview 1 command modules (core wasm, `_start`).
# Needs Debian 12's packages: apt-get install -y --no-install-recommends \
#     clang lld wasi-libc libclang-rt-dev-wasm32
# Usage: guest/c/build.sh [OUT_DIR]   (default: guest/c/out)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/out"}
mkdir -p "$out"
# --sysroot=/usr: wasi-libc's headers are in /usr/include/wasm32-wasi and its
# libs in /usr/lib/wasm32-wasi; clang links crt1-command.o, -lc and
# libclang_rt.builtins-wasm32.a by itself. -s drops the debug info that
# Debian's libc.a carries (176 KB -> 38 KB).
/usr/bin/clang --target=wasm32-wasi --sysroot=/usr -O2 -s -Wall -Wextra \
    -o "$out/wordfreq.wasm" "$here/wordfreq.c"
echo "built $out/wordfreq.wasm"
