//! [`PoolBuilder`]: a pool's settings, checked, and the start of its workers.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::batch::DEFAULT_MAX_BATCH;
use crate::cache::{CompileCache, DEFAULT_CACHE_SIZE};
use crate::engine::{EngineOptions, Runtime, Ticker};
use crate::error::BuildError;
use crate::limits::{DEFAULT_MEMORY_LIMIT, DEFAULT_OUTPUT_LIMIT, DEFAULT_STDIO_LIMIT, Limits};
use crate::pool::{Inner, Pool};
use crate::worker::{DEFAULT_SPIN, Idle, InstanceMode, Worker};

static NEXT_POOL: AtomicU64 = AtomicU64::new(0);

/// Configures and builds a [`Pool`]: [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    workers: Option<usize>,
    timeout: Option<Duration>,
    memory: usize,
    fuel: Option<u64>,
    output: usize,
    stdio: usize,
    mode: InstanceMode,
    queue: Option<usize>,
    in_flight: Option<usize>,
    max_batch: usize,
    cache: Option<PathBuf>,
    cache_size: u64,
    pooling: bool,
    max_instances: u32,
    spin: Duration,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            workers: None,
            timeout: None,
            memory: DEFAULT_MEMORY_LIMIT,
            fuel: None,
            output: DEFAULT_OUTPUT_LIMIT,
            stdio: DEFAULT_STDIO_LIMIT,
            mode: InstanceMode::Reuse,
            queue: None,
            in_flight: None,
            max_batch: DEFAULT_MAX_BATCH,
            cache: None,
            cache_size: DEFAULT_CACHE_SIZE,
            pooling: true,
            max_instances: 1000,
            spin: DEFAULT_SPIN,
        }
    }
}

impl PoolBuilder {
    /// Number of worker threads. Default: `std::thread::available_parallelism()`.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Wall-clock limit per task, enforced through the engine's epoch (a few
    /// milliseconds of resolution). Default: none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Linear-memory ceiling per instance, in bytes. Default: 512 MiB.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory = bytes;
        self
    }

    /// Fuel per task: a deterministic budget of executed instructions.
    /// Turns fuel metering on (it costs 3–17% speed). Default: off.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Cap on a task's result size, in bytes. Default: 64 MiB.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output = bytes;
        self
    }

    /// Bytes of each task's stdout and stderr kept; the rest is dropped.
    /// Default: 64 KiB.
    pub fn stdio_limit(mut self, bytes: usize) -> Self {
        self.stdio = bytes;
        self
    }

    /// Reuse one instance per worker and guest (the default), or a fresh
    /// instance per task.
    pub fn instance_mode(mut self, mode: InstanceMode) -> Self {
        self.mode = mode;
        self
    }

    /// Capacity of the queue in front of the workers: a submitter waits when
    /// it is full. Default: 64 per worker.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue = Some(n);
        self
    }

    /// How many calls (single tasks, or batches of tiny ones) [`Pool::map`]
    /// keeps in flight. Default: 8 per worker.
    pub fn map_in_flight(mut self, n: usize) -> Self {
        self.in_flight = Some(n);
        self
    }

    /// The most tasks [`Pool::map`] sends a worker in one batch (tasks that
    /// finish in microseconds travel together; see [`Pool::map`]). `1`
    /// sends every task on its own. Default: 128.
    pub fn map_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// How long a worker that finds the queue empty, with every other worker
    /// waiting too, keeps checking it before it sleeps. Default: 50 µs.
    ///
    /// A sleeping thread takes tens of microseconds to wake on many virtual
    /// machines; a caller that awaits each result before making the next
    /// call (a request loop, a Python script calling one task at a time)
    /// would wait for that twice per call. Only the last worker to go idle
    /// checks, so a busy pool never spins; a pool left idle burns at most
    /// this much CPU once. `Duration::ZERO` turns it off, for a pool whose
    /// callers need every core between calls (see the README's
    /// Performance section).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = wpool::Pool::builder()
    ///     .workers(2)
    ///     .spin(Duration::ZERO)
    ///     .build()?;
    /// # Ok::<(), wpool::BuildError>(())
    /// ```
    pub fn spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Keeps compiled guests in an on-disk cache in `dir` (created when
    /// needed), so that the next process loads them without compiling.
    ///
    /// Off by default: a pool writes nothing to disk unless asked.
    /// [`PoolBuilder::user_cache_dir`] gives the conventional per-user
    /// folder. The folder is bounded ([`PoolBuilder::cache_max_size`]) and
    /// safe to share between processes.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = Some(dir.into());
        self
    }

    /// Turns the on-disk compile cache off (the default): every process
    /// compiles its guests.
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The largest size, in bytes, the compile cache folder may reach before
    /// its least recently used entries are removed (default 1 GiB).
    pub fn cache_max_size(mut self, bytes: u64) -> Self {
        self.cache_size = bytes;
        self
    }

    /// The conventional per-user cache folder for wpool, as `wpool run`
    /// uses: `$WPOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/wpool`, else
    /// `~/.cache/wpool` (`None` without a home). Pass it to
    /// [`PoolBuilder::cache_dir`] to share the CLI's cache.
    pub fn user_cache_dir() -> Option<PathBuf> {
        CompileCache::default_dir()
    }

    /// Allocate instances on demand instead of from the pooling allocator
    /// (slower instantiation; for hosts that restrict virtual memory).
    pub fn on_demand_allocation(mut self) -> Self {
        self.pooling = false;
        self
    }

    /// How many instances the pooling allocator reserves room for, across
    /// all workers and guests (default 1000). Each worker holds one instance
    /// per guest it has run; instances of guests that were dropped (an old
    /// version in a [`GuestDir`](crate::GuestDir)) are freed.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n.max(1);
        self
    }

    /// Builds the pool and starts its worker threads.
    pub fn build(self) -> Result<Pool, BuildError> {
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        if workers == 0 {
            return Err(BuildError::InvalidSetting(
                "workers must be at least 1".into(),
            ));
        }
        if self.memory < 64 << 10 {
            return Err(BuildError::InvalidSetting(
                "memory limit must be at least 64 KiB".into(),
            ));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(BuildError::InvalidSetting(
                "timeout must be more than zero".into(),
            ));
        }
        let runtime = Runtime::new(&EngineOptions {
            fuel: self.fuel.is_some(),
            memory: self.memory,
            pooling: self.pooling,
            instances: self.max_instances,
            cache_dir: self.cache,
            cache_size: self.cache_size,
        })?;
        let ticker = Arc::new(Ticker::start(runtime.engine.clone()).map_err(|source| {
            BuildError::Spawn {
                index: workers,
                source,
            }
        })?);
        let limits = Arc::new(Limits {
            timeout: self.timeout,
            memory: self.memory,
            fuel: self.fuel,
            output: self.output,
            stdio: self.stdio,
        });
        let abort = Arc::new(AtomicBool::new(false));
        let (tx, rx) = async_channel::bounded(self.queue.unwrap_or(64 * workers).max(1));
        let (exited, _) = watch::channel(());
        let idle = Idle {
            count: Arc::new(AtomicUsize::new(0)),
            workers,
            spin: self.spin,
        };
        for index in 0..workers {
            let worker = Worker::new(
                index,
                runtime.engine.clone(),
                limits.clone(),
                self.mode,
                abort.clone(),
                idle.clone(),
                ticker.clone(),
            );
            let rx = rx.clone();
            let alive = exited.subscribe();
            std::thread::Builder::new()
                .name(format!("wpool-worker-{index}"))
                .spawn(move || {
                    worker.run(rx);
                    drop(alive);
                })
                .map_err(|source| {
                    tx.close();
                    BuildError::Spawn { index, source }
                })?;
        }
        Ok(Pool {
            inner: Arc::new(Inner {
                id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
                runtime,
                queue: tx,
                exited,
                next_task: AtomicU64::new(0),
                abort,
                workers,
                in_flight: self.in_flight.unwrap_or(8 * workers).max(1),
                max_batch: self.max_batch,
            }),
        })
    }
}
