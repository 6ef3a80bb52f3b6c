//! The `wpool._wpool` extension module: the Rust half of the `wpool` Python
//! package. The public API (`WasmPoolExecutor`, `guest`, the exceptions) is
//! Python, in `python/wpool/`; this module gives it a pool that completes
//! `concurrent.futures.Future`s, loaded guests and value conversion.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pyo3::prelude::*;

mod complete;
mod convert;
mod guest;
mod map;
mod pool;

/// Rust's allocations in this extension: tasks are allocated on the
/// submitting thread and freed on a worker or the completer, and glibc's
/// malloc serialises such cross-thread frees on the allocating thread's
/// arena lock (`perf`: futex waits in `__lll_lock_wait_private` on every
/// thread); mimalloc frees them without a lock. Python's own objects keep
/// Python's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set at interpreter exit: from then on no thread of ours attaches to it.
pub(crate) static EXITING: AtomicBool = AtomicBool::new(false);

/// An `Instant` and the `time.monotonic()` taken with it.
static CLOCK: OnceLock<(Instant, f64)> = OnceLock::new();

pub(crate) fn monotonic(at: Instant) -> f64 {
    match CLOCK.get() {
        Some(base) => complete::monotonic_of(*base, at),
        None => 0.0,
    }
}

/// Called from an `atexit` hook: completions that arrive later are dropped
/// without touching the interpreter.
#[pyfunction]
fn _at_exit() {
    EXITING.store(true, Ordering::Release);
}

/// The names of the built-in guests.
#[pyfunction]
fn builtins() -> Vec<&'static str> {
    wpool::Guest::builtins().collect()
}

#[pymodule]
fn _wpool(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let now: f64 = m
        .py()
        .import("time")?
        .call_method0("monotonic")?
        .extract()?;
    let _ = CLOCK.set((Instant::now(), now));
    m.add_class::<pool::PyPool>()?;
    m.add_class::<pool::TaskHandle>()?;
    m.add_class::<complete::TaskInfo>()?;
    m.add_class::<guest::PyGuest>()?;
    m.add_class::<map::MapResults>()?;
    m.add_class::<map::MapWaiter>()?;
    m.add_function(wrap_pyfunction!(_at_exit, m)?)?;
    m.add_function(wrap_pyfunction!(builtins, m)?)?;
    Ok(())
}
