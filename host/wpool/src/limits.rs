//! Per-task limits and the store's resource limiter.

use std::time::Duration;

/// The limits applied to every task of a pool.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Wall-clock time per task.
    pub(crate) timeout: Option<Duration>,
    /// Bytes of linear memory per instance.
    pub(crate) memory: usize,
    /// Fuel per task, when fuel metering is on.
    pub(crate) fuel: Option<u64>,
    /// Approximate bytes of a task's result.
    pub(crate) output: usize,
    /// Bytes kept of a task's stdout and of its stderr.
    pub(crate) stdio: usize,
}

/// Default memory ceiling per instance: 512 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;
/// Default cap on a task's result: 64 MiB.
pub const DEFAULT_OUTPUT_LIMIT: usize = 64 << 20;
/// Default bytes of stdout (and of stderr) kept per task: 64 KiB.
pub const DEFAULT_STDIO_LIMIT: usize = 64 << 10;

/// Enforces the memory ceiling and remembers that it was hit, so that the
/// trap a refused allocation causes is reported as [`MemoryLimit`](crate::ErrorKind::MemoryLimit).
#[derive(Debug)]
pub(crate) struct Limiter {
    memory: usize,
    /// Set when a growth was refused; cleared before each task.
    pub(crate) hit: bool,
    /// The largest linear memory of the instance so far, in bytes.
    pub(crate) largest: usize,
}

/// Table elements an instance may hold (each costs a pointer).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl Limiter {
    pub(crate) fn new(memory: usize) -> Self {
        Limiter {
            memory,
            hit: false,
            largest: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory && maximum.is_none_or(|max| desired <= max);
        if allowed {
            self.largest = self.largest.max(desired);
        } else {
            self.hit = true;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.hit = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Elements, not bytes: a table's size says nothing of a result's,
        // so it does not count towards `largest`.
        let allowed = desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max);
        self.hit |= !allowed;
        Ok(allowed)
    }
}
