//! [`Pool`]: the worker pool and its async API.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use tokio::sync::oneshot;
use wasmtime::component::{ComponentNamedList, Lift, Lower};

use crate::cache::CompileCache;
use crate::engine::{EngineOptions, Runtime, Ticker};
use crate::error::{BuildError, ErrorKind, LoadError, TaskError};
use crate::exec;
use crate::guest::{Guest, Inspection, LoadedGuest};
use crate::limits::{DEFAULT_MEMORY_LIMIT, DEFAULT_OUTPUT_LIMIT, DEFAULT_STDIO_LIMIT, Limits};
use crate::value::{IntoArgs, Value};
use crate::worker::{InstanceMode, Job, TaskInfo, Worker};

static NEXT_POOL: AtomicU64 = AtomicU64::new(0);

/// A pool of worker threads, each owning its own Wasmtime stores.
///
/// `Pool` is cheap to clone (an `Arc` inside) and is `Send + Sync`: share it
/// across tasks freely. See the [crate docs](crate) for an example.
///
/// **Drop.** When the last clone is dropped, the queue closes: tasks already
/// submitted still run, then the worker threads exit on their own. Use
/// [`Pool::shutdown`] to wait for that.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    runtime: Runtime,
    queue: async_channel::Sender<Job>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    next_task: AtomicU64,
    abort: Arc<AtomicBool>,
    workers: usize,
    in_flight: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// Configures and builds a [`Pool`].
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
    cache: CacheSetting,
    pooling: bool,
    max_instances: u32,
}

#[derive(Debug, Clone)]
enum CacheSetting {
    Default,
    Dir(PathBuf),
    Off,
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
            cache: CacheSetting::Default,
            pooling: true,
            max_instances: 1000,
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

    /// How many tasks [`Pool::map`] keeps in flight. Default: 8 per worker.
    pub fn map_in_flight(mut self, n: usize) -> Self {
        self.in_flight = Some(n);
        self
    }

    /// Directory of the on-disk compile cache. Default: `$WPOOL_CACHE_DIR`,
    /// else `$XDG_CACHE_HOME/wpool`, else `~/.cache/wpool`.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheSetting::Dir(dir.into());
        self
    }

    /// Turns the on-disk compile cache off: every process compiles its guests.
    pub fn no_cache(mut self) -> Self {
        self.cache = CacheSetting::Off;
        self
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
        let cache_dir = match self.cache {
            CacheSetting::Default => CompileCache::default_dir(),
            CacheSetting::Dir(dir) => Some(dir),
            CacheSetting::Off => None,
        };
        let runtime = Runtime::new(&EngineOptions {
            fuel: self.fuel.is_some(),
            memory: self.memory,
            pooling: self.pooling,
            instances: self.max_instances,
            cache_dir,
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
        let mut threads = Vec::with_capacity(workers);
        for index in 0..workers {
            let worker = Worker::new(
                index,
                runtime.engine.clone(),
                limits.clone(),
                self.mode,
                abort.clone(),
                ticker.clone(),
            );
            let rx = rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("wpool-worker-{index}"))
                .spawn(move || worker.run(rx))
                .map_err(|source| {
                    tx.close();
                    BuildError::Spawn { index, source }
                })?;
            threads.push(thread);
        }
        Ok(Pool {
            inner: Arc::new(Inner {
                id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
                runtime,
                queue: tx,
                threads: Mutex::new(threads),
                next_task: AtomicU64::new(0),
                abort,
                workers,
                in_flight: self.in_flight.unwrap_or(8 * workers).max(1),
            }),
        })
    }
}

/// A task in the pool's queue ([`Pool::enqueue_with`]): a future of its
/// result. Dropping it before a worker starts the task cancels the task.
#[must_use = "a queued task is cancelled when dropped before it starts"]
pub struct Queued<R> {
    rx: oneshot::Receiver<Result<R, TaskError>>,
    task: TaskInfo,
}

impl<R> Future for Queued<R> {
    type Output = Result<R, TaskError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match std::pin::Pin::new(&mut self.rx).poll(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(Ok(result)) => std::task::Poll::Ready(result),
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Err(self.task.error(
                ErrorKind::Trap,
                "was lost: wpool panicked while running it (a bug; please report it)",
            ))),
        }
    }
}

impl<R> std::fmt::Debug for Queued<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("task", &self.task.id)
            .finish()
    }
}

/// Options for one task ([`Pool::submit_with`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TaskOptions {
    /// Wall-clock limit for this task, instead of the pool's.
    pub timeout: Option<Duration>,
}

impl TaskOptions {
    /// The pool's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets this task's wall-clock limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A finished task's value and what is known about its run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Output {
    /// The function's result (`Null` for none; a `result`'s `ok` payload).
    pub value: Value,
    /// The pool-wide task number.
    pub task: u64,
    /// The worker that ran it.
    pub worker: usize,
    /// When it started on the worker.
    pub started: Instant,
    /// How long it ran (including instantiation, when it needed one).
    pub elapsed: Duration,
    /// What it wrote to stdout (up to the stdio limit).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (up to the stdio limit).
    pub stderr: Vec<u8>,
}

impl Pool {
    /// A builder with the defaults.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// A pool with the defaults: one worker per core, no timeout.
    pub fn new() -> Result<Pool, BuildError> {
        PoolBuilder::default().build()
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Compiles (or loads from the compile cache) and links a guest, once for
    /// all workers. Blocks while compiling: from async code, call it before
    /// the hot path or inside `spawn_blocking`.
    pub fn load(&self, guest: Guest) -> Result<LoadedGuest, LoadError> {
        if self.inner.queue.is_closed() {
            return Err(LoadError::PoolClosed);
        }
        self.inner
            .runtime
            .load(&guest, self.inner.id)
            .map_err(|e| match e {
                LoadError::Grant { host, message, .. } => LoadError::Grant {
                    name: guest.name(),
                    host,
                    message,
                },
                other => other,
            })
    }

    /// Compiles a guest and describes it (kind, exports with signatures,
    /// imports and which wpool provides) without needing it to link: a guest
    /// that cannot run says why in [`Inspection::problem`]. Fails only when
    /// the guest cannot be read or compiled.
    ///
    /// ```
    /// let pool = wpool::Pool::builder().workers(1).no_cache().build()?;
    /// let wants_http = wpool::Guest::bytes(
    ///     "fetcher",
    ///     r#"(module (import "wasi:http" "get" (func)) (func (export "go")))"#,
    /// );
    /// let report = pool.inspect(wants_http)?;
    /// assert_eq!(report.kind, wpool::GuestKind::Module);
    /// assert!(!report.imports[0].provided);
    /// assert!(report.problem.unwrap().contains("`wasi:http::get`"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inspect(&self, guest: Guest) -> Result<Inspection, LoadError> {
        self.inner.runtime.inspect(&guest)
    }

    fn task_info(&self, guest: &LoadedGuest, func: &str) -> TaskInfo {
        TaskInfo {
            id: self.inner.next_task.fetch_add(1, Ordering::Relaxed),
            guest: guest.clone(),
            func: func.into(),
            timeout: None,
        }
    }

    fn check_guest(&self, task: &TaskInfo) -> Result<(), TaskError> {
        if task.guest.inner.pool_id == self.inner.id {
            Ok(())
        } else {
            Err(task.error(ErrorKind::InvalidCall, "was loaded by another pool"))
        }
    }

    /// Calls `func` of `guest` with dynamic arguments.
    ///
    /// The arguments are checked against the function's signature right away
    /// (an error resolves the future at once with
    /// [`ErrorKind::InvalidCall`]); the task is queued when the future is
    /// first polled, waiting while the queue is full.
    ///
    /// **Cancellation.** Dropping the future before a worker picks the task
    /// up cancels it: it never runs.
    pub fn submit<A: IntoArgs>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        args: A,
    ) -> impl Future<Output = Result<Output, TaskError>> + Send + 'static + use<A> {
        self.submit_with(guest, func, args, TaskOptions::default())
    }

    /// [`Pool::submit`] with per-task options (e.g. its own timeout).
    pub fn submit_with<A: IntoArgs>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        args: A,
        options: TaskOptions,
    ) -> impl Future<Output = Result<Output, TaskError>> + Send + 'static + use<A> {
        let queued = self.enqueue_with(guest, func, args, options);
        async move { queued.await?.await }
    }

    /// Queues a call and resolves once it is in the queue (waiting while the
    /// queue is full), giving a [`Queued`] to await its result.
    ///
    /// Unlike [`Pool::submit`], whose task joins the queue when its future is
    /// first polled, this orders tasks exactly: awaiting `enqueue_with` for
    /// one input after another queues them in that order, as
    /// `executor.submit` does, while their results are awaited elsewhere.
    ///
    /// ```
    /// # async fn demo(pool: wpool::Pool, calc: wpool::LoadedGuest) -> Result<(), wpool::TaskError> {
    /// let mut queued = Vec::new();
    /// for n in [50_000_000u64, 60_000_000, 70_000_000, 80_000_000] {
    ///     queued.push(pool.enqueue_with(&calc, "heavy-calc", n, Default::default()).await?);
    /// }
    /// for task in queued {
    ///     println!("{}", task.await?.value);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn enqueue_with<A: IntoArgs>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        args: A,
        options: TaskOptions,
    ) -> impl Future<Output = Result<Queued<Output>, TaskError>> + Send + 'static + use<A> {
        let mut task = self.task_info(guest, func);
        task.timeout = options.timeout;
        let prepared = self.check_guest(&task).and_then(|()| {
            guest
                .prepare(func, args.into_args())
                .map_err(|e| task.error(ErrorKind::InvalidCall, e.message))
        });
        let pool = self.clone();
        async move {
            let call = prepared?;
            pool.enqueue(task, move |worker, task| exec::dynamic(worker, task, call))
                .await
        }
    }

    /// Calls a component function with typed arguments and a single typed
    /// result, skipping the dynamic conversion.
    ///
    /// `P` is a tuple of the parameter types (`(u64,)`, `(Vec<u8>,)`, …); a
    /// signature mismatch fails the task with [`ErrorKind::InvalidCall`].
    /// Cancellation works as for [`Pool::submit`].
    pub fn call<P, R>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        params: P,
    ) -> impl Future<Output = Result<R, TaskError>> + Send + 'static + use<P, R>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: Send + Sync + 'static,
        (R,): ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let task = self.task_info(guest, func);
        let checked = self
            .check_guest(&task)
            .and_then(|()| exec::typed_index(&task));
        let pool = self.clone();
        async move {
            let index = checked?;
            let output = pool
                .run(task, move |worker, task| {
                    exec::typed::<P, R>(worker, task, index, params)
                })
                .await?;
            Ok(output)
        }
    }

    /// Queues a job and waits for its reply.
    async fn run<R: Send + 'static>(
        &self,
        task: TaskInfo,
        f: impl FnOnce(&mut Worker, &TaskInfo) -> Result<R, TaskError> + Send + 'static,
    ) -> Result<R, TaskError> {
        self.enqueue(task, f).await?.await
    }

    /// Queues a job, waiting while the queue is full.
    async fn enqueue<R: Send + 'static>(
        &self,
        task: TaskInfo,
        f: impl FnOnce(&mut Worker, &TaskInfo) -> Result<R, TaskError> + Send + 'static,
    ) -> Result<Queued<R>, TaskError> {
        let (tx, rx) = oneshot::channel();
        let info = task.clone();
        let job: Job = Box::new(move |worker: &mut Worker| {
            if tx.is_closed() {
                return; // the caller dropped the task before it started
            }
            let _ = tx.send(f(worker, &info));
        });
        if self.inner.queue.send(job).await.is_err() {
            return Err(task.error(ErrorKind::PoolClosed, "was not run: the pool is shut down"));
        }
        Ok(Queued { rx, task })
    }

    /// Calls `func` once per input, at most [`map_in_flight`](PoolBuilder::map_in_flight)
    /// tasks at a time, and yields the results in input order.
    ///
    /// Inputs are pulled lazily: a million inputs are never all held at once.
    /// Each input is one call's arguments ([`IntoArgs`]: a single value for a
    /// one-parameter function).
    pub fn map<I>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: I,
    ) -> impl Stream<Item = Result<Output, TaskError>> + Send + 'static + use<I>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: IntoArgs,
    {
        let pool = self.clone();
        let guest = guest.clone();
        let func: Arc<str> = func.into();
        futures::stream::iter(inputs)
            .map(move |args| pool.submit(&guest, &func, args))
            .buffered(self.inner.in_flight)
    }

    /// Like [`Pool::map`], but yields results as they complete.
    pub fn map_unordered<I>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: I,
    ) -> impl Stream<Item = Result<Output, TaskError>> + Send + 'static + use<I>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: IntoArgs,
    {
        let pool = self.clone();
        let guest = guest.clone();
        let func: Arc<str> = func.into();
        futures::stream::iter(inputs)
            .map(move |args| pool.submit(&guest, &func, args))
            .buffer_unordered(self.inner.in_flight)
    }

    /// Stops accepting tasks, lets every queued and running task finish, and
    /// waits for the worker threads to exit. Tasks submitted afterwards fail
    /// with [`ErrorKind::PoolClosed`].
    pub async fn shutdown(&self) {
        self.inner.queue.close();
        let threads =
            std::mem::take(&mut *self.inner.threads.lock().unwrap_or_else(|e| e.into_inner()));
        if threads.is_empty() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        let joiner = std::thread::Builder::new()
            .name("wpool-shutdown".into())
            .spawn(move || {
                for thread in threads {
                    let _ = thread.join();
                }
                let _ = tx.send(());
            });
        if joiner.is_ok() {
            let _ = rx.await;
        }
    }

    /// Interrupts running tasks at the next epoch tick and cancels queued
    /// ones (both fail with [`ErrorKind::Cancelled`]). The pool accepts no
    /// more work afterwards.
    pub fn abort(&self) {
        self.inner.abort.store(true, Ordering::Relaxed);
        self.inner.queue.close();
    }

    /// Whether [`Pool::shutdown`] or [`Pool::abort`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.queue.is_closed()
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.inner.workers)
            .finish_non_exhaustive()
    }
}
