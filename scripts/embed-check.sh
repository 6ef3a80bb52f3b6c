#!/usr/bin/env bash
# Checks that the library and the CLI are usable outside this repository,
# without the wasm32-wasip2 target (the CI test of issue 15's packaging):
#
#  1. `cargo package` of `wpool-builtins`, `wpool`, `wpool-cluster` and
#     `wpool-cli` (every file they need is inside the package; unpublished
#     path dependencies are resolved from the other packages, as a publish
#     would);
#  2. a scratch project in a temp folder, depending on the *packaged* `wpool`,
#     builds and runs an embedded pool on a built-in guest;
#  3. `cargo install --path host/cli` builds the CLI, which then runs the
#     seed's heavy_calc job. (Not from its package: a crate named `wpool`
#     already exists on crates.io, so the packaged CLI's `wpool` dependency
#     would resolve to that one until ours is published under its name.)
#  4. `maturin sdist` of the Python package: its pyproject is valid and the
#     source distribution `pip install` builds from carries the Rust crates
#     it needs. (Building the wheel compiles Wasmtime again with other
#     features; `bash python/test.sh --maturin` does that.)
#
# Steps 2 and 3 build with a rustc wrapper that fails the build if anything
# (a build script, a dependency) compiles for a wasm target: the target is
# "hidden". Both build unoptimised: each resolves another feature set than
# the workspace's tests, so their dependencies are compiled again anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== cargo package"
cargo package --locked --no-verify --allow-dirty -p wpool-builtins -p wpool -p wpool-cluster -p wpool-cli
packages=$CARGO_TARGET_DIR/package
mkdir -p "$scratch/packages"
for crate in wpool-builtins wpool wpool-cluster wpool-cli; do
  tar -xzf "$packages/$crate-0.1.0.crate" -C "$scratch/packages"
done
# What must not be in a package: the guest sources' build, the test guests.
if tar -tzf "$packages/wpool-0.1.0.crate" | grep -E 'build\.rs$|\.\./'; then
  echo "wpool's package has a build script or a path outside it" >&2
  exit 1
fi

echo "== the wasm target, hidden"
cat >"$scratch/rustc-no-wasm" <<'WRAP'
#!/usr/bin/env bash
# A rustc wrapper: refuses to compile for any wasm target (`--target X`
# or `--target=X`; other arguments may name wasm, as check-cfg lists do).
prev=
for arg in "$@"; do
  case "$prev $arg" in
    "--target "*wasm*|*" --target="*wasm*)
      echo "error: something compiled for a wasm target: rustc $*" >&2; exit 97 ;;
  esac
  prev=$arg
done
exec "$@"
WRAP
chmod +x "$scratch/rustc-no-wasm"
export RUSTC_WRAPPER=$scratch/rustc-no-wasm

echo "== a scratch project that embeds the packaged wpool"
mkdir -p "$scratch/embedder/src"
cat >"$scratch/embedder/Cargo.toml" <<TOML
[package]
name = "embedder"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
wpool = { path = "$scratch/packages/wpool-0.1.0" }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
futures = "0.3"

[patch.crates-io]
wpool-builtins = { path = "$scratch/packages/wpool-builtins-0.1.0" }

# Unoptimised and without debug info: this checks that it builds and runs,
# not how fast (its dependency graph is not the workspace's, so nothing the
# tests built is reused, and an optimised Wasmtime takes minutes longer).
[profile.dev]
debug = false
TOML
cat >"$scratch/embedder/src/main.rs" <<'RS'
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = wpool::Pool::builder().workers(2).build()?;
    let calc = pool.load(wpool::Guest::builtin("heavy_calc"))?;
    let results: Vec<u64> = pool
        .map(&calc, "heavy-calc", [50_000u64, 60_000, 70_000, 80_000])
        .map(|r| r.expect("task").value.as_u64().expect("u64"))
        .collect()
        .await;
    let sha = pool.load(wpool::Guest::builtin("sha256"))?;
    let hex: String = pool.call(&sha, "hex", (b"abc".to_vec(),)).await?;
    pool.shutdown().await;
    println!("{results:?} {hex}");
    Ok(())
}
RS
cp Cargo.lock "$scratch/embedder/Cargo.lock"
out=$(cd "$scratch/embedder" && cargo run --quiet)
echo "$out"
expected="[100001, 119999, 140000, 159999] ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
if [[ $out != "$expected" ]]; then
  echo "the embedded pool printed the wrong results; expected: $expected" >&2
  exit 1
fi

echo "== cargo install --path host/cli"
# The dev profile without optimising dependencies (as the embedder above):
# the CLI alone resolves other features than the whole workspace, so its
# dependencies are built again whatever the profile, and unoptimised they
# build in a fraction of the time.
cargo install --quiet --locked --debug --path host/cli --root "$scratch/install" \
  --config 'profile.dev.package."*".opt-level=0' --config 'profile.dev.debug=false'

"$scratch/install/bin/wpool" run --format jsonl --no-cache examples/heavy_calc.toml >"$scratch/records.jsonl"
grep -q '"value":99999998' "$scratch/records.jsonl" || {
  echo "the installed wpool did not compute heavy_calc(50M):" >&2
  cat "$scratch/records.jsonl" >&2
  exit 1
}
echo "embedding and installing work without the wasm32 target"

echo "== maturin sdist (python/)"
python3 -m maturin sdist --manifest-path python/Cargo.toml --out "$scratch/sdist" >/dev/null
sdist=$(ls "$scratch"/sdist/wpool-*.tar.gz)
listing=$(tar -tzf "$sdist")
for needed in pyproject.toml python/Cargo.toml wpool/__init__.py wpool/_wpool.pyi \
    host/wpool/Cargo.toml host/builtins/Cargo.toml; do
  grep -q "/$needed\$" <<<"$listing" || {
    echo "the Python sdist lacks $needed" >&2
    exit 1
  }
done
echo "the Python package's sdist carries what pip needs to build it"
