#!/usr/bin/env bash
# Builds the built-in guests from their source in guest/ and checks them in as
# host/builtins/wasm/NAME.wasm, the artifacts the `wpool-builtins` crate embeds.
#
#   bash scripts/builtins.sh          rebuild and overwrite the checked-in artifacts
#   bash scripts/builtins.sh --check  rebuild and fail unless every artifact is
#                                     byte for byte what its source builds to (CI)
#
# Builds are reproducible: paths that would differ between checkouts and
# machines (this checkout, cargo's registry, the target folder) are remapped,
# and the guest workspace's Cargo.lock is honoured (--locked). Another rustc
# than the one they were built with (1.95) may produce other bytes, which
# `--check` reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-write}
target=wasm32-wasip2
out=host/builtins/wasm
cargo_home=${CARGO_HOME:-$HOME/.cargo}
target_dir=${WPOOL_BUILTINS_TARGET_DIR:-$root/target/builtins}

rustup target add "$target" >/dev/null 2>&1 || true

# (package in guest/, built-in name, extra rustflags)
builtins=(
  "heavy_calc heavy_calc"
  "wordfreq wordfreq"
  "logs logs"
  "crypto crypto"
  "etl etl"
  "scrape scrape"
  "image-guest image"
  "sha256 sha256 -Ctarget-feature=+simd128"
)

# This checkout, cargo's registry, and the target folder (build scripts'
# generated sources live there, and panic messages name them).
remap="--remap-path-prefix=$root/guest=/wpool/guest --remap-path-prefix=$cargo_home=/cargo"
remap+=" --remap-path-prefix=$target_dir=/wpool/target"

build() { # flavour rustflags packages...
  local flavour=$1 flags=$2
  shift 2
  local args=()
  for p in "$@"; do args+=(--package "$p"); done
  # The host's flags and settings are not the guests'.
  env -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET \
    RUSTFLAGS="$remap $flags" \
    cargo build --quiet --locked --release --target "$target" \
      --manifest-path guest/Cargo.toml --target-dir "$target_dir/$flavour" "${args[@]}"
}

plain=() simd=()
for entry in "${builtins[@]}"; do
  read -r package _ flags <<<"$entry"
  if [[ -n ${flags:-} ]]; then simd+=("$package"); else plain+=("$package"); fi
done
build plain "" "${plain[@]}"
build simd "-Ctarget-feature=+simd128" "${simd[@]}"

status=0
mkdir -p "$out"
for entry in "${builtins[@]}"; do
  read -r package name flags <<<"$entry"
  flavour=plain
  [[ -n ${flags:-} ]] && flavour=simd
  built="$target_dir/$flavour/$target/release/${package//-/_}.wasm"
  if [[ $mode == --check ]]; then
    if cmp -s "$built" "$out/$name.wasm"; then
      echo "ok       $name.wasm matches guest/$package"
    else
      echo "MISMATCH $name.wasm differs from what guest/$package builds to; run: bash scripts/builtins.sh" >&2
      status=1
    fi
  else
    cp "$built" "$out/$name.wasm"
    echo "wrote    $out/$name.wasm ($(stat -c %s "$out/$name.wasm") bytes)"
  fi
done
exit $status
