# wpool: `just --list` shows every recipe.

# The README's run command: the seed's heavy_calc program.
run job="examples/heavy_calc.toml":
    cargo run -p wpool-cli -- run {{job}}

# Build the host crates (the built-in guests come checked in: no wasm target needed).
build:
    cargo build --workspace

# Rebuild the built-in guests from guest/ into host/builtins/wasm/ (commit them with the source).
guests:
    bash scripts/builtins.sh

# Check that the checked-in built-in guests are what their source builds to.
guests-check:
    bash scripts/builtins.sh --check

# Packaging: cargo package, an outside project embedding wpool, cargo install; no wasm target.
embed-check:
    bash scripts/embed-check.sh

# The README's test command: every test, real guests, real loopback servers.
test:
    bash scripts/test.sh

# Clippy with warnings as errors, and rustfmt in check mode.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the host and guest workspaces.
fmt:
    cargo fmt --all
    cargo fmt --all --manifest-path guest/Cargo.toml

# Benchmarks: criterion micro-benchmarks, then the side-by-side table against
# native Rust and Python's executors (`-- --help` for its options). Python
# 3.14 (for InterpreterPoolExecutor) is installed into target/py314 when
# missing (bench/python314.sh), unless `--python314 PATH` is given.
bench *args:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo bench -p wpool --bench micro
    cargo build --release -p wpool-cli
    extra=()
    if [[ " {{args}} " != *" --python314"* ]]; then
        py314=$(bash bench/python314.sh || true)
        if [[ -n $py314 ]]; then extra=(--python314 "$py314"); fi
    fi
    cargo run --release -p wpool-bench -- "${extra[@]}" {{args}}
    bash bench/python/run_executor_bench.sh

# The Python package's side-by-side bench alone (WasmPoolExecutor vs Python 3.14's executors).
bench-python *args:
    bash bench/python/run_executor_bench.sh {{args}}

# The cluster's end-to-end tests alone (real nats-server and `wpool worker` processes).
test-cluster:
    cargo test -p wpool-cli --test cluster

# The Python package's tests alone (cargo-built extension, pytest; --maturin for a wheel).
test-python *args:
    bash python/test.sh {{args}}

# What CI runs (.ci/run).
ci:
    bash .ci/run
