//! `_wpool.Pool`: a [`wpool::Pool`] whose tasks complete
//! `concurrent.futures.Future`s.
//!
//! Submitting converts the arguments under the GIL, queues the task without
//! waiting, and returns at once. A task's reply wakes the pool's completer
//! thread directly ([`crate::complete`]); the native awaitable (`call`) goes
//! through pyo3-async-runtimes' tokio instead.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use wpool::{ErrorKind, Grants, Guest, InstanceMode, Output, Pool, Queued, TaskError, TaskOptions};

use crate::complete::{CANCELLED, QUEUED, RUNNING, Task, TaskInfo, complete_loop, task_error};
use crate::convert;
use crate::guest::PyGuest;
use crate::map::{self, MapResults};

/// A pool of isolated WebAssembly workers (see `wpool.WasmPoolExecutor`).
#[pyclass(name = "Pool", module = "wpool._wpool", frozen)]
pub(crate) struct PyPool {
    pool: Pool,
    /// Tasks whose reply came, for the completer thread.
    ready: mpsc::Sender<Arc<Task>>,
    /// `wpool._errors._make_error`.
    make_error: Py<PyAny>,
}

/// Where a submitted task is: `cancel` stops it only while it is queued.
#[pyclass(name = "TaskHandle", module = "wpool._wpool", frozen)]
pub(crate) struct TaskHandle {
    task: Arc<Task>,
}

#[pymethods]
impl TaskHandle {
    /// Cancels the task if no worker has started it (it then never runs)
    /// and says whether it is cancelled; `False` once a worker started it.
    fn cancel(&self) -> bool {
        match self.task.state.compare_exchange(
            QUEUED,
            CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(now) => now == CANCELLED,
        }
    }

    /// Whether a worker has started the task (it may have finished since).
    #[getter]
    fn started(&self) -> bool {
        self.task.state.load(Ordering::Acquire) == RUNNING
    }

    /// When and where it ran, once it succeeded.
    #[getter]
    fn info(&self) -> Option<TaskInfo> {
        self.task.info.get().cloned()
    }
}

fn seconds(what: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{what} must be a positive number of seconds, not {value}"
            ))
        })
}

#[pymethods]
impl PyPool {
    /// Builds a pool. `make_error(kind, detail, task, guest, function,
    /// worker, message)` turns a failed task into the exception its future
    /// raises.
    #[new]
    #[pyo3(signature = (make_error, workers=None, timeout=None, memory=None, fuel=None, instance="reuse"))]
    fn new(
        py: Python<'_>,
        make_error: Py<PyAny>,
        workers: Option<usize>,
        timeout: Option<f64>,
        memory: Option<usize>,
        fuel: Option<u64>,
        instance: &str,
    ) -> PyResult<Self> {
        let mut builder = Pool::builder();
        if let Some(n) = workers {
            builder = builder.workers(n);
        }
        if let Some(t) = timeout {
            builder = builder.timeout(seconds("timeout", t)?);
        }
        if let Some(bytes) = memory {
            builder = builder.memory_limit(bytes);
        }
        if let Some(fuel) = fuel {
            builder = builder.fuel(fuel);
        }
        builder = builder.instance_mode(match instance {
            "reuse" => InstanceMode::Reuse,
            "fresh" => InstanceMode::Fresh,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown instance mode `{other}`; expected `reuse` or `fresh`"
                )));
            }
        });
        let pool = builder
            .build()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let (ready, rx) = mpsc::channel();
        let for_completer = make_error.clone_ref(py);
        std::thread::Builder::new()
            .name("wpool-complete".into())
            .spawn(move || complete_loop(rx, for_completer))
            .map_err(|e| {
                PyRuntimeError::new_err(format!("cannot spawn the completer thread: {e}"))
            })?;
        Ok(PyPool {
            pool,
            ready,
            make_error,
        })
    }

    /// The number of worker threads.
    #[getter]
    fn workers(&self) -> usize {
        self.pool.workers()
    }

    /// Compiles and links a guest for this pool's workers (GIL released).
    /// `spec` is a built-in name, or a path when `is_file`. `dirs` holds
    /// `(host, guest, writable)` grants.
    #[pyo3(signature = (spec, is_file, dirs=Vec::new(), env=Vec::new(), args=Vec::new(), digest=false))]
    #[allow(clippy::too_many_arguments)]
    fn load(
        &self,
        py: Python<'_>,
        spec: String,
        is_file: bool,
        dirs: Vec<(String, String, bool)>,
        env: Vec<(String, String)>,
        args: Vec<String>,
        digest: bool,
    ) -> PyResult<PyGuest> {
        let mut grants = Grants::new().digest(digest);
        for (host, guest, writable) in dirs {
            let access = if writable {
                wpool::Access::ReadWrite
            } else {
                wpool::Access::ReadOnly
            };
            grants = grants.dir(host, guest, access);
        }
        for (key, value) in env {
            grants = grants.env(key, value);
        }
        for arg in args {
            grants = grants.arg(arg);
        }
        let guest = if is_file {
            Guest::file(spec)
        } else {
            Guest::builtin(spec)
        }
        .grants(grants);
        let pool = self.pool.clone();
        let loaded = py.detach(move || pool.load(guest)).map_err(|e| {
            let text = wpool::error_chain(&e);
            match e {
                wpool::LoadError::Read { source, .. } => {
                    pyo3::exceptions::PyOSError::new_err((source.raw_os_error().unwrap_or(0), text))
                }
                wpool::LoadError::UnknownBuiltin { .. } => PyValueError::new_err(text),
                _ => PyRuntimeError::new_err(text),
            }
        })?;
        Ok(PyGuest::new(loaded))
    }

    /// Queues a call of `func` and returns at once; `future` (a
    /// `concurrent.futures.Future`) gets its result or exception. Raises
    /// `TypeError` for arguments that do not fit the signature, before
    /// anything runs.
    #[pyo3(signature = (guest, func, args, future, timeout=None))]
    fn submit(
        &self,
        guest: &PyGuest,
        func: &str,
        args: &Bound<'_, PyTuple>,
        future: Py<PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<TaskHandle> {
        let task = Task::new(future, guest.shape(func), self.ready.clone());
        let gate = task.clone();
        let options = TaskOptions::new().on_start(move || gate.start());
        let reply = self.start(guest, func, args, timeout, options)?;
        task.begin(Box::pin(reply));
        Ok(TaskHandle { task })
    }

    /// Queues a call of `func` and returns an asyncio awaitable of its
    /// result (pyo3-async-runtimes); cancelling the awaitable drops the task
    /// if no worker has started it. Needs a running event loop.
    #[pyo3(signature = (guest, func, args, timeout=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        guest: &PyGuest,
        func: &str,
        args: &Bound<'py, PyTuple>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let task = self.start(guest, func, args, timeout, TaskOptions::new())?;
        let make_error = self.make_error.clone_ref(py);
        let shape = guest.shape(func);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = task.await;
            Python::attach(|py| match result {
                Ok(output) => {
                    convert::to_py(py, &output.value, shape.as_deref()).map(Bound::unbind)
                }
                Err(e) => Err(PyErr::from_value(task_error(py, &make_error, &e)?)),
            })
        })
    }

    /// Calls `func` once per argument tuple of `inputs`, in batches, and
    /// gives the results in input order (completed order unless
    /// `ordered`). Every input is converted and checked first: a bad one
    /// raises `TypeError` naming it, and nothing runs. `timeout` (seconds
    /// from now) bounds the wait for each result while reading.
    #[pyo3(signature = (guest, func, inputs, timeout=None, ordered=true))]
    fn map(
        &self,
        py: Python<'_>,
        guest: &PyGuest,
        func: &str,
        inputs: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        ordered: bool,
    ) -> PyResult<MapResults> {
        let timeout = timeout
            .map(|t| {
                Duration::try_from_secs_f64(t.max(0.0)).map_err(|_| {
                    PyValueError::new_err(format!("timeout must be a number of seconds, not {t}"))
                })
            })
            .transpose()?;
        // From the call, as `Executor.map`'s clock starts before it submits:
        // converting the inputs counts.
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut calls = Vec::new();
        for (index, args) in inputs.try_iter()?.enumerate() {
            let args = args?;
            let args = args.cast::<PyTuple>()?;
            let values = guest.convert_args(func, args)?;
            if let Err(e) = guest.inner.check(func, &values) {
                return Err(PyTypeError::new_err(format!(
                    "{}.{}(): input {index}: {}",
                    guest.inner.name(),
                    func.replace('-', "_"),
                    e.message()
                )));
            }
            calls.push(values);
        }
        if self.pool.is_closed() {
            return Err(PyRuntimeError::new_err(
                "cannot schedule new futures after shutdown",
            ));
        }
        let total = calls.len();
        let stream = if ordered {
            self.pool.map(&guest.inner, func, calls).boxed()
        } else {
            self.pool.map_unordered(&guest.inner, func, calls).boxed()
        };
        Ok(map::start(
            stream,
            total,
            deadline,
            guest.shape(func),
            self.make_error.clone_ref(py),
        ))
    }

    /// Stops accepting tasks, lets queued and running ones finish, and waits
    /// (GIL released) for the worker threads to exit.
    fn shutdown(&self, py: Python<'_>) {
        let pool = self.pool.clone();
        py.detach(move || pyo3_async_runtimes::tokio::get_runtime().block_on(pool.shutdown()));
    }

    /// Interrupts running tasks and cancels queued ones (their futures raise
    /// `wpool.Cancelled`); the pool accepts no more work.
    fn abort(&self) {
        self.pool.abort();
    }

    /// Whether `shutdown` or `abort` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.pool.is_closed()
    }
}

/// A queued call: its task, or why it could not be queued.
enum Started {
    Ready(Result<Queued<Output>, TaskError>),
    /// The queue was full: it joins when there is room.
    Waiting(Pin<Box<dyn Future<Output = Result<Queued<Output>, TaskError>> + Send>>),
}

impl PyPool {
    /// Converts and checks the arguments (`TypeError` before anything runs),
    /// queues the task now when the queue has room (so tasks queue in
    /// submission order), and gives the future of its result.
    fn start(
        &self,
        guest: &PyGuest,
        func: &str,
        args: &Bound<'_, PyTuple>,
        timeout: Option<f64>,
        mut options: TaskOptions,
    ) -> PyResult<impl Future<Output = Result<Output, TaskError>> + Send + 'static + use<>> {
        let values = guest.convert_args(func, args)?;
        if let Some(t) = timeout {
            options = options.timeout(seconds("timeout", t)?);
        }
        let mut enqueue: Pin<Box<dyn Future<Output = _> + Send>> =
            Box::pin(self.pool.enqueue_with(&guest.inner, func, values, options));
        let started = match (&mut enqueue).now_or_never() {
            Some(Err(e)) if e.kind() == ErrorKind::InvalidCall => {
                return Err(PyTypeError::new_err(format!(
                    "{}.{}(): {}",
                    guest.inner.name(),
                    func.replace('-', "_"),
                    e.detail()
                )));
            }
            Some(ready) => Started::Ready(ready),
            None => Started::Waiting(enqueue),
        };
        Ok(async move {
            match started {
                Started::Ready(Ok(queued)) => queued.await,
                Started::Ready(Err(e)) => Err(e),
                Started::Waiting(enqueue) => enqueue.await?.await,
            }
        })
    }
}
