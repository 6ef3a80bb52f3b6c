//! The completer: one thread per pool that sets the results of finished
//! tasks on their `concurrent.futures.Future`s, attaching to the interpreter
//! once per batch. Wasm worker threads never touch Python.

use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use pyo3::prelude::*;
use wpool::{Output, TaskError};

use crate::convert::{self, Shape};
use crate::{EXITING, monotonic};

/// How many finished tasks the completer handles per GIL acquisition.
const BATCH: usize = 512;

/// A finished task on its way to its Python future.
pub(crate) struct Completion {
    pub(crate) future: Py<PyAny>,
    pub(crate) result: Result<Output, TaskError>,
    /// Where the result has tuples.
    pub(crate) shape: Option<Arc<Shape>>,
}

/// When and where a task ran, set as `future.wpool_info` before its result.
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

/// Runs until every sender (the pool and its in-flight tasks) is gone.
pub(crate) fn complete_loop(rx: mpsc::Receiver<Completion>, make_error: Py<PyAny>) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        if EXITING.load(Ordering::Acquire) {
            // The interpreter is going away: touch nothing of it.
            std::mem::forget(batch);
            continue;
        }
        let mut batch = Some(batch);
        let attached = Python::try_attach(|py| {
            for completion in batch.take().into_iter().flatten() {
                complete(py, completion, &make_error);
            }
        });
        if attached.is_none() {
            std::mem::forget(batch);
        }
    }
    if EXITING.load(Ordering::Acquire) || Python::try_attach(|_| ()).is_none() {
        std::mem::forget(make_error);
    }
}

/// Sets one future's result or exception (ignoring a future cancelled
/// meanwhile).
fn complete(py: Python<'_>, completion: Completion, make_error: &Py<PyAny>) {
    let future = completion.future.bind(py);
    let outcome = match completion.result {
        Ok(output) => {
            convert::to_py(py, &output.value, completion.shape.as_deref()).and_then(|value| {
                let info = TaskInfo {
                    task: output.task,
                    worker: output.worker,
                    started: monotonic(output.started),
                    elapsed: output.elapsed.as_secs_f64(),
                };
                future.setattr(pyo3::intern!(py, "wpool_info"), info)?;
                future.call_method1(pyo3::intern!(py, "set_result"), (value,))
            })
        }
        Err(e) => task_error(py, make_error, &e)
            .and_then(|exc| future.call_method1(pyo3::intern!(py, "set_exception"), (exc,))),
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

/// `time.monotonic()` of an `Instant` (both count from the same clock base
/// taken at import).
pub(crate) fn monotonic_of(base: (Instant, f64), at: Instant) -> f64 {
    match at.checked_duration_since(base.0) {
        Some(after) => base.1 + after.as_secs_f64(),
        None => base.1 - base.0.duration_since(at).as_secs_f64(),
    }
}
