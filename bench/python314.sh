#!/usr/bin/env bash
# Prints the path of a CPython 3.14 for the benchmarks' InterpreterPoolExecutor
# rows: $PYTHON314 if set, else `python3.14` on PATH, else
# $CARGO_TARGET_DIR/py314 (default target/py314), installed there first by
# ../shared/tools/python314.sh (or its copy, scripts/install-python314.sh).
# Prints nothing (and succeeds) when there is none to be had.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
installer="$root/../shared/tools/python314.sh"
# A checkout without the toolbox beside it (CI) uses the copy in scripts/.
[ -f "$installer" ] || installer="$root/scripts/install-python314.sh"

if [ -n "${PYTHON314:-}" ]; then
    echo "$PYTHON314"
elif command -v python3.14 >/dev/null 2>&1; then
    command -v python3.14
elif [ -x "$target/py314/bin/python3.14" ]; then
    echo "$target/py314/bin/python3.14"
elif [ -f "$installer" ]; then
    bash "$installer" "$target/py314" >&2 && echo "$target/py314/bin/python3.14"
fi
