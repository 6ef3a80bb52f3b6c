//! Job files: the TOML documents the `wpool` CLI runs.
//!
//! A job file has an optional `guest_dirs` list, an optional `[pool]` table,
//! optional `[guests]`, zero or more `[[fetch]]` tables, one or more
//! `[[task]]` tables and an optional `[output]` table. [`Job::parse`] checks the whole file and reports the
//! first problem as a [`JobError`] pointing at the offending key or value.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

mod raw;
mod reduce;
mod save;
#[cfg(test)]
mod tests;
mod units;

pub use reduce::{ReduceSpec, ReportSpec};
pub use save::SaveSpec;

use raw::{DurationStr, RawEach, RawFetch, RawGuest, RawJob, RawOutput, RawPool, RawSize, RawTask};

use units::backticked;
pub use units::{parse_duration, parse_size};

/// The value type of task arguments and literal `each` items.
pub type ArgValue = wpool::Value;

const DEFAULT_FETCH_CONCURRENCY: usize = 16;
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_FETCH_RETRIES: u32 = 2;
const DEFAULT_FETCH_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_FETCH_MAX_BODY: u64 = 64 << 20;

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

pub use wpool::InstanceMode;

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

/// A position in a job file: 1-based line and 1-based column in characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column in characters (not bytes), starting at 1.
    pub col: usize,
}

impl Location {
    /// The location of a byte offset in `text` (clamped to the text, rounded down to a char).
    pub fn from_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A problem in a job file, displayed as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", path.display())]
pub struct JobError {
    /// The job file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Lowercase message without a trailing period; names are in backticks.
    pub message: String,
}

impl JobError {
    /// An error at a byte offset of the job file's text.
    pub fn at(path: &Path, text: &str, byte_offset: usize, message: impl Into<String>) -> JobError {
        JobError::at_location(path, Location::from_offset(text, byte_offset), message)
    }

    /// An error at a known location, such as [`TaskSpec::args_span`].
    pub fn at_location(path: &Path, loc: Location, message: impl Into<String>) -> JobError {
        JobError {
            path: path.to_path_buf(),
            line: loc.line,
            col: loc.col,
            message: message.into(),
        }
    }
}

impl Job {
    /// Reads and parses a job file; a read error is reported at 1:1.
    pub fn load(path: &Path, builtins: &[&str]) -> Result<Job, JobError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let msg = format!("cannot read job file: {}", tidy_message(&e.to_string()));
            JobError::at_location(path, Location { line: 1, col: 1 }, msg)
        })?;
        Job::parse(path, &text, builtins)
    }

    /// Parses and validates a job file's text.
    ///
    /// `path` is only used in errors and to find [`Job::base_dir`]; `builtins`
    /// are the guest names that need no `[guests]` entry.
    pub fn parse(path: &Path, text: &str, builtins: &[&str]) -> Result<Job, JobError> {
        let cx = Cx { path, text };
        let raw: RawJob = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            cx.err_at(offset, tidy_message(e.message()))
        })?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let pool = cx.pool(raw.pool.unwrap_or_default())?;
        let mut guests = cx.guests(raw.guests.unwrap_or_default(), &base_dir, builtins)?;
        cx.guest_dirs(
            raw.guest_dirs.unwrap_or_default(),
            &base_dir,
            builtins,
            &mut guests,
        )?;
        let fetches = cx.fetches(raw.fetch.unwrap_or_default())?;
        let tasks = cx.tasks(raw.task, builtins, &guests, &fetches, &base_dir)?;
        let output = cx.output(raw.output.unwrap_or_default())?;
        Ok(Job {
            path: path.to_path_buf(),
            base_dir,
            pool,
            guests,
            fetches,
            tasks,
            output,
        })
    }
}

/// Makes a foreign message fit our style: one line, lowercase start, no final period.
fn tidy_message(msg: &str) -> String {
    let msg = msg.trim().trim_end_matches('.');
    let msg = msg.lines().map(str::trim).filter(|l| !l.is_empty());
    let msg = msg.collect::<Vec<_>>().join("; ");
    let msg = match msg.strip_prefix("missing field ") {
        Some(key) => format!("missing required key {key}"),
        None => msg,
    };
    let mut chars = msg.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "invalid job file".into(),
    }
}

// ---------------------------------------------------------------------------
// Validation: raw structures to the public types.

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Cx<'_> {
    fn loc(&self, span: Range<usize>) -> Location {
        Location::from_offset(self.text, span.start)
    }

    fn err_at(&self, offset: usize, message: impl Into<String>) -> JobError {
        JobError::at(self.path, self.text, offset, message)
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> JobError {
        self.err_at(span.start, message)
    }

    fn duration(&self, v: Option<Spanned<DurationStr>>) -> Result<Option<Duration>, JobError> {
        v.map(|v| parse_duration(&v.get_ref().0).map_err(|e| self.err(v.span(), e)))
            .transpose()
    }

    fn size(&self, v: Option<Spanned<RawSize>>) -> Result<Option<u64>, JobError> {
        v.map(|v| match v.get_ref() {
            RawSize::Int(n) => u64::try_from(*n).map_err(|_| {
                self.err(
                    v.span(),
                    format!("invalid size `{n}`: must not be negative"),
                )
            }),
            RawSize::Str(s) => parse_size(s).map_err(|e| self.err(v.span(), e)),
        })
        .transpose()
    }

    fn at_least_one<T: Copy + PartialOrd + From<u8>>(
        &self,
        key: &str,
        v: Option<Spanned<T>>,
    ) -> Result<Option<T>, JobError> {
        match v {
            Some(v) if *v.get_ref() < T::from(1) => {
                Err(self.err(v.span(), format!("`{key}` must be at least 1")))
            }
            v => Ok(v.map(Spanned::into_inner)),
        }
    }

    fn not_empty(&self, key: &str, v: Spanned<String>) -> Result<String, JobError> {
        if v.get_ref().trim().is_empty() {
            return Err(self.err(v.span(), format!("`{key}` must not be empty")));
        }
        Ok(v.into_inner())
    }

    fn choice<T: Copy>(
        &self,
        what: &str,
        v: Option<Spanned<String>>,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, JobError> {
        let Some(v) = v else { return Ok(None) };
        match choices.iter().find(|(name, _)| name == v.get_ref()) {
            Some(&(_, value)) => Ok(Some(value)),
            None => Err(self.err(
                v.span(),
                format!(
                    "unknown {what} `{}`; expected one of {}",
                    v.get_ref(),
                    backticked(choices.iter().map(|c| c.0))
                ),
            )),
        }
    }

    fn pool(&self, raw: RawPool) -> Result<PoolSection, JobError> {
        let instance = [
            ("reuse", InstanceMode::Reuse),
            ("fresh", InstanceMode::Fresh),
        ];
        Ok(PoolSection {
            workers: self.at_least_one("workers", raw.workers)?,
            timeout: self.duration(raw.timeout)?,
            memory: self.size(raw.memory)?,
            fuel: self.at_least_one("fuel", raw.fuel)?,
            instance: self
                .choice("instance mode", raw.instance, &instance)?
                .unwrap_or_default(),
            output_limit: self.size(raw.output_limit)?,
        })
    }

    fn guests(
        &self,
        raw: BTreeMap<Spanned<String>, Spanned<RawGuest>>,
        base_dir: &Path,
        builtins: &[&str],
    ) -> Result<BTreeMap<String, GuestSpec>, JobError> {
        let mut guests = BTreeMap::new();
        for (name, guest) in raw {
            if name.get_ref().is_empty() {
                return Err(self.err(name.span(), "guest name must not be empty"));
            }
            if builtins.contains(&name.get_ref().as_str()) {
                let msg = format!("guest `{}` has the name of a builtin guest", name.get_ref());
                return Err(self.err(name.span(), msg));
            }
            let range = guest.span();
            let span = self.loc(range.clone());
            let spec = match guest.into_inner() {
                RawGuest::Path(p) if p.trim().is_empty() => {
                    return Err(self.err(range, "guest path must not be empty"));
                }
                RawGuest::Path(p) => GuestSpec {
                    source: GuestSource::File(base_dir.join(p)),
                    digest: false,
                    dirs: Vec::new(),
                    env: Vec::new(),
                    args: Vec::new(),
                    span,
                },
                RawGuest::Table(t) => GuestSpec {
                    source: match (t.path, t.builtin) {
                        (Some(path), None) => {
                            GuestSource::File(base_dir.join(self.not_empty("path", path)?))
                        }
                        (None, Some(builtin)) => {
                            let at = builtin.span();
                            let builtin = self.not_empty("builtin", builtin)?;
                            if !builtins.contains(&builtin.as_str()) {
                                let msg = format!(
                                    "unknown built-in guest `{builtin}`; expected one of {}",
                                    backticked(builtins.iter().copied())
                                );
                                return Err(self.err(at, msg));
                            }
                            GuestSource::Builtin(builtin)
                        }
                        (Some(_), Some(builtin)) => {
                            return Err(self
                                .err(builtin.span(), "give either `path` or `builtin`, not both"));
                        }
                        (None, None) => {
                            return Err(self.err(range, "missing `path` (or `builtin`)"));
                        }
                    },
                    digest: t.digest.unwrap_or(false),
                    dirs: (t.dirs.unwrap_or_default().into_iter())
                        .map(|d| {
                            Ok(DirGrant {
                                host: base_dir.join(self.not_empty("host", d.host)?),
                                guest: self.not_empty("guest", d.guest)?,
                                write: d.write.unwrap_or(false),
                            })
                        })
                        .collect::<Result<_, JobError>>()?,
                    env: t.env.unwrap_or_default().into_iter().collect(),
                    args: t.args.unwrap_or_default(),
                    span,
                },
            };
            guests.insert(name.into_inner(), spec);
        }
        Ok(guests)
    }

    /// `guest_dirs`: every `NAME.wasm` in each folder is the guest `NAME`,
    /// unless `[guests]` names it already (the explicit entry wins).
    fn guest_dirs(
        &self,
        raw: Vec<Spanned<String>>,
        base_dir: &Path,
        builtins: &[&str],
        guests: &mut BTreeMap<String, GuestSpec>,
    ) -> Result<(), JobError> {
        for dir in raw {
            let range = dir.span();
            let path = base_dir.join(self.not_empty("guest_dirs", dir)?);
            let entries = std::fs::read_dir(&path).map_err(|e| {
                let msg = format!(
                    "cannot read guest folder `{}`: {}",
                    path.display(),
                    tidy_message(&e.to_string())
                );
                self.err(range.clone(), msg)
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
                .collect();
            files.sort();
            for file in files {
                let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if builtins.contains(&name) {
                    let msg = format!(
                        "`{}` has the name of a builtin guest; rename the file",
                        file.display()
                    );
                    return Err(self.err(range.clone(), msg));
                }
                guests.entry(name.to_owned()).or_insert_with(|| GuestSpec {
                    source: GuestSource::File(file.clone()),
                    digest: false,
                    dirs: Vec::new(),
                    env: Vec::new(),
                    args: Vec::new(),
                    span: self.loc(range.clone()),
                });
            }
        }
        Ok(())
    }

    fn fetches(&self, raw: Vec<Spanned<RawFetch>>) -> Result<Vec<FetchSpec>, JobError> {
        let mut fetches: Vec<FetchSpec> = Vec::new();
        for fetch in raw {
            let range = fetch.span();
            let f = fetch.into_inner();
            let missing = |key| {
                self.err(
                    range.clone(),
                    format!("fetch is missing required key `{key}`"),
                )
            };
            let name = f.name.ok_or_else(|| missing("name"))?;
            if let Some(first) = fetches.iter().find(|other| other.name == *name.get_ref()) {
                let msg = format!(
                    "duplicate fetch name `{}`; first defined at line {}",
                    name.get_ref(),
                    first.span.line
                );
                return Err(self.err(name.span(), msg));
            }
            let name = self.not_empty("name", name)?;
            let urls = f.urls.ok_or_else(|| missing("urls"))?;
            if urls.get_ref().is_empty() {
                return Err(self.err(urls.span(), "`urls` must not be empty"));
            }
            let urls = (urls.into_inner().into_iter())
                .map(|url| {
                    let u = url.get_ref();
                    let rest = ["http://", "https://"].iter().find_map(|scheme| {
                        let head = u.get(..scheme.len())?;
                        head.eq_ignore_ascii_case(scheme)
                            .then(|| &u[scheme.len()..])
                    });
                    let msg = match rest {
                        Some("") => format!("url `{u}` has no host"),
                        Some(_) => return Ok(url.into_inner()),
                        None => format!("url `{u}` must start with `http://` or `https://`"),
                    };
                    Err(self.err(url.span(), msg))
                })
                .collect::<Result<_, _>>()?;
            let status = match f.status {
                Some(s) if s.get_ref().is_empty() => {
                    return Err(self.err(s.span(), "`status` must list at least one status code"));
                }
                Some(s) => Some(
                    (s.into_inner().into_iter())
                        .map(|code| match u16::try_from(*code.get_ref()) {
                            Ok(c) if (100..=599).contains(&c) => Ok(c),
                            _ => Err(self.err(
                                code.span(),
                                format!("status code {} is not in 100..=599", code.get_ref()),
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                None => None,
            };
            fetches.push(FetchSpec {
                name,
                urls,
                concurrency: self
                    .at_least_one("concurrency", f.concurrency)?
                    .unwrap_or(DEFAULT_FETCH_CONCURRENCY),
                timeout: self.duration(f.timeout)?.unwrap_or(DEFAULT_FETCH_TIMEOUT),
                retries: f.retries.unwrap_or(DEFAULT_FETCH_RETRIES),
                backoff: self.duration(f.backoff)?.unwrap_or(DEFAULT_FETCH_BACKOFF),
                status,
                max_body: self.size(f.max_body)?.unwrap_or(DEFAULT_FETCH_MAX_BODY),
                headers: f.headers.unwrap_or_default().into_iter().collect(),
                span: self.loc(range),
            });
        }
        Ok(fetches)
    }

    fn tasks(
        &self,
        raw: Option<Spanned<Vec<Spanned<RawTask>>>>,
        builtins: &[&str],
        guests: &BTreeMap<String, GuestSpec>,
        fetches: &[FetchSpec],
        base_dir: &Path,
    ) -> Result<Vec<TaskSpec>, JobError> {
        let raw = match raw {
            None => return Err(self.err_at(0, "no tasks; add at least one `[[task]]` table")),
            Some(t) if t.get_ref().is_empty() => {
                return Err(self.err(t.span(), "no tasks; add at least one `[[task]]` table"));
            }
            Some(t) => t.into_inner(),
        };
        let mut tasks = Vec::with_capacity(raw.len());
        for (index, task) in raw.into_iter().enumerate() {
            let range = task.span();
            let t = task.into_inner();
            let missing = |key| {
                self.err(
                    range.clone(),
                    format!("task is missing required key `{key}`"),
                )
            };
            let guest = t.guest.ok_or_else(|| missing("guest"))?;
            let call = t.call.ok_or_else(|| missing("call"))?;
            let name = guest.get_ref().as_str();
            if !builtins.contains(&name) && !guests.contains_key(name) {
                let mut known: Vec<&str> = builtins.to_vec();
                known.sort_unstable();
                known.dedup();
                known.extend(guests.keys().map(String::as_str));
                let msg = if known.is_empty() {
                    format!(
                        "unknown guest `{name}`; no guests are available (declare one under `[guests]`)"
                    )
                } else {
                    format!(
                        "unknown guest `{name}`; expected one of {}",
                        backticked(known)
                    )
                };
                return Err(self.err(guest.span(), msg));
            }
            let args_span = match (&t.args, &t.each) {
                (Some(a), _) => a.span(),
                (None, Some(e)) => e.span(),
                (None, None) => range.clone(),
            };
            let each = match t.each.map(Spanned::into_inner) {
                None => None,
                Some(RawEach::Values(_)) if t.args.is_some() => {
                    let msg = "`args` cannot be combined with a literal `each` list; \
                               put every argument in the `each` items";
                    return Err(self.err(args_span, msg));
                }
                Some(RawEach::Values(values)) => Some(Each::Values(values)),
                Some(RawEach::Files(glob)) => Some(Each::Files(self.not_empty("files", glob)?)),
                Some(RawEach::Range(range)) => {
                    let (start, end, step) = match *range.get_ref().as_slice() {
                        [start, end] => (start, end, 1),
                        [start, end, step] => (start, end, step),
                        _ => {
                            let msg = "`range` takes [start, end] or [start, end, step]";
                            return Err(self.err(range.span(), msg));
                        }
                    };
                    if step < 1 || end < start {
                        let msg = "`range` needs start <= end and a step of at least 1";
                        return Err(self.err(range.span(), msg));
                    }
                    Some(Each::Range { start, end, step })
                }
                Some(RawEach::Fetch(fetch)) => {
                    if !fetches.iter().any(|f| f.name == *fetch.get_ref()) {
                        let msg = if fetches.is_empty() {
                            format!(
                                "unknown fetch `{}`; no `[[fetch]]` is defined",
                                fetch.get_ref()
                            )
                        } else {
                            let names = backticked(fetches.iter().map(|f| f.name.as_str()));
                            format!(
                                "unknown fetch `{}`; expected one of {names}",
                                fetch.get_ref()
                            )
                        };
                        return Err(self.err(fetch.span(), msg));
                    }
                    Some(Each::Fetch(fetch.into_inner()))
                }
            };
            let reduce = self.reduce(t.reduce, t.report, base_dir)?;
            let save = self.save(t.save, base_dir)?;
            tasks.push(TaskSpec {
                reduce,
                save,
                index,
                name: t.name,
                guest: guest.get_ref().clone(),
                guest_span: self.loc(guest.span()),
                call_span: self.loc(call.span()),
                call: self.not_empty("call", call)?,
                args: t.args.map(Spanned::into_inner).unwrap_or_default(),
                each,
                timeout: self.duration(t.timeout)?,
                span: self.loc(range),
                args_span: self.loc(args_span),
            });
        }
        Ok(tasks)
    }

    fn output(&self, raw: RawOutput) -> Result<OutputSection, JobError> {
        let formats = [
            ("jsonl", Format::Jsonl),
            ("json", Format::Json),
            ("table", Format::Table),
        ];
        let orders = [("input", Order::Input), ("completed", Order::Completed)];
        Ok(OutputSection {
            format: self.choice("output format", raw.format, &formats)?,
            path: raw
                .path
                .map(|p| self.not_empty("path", p))
                .transpose()?
                .map(PathBuf::from),
            order: self
                .choice("output order", raw.order, &orders)?
                .unwrap_or_default(),
        })
    }
}
