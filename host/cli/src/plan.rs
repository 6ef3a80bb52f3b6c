//! From a parsed job to a runnable plan: the pool built, every guest loaded,
//! every call checked against its function's signature, every glob expanded.
//! Whatever is wrong is reported here, at its line and column, before
//! anything runs.
//!
//! ```no_run
//! use std::path::Path;
//! use wpool_cli::{job::Job, plan};
//!
//! let builtins: Vec<&str> = wpool::Guest::builtins().collect();
//! let job = Job::load(Path::new("job.toml"), &builtins)?;
//! let plan = plan::build(&job, &plan::Overrides::default(), wpool::Pool::builder())?;
//! println!("{} inputs", plan.total);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wpool::{Access, Grants, Guest, LoadedGuest, Pool, Value};

use crate::job::{Each, GuestSource, Job, JobError, Location, ReduceSpec, TaskSpec};
use crate::script::{self, Script};
use crate::suggest;

/// A job ready to run.
#[derive(Debug)]
pub struct Plan {
    /// The pool every task runs in.
    pub pool: Pool,
    /// The `[[task]]` tables, in file order.
    pub tasks: Vec<PlannedTask>,
    /// Number of records the job's inputs produce (one per input; a task's
    /// `reduce` adds one more).
    pub total: usize,
}

/// One `[[task]]`, checked.
#[derive(Debug)]
pub struct PlannedTask {
    /// The task as the job file gives it.
    pub spec: TaskSpec,
    /// Its guest, loaded (for a Python script, the interpreter).
    pub guest: LoadedGuest,
    /// The Python script whose function the task calls, when its guest is one.
    pub script: Option<Arc<Script>>,
    /// What it calls its function with.
    pub inputs: Inputs,
    /// Record index of this task's first input.
    pub first: usize,
}

/// The inputs of one task.
#[derive(Debug)]
pub enum Inputs {
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
    Range {
        /// First value.
        start: i64,
        /// End, exclusive.
        end: i64,
        /// Distance between values (at least 1).
        step: i64,
    },
}

impl Inputs {
    /// How many calls these inputs make; `None` if that is more than a
    /// `usize` holds (a `range` of nearly every `i64` on a 32-bit host).
    pub fn len(&self, job: &Job) -> Option<usize> {
        match self {
            Inputs::Call(_) => Some(1),
            Inputs::Values(items) => Some(items.len()),
            Inputs::Files(files) => Some(files.len()),
            Inputs::Fetch(index) => Some(job.fetches[*index].urls.len()),
            &Inputs::Range { start, end, step } => range_len(start, end, step),
        }
    }
}

/// The number of integers in `start..end` by `step`, computed in 128 bits
/// so that `[i64::MIN, i64::MAX]` does not overflow.
pub fn range_len(start: i64, end: i64, step: i64) -> Option<usize> {
    let span = (i128::from(end) - i128::from(start)).max(0) as u128;
    let step = u128::try_from(step.max(1)).ok()?;
    usize::try_from(span.div_ceil(step)).ok()
}

/// Command-line settings that override the job file's.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Number of workers (`--workers`).
    pub workers: Option<usize>,
}

/// Builds the pool, loads the guests and checks every task of `job`.
///
/// # Errors
///
/// [`PlanError::Job`] for anything wrong in the job (a guest that does not
/// load, a call that does not fit its function, a glob matching nothing, more
/// inputs than can be counted), [`PlanError::Pool`] if the pool cannot start.
pub fn build(
    job: &Job,
    overrides: &Overrides,
    builder: wpool::PoolBuilder,
) -> Result<Plan, PlanError> {
    let pool = pool_builder(job, overrides, builder).build()?;
    let mut loaded: HashMap<String, (LoadedGuest, Option<Arc<Script>>)> = HashMap::new();
    let mut tasks = Vec::with_capacity(job.tasks.len());
    let mut first = 0;
    for spec in &job.tasks {
        let (guest, script) = match loaded.get(&spec.guest) {
            Some(guest) => guest.clone(),
            None => {
                let guest = load_guest(job, &pool, spec)?;
                loaded.insert(spec.guest.clone(), guest.clone());
                guest
            }
        };
        let inputs = match &script {
            None => check_task(job, spec, &Callee::function(job, spec, &guest)?)?,
            Some(script) => check_task(job, spec, &Callee::script(job, spec, script)?)?,
        };
        match (&spec.reduce, &script) {
            (Some(reduce), None) => check_reduce(job, spec, reduce, &guest)?,
            (Some(reduce), Some(_)) => {
                let message = "`reduce` combines results with a guest function; a Python \
                               script guest has none yet (reduce the records afterwards)";
                return Err(JobError::at_location(&job.path, reduce.span, message).into());
            }
            (None, _) => {}
        }
        // Every record index, the reduce records' after the inputs', must
        // fit in a `usize`.
        let next = (inputs.len(job))
            .and_then(|count| count.checked_add(first))
            .filter(|next| next.checked_add(job.tasks.len()).is_some())
            .ok_or_else(|| {
                let message = "this task's inputs, with the tasks before it, are too many to \
                               count; split the `range` or take a larger `step`";
                JobError::at_location(&job.path, spec.args_span, message)
            })?;
        tasks.push(PlannedTask {
            spec: spec.clone(),
            guest,
            script,
            inputs,
            first,
        });
        first = next;
    }
    Ok(Plan {
        pool,
        tasks,
        total: first,
    })
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Something in the job file (exit status 2).
    #[error(transparent)]
    Job(#[from] JobError),
    /// The pool did not start: a problem of this machine, not of the job.
    #[error("cannot start the pool")]
    Pool(#[from] wpool::BuildError),
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

/// Loads a task's guest; for a Python script, its interpreter (with the
/// driver on its command line) and the script.
fn load_guest(
    job: &Job,
    pool: &Pool,
    spec: &TaskSpec,
) -> Result<(LoadedGuest, Option<Arc<Script>>), JobError> {
    let mut script = None;
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
            let err = |message: String| JobError::at_location(&job.path, declared.span, message);
            let guest = match &declared.source {
                GuestSource::File(path) => Guest::file(path),
                GuestSource::Builtin(name) => Guest::builtin(name),
                GuestSource::PythonScript {
                    script: path,
                    interpreter,
                } => {
                    script = Some(Arc::new(Script::load(path).map_err(err)?));
                    grants = grants.arg("-c").arg(script::DRIVER);
                    Guest::file(script::interpreter(interpreter.as_deref()).map_err(err)?)
                }
            };
            for arg in &declared.args {
                grants = grants.arg(arg);
            }
            (
                guest
                    .named(&spec.guest)
                    .grants(grants.digest(declared.digest)),
                declared.span,
            )
        }
        None => (Guest::builtin(&spec.guest), spec.guest_span),
    };
    let guest = pool.load(guest).map_err(|e| {
        JobError::at_location(&job.path, at, format!("{:#}", anyhow::Error::new(e)))
    })?;
    if script.is_some() && guest.function("run").is_none() {
        let message = format!(
            "the Python interpreter of guest `{}` is not a WASI command (it has no `run`)",
            spec.guest
        );
        return Err(JobError::at_location(&job.path, at, message));
    }
    Ok((guest, script))
}

/// Checks one call's arguments against what it calls; the error is the message.
type ArgCheck<'a> = dyn Fn(&[Value]) -> Result<(), String> + 'a;

/// What a task calls, as far as its inputs are concerned: how many
/// parameters, and whether a list of arguments fits.
struct Callee<'a> {
    /// 1 makes each `each` item one argument; anything else reads each item
    /// as a list of arguments.
    params: usize,
    /// `func(n: u64) -> u64` or `heavy_calc(n)`, for messages.
    signature: String,
    /// "2 arguments", for messages.
    arity: String,
    /// Checks one call's arguments; the error is the message.
    check: Box<ArgCheck<'a>>,
}

impl<'a> Callee<'a> {
    /// A guest's exported function.
    fn function(job: &Job, spec: &'a TaskSpec, guest: &'a LoadedGuest) -> Result<Self, JobError> {
        let Some(function) = guest.function(&spec.call) else {
            return Err(no_function(job, guest, &spec.call, spec.call_span));
        };
        Ok(Callee {
            params: function.param_names().len(),
            signature: function.signature(),
            arity: format!("{} arguments", function.param_names().len()),
            check: Box::new(move |args| {
                guest
                    .check(&spec.call, args)
                    .map_err(|e| e.message().to_owned())
            }),
        })
    }

    /// A Python script's top-level function.
    fn script(job: &Job, spec: &TaskSpec, script: &'a Script) -> Result<Self, JobError> {
        let def = (script.def(&spec.call))
            .map_err(|message| JobError::at_location(&job.path, spec.call_span, message))?;
        let one = def.positional == 1 && !def.varargs;
        Ok(Callee {
            // Anything but 1 reads each `each` item as a list of arguments.
            params: if one { 1 } else { 0 },
            signature: def.signature(),
            arity: def.arity(),
            check: Box::new(move |args| {
                if def.accepts(args.len()) {
                    return Ok(());
                }
                Err(format!(
                    "`{}` (line {} of {}) takes {}, and the call gives {}",
                    def.signature(),
                    def.line,
                    script.file(),
                    def.arity(),
                    args.len()
                ))
            }),
        })
    }
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
        guest
            .function(name)
            .ok_or_else(|| no_function(job, guest, name, at))
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

/// `guest `g` has no function `f`; it exports …; did you mean `h`?`
fn no_function(job: &Job, guest: &LoadedGuest, name: &str, at: Location) -> JobError {
    let mut message = guest
        .check(name, &[])
        .err()
        .map(|e| e.message().to_owned())
        .unwrap_or_else(|| format!("guest `{}` has no function `{name}`", guest.name()));
    message.push_str(&suggest::hint(
        name,
        guest.functions().iter().map(|f| f.name()),
    ));
    JobError::at_location(&job.path, at, message)
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
fn check_task(job: &Job, spec: &TaskSpec, callee: &Callee<'_>) -> Result<Inputs, JobError> {
    let err = |at: Location, message: String| JobError::at_location(&job.path, at, message);
    let params = callee.params;
    let check = |args: &[Value], prefix: &str| {
        (callee.check)(args).map_err(|e| err(spec.args_span, format!("{prefix}{e}")))
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
                    (_, other) => {
                        return Err(err(
                            spec.args_span,
                            format!(
                                "item {i}: `{}` takes {} ({}), so each item must be an array of its arguments, not {}",
                                spec.call,
                                callee.arity,
                                callee.signature,
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
            // The parameter's integer type is an interval: its first and
            // last values fit, so every value between does.
            if let Some(last) = range_len(start, end, step)
                .filter(|&n| n > 1)
                .and_then(|n| {
                    i64::try_from(i128::from(start) + (n as i128 - 1) * i128::from(step)).ok()
                })
            {
                args[0] = Value::Int(last);
                check(
                    &args,
                    &format!("with the range's last integer ({last}) as the first argument: "),
                )?;
            }
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

#[cfg(test)]
mod tests {
    use super::range_len;

    #[test]
    fn range_lengths_do_not_overflow() {
        assert_eq!(range_len(0, 10, 1), Some(10));
        assert_eq!(range_len(0, 10, 3), Some(4));
        assert_eq!(range_len(5, 5, 1), Some(0));
        assert_eq!(range_len(-3, 3, 2), Some(3));
        // `end - start` overflows an i64 here; the count is 2^64 - 1.
        let every = u128::from(u64::MAX);
        assert_eq!(
            range_len(i64::MIN, i64::MAX, 1).map(|n| n as u128),
            usize::try_from(every).ok().map(|n| n as u128)
        );
        assert_eq!(range_len(i64::MIN, i64::MAX, i64::MAX), Some(3));
        assert_eq!(
            range_len(i64::MIN, i64::MAX, 2),
            usize::try_from(1u128 << 63).ok()
        );
    }
}
