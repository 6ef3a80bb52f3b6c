//! [`Pool`]: the worker pool and its async API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{oneshot, watch};
use wasmtime::component::{ComponentNamedList, Lift, Lower};

use crate::builder::PoolBuilder;
use crate::engine::Runtime;
use crate::error::{BuildError, ErrorKind, LoadError, TaskError};
use crate::exec;
use crate::guest::{Guest, Inspection, LoadedGuest};
use crate::task::{Output, Queued, StartHook, TaskOptions};
use crate::value::IntoArgs;
use crate::worker::{Job, TaskInfo, Worker};

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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) runtime: Runtime,
    pub(crate) queue: async_channel::Sender<Job>,
    /// Every worker thread holds a receiver until it exits: `closed()`
    /// resolves once all of them have.
    pub(crate) exited: watch::Sender<()>,
    pub(crate) next_task: AtomicU64,
    pub(crate) abort: Arc<AtomicBool>,
    pub(crate) workers: usize,
    /// How many calls (single tasks or batches) `map` keeps in flight.
    pub(crate) in_flight: usize,
    /// The most tasks `map` sends a worker at once.
    pub(crate) max_batch: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.queue.close();
    }
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
                LoadError::Grant { host, source, .. } => LoadError::Grant {
                    name: guest.name(),
                    host,
                    source,
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

    pub(crate) fn task_info(&self, guest: &LoadedGuest, func: &str) -> TaskInfo {
        // The export's own name when there is one: one allocation (and a
        // free on the worker) less per task.
        let position = guest.position(func);
        let func = match position {
            Some(at) => guest.functions()[at].shared_name(),
            None => func.into(),
        };
        TaskInfo {
            id: self.inner.next_task.fetch_add(1, Ordering::Relaxed),
            guest: guest.clone(),
            func,
            position,
            timeout: None,
        }
    }

    pub(crate) fn check_guest(&self, task: &TaskInfo) -> Result<(), TaskError> {
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
        // Not `enqueue_with(..).await?.await`: a future holding another
        // takes the room of both (840 bytes against 416), and a submitted
        // task's future is moved several times on its way.
        let staged = self.stage_dynamic(guest, func, args, options);
        let pool = self.clone();
        async move { pool.send(staged?).await?.await }
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
        let staged = self.stage_dynamic(guest, func, args, options);
        let pool = self.clone();
        async move { pool.send(staged?).await }
    }

    /// A dynamic call's job, built now (arguments checked and converted)
    /// and queued on the first poll: a future holds a boxed job, not the
    /// arguments (moving it costs less).
    fn stage_dynamic<A: IntoArgs>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        args: A,
        options: TaskOptions,
    ) -> Result<Staged<Output>, TaskError> {
        let mut task = self.task_info(guest, func);
        task.timeout = options.timeout;
        let prepared = self.check_guest(&task).and_then(|()| {
            guest
                .prepare_at(task.position, func, args.into_args())
                .map_err(|e| task.error(ErrorKind::InvalidCall, e.message))
        });
        prepared.map(|call| {
            stage(task, options.on_start, move |worker, task| {
                exec::dynamic(worker, task, call)
            })
        })
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
        let staged = checked.map(|export| {
            stage(task, None, move |worker, task| {
                exec::typed::<P, R>(worker, task, export, params)
            })
        });
        let pool = self.clone();
        async move { pool.send(staged?).await?.await }
    }

    /// Queues a staged job, waiting while the queue is full.
    async fn send<R>(&self, staged: Staged<R>) -> Result<Queued<R>, TaskError> {
        let Staged { job, rx, task } = staged;
        if self.inner.queue.send(job).await.is_err() {
            return Err(task.error(ErrorKind::PoolClosed, "was not run: the pool is shut down"));
        }
        Ok(Queued::new(rx, task))
    }

    /// Stops accepting tasks, lets every queued and running task finish, and
    /// waits for the worker threads to exit. Tasks submitted afterwards fail
    /// with [`ErrorKind::PoolClosed`].
    ///
    /// Every call waits for the workers to exit, however many run at once.
    pub async fn shutdown(&self) {
        self.inner.queue.close();
        self.inner.exited.closed().await;
    }

    /// Interrupts running tasks at the next epoch tick and cancels queued
    /// ones (both fail with [`ErrorKind::Cancelled`]). The pool accepts no
    /// more work afterwards.
    pub fn abort(&self) {
        self.inner.abort.store(true, Ordering::Relaxed);
        self.inner.queue.close();
    }

    /// Queues a task for `guest` that panics inside wpool on its worker: how
    /// wpool's tests check that a bug in wpool is reported as
    /// [`ErrorKind::Internal`] and that the worker carries on. Not part of
    /// the API.
    #[doc(hidden)]
    pub fn __panicking_task(
        &self,
        guest: &LoadedGuest,
    ) -> impl Future<Output = Result<(), TaskError>> + Send + 'static {
        let task = self.task_info(guest, "__panic");
        let staged = stage(
            task,
            None,
            |_: &mut Worker, _: &TaskInfo| -> Result<(), TaskError> {
                panic!("a deliberate panic inside wpool")
            },
        );
        let pool = self.clone();
        async move { pool.send(staged).await?.await }
    }

    /// How many worker threads have not exited yet: for wpool's tests of
    /// shutdown. Not part of the API.
    #[doc(hidden)]
    pub fn __live_workers(&self) -> usize {
        self.inner.exited.receiver_count()
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

/// A task's job, built but not queued yet ([`Pool::send`] queues it).
struct Staged<R> {
    job: Job,
    rx: oneshot::Receiver<Result<R, TaskError>>,
    task: TaskInfo,
}

/// Builds the job that runs `f` for `task` on a worker and answers through
/// a oneshot. `on_start` may cancel it when a worker picks it up
/// ([`TaskOptions::on_start`]); a task whose caller is gone never runs.
fn stage<R: Send + 'static>(
    task: TaskInfo,
    on_start: Option<StartHook>,
    f: impl FnOnce(&mut Worker, &TaskInfo) -> Result<R, TaskError> + Send + 'static,
) -> Staged<R> {
    let (tx, rx) = oneshot::channel();
    let info = task.clone();
    let job: Job = Box::new(move |worker: &mut Worker| {
        if tx.is_closed() {
            return; // the caller dropped the task before it started
        }
        if on_start.is_some_and(|start| !start()) {
            let _ = tx.send(Err(
                info.error(ErrorKind::Cancelled, "was cancelled before it started")
            ));
            return;
        }
        let _ = tx.send(f(worker, &info));
    });
    Staged { job, rx, task }
}
