//! Helpers shared by wpool's end-to-end tests: test guests and pools.

pub mod cli;
pub mod http;

use std::path::PathBuf;
use std::time::Duration;

/// The path of a test guest built from `guest/` (`hostile` or `echo`).
pub fn guest_path(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "hostile" => env!("WPOOL_TEST_GUEST_HOSTILE"),
        "echo" => env!("WPOOL_TEST_GUEST_ECHO"),
        other => panic!("no test guest `{other}`"),
    })
}

/// A pool for tests: `workers` threads, a private compile cache, a timeout.
pub fn pool(workers: usize, timeout: Duration) -> wpool::Pool {
    wpool::Pool::builder()
        .workers(workers)
        .timeout(timeout)
        .cache_dir(cache_dir())
        .build()
        .expect("pool builds")
}

/// The compile cache shared by the tests (inside the target directory).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-cache")
}
