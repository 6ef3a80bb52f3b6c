//! What a task gives back: its [`Output`], the [`Queued`] future of a task
//! in the queue, and per-task [`TaskOptions`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{ErrorKind, TaskError};
use crate::value::Value;
use crate::worker::TaskInfo;

/// A task in the pool's queue
/// ([`Pool::enqueue_with`](crate::Pool::enqueue_with)): a future of its
/// result. Dropping it before a worker starts the task cancels the task.
#[must_use = "a queued task is cancelled when dropped before it starts"]
pub struct Queued<R> {
    rx: oneshot::Receiver<Result<R, TaskError>>,
    task: TaskInfo,
}

impl<R> Queued<R> {
    pub(crate) fn new(rx: oneshot::Receiver<Result<R, TaskError>>, task: TaskInfo) -> Self {
        Queued { rx, task }
    }
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
                ErrorKind::Internal,
                "was lost: wpool panicked while running it (a bug in wpool; please report it)",
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

/// Called on the worker that picked a task up, right before it runs
/// ([`TaskOptions::on_start`]).
pub(crate) type StartHook = Arc<dyn Fn() -> bool + Send + Sync>;

/// Options for one task ([`Pool::submit_with`](crate::Pool::submit_with),
/// [`Pool::enqueue_with`](crate::Pool::enqueue_with)).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TaskOptions {
    /// Wall-clock limit for this task, instead of the pool's.
    pub timeout: Option<Duration>,
    /// See [`TaskOptions::on_start`].
    pub(crate) on_start: Option<StartHook>,
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

    /// Calls `hook` on the worker thread that picks the task up, right
    /// before the task runs: the moment it stops being cancellable.
    /// Returning `false` cancels it there instead: it never runs and its
    /// future fails with [`ErrorKind::Cancelled`].
    ///
    /// This gives a submitter a race-free choice between "started" and
    /// "cancelled" (what `concurrent.futures.Future.set_running_or_notify_cancel`
    /// needs), which dropping the future cannot: a drop that races with the
    /// worker may lose. `hook` is called at most once per task, and not at
    /// all for a task dropped (or never queued) before a worker took it. It
    /// runs on a worker thread: keep it short and never block in it. Clones
    /// of these options share it. A task without a hook pays nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU8, Ordering};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// const QUEUED: u8 = 0;
    /// const RUNNING: u8 = 1;
    /// const CANCELLED: u8 = 2;
    /// let pool = wpool::Pool::builder().workers(1).build()?;
    /// let calc = pool.load(wpool::Guest::builtin("heavy_calc"))?;
    ///
    /// let state = Arc::new(AtomicU8::new(QUEUED));
    /// let gate = state.clone();
    /// let options = wpool::TaskOptions::new().on_start(move || {
    ///     gate.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
    ///         .is_ok()
    /// });
    /// let task = pool.enqueue_with(&calc, "heavy-calc", 1_000u64, options).await?;
    /// // Elsewhere, cancelling succeeds only while the task is still queued:
    /// let cancelled = state
    ///     .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
    ///     .is_ok();
    /// match task.await {
    ///     Ok(output) => assert!(!cancelled && output.value.as_u64() == Some(2_001)),
    ///     Err(e) => assert!(cancelled && e.kind() == wpool::ErrorKind::Cancelled),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_start(mut self, hook: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }
}

impl std::fmt::Debug for TaskOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskOptions")
            .field("timeout", &self.timeout)
            .field("on_start", &self.on_start.as_ref().map(|_| "Fn"))
            .finish()
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
