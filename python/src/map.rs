//! `_wpool.MapResults`: `WasmPoolExecutor.map` and `amap` over wpool's
//! batched [`Pool::map`]. The calls travel to the workers in batches (one
//! hand-off, wake-up and reply for many tiny calls) instead of one
//! `concurrent.futures.Future` each; their results come back a batch at a
//! time and Python reads them from one iterator.
//!
//! A forwarding task on the tokio runtime drives the map's stream and
//! passes each group of ready results into a channel; it never touches
//! Python. The iterator converts a result to a Python value when it is
//! read, on the reading thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use futures::StreamExt;
use futures::stream::BoxStream;
use pyo3::exceptions::{PyRuntimeError, PyTimeoutError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use tokio::sync::mpsc;
use wpool::{Output, TaskError};

use crate::complete::task_error;
use crate::convert::{self, Shape};

type Item = Result<Output, TaskError>;

/// How far a map got: shared by its iterator, its [`MapWaiter`] and the
/// forwarding task.
#[derive(Default)]
struct Progress {
    /// The forwarding task ended: every result is in the channel, or the
    /// map was cancelled.
    finished: Mutex<bool>,
    changed: Condvar,
    cancelled: AtomicBool,
    abort: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Progress {
    /// Stops the map: calls not started never run.
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(handle) = self.abort.lock().unwrap_or_else(|e| e.into_inner()).take() {
            handle.abort();
        }
    }

    fn is_finished(&self) -> bool {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait(&self) {
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while !*finished {
            finished = self
                .changed
                .wait(finished)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Marks the map finished when the forwarding task ends, however it ends
/// (done, or aborted).
struct Finish(Arc<Progress>);

impl Drop for Finish {
    fn drop(&mut self) {
        *self.0.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.0.changed.notify_all();
    }
}

/// What reading the next result gave.
enum Next {
    Item(Item),
    /// Every result was read.
    End,
    /// Nothing within the deadline.
    TimedOut,
}

/// The reading end: results received but not yet read, and the channel.
struct Feed {
    rx: mpsc::UnboundedReceiver<Vec<Item>>,
    buffered: VecDeque<Item>,
}

impl Feed {
    /// The next result if one is here, without waiting.
    fn ready(&mut self) -> Option<Item> {
        if self.buffered.is_empty()
            && let Ok(group) = self.rx.try_recv()
        {
            self.buffered.extend(group);
        }
        self.buffered.pop_front()
    }

    /// The next result, waiting until `deadline`. Not on a tokio thread.
    fn next_blocking(&mut self, deadline: Option<Instant>) -> Next {
        if let Some(item) = self.ready() {
            return Next::Item(item);
        }
        let group = match deadline {
            None => self.rx.blocking_recv(),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let rx = &mut self.rx;
                let recv = async move { tokio::time::timeout(left, rx.recv()).await };
                match pyo3_async_runtimes::tokio::get_runtime().block_on(recv) {
                    Ok(group) => group,
                    Err(_) => return Next::TimedOut,
                }
            }
        };
        match group {
            Some(group) => {
                self.buffered.extend(group);
                self.ready().map_or(Next::End, Next::Item)
            }
            None => Next::End,
        }
    }

    /// Waits until a result is here or none will come.
    async fn fill(&mut self) {
        if self.buffered.is_empty()
            && let Some(group) = self.rx.recv().await
        {
            self.buffered.extend(group);
        }
        while let Ok(group) = self.rx.try_recv() {
            self.buffered.extend(group);
        }
    }
}

/// The results of `Pool.map`: an iterator in input order (or completed
/// order), and an async source of groups of results for `amap`.
#[pyclass(name = "MapResults", module = "wpool._wpool", frozen)]
pub(crate) struct MapResults {
    feed: tokio::sync::Mutex<Feed>,
    progress: Arc<Progress>,
    /// How many results there are in all.
    total: usize,
    /// How many were read; reading stops at the first failure.
    read: Mutex<(usize, bool)>,
    /// When `__next__` raises `TimeoutError` (`map(timeout=…)`).
    deadline: Option<Instant>,
    shape: Option<Arc<Shape>>,
    make_error: Py<PyAny>,
}

/// Waits for a map's calls (kept by the executor for `shutdown`).
#[pyclass(name = "MapWaiter", module = "wpool._wpool", frozen)]
pub(crate) struct MapWaiter {
    progress: Arc<Progress>,
}

#[pymethods]
impl MapWaiter {
    /// Waits (GIL released) until every call of the map finished or the
    /// map was cancelled.
    fn wait(&self, py: Python<'_>) {
        let progress = self.progress.clone();
        py.detach(move || progress.wait());
    }

    /// Cancels the calls no worker has started: they never run.
    fn cancel(&self) {
        self.progress.cancel();
    }

    /// Whether every call finished (or the map was cancelled).
    #[getter]
    fn done(&self) -> bool {
        self.progress.is_finished()
    }
}

/// Starts a map of `inputs` (checked already) and gives its results;
/// reading past `deadline` raises `TimeoutError`.
pub(crate) fn start(
    stream: BoxStream<'static, Item>,
    total: usize,
    deadline: Option<Instant>,
    shape: Option<Arc<Shape>>,
    make_error: Py<PyAny>,
) -> MapResults {
    let (tx, rx) = mpsc::unbounded_channel();
    let progress = Arc::new(Progress::default());
    let finish = Finish(progress.clone());
    let task = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let _finish = finish;
        let mut groups = stream.ready_chunks(4096);
        let mut tx = Some(tx);
        while let Some(group) = groups.next().await {
            // Nobody reads (the results were dropped before anyone looked):
            // the calls still run, as submitted futures would.
            if tx.as_ref().is_some_and(|tx| tx.send(group).is_err()) {
                tx = None;
            }
        }
    });
    *progress.abort.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
    if progress.cancelled.load(Ordering::Acquire) {
        task.abort();
    }
    MapResults {
        feed: tokio::sync::Mutex::new(Feed {
            rx,
            buffered: VecDeque::new(),
        }),
        progress,
        total,
        // Nothing to read: reading has ended before it began.
        read: Mutex::new((0, total == 0)),
        deadline,
        shape,
        make_error,
    }
}

impl MapResults {
    /// Whether reading ended (every result read, or stopped at a failure).
    fn stopped(&self) -> bool {
        self.read.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// Counts one result read; a failure (or the last result) ends reading.
    fn count(&self, ends: bool) {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        read.0 += 1;
        read.1 |= ends || read.0 == self.total;
    }

    /// The error for a map whose results stopped coming before the last:
    /// it was cancelled (or, a bug, its forwarding task was lost).
    fn ended_early(&self, py: Python<'_>) -> PyErr {
        self.stop();
        if self.progress.cancelled.load(Ordering::Acquire) {
            cancelled_error(py)
        } else {
            PyRuntimeError::new_err(
                "wpool: a map ended before all its results came (a bug in wpool)",
            )
        }
    }

    fn stop(&self) {
        self.read.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.progress.cancel();
    }

    /// A result as Python sees it: the value, or the task's exception (which
    /// also ends reading and cancels the calls not started, as a failed
    /// future ends `Executor.map`'s iterator).
    fn convert<'py>(&self, py: Python<'py>, item: Item) -> PyResult<Bound<'py, PyAny>> {
        match item {
            Ok(output) => {
                self.count(false);
                convert::to_py(py, &output.value, self.shape.as_deref())
            }
            Err(e) => {
                self.count(true);
                self.progress.cancel();
                Err(PyErr::from_value(task_error(py, &self.make_error, &e)?))
            }
        }
    }
}

#[pymethods]
impl MapResults {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next result (GIL released while it waits); `TimeoutError` past
    /// the map's deadline, the task's exception for a failed call.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.stopped() {
            return Ok(None);
        }
        let fast = match self.feed.try_lock() {
            Ok(mut feed) => feed.ready(),
            Err(_) => None,
        };
        let next = match fast {
            Some(item) => Next::Item(item),
            None => py.detach(|| self.feed.blocking_lock().next_blocking(self.deadline)),
        };
        match next {
            Next::Item(item) => self.convert(py, item).map(Some),
            Next::End if self.stopped() => Ok(None),
            Next::End => Err(self.ended_early(py)),
            Next::TimedOut => {
                self.stop();
                Err(PyTimeoutError::new_err(
                    "the map's results did not all come within its timeout",
                ))
            }
        }
    }

    /// An awaitable of the next results as a list, at least one, as they
    /// are here (`[]` once all were read). A failed call ends the list;
    /// the next await raises its exception.
    fn next_group<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this: Py<MapResults> = slf.unbind();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let me = this.get();
            let mut feed = me.feed.lock().await;
            if !me.stopped() {
                feed.fill().await;
            }
            Python::attach(|py| {
                let list = PyList::empty(py);
                while !me.stopped()
                    && let Some(item) = feed.buffered.pop_front()
                {
                    if item.is_err() && !list.is_empty() {
                        feed.buffered.push_front(item);
                        break;
                    }
                    list.append(me.convert(py, item)?)?;
                }
                if list.is_empty() && !me.stopped() {
                    return Err(me.ended_early(py));
                }
                Ok(list.unbind())
            })
        })
    }

    /// Stops reading and cancels the calls no worker has started (as
    /// closing `Executor.map`'s generator does).
    fn close(&self) {
        self.stop();
    }

    /// A waiter for this map's calls.
    fn waiter(&self) -> MapWaiter {
        MapWaiter {
            progress: self.progress.clone(),
        }
    }

    fn __len__(&self) -> usize {
        self.total
    }
}

impl Drop for MapResults {
    /// Results dropped after reading began cancel the calls not started (as
    /// a closed generator's `finally` does in `Executor.map`); results never
    /// read leave them running.
    fn drop(&mut self) {
        let read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if read.0 > 0 && !read.1 {
            self.progress.cancel();
        }
    }
}

fn cancelled_error(py: Python<'_>) -> PyErr {
    match py
        .import("concurrent.futures")
        .and_then(|m| m.getattr("CancelledError"))
        .and_then(|cls| cls.call0())
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}
