//! From a parsed job to a runnable plan: the pool built, every guest loaded,
//! every call checked against its function's signature, every glob expanded.
//! Whatever is wrong is reported here, at its line and column, before
//! anything runs.

use std::collections::HashMap;
use std::path::PathBuf;

use wpool::{Access, Grants, Guest, LoadedGuest, Pool, Value};

use crate::job::{Each, GuestSource, Job, JobError, Location, ReduceSpec, TaskSpec};

/// A job ready to run.
pub(crate) struct Plan {
    pub(crate) pool: Pool,
    pub(crate) tasks: Vec<PlannedTask>,
    /// Number of records the job produces (one per input).
    pub(crate) total: usize,
}

/// One `[[task]]`, checked.
pub(crate) struct PlannedTask {
    pub(crate) spec: TaskSpec,
    pub(crate) guest: LoadedGuest,
    pub(crate) inputs: Inputs,
    /// Record index of this task's first input.
    pub(crate) first: usize,
}

pub(crate) enum Inputs {
    /// One call with these arguments.
    Call(Vec<Value>),
    /// One call per argument list.
    Values(Vec<Vec<Value>>),
    /// One call per file: its bytes, then the task's `args`.
    Files(Vec<PathBuf>),
    /// One call per body of the fetch at this index of [`Job::fetches`]: the
    /// body, then the task's `args`.
    Fetch(usize),
    /// One call per integer, generated lazily: the integer, then the task's `args`.
    Range { start: i64, end: i64, step: i64 },
}

impl Inputs {
    pub(crate) fn len(&self, job: &Job) -> usize {
        match self {
            Inputs::Call(_) => 1,
            Inputs::Values(items) => items.len(),
            Inputs::Files(files) => files.len(),
            Inputs::Fetch(index) => job.fetches[*index].urls.len(),
            Inputs::Range { start, end, step } => {
                ((end - start) as u64).div_ceil(*step as u64) as usize
            }
        }
    }
}

/// Command-line settings that override the job file's.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) workers: Option<usize>,
}

/// Builds the pool, loads the guests and checks every task of `job`.
pub(crate) fn build(
    job: &Job,
    overrides: &Overrides,
    builder: wpool::PoolBuilder,
) -> Result<Plan, PlanError> {
    let pool = pool_builder(job, overrides, builder)
        .build()
        .map_err(|e| PlanError::Pool(e.to_string()))?;
    let mut loaded: HashMap<String, LoadedGuest> = HashMap::new();
    let mut tasks = Vec::with_capacity(job.tasks.len());
    let mut first = 0;
    for spec in &job.tasks {
        let guest = match loaded.get(&spec.guest) {
            Some(guest) => guest.clone(),
            None => {
                let guest = load_guest(job, &pool, spec)?;
                loaded.insert(spec.guest.clone(), guest.clone());
                guest
            }
        };
        let inputs = check_task(job, spec, &guest)?;
        if let Some(reduce) = &spec.reduce {
            check_reduce(job, spec, reduce, &guest)?;
        }
        let count = inputs.len(job);
        tasks.push(PlannedTask {
            spec: spec.clone(),
            guest,
            inputs,
            first,
        });
        first += count;
    }
    Ok(Plan {
        pool,
        tasks,
        total: first,
    })
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("cannot start the pool: {0}")]
    Pool(String),
}

fn pool_builder(
    job: &Job,
    overrides: &Overrides,
    mut builder: wpool::PoolBuilder,
) -> wpool::PoolBuilder {
    let settings = &job.pool;
    if let Some(workers) = overrides.workers.or(settings.workers) {
        builder = builder.workers(workers);
    }
    if let Some(timeout) = settings.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(memory) = settings.memory {
        builder = builder.memory_limit(usize::try_from(memory).unwrap_or(usize::MAX));
    }
    if let Some(fuel) = settings.fuel {
        builder = builder.fuel(fuel);
    }
    if let Some(limit) = settings.output_limit {
        builder = builder.output_limit(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    builder.instance_mode(settings.instance)
}

fn load_guest(job: &Job, pool: &Pool, spec: &TaskSpec) -> Result<LoadedGuest, JobError> {
    let (guest, at) = match job.guests.get(&spec.guest) {
        Some(declared) => {
            let mut grants = Grants::new();
            for dir in &declared.dirs {
                let access = if dir.write {
                    Access::ReadWrite
                } else {
                    Access::ReadOnly
                };
                grants = grants.dir(&dir.host, &dir.guest, access);
            }
            for (key, value) in &declared.env {
                grants = grants.env(key, value);
            }
            for arg in &declared.args {
                grants = grants.arg(arg);
            }
            let guest = match &declared.source {
                GuestSource::File(path) => Guest::file(path),
                GuestSource::Builtin(name) => Guest::builtin(name),
            };
            (
                guest
                    .named(&spec.guest)
                    .grants(grants.digest(declared.digest)),
                declared.span,
            )
        }
        None => (Guest::builtin(&spec.guest), spec.guest_span),
    };
    pool.load(guest)
        .map_err(|e| JobError::at_location(&job.path, at, e.to_string()))
}

/// Checks that `reduce` combines two of the task's results into one of the
/// same type, and that `report` takes one.
fn check_reduce(
    job: &Job,
    spec: &TaskSpec,
    reduce: &ReduceSpec,
    guest: &LoadedGuest,
) -> Result<(), JobError> {
    let err = |at: Location, message: String| JobError::at_location(&job.path, at, message);
    let lookup = |name: &str, at: Location| {
        guest.function(name).ok_or_else(|| {
            let message = guest
                .check(name, &[])
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_default();
            err(at, message)
        })
    };
    let mapped = lookup(&spec.call, spec.call_span)?;
    let results = mapped.result_types();
    let [result] = results.as_slice() else {
        return Err(err(
            reduce.span,
            format!(
                "`{}` returns no single value to reduce: it is {}",
                spec.call,
                mapped.signature()
            ),
        ));
    };
    let merge = lookup(&reduce.call, reduce.span)?;
    let t = short(result);
    if merge.param_types() != [result.clone(), result.clone()]
        || merge.result_types() != [result.clone()]
    {
        return Err(err(
            reduce.span,
            format!(
                "`{}` cannot reduce the results of `{}`: it must be func(a: {t}, b: {t}) -> {t}, and it is {}",
                reduce.call,
                spec.call,
                shape(merge)
            ),
        ));
    }
    if let Some(report) = &reduce.report {
        let render = lookup(&report.call, report.span)?;
        if render.param_types() != [result.clone()] || render.result_types().len() != 1 {
            return Err(err(
                report.span,
                format!(
                    "`{}` cannot render the reduced `{t}`: it must take one `{t}` and return the report, and it is {}",
                    report.call,
                    shape(render)
                ),
            ));
        }
    }
    Ok(())
}

/// A type for a message: long record types are cut short.
fn short(ty: &str) -> String {
    const MAX: usize = 32;
    if ty.chars().count() <= MAX {
        ty.to_owned()
    } else {
        let cut: String = ty.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// A function's signature with long types cut short.
fn shape(f: &wpool::Function) -> String {
    let params: Vec<String> = f
        .param_names()
        .iter()
        .zip(f.param_types())
        .map(|(n, t)| format!("{n}: {}", short(&t)))
        .collect();
    let results: Vec<String> = f.result_types().iter().map(|t| short(t)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

/// Checks the task's calls against the function's signature and expands its inputs.
fn check_task(job: &Job, spec: &TaskSpec, guest: &LoadedGuest) -> Result<Inputs, JobError> {
    let err = |at: Location, message: String| JobError::at_location(&job.path, at, message);
    let Some(function) = guest.function(&spec.call) else {
        let message = guest
            .check(&spec.call, &[])
            .err()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        return Err(err(spec.call_span, message));
    };
    let params = function.param_names().len();
    let check = |args: &[Value], prefix: &str| {
        guest
            .check(&spec.call, args)
            .map_err(|e| err(spec.args_span, format!("{prefix}{}", e.message())))
    };
    let with_body = || {
        let mut args = vec![Value::Bytes(Vec::new())];
        args.extend(spec.args.iter().cloned());
        args
    };
    match &spec.each {
        None => {
            check(&spec.args, "")?;
            Ok(Inputs::Call(spec.args.clone()))
        }
        Some(Each::Values(items)) => {
            let mut calls = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let args = match (params, item) {
                    (1, item) => vec![item.clone()],
                    (_, Value::List(args)) => args.clone(),
                    (n, other) => {
                        return Err(err(
                            spec.args_span,
                            format!(
                                "item {i}: `{}` takes {n} arguments ({}), so each item must be an array of {n} values, not {}",
                                spec.call,
                                function.signature(),
                                other.kind_name()
                            ),
                        ));
                    }
                };
                check(&args, &format!("item {i}: "))?;
                calls.push(args);
            }
            Ok(Inputs::Values(calls))
        }
        &Some(Each::Range { start, end, step }) => {
            let mut args = vec![Value::Int(start)];
            args.extend(spec.args.iter().cloned());
            check(&args, "with a range's integer as the first argument: ")?;
            Ok(Inputs::Range { start, end, step })
        }
        Some(Each::Files(pattern)) => {
            check(&with_body(), "with a file's bytes as the first argument: ")?;
            let full = job.base_dir.join(pattern);
            let full = full.to_string_lossy();
            let paths = glob::glob(&full)
                .map_err(|e| err(spec.args_span, format!("invalid glob `{pattern}`: {e}")))?;
            let mut files = Vec::new();
            for path in paths {
                let path = path.map_err(|e| {
                    err(
                        spec.args_span,
                        format!("cannot read `{}`: {}", e.path().display(), e.error()),
                    )
                })?;
                if path.is_file() {
                    files.push(path);
                }
            }
            if files.is_empty() {
                return Err(err(
                    spec.args_span,
                    format!(
                        "`{pattern}` matches no files (relative to `{}`)",
                        job.base_dir.display()
                    ),
                ));
            }
            files.sort();
            Ok(Inputs::Files(files))
        }
        Some(Each::Fetch(name)) => {
            check(&with_body(), "with a fetched body as the first argument: ")?;
            let index = job
                .fetches
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| err(spec.args_span, format!("no `[[fetch]]` named `{name}`")))?;
            Ok(Inputs::Fetch(index))
        }
    }
}
