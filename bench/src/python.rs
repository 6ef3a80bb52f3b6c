//! Python baselines: runs `bench/python/baselines.py` with the machine's
//! `python3` (and a `python3.14` for `InterpreterPoolExecutor` when there is
//! one) and reads its JSON answer.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The script, next to this crate.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/baselines.py")
}

/// One Python executor to measure.
#[derive(Debug, Clone)]
pub struct Executor {
    /// The interpreter to run.
    pub python: PathBuf,
    /// `thread`, `process`, `interpreter`, `sequential` or `asyncio`.
    pub kind: &'static str,
}

impl Executor {
    /// How the table names it.
    pub fn label(&self) -> String {
        match self.kind {
            "thread" => "Python ThreadPoolExecutor".to_owned(),
            "process" => "Python ProcessPoolExecutor".to_owned(),
            "interpreter" => "Python 3.14 InterpreterPoolExecutor".to_owned(),
            "sequential" => "Python, one thread".to_owned(),
            "asyncio" => "Python asyncio (seed program)".to_owned(),
            other => format!("Python {other}"),
        }
    }
}

/// What the script printed.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// Wall time of each round, in seconds.
    pub seconds: Vec<f64>,
    /// The workload's check value (see the script's docstring).
    pub check: serde_json::Value,
    /// Free text: the client used, the start method, …
    #[serde(default)]
    pub note: String,
    /// Wall time of the whole process (start-up, imports, every round,
    /// shutdown), in milliseconds, measured here.
    #[serde(skip)]
    pub process_ms: f64,
}

/// The outcome of one run: an answer, or why this executor cannot run here.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It ran.
    Ran(Answer),
    /// Not available here (exit status 3, or no interpreter): the reason.
    Skipped(String),
}

/// Runs `workload` once (one round) with `executor` and `workers`, passing
/// `extra` workload options.
pub fn run(
    executor: &Executor,
    workload: &str,
    workers: usize,
    extra: &[String],
) -> Result<Outcome> {
    run_in(executor, workload, workers, extra, None)
}

/// [`run`], writing and reading the modules' bytecode under `pycache`
/// when given (`PYTHONPYCACHEPREFIX`, even where `PYTHONDONTWRITEBYTECODE`
/// is set): a second run then starts as an installed program does, with
/// its imports compiled, as `wpool run` does with a warm compile cache.
pub fn run_in(
    executor: &Executor,
    workload: &str,
    workers: usize,
    extra: &[String],
    pycache: Option<&Path>,
) -> Result<Outcome> {
    let mut command = Command::new(&executor.python);
    command
        .arg(script())
        .arg(workload)
        .args(["--executor", executor.kind, "--workers"])
        .arg(workers.to_string())
        .args(extra);
    if let Some(dir) = pycache {
        command
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .env("PYTHONPYCACHEPREFIX", dir);
    }
    let started = std::time::Instant::now();
    let output = command.output();
    let process_ms = started.elapsed().as_secs_f64() * 1e3;
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            return Ok(Outcome::Skipped(format!(
                "cannot run `{}`: {e}",
                executor.python.display()
            )));
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {
            let mut answer: Answer = serde_json::from_slice(&output.stdout).with_context(|| {
                format!(
                    "the Python baseline printed no JSON: {}",
                    String::from_utf8_lossy(&output.stdout)
                )
            })?;
            if answer.seconds.is_empty() {
                bail!("the Python baseline reported no rounds");
            }
            answer.process_ms = process_ms;
            Ok(Outcome::Ran(answer))
        }
        Some(3) => Ok(Outcome::Skipped(stderr.trim().to_owned())),
        _ => bail!(
            "`{} {workload} --executor {}` failed ({}): {}",
            executor.python.display(),
            executor.kind,
            output.status,
            stderr.trim()
        ),
    }
}

/// The interpreters found: `python3` (or `--python`), and a 3.14 (from
/// `--python314`, else `python3.14` on `PATH`) for `InterpreterPoolExecutor`.
#[derive(Debug, Clone)]
pub struct Pythons {
    /// The machine's Python, for the thread and process pools.
    pub default: PathBuf,
    /// A Python 3.14, if there is one.
    pub py314: Option<PathBuf>,
}

impl Pythons {
    /// Finds the interpreters.
    pub fn find(default: Option<PathBuf>, py314: Option<PathBuf>) -> Pythons {
        let py314 = py314.or_else(|| {
            Command::new("python3.14")
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| PathBuf::from("python3.14"))
        });
        Pythons {
            default: default.unwrap_or_else(|| PathBuf::from("python3")),
            py314,
        }
    }

    /// An executor of the machine's Python.
    pub fn executor(&self, kind: &'static str) -> Executor {
        Executor {
            python: self.default.clone(),
            kind,
        }
    }

    /// The seed's program 1 as it was written: asyncio (aiohttp where
    /// importable) on the 3.14 hashing in an `InterpreterPoolExecutor`, or,
    /// without a 3.14, on the machine's Python hashing in processes; and
    /// the `--hash-in` pool it names.
    pub fn seed_program(&self) -> (Executor, &'static str) {
        match &self.py314 {
            Some(python) => (
                Executor {
                    python: python.clone(),
                    kind: "asyncio",
                },
                "interpreter",
            ),
            None => (self.executor("asyncio"), "process"),
        }
    }

    /// `InterpreterPoolExecutor` on the 3.14, if there is one.
    pub fn interpreter(&self) -> Option<Executor> {
        self.py314.clone().map(|python| Executor {
            python,
            kind: "interpreter",
        })
    }
}
