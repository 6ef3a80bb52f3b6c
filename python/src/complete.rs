//! The completer: one thread per pool that sets the results of finished
//! tasks on their `concurrent.futures.Future`s, attaching to the interpreter
//! once per batch. Wasm worker threads never touch Python.
//!
//! Every submitted [`Task`] is its own waker: `submit` polls it once (which
//! queues it in wpool and registers the waker), and when its worker replies
//! the wake hands the task to the completer thread, which polls it to its
//! result. No tokio task and no extra thread hop per task.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use pyo3::prelude::*;
use wpool::{Output, TaskError};

use crate::convert::{self, Shape};
use crate::{EXITING, monotonic};

/// How many finished tasks the completer handles per GIL acquisition.
const BATCH: usize = 512;

/// A task's state ([`Task::state`]): queued until a worker starts it
/// (wpool's start hook) or Python cancels it, whichever comes first.
pub(crate) const QUEUED: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const CANCELLED: u8 = 2;

type Reply = Pin<Box<dyn Future<Output = Result<Output, TaskError>> + Send>>;

/// A finished task's Python future (unless already taken) and result.
type Finished = (Option<Py<PyAny>>, Result<Output, TaskError>);

/// Where a task's reply is.
enum Run {
    Waiting(Reply),
    Done(Result<Output, TaskError>),
    Taken,
}

struct Slot {
    run: Run,
    /// The Python future, until the completer takes it (so that the
    /// future → handle → task → future cycle is broken once it finishes).
    future: Option<Py<PyAny>>,
}

/// One submitted task, shared by its `TaskHandle`, its worker's start hook
/// and the completer.
pub(crate) struct Task {
    /// [`QUEUED`], [`RUNNING`] or [`CANCELLED`].
    pub(crate) state: AtomicU8,
    /// Set before its future gets its result.
    pub(crate) info: OnceLock<TaskInfo>,
    slot: Mutex<Slot>,
    /// Where the result has tuples.
    shape: Option<Arc<Shape>>,
    ready: mpsc::Sender<Arc<Task>>,
}

impl Task {
    pub(crate) fn new(
        future: Py<PyAny>,
        shape: Option<Arc<Shape>>,
        ready: mpsc::Sender<Arc<Task>>,
    ) -> Arc<Task> {
        Arc::new(Task {
            state: AtomicU8::new(QUEUED),
            info: OnceLock::new(),
            slot: Mutex::new(Slot {
                run: Run::Taken,
                future: Some(future),
            }),
            shape,
            ready,
        })
    }

    /// Moves a queued task to running; false once it is cancelled.
    pub(crate) fn start(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Gives the task its reply and polls it once (on the submitting
    /// thread: this queues it in wpool when there is room).
    pub(crate) fn begin(self: &Arc<Self>, reply: Reply) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.run = Run::Waiting(reply);
        if let Some(result) = self.poll(&mut slot) {
            slot.run = Run::Done(result);
            drop(slot);
            let _ = self.ready.send(self.clone());
        }
    }

    fn poll(self: &Arc<Self>, slot: &mut Slot) -> Option<Result<Output, TaskError>> {
        let Run::Waiting(reply) = &mut slot.run else {
            return None;
        };
        let waker = Waker::from(self.clone());
        match reply.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    /// On the completer: the result and future of a task whose reply came,
    /// or `None` (not yet, or already taken).
    fn finish(self: &Arc<Self>) -> Option<Finished> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let result = match std::mem::replace(&mut slot.run, Run::Taken) {
            Run::Done(result) => result,
            Run::Waiting(reply) => {
                slot.run = Run::Waiting(reply);
                let result = self.poll(&mut slot)?;
                slot.run = Run::Taken;
                result
            }
            Run::Taken => return None,
        };
        if let Ok(output) = &result {
            let _ = self.info.set(TaskInfo {
                task: output.task,
                worker: output.worker,
                started: monotonic(output.started),
                elapsed: output.elapsed.as_secs_f64(),
            });
        }
        Some((slot.future.take(), result))
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        let ready = self.ready.clone();
        let _ = ready.send(self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = self.ready.send(self.clone());
    }
}

/// When and where a task ran (`future.wpool_info`, made when asked).
#[derive(Clone)]
#[pyclass(name = "TaskInfo", module = "wpool._wpool", frozen, get_all)]
pub(crate) struct TaskInfo {
    /// The pool-wide task number.
    task: u64,
    /// The worker thread that ran it.
    worker: usize,
    /// When it started, on the `time.monotonic()` clock.
    started: f64,
    /// How long it ran, in seconds.
    elapsed: f64,
}

#[pymethods]
impl TaskInfo {
    /// When it finished, on the `time.monotonic()` clock.
    #[getter]
    fn finished(&self) -> f64 {
        self.started + self.elapsed
    }

    fn __repr__(&self) -> String {
        format!(
            "TaskInfo(task={}, worker={}, started={:.6}, elapsed={:.6})",
            self.task, self.worker, self.started, self.elapsed
        )
    }
}

/// The `wpool.TaskError` subclass instance for a failed task.
pub(crate) fn task_error<'py>(
    py: Python<'py>,
    make_error: &Py<PyAny>,
    e: &TaskError,
) -> PyResult<Bound<'py, PyAny>> {
    make_error.bind(py).call1((
        e.kind().as_str(),
        e.detail(),
        e.task(),
        e.guest(),
        e.function(),
        e.worker(),
        e.to_string(),
    ))
}

/// Runs until every sender (the pool and its unfinished tasks) is gone.
pub(crate) fn complete_loop(rx: mpsc::Receiver<Arc<Task>>, make_error: Py<PyAny>) {
    let mut batch = Vec::with_capacity(64);
    while let Ok(first) = rx.recv() {
        batch.extend(first.finish().map(|done| (first, done)));
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(task) => batch.extend(task.finish().map(|done| (task, done))),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        if EXITING.load(Ordering::Acquire) {
            // The interpreter is going away: touch nothing of it.
            std::mem::forget(std::mem::take(&mut batch));
            continue;
        }
        let attached = Python::try_attach(|py| {
            for (task, (future, result)) in batch.drain(..) {
                complete(py, &task, future, result, &make_error);
            }
        });
        if attached.is_none() {
            std::mem::forget(std::mem::take(&mut batch));
        }
    }
    if EXITING.load(Ordering::Acquire) || Python::try_attach(|_| ()).is_none() {
        std::mem::forget(make_error);
    }
}

/// Sets one future's result or exception (not for a task Python cancelled,
/// nor a future cancelled meanwhile).
fn complete(
    py: Python<'_>,
    task: &Task,
    future: Option<Py<PyAny>>,
    result: Result<Output, TaskError>,
    make_error: &Py<PyAny>,
) {
    let Some(future) = future else { return };
    if task.state.load(Ordering::Acquire) == CANCELLED {
        return; // its future is cancelled, or is being
    }
    let future = future.bind(py);
    let outcome = match result {
        Ok(output) => convert::to_py(py, &output.value, task.shape.as_deref()).and_then(|value| {
            settle(
                future,
                pyo3::intern!(py, "_result"),
                value,
                pyo3::intern!(py, "set_result"),
            )
        }),
        Err(e) => task_error(py, make_error, &e).and_then(|exc| {
            settle(
                future,
                pyo3::intern!(py, "_exception"),
                exc,
                pyo3::intern!(py, "set_exception"),
            )
        }),
    };
    if let Err(err) = outcome {
        // A cancelled future refuses a result: that is expected.
        let cancelled = future
            .call_method0(pyo3::intern!(py, "cancelled"))
            .and_then(|c| c.is_truthy())
            .unwrap_or(false);
        if !cancelled {
            let _ = future.call_method1(pyo3::intern!(py, "set_exception"), (err.value(py),));
        }
    }
}

/// Gives a future its result (`field` `_result`) or exception
/// (`_exception`). A `wpool._TaskFuture` that has no Condition yet has no
/// waiter either, and none can appear meanwhile: the GIL is held and no
/// Python code runs between the check and the two stores. Such a future
/// without done-callbacks gets its fields set directly; any other goes
/// through `method` (`set_result`, `set_exception`), which notifies.
fn settle<'py>(
    future: &Bound<'py, PyAny>,
    field: &Bound<'py, pyo3::types::PyString>,
    value: Bound<'py, PyAny>,
    method: &Bound<'py, pyo3::types::PyString>,
) -> PyResult<()> {
    let py = future.py();
    if quiet_pending(future).unwrap_or(false) {
        future.setattr(field, value)?;
        return future.setattr(pyo3::intern!(py, "_state"), pyo3::intern!(py, "FINISHED"));
    }
    future.call_method1(method, (value,)).map(drop)
}

/// Whether `future` is a pending or running `_TaskFuture` with no
/// Condition and no done-callbacks (see [`settle`]).
fn quiet_pending(future: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = future.py();
    if !future.getattr(pyo3::intern!(py, "_wpool_cond"))?.is_none() {
        return Ok(false);
    }
    if !future
        .getattr(pyo3::intern!(py, "_done_callbacks"))?
        .cast_into::<pyo3::types::PyList>()?
        .is_empty()
    {
        return Ok(false);
    }
    let state = future.getattr(pyo3::intern!(py, "_state"))?;
    Ok(state.eq(pyo3::intern!(py, "PENDING"))? || state.eq(pyo3::intern!(py, "RUNNING"))?)
}

/// `time.monotonic()` of an `Instant` (both count from the same clock base
/// taken at import).
pub(crate) fn monotonic_of(base: (Instant, f64), at: Instant) -> f64 {
    match at.checked_duration_since(base.0) {
        Some(after) => base.1 + after.as_secs_f64(),
        None => base.1 - base.0.duration_since(at).as_secs_f64(),
    }
}
