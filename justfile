# wpool: `just --list` shows every recipe.

# The README's run command: the seed's heavy_calc program.
run job="examples/heavy_calc.toml":
    cargo run -p wpool-cli -- run {{job}}

# Build everything (host crates; guests are built by the build scripts).
build:
    cargo build --workspace

# Build the guest components by hand (wasm32-wasip2), outside the host build.
guests:
    rustup target add wasm32-wasip2
    cargo build --release --target wasm32-wasip2 --manifest-path guest/Cargo.toml

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
# native Rust and Python's executors (`-- --help` for its options).
bench *args:
    cargo bench -p wpool --bench micro
    cargo build --release -p wpool-cli
    cargo run --release -p wpool-bench -- {{args}}

# What CI runs (.ci/run).
ci:
    bash .ci/run
