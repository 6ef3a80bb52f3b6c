//! What a task gives back: its [`Output`], the [`Queued`] future of a task
//! in the queue, and per-task [`TaskOptions`].

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{ErrorKind, TaskError};
use crate::value::Value;
use crate::worker::TaskInfo;

/// A task in the pool's queue ([`Pool::enqueue_with`]): a future of its
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
