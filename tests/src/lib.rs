//! Helpers shared by wpool's end-to-end tests: test guests and pools.

pub mod cli;
pub mod http;

use std::path::PathBuf;
use std::time::Duration;

/// The path of a test guest built from `guest/` (`hostile`, `echo` or
/// `wordfreq`).
pub fn guest_path(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "hostile" => env!("WPOOL_TEST_GUEST_HOSTILE"),
        "echo" => env!("WPOOL_TEST_GUEST_ECHO"),
        "wordfreq" => env!("WPOOL_TEST_GUEST_WORDFREQ"),
        other => panic!("no test guest `{other}`"),
    })
}

/// A pool for tests: `workers` threads, a private compile cache, a timeout.
pub fn pool(workers: usize, timeout: Duration) -> wpool::Pool {
    builder(workers)
        .timeout(timeout)
        .build()
        .expect("pool builds")
}

/// A pool builder for tests: `workers` threads and the tests' compile
/// cache; finish it with `.build().unwrap()`.
pub fn builder(workers: usize) -> wpool::PoolBuilder {
    wpool::Pool::builder()
        .workers(workers)
        .cache_dir(cache_dir())
}

/// A core module with a counter: `bump` adds one and returns the count, so
/// it shows whether calls share an instance.
pub const COUNTER: &str = r#"(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    global.get $n i32.const 1 i32.add global.set $n global.get $n))"#;

/// Calls `bump` (see [`COUNTER`]) `times` times, one after another, and
/// gives the counts it returned.
pub async fn bumps(pool: &wpool::Pool, guest: &wpool::LoadedGuest, times: usize) -> Vec<i64> {
    let mut seen = Vec::with_capacity(times);
    for _ in 0..times {
        let out = pool.submit(guest, "bump", ()).await.expect("bump runs");
        seen.push(out.value.as_i64().expect("bump returns an integer"));
    }
    seen
}

/// What the built-in `heavy_calc`'s `heavy-calc(n)` returns.
pub fn heavy_calc(n: u64) -> u64 {
    (0..n).map(|i| i * i % 7).sum()
}

/// The compile cache shared by the tests (inside the target directory).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-cache")
}

/// Whether a test must fail rather than skip when a tool it needs is missing:
/// always in CI (`CI=true`), or when `var` (e.g. `WPOOL_REQUIRE_C_GUESTS`) is
/// set to anything but `0`.
pub fn tool_required(var: &str) -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var_os(var).is_some_and(|v| v != "0")
}

/// A C guest from `guest/c/NAME.c`, compiled here to a WASI preview 1
/// command module with clang and wasi-libc (Debian: `clang lld wasi-libc
/// libclang-rt-dev-wasm32`).
///
/// Without that toolchain the test is skipped with a note, unless
/// [`tool_required`] (CI, or `WPOOL_REQUIRE_C_GUESTS`) makes it a failure.
pub fn c_guest(name: &str) -> Option<PathBuf> {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest/c")
        .join(format!("{name}.c"));
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/c-guests");
    std::fs::create_dir_all(&out_dir).expect("create target/c-guests");
    let out = out_dir.join(format!("{name}.wasm"));
    // Unique per process and call: tests compile concurrently.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let partial = out_dir.join(format!(
        "{name}.{}.{}.partial",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    let result = std::process::Command::new(&clang)
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-s",
            "-Wall",
            "-o",
        ])
        .arg(&partial)
        .arg(&source)
        .output();
    let failure = match result {
        Ok(output) if output.status.success() => {
            std::fs::rename(&partial, &out).expect("move the C guest into place");
            return Some(out);
        }
        Ok(output) => format!(
            "`{clang} --target=wasm32-wasi` failed on {}: {}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => format!("cannot run `{clang}`: {e}"),
    };
    let _ = std::fs::remove_file(&partial);
    let fix = "install clang and wasi-libc: apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32";
    if tool_required("WPOOL_REQUIRE_C_GUESTS") {
        panic!("{failure}; {fix}");
    }
    eprintln!("SKIPPED: the C guest `{name}` ({failure}); {fix}");
    None
}
