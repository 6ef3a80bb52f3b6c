//! Error types: [`BuildError`] for setting a pool up, [`LoadError`] for loading
//! a guest, [`CallError`] for a call that cannot be made, and [`TaskError`] for
//! a task that ran (or was meant to run) and failed.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The underlying cause of a [`BuildError`] or [`LoadError`]: Wasmtime's or
/// the operating system's error, with its own source chain
/// (`std::error::Error::source` gives the cause itself, so an
/// `std::io::Error` can be downcast).
pub type ErrorSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Wraps a Wasmtime error as a [`ErrorSource`], keeping its chain.
pub(crate) fn wasmtime_source(e: wasmtime::Error) -> ErrorSource {
    e.into_boxed_dyn_error()
}

/// An error and its sources, joined by `: ` (what `anyhow` prints with
/// `{:#}`): the whole story of a [`LoadError`] or [`BuildError`] on one line.
///
/// ```
/// let pool = wpool::Pool::builder().workers(1).no_cache().build()?;
/// let err = pool.load(wpool::Guest::bytes("junk", "(module (func $f (foo)))")).unwrap_err();
/// assert_eq!(err.to_string(), "cannot compile guest `junk`");
/// let text = wpool::error_chain(&err);
/// assert!(text.starts_with("cannot compile guest `junk`: "), "and why: {text}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Building a [`Pool`](crate::Pool) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A builder setting is out of range.
    #[error("invalid pool setting: {0}")]
    InvalidSetting(String),
    /// Wasmtime rejected the engine configuration, or the WASI and host
    /// interfaces could not be linked.
    #[error("cannot create the wasmtime engine: {what}")]
    Engine {
        /// What was being set up.
        what: &'static str,
        /// Wasmtime's error.
        #[source]
        source: ErrorSource,
    },
    /// A worker thread could not be spawned.
    #[error("cannot spawn worker thread {index}")]
    Spawn {
        /// The worker's index.
        index: usize,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Loading a guest failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// There is no built-in guest by that name.
    #[error("unknown built-in guest `{name}`; expected one of {choices}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The built-in names, formatted for the message.
        choices: String,
    },
    /// The guest file could not be read.
    #[error("cannot read guest `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly module or component wpool can compile.
    #[error("cannot compile guest `{name}`")]
    Compile {
        /// The guest's name.
        name: String,
        /// Wasmtime's explanation.
        #[source]
        source: ErrorSource,
    },
    /// The guest imports something wpool does not provide.
    #[error("cannot link guest `{name}`")]
    Link {
        /// The guest's name.
        name: String,
        /// What is missing (Wasmtime's error).
        #[source]
        source: ErrorSource,
    },
    /// A granted directory could not be opened.
    #[error("cannot grant `{}` to guest `{name}`", host.display())]
    Grant {
        /// The guest's name.
        name: String,
        /// The host directory.
        host: PathBuf,
        /// Why.
        #[source]
        source: ErrorSource,
    },
    /// The pool was built without the `builtins` feature, so no built-in
    /// guest is available.
    #[error(
        "built-in guest `{name}` is not available: wpool was built without its `builtins` feature"
    )]
    NoBuiltins {
        /// The name asked for.
        name: String,
    },
    /// The pool has been shut down.
    #[error("the pool is shut down")]
    PoolClosed,
}

/// A call cannot be made: unknown function, wrong number or types of arguments.
///
/// Returned by [`LoadedGuest::check`](crate::LoadedGuest::check) before
/// anything runs, and inside a [`TaskError`] of kind
/// [`ErrorKind::InvalidCall`] when a bad call is submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    pub(crate) message: String,
}

impl CallError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CallError {
            message: message.into(),
        }
    }

    /// The explanation, e.g. ``argument `n`: expected u64, found a string``.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What kind of failure a [`TaskError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The task ran past its wall-clock timeout and was interrupted.
    Timeout,
    /// The task used up its fuel budget.
    OutOfFuel,
    /// The guest tried to grow its memory (or tables) past the limit.
    MemoryLimit,
    /// The guest trapped: `unreachable`, a Rust panic, stack overflow, out-of-bounds access…
    Trap,
    /// The guest returned a `result` error.
    Guest,
    /// The result is larger than the pool's output limit.
    OutputLimit,
    /// The call was invalid: unknown function, wrong arguments.
    InvalidCall,
    /// The task was cancelled before it started, or interrupted by an abort.
    Cancelled,
    /// The pool was shut down before the task could run.
    PoolClosed,
    /// wpool itself failed while running the task (a panic inside wpool: a
    /// bug, never the guest's doing). See [`TaskError::is_panic`].
    Internal,
}

impl ErrorKind {
    /// The kind as a short snake-case name (`"timeout"`, `"memory_limit"`, …),
    /// as used in wpool's JSON records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutOfFuel => "out_of_fuel",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::Trap => "trap",
            ErrorKind::Guest => "guest",
            ErrorKind::OutputLimit => "output_limit",
            ErrorKind::InvalidCall => "invalid_call",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::PoolClosed => "pool_closed",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task failed. Only that task: the pool and every other task carry on.
///
/// Displays as ``task 17 (`heavy_calc`/`heavy-calc`) timed out after 2s``.
#[derive(Debug, Clone)]
pub struct TaskError {
    kind: ErrorKind,
    task: u64,
    guest: Arc<str>,
    func: Arc<str>,
    detail: String,
    worker: Option<usize>,
}

impl TaskError {
    pub(crate) fn new(
        kind: ErrorKind,
        task: u64,
        guest: Arc<str>,
        func: Arc<str>,
        detail: impl Into<String>,
    ) -> Self {
        TaskError {
            kind,
            task,
            guest,
            func,
            detail: detail.into(),
            worker: None,
        }
    }

    /// The same failure for another task (of the same batch).
    pub(crate) fn for_task(&self, task: u64) -> Self {
        TaskError {
            task,
            ..self.clone()
        }
    }

    pub(crate) fn on_worker(mut self, worker: usize) -> Self {
        self.worker = Some(worker);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The pool-wide task number.
    pub fn task(&self) -> u64 {
        self.task
    }

    /// The guest's name.
    pub fn guest(&self) -> &str {
        &self.guest
    }

    /// The function called.
    pub fn function(&self) -> &str {
        &self.func
    }

    /// The explanation without the task prefix, e.g. `timed out after 2s`.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The worker the task ran on, if it reached one.
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    /// Whether wpool itself panicked while running the task (kind
    /// [`ErrorKind::Internal`]): a bug in wpool, not in the guest.
    pub fn is_panic(&self) -> bool {
        self.kind == ErrorKind::Internal
    }

    /// Whether the task timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} (`{}`/`{}`) {}",
            self.task, self.guest, self.func, self.detail
        )
    }
}

impl std::error::Error for TaskError {}
