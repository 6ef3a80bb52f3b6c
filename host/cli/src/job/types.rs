//! The validated form of a job file: what [`Job::parse`](super::Job::parse)
//! returns. Validation itself lives in `validate`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{ArgValue, Location, SaveSpec};

pub use wpool::InstanceMode;

/// A validated job file.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file, as given.
    pub path: PathBuf,
    /// The folder holding the job file (`.` when the path has no folder).
    pub base_dir: PathBuf,
    /// Settings of the worker pool.
    pub pool: PoolSection,
    /// Guests declared under `[guests]`, by name.
    pub guests: BTreeMap<String, GuestSpec>,
    /// The `[[fetch]]` tables, in file order.
    pub fetches: Vec<FetchSpec>,
    /// The `[[task]]` tables, in file order (never empty).
    pub tasks: Vec<TaskSpec>,
    /// Where and how results are written.
    pub output: OutputSection,
}

/// The `[pool]` table.
#[derive(Debug, Clone, Default)]
pub struct PoolSection {
    /// Number of workers; `None` means one per core.
    pub workers: Option<usize>,
    /// Default time limit of one call.
    pub timeout: Option<Duration>,
    /// Memory limit of one guest instance, in bytes.
    pub memory: Option<u64>,
    /// Fuel limit of one call.
    pub fuel: Option<u64>,
    /// Whether instances are reused between calls.
    pub instance: InstanceMode,
    /// Limit on the output of one call, in bytes.
    pub output_limit: Option<u64>,
}

/// A guest declared under `[guests]`.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// Where its code comes from.
    pub source: GuestSource,
    /// Whether it is granted the host's `digest` capability.
    pub digest: bool,
    /// Host folders made visible to the guest.
    pub dirs: Vec<DirGrant>,
    /// Environment variables, sorted by name.
    pub env: Vec<(String, String)>,
    /// Program arguments.
    pub args: Vec<String>,
    /// Location of the guest's value in the job file.
    pub span: Location,
}

/// Where a declared guest's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestSource {
    /// A `.wasm` file, resolved against [`Job::base_dir`] (existence is not checked).
    File(PathBuf),
    /// A built-in guest, under another name (to give it grants).
    Builtin(String),
    /// A Python script (a `.py` path, resolved against [`Job::base_dir`]),
    /// run by a CPython-for-WASI interpreter: the guest's `python` key,
    /// resolved likewise, or `None` to find one when the job is planned.
    PythonScript {
        /// The `.py` file.
        script: PathBuf,
        /// The interpreter's `.wasm`, if the job names one.
        interpreter: Option<PathBuf>,
    },
}

/// A host folder granted to a guest.
#[derive(Debug, Clone)]
pub struct DirGrant {
    /// The host folder, resolved against [`Job::base_dir`].
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may write to it (default `false`).
    pub write: bool,
}

/// A `[[fetch]]` table: HTTP bodies fed to tasks.
#[derive(Debug, Clone)]
pub struct FetchSpec {
    /// Unique name, used by `each = { fetch = "..." }`.
    pub name: String,
    /// The `http://` or `https://` URLs to fetch (never empty).
    pub urls: Vec<String>,
    /// Maximum number of requests in flight (default 16).
    pub concurrency: usize,
    /// Time limit of one request (default 30s).
    pub timeout: Duration,
    /// Retries after the first attempt (default 2).
    pub retries: u32,
    /// Delay before the first retry, doubled for each further retry (default 100ms).
    pub backoff: Duration,
    /// Accepted status codes; `None` accepts any 2xx.
    pub status: Option<Vec<u16>>,
    /// Largest accepted body, in bytes (default 64MiB).
    pub max_body: u64,
    /// Extra request headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Location of the `[[fetch]]` table.
    pub span: Location,
}

/// A `[[task]]` table.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Position among the `[[task]]` tables, starting at 0.
    pub index: usize,
    /// Optional label.
    pub name: Option<String>,
    /// A builtin guest or a key of `[guests]`.
    pub guest: String,
    /// The exported function to call.
    pub call: String,
    /// Literal arguments; with a `files`/`fetch` source, extra arguments after the body.
    pub args: Vec<ArgValue>,
    /// What the task maps over, if anything.
    pub each: Option<Each>,
    /// Time limit overriding [`PoolSection::timeout`].
    pub timeout: Option<Duration>,
    /// Location of the `[[task]]` table.
    pub span: Location,
    /// Location of the `guest` value.
    pub guest_span: Location,
    /// Location of the `call` value.
    pub call_span: Location,
    /// Location of the `args` value, else the `each` value, else the table.
    pub args_span: Location,
    /// Results combined into one (`reduce`, then optionally `report`).
    pub reduce: Option<ReduceSpec>,
    /// Each result written to its own file (`save`).
    pub save: Option<SaveSpec>,
}

/// What a task maps over: one call per item.
#[derive(Debug, Clone)]
pub enum Each {
    /// Literal values (`each = [...]` or `each = { values = [...] }`).
    Values(Vec<ArgValue>),
    /// The bytes of the files matching a glob, relative to the job file (as written).
    Files(String),
    /// The bodies fetched by the `[[fetch]]` of this name.
    Fetch(String),
    /// The integers `start`, `start + step`, … below `end`
    /// (`each = { range = [start, end] }` or `[start, end, step]`), generated
    /// one at a time: a million-task job never holds its inputs.
    Range {
        /// First value.
        start: i64,
        /// End, exclusive.
        end: i64,
        /// Distance between values (at least 1).
        step: i64,
    },
}

/// The `[output]` table.
#[derive(Debug, Clone, Default)]
pub struct OutputSection {
    /// Result format; `None` lets the CLI choose.
    pub format: Option<Format>,
    /// Output file, relative to the current folder (as written).
    pub path: Option<PathBuf>,
    /// Order of the results.
    pub order: Order,
}

/// Result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`"jsonl"`).
    Jsonl,
    /// One JSON array (`"json"`).
    Json,
    /// A human-readable table (`"table"`).
    Table,
}

/// Order in which results are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// In task order (`"input"`, the default).
    #[default]
    Input,
    /// As soon as each result is ready (`"completed"`).
    Completed,
}

/// `reduce = "FUNC"`: a function of the task's guest taking two results and
/// returning their combination (associative: results arrive in any order).
#[derive(Debug, Clone)]
pub struct ReduceSpec {
    /// The combining function.
    pub call: String,
    /// Location of the `reduce` value.
    pub span: Location,
    /// What to do with the combined value.
    pub report: Option<ReportSpec>,
}

/// `report = { call = "FUNC", path = "FILE" }`: a function of the task's
/// guest turning the combined value into the report, and where it goes.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    /// The rendering function.
    pub call: String,
    /// The file written (atomically), resolved against the job's folder;
    /// without one, the report is the reduce record's value.
    pub path: Option<PathBuf>,
    /// Location of the `report` value.
    pub span: Location,
}
