//! (H) Python guests. The seed's `heavy_calc` and `compute_hash` written in
//! Python and built into a component by componentize-py (18 MB, CPython
//! inside): whole-process start-up of `wpool run` with a cold and a warm
//! compile cache, the per-call overhead against a Rust component's, and
//! `heavy_calc` on every core against native CPython (`ProcessPoolExecutor`)
//! and, with a Python 3.14, `InterpreterPoolExecutor` running the same
//! function from the same `app.py`.
//!
//! Without componentize-py on PATH the workload prints a note and gives no
//! rows. Each row group is one function taking the built [`PyGuests`], so
//! other kinds of Python guest can add theirs beside them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use wpool::{Guest, LoadedGuest, Pool};

use crate::python::Pythons;
use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side, Skipped};
use crate::workloads::{Settings, millis};

/// The world of the seed component.
const WORLD: &str = "package wpool:seed;

world seed {
  export heavy-calc: func(n: u64) -> u64;
  export compute-hash: func(body: list<u8>) -> string;
}
";

/// The guest's source; CPython imports the same file natively (`WitWorld`
/// is defined only where componentize-py provides `wit_world`).
pub(crate) const APP: &str = r#"import hashlib


def heavy_calc(n):
    return sum(i * i % 7 for i in range(n))


def compute_hash(body):
    return hashlib.sha256(body).hexdigest()


try:
    import wit_world
except ImportError:
    wit_world = None

if wit_world is not None:

    class WitWorld(wit_world.WitWorld):
        def heavy_calc(self, n: int) -> int:
            return heavy_calc(n)

        def compute_hash(self, body: bytes) -> str:
            return compute_hash(body)
"#;

/// Runs `heavy_calc` over `argv` in a started pool of native CPython
/// workers (`process`) or subinterpreters (`interpreter`, 3.14), timing only
/// the map; prints `{"ms": …, "results": […]}`. With `call COUNT` or
/// `roundtrip COUNT` instead it times `heavy_calc(0)` called in the process,
/// or submitted to a one-worker `InterpreterPoolExecutor` and waited for,
/// one call after another; prints `{"us": …}` per call. Exit status 3:
/// unavailable.
pub(crate) const DRIVER: &str = r#"import json, sys, time
from concurrent import futures
import app

kind = sys.argv[1]
if kind in ("interpreter", "roundtrip") and not hasattr(futures, "InterpreterPoolExecutor"):
    print("InterpreterPoolExecutor needs Python 3.14", file=sys.stderr)
    sys.exit(3)
if kind in ("call", "roundtrip"):
    calls = int(sys.argv[2])
    if kind == "call":
        start = time.perf_counter()
        for _ in range(calls):
            assert app.heavy_calc(0) == 0
        us = (time.perf_counter() - start) * 1e6 / calls
    else:
        with futures.InterpreterPoolExecutor(1) as pool:
            pool.submit(app.heavy_calc, 1).result()  # the worker started
            start = time.perf_counter()
            for _ in range(calls):
                assert pool.submit(app.heavy_calc, 0).result() == 0
            us = (time.perf_counter() - start) * 1e6 / calls
    print(json.dumps({"us": us}))
    sys.exit(0)
workers, n, tasks = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
Executor = futures.InterpreterPoolExecutor if kind == "interpreter" else futures.ProcessPoolExecutor
with Executor(workers) as pool:
    list(pool.map(app.heavy_calc, [1] * workers))  # every worker started
    start = time.perf_counter()
    results = list(pool.map(app.heavy_calc, [n] * tasks))
    ms = (time.perf_counter() - start) * 1e3
print(json.dumps({"ms": ms, "results": results}))
"#;

/// Python guests built for this run, in a temporary folder.
pub struct PyGuests {
    /// Holds `app.py`, `wit/`, the driver script and the components.
    dir: tempfile::TempDir,
    /// The componentize-py build of `APP`.
    seed: PathBuf,
}

impl PyGuests {
    /// Builds the componentize-py seed component; `None` (with a note on
    /// stderr) when componentize-py is not on PATH.
    pub fn build() -> Result<Option<PyGuests>> {
        let version = Command::new("componentize-py").arg("--version").output();
        if !version.is_ok_and(|out| out.status.success()) {
            eprintln!(
                "(H skipped: componentize-py is not on PATH; \
                 python3 -m pip install 'componentize-py>=0.25,<0.26') "
            );
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("wpool-bench-py")
            .tempdir()
            .context("cannot create a temp dir")?;
        std::fs::create_dir_all(dir.path().join("wit"))?;
        std::fs::write(dir.path().join("wit/world.wit"), WORLD)?;
        std::fs::write(dir.path().join("app.py"), APP)?;
        std::fs::write(dir.path().join("driver.py"), DRIVER)?;
        let seed = dir.path().join("seed.wasm");
        let out = Command::new("componentize-py")
            .args(["-d", "wit", "-w", "seed", "componentize", "app", "-o"])
            .arg(&seed)
            .current_dir(dir.path())
            .output()
            .context("cannot run componentize-py")?;
        ensure!(
            out.status.success(),
            "componentize-py failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Some(PyGuests { dir, seed }))
    }

    /// A pool of `workers` on `cache` with the seed component loaded.
    fn pool(&self, workers: usize, cache: &Path) -> Result<(Pool, LoadedGuest)> {
        let pool = Pool::builder()
            .workers(workers)
            .timeout(Duration::from_secs(300))
            .cache_dir(cache)
            .build()
            .context("cannot build a pool")?;
        let seed = pool
            .load(Guest::file(&self.seed))
            .context("cannot load the componentize-py seed component")?;
        Ok((pool, seed))
    }
}

/// All of workload H: the Python guests' rows, or none without componentize-py.
pub fn python_guests(settings: &Settings, pythons: &Pythons, bin: &Path) -> Result<Vec<Row>> {
    let Some(guests) = PyGuests::build()? else {
        return Ok(Vec::new());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cache = guests.dir.path().join("cache");
    let mut rows = component_startup(settings, &guests, bin, &cache)?;
    rows.extend(component_call_overhead(
        settings, pythons, &guests, &runtime, &cache,
    )?);
    rows.extend(component_throughput(
        settings, pythons, &guests, &runtime, &cache,
    )?);
    Ok(rows)
}

/// `wpool run` of one `heavy-calc(1000)` task: an empty compile cache each
/// round (Cranelift compiles the 18 MB component) against a warm one.
fn component_startup(
    settings: &Settings,
    guests: &PyGuests,
    bin: &Path,
    warm_cache: &Path,
) -> Result<Vec<Row>> {
    let dir = guests.dir.path();
    let job = dir.join("startup.toml");
    std::fs::write(
        &job,
        "[guests]\nseed = \"seed.wasm\"\n\n\
         [[task]]\nguest = \"seed\"\ncall = \"heavy-calc\"\nargs = [1000]\n",
    )?;
    let run = |cache: &Path| -> Result<f64> {
        let start = Instant::now();
        let output = Command::new(bin)
            .args(["run", "--format", "jsonl"])
            .arg(&job)
            .env("WPOOL_CACHE_DIR", cache)
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("cannot run `{}`", bin.display()))?;
        let ms = millis(start.elapsed());
        ensure!(
            output.status.success(),
            "`wpool run` failed: {}",
            output.status
        );
        ensure!(
            String::from_utf8_lossy(&output.stdout).contains("\"value\":2001"),
            "`wpool run` printed no 2001"
        );
        Ok(ms)
    };
    cold_vs_warm(
        settings,
        "H. componentize-py seed (18 MB): `wpool run`, one task, cold cache vs warm (compiling the component)",
        run,
        dir,
        warm_cache,
    )
}

/// Times `run(cache)` with a new, empty compile cache under `dir` each round
/// (at most 3: each compiles for many seconds) against `warm`.
pub(crate) fn cold_vs_warm(
    settings: &Settings,
    label: &str,
    run: impl Fn(&Path) -> Result<f64>,
    dir: &Path,
    warm: &Path,
) -> Result<Vec<Row>> {
    let mut cold_round = 0;
    let cold_rounds = if settings.quick { 1 } else { 3 };
    let sides = vec![
        Side::limited(cold_rounds, || {
            cold_round += 1;
            run(&dir.join(format!("cold-{cold_round}")))
        }),
        Side::new(|| run(warm)),
    ];
    let mut measured = sides::run(settings.rounds, sides)?.into_iter();
    let cold = figure(measured.next(), "cold cache", Unit::Ms)?;
    let warm = figure(measured.next(), "warm cache", Unit::Ms)?;
    Ok(vec![Row::ratio(
        label,
        cold.clone(),
        warm.clone(),
        cold.median / warm.median,
        "cold/warm",
        Target::Info,
        "info",
    )])
}

/// Sequential `heavy-calc(0)` round trips on one worker: the Python
/// component's per-call cost against the built-in Rust component's, a
/// plain call of the same function in native CPython, and (with a 3.14) a
/// round trip through a one-worker `InterpreterPoolExecutor`.
fn component_call_overhead(
    settings: &Settings,
    pythons: &Pythons,
    guests: &PyGuests,
    runtime: &tokio::runtime::Runtime,
    cache: &Path,
) -> Result<Vec<Row>> {
    let (pool, seed) = guests.pool(1, cache)?;
    let rust = pool
        .load(Guest::builtin("heavy_calc"))
        .context("cannot load the built-in `heavy_calc`")?;
    let calls = if settings.quick { 2_000 } else { 10_000 };
    let per_call = |guest: &LoadedGuest| -> Result<f64> {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..calls {
                let n: u64 = pool.call(guest, "heavy-calc", (0u64,)).await?;
                ensure!(n == 0, "heavy_calc(0) = {n}");
            }
            Ok(millis(start.elapsed()) * 1e3 / calls as f64)
        })
    };
    let dir = guests.dir.path().to_owned();
    let cpython = |python: PathBuf, kind: &'static str| {
        let dir = dir.clone();
        move || run_per_call(&python, kind, &dir, calls)
    };
    let mut sides = vec![
        Side::new(|| per_call(&seed)),
        Side::new(|| per_call(&rust)),
        Side::new(cpython(pythons.default.clone(), "call")),
    ];
    if let Some(py314) = &pythons.py314 {
        sides.push(Side::new(cpython(py314.clone(), "roundtrip")));
    }
    let mut measured = sides::run(settings.rounds, sides)?.into_iter();
    let python = figure(measured.next(), "Python component", Unit::Us)?;
    let rust = figure(measured.next(), "Rust component", Unit::Us)?;
    let native = figure(measured.next(), "native CPython, a plain call", Unit::Us)?;
    runtime.block_on(pool.shutdown());
    let label = "H. componentize-py seed: round trip of `heavy-calc(0)`, one worker";
    let versus = |baseline: Figure, ratio: &str| {
        Row::ratio(
            format!("{label}, vs {}", baseline.name),
            python.clone(),
            baseline.clone(),
            python.median / baseline.median,
            ratio,
            Target::Info,
            "info",
        )
    };
    let interpreters = "Python 3.14 InterpreterPoolExecutor, one worker";
    let mut rows = vec![versus(rust, "Python/Rust"), versus(native, "wpool/CPython")];
    rows.push(match measured.next() {
        Some(Measured::Rounds(r)) => versus(Figure::new(interpreters, Unit::Us, r), "wpool/Python"),
        Some(Measured::Skipped(reason)) => Row::skipped(
            format!("{label}, vs {interpreters}"),
            python.clone(),
            interpreters,
            reason,
            "info",
        ),
        None => Row::skipped(
            format!("{label}, vs {interpreters}"),
            python.clone(),
            interpreters,
            "no Python 3.14 (pass --python314 PATH)".to_owned(),
            "info",
        ),
    });
    Ok(rows)
}

/// One round of `driver.py call|roundtrip COUNT` with `python`: µs per call.
fn run_per_call(python: &Path, kind: &str, dir: &Path, calls: usize) -> Result<f64> {
    let answer = driver_json(python, &[kind, &calls.to_string()], dir)?;
    answer["us"].as_f64().context("no `us`")
}

/// `heavy_calc(n)` × 4 on every core: the component in wpool against the
/// same Python function in native CPython processes and, with a 3.14, in
/// subinterpreters.
fn component_throughput(
    settings: &Settings,
    pythons: &Pythons,
    guests: &PyGuests,
    runtime: &tokio::runtime::Runtime,
    cache: &Path,
) -> Result<Vec<Row>> {
    let n: u64 = if settings.quick { 500_000 } else { 2_000_000 };
    let tasks = 4;
    let expected: u64 = (0..n).map(|i| i * i % 7).sum();
    let (pool, seed) = guests.pool(settings.workers, cache)?;
    let wpool_side = || -> Result<f64> {
        let start = Instant::now();
        let got: Vec<u64> = runtime.block_on(
            pool.map(&seed, "heavy-calc", vec![n; tasks])
                .map(|r| r.map(|o| o.value.as_u64().unwrap_or(0)))
                .try_collect(),
        )?;
        ensure!(
            got.iter().all(|&v| v == expected),
            "heavy_calc({n}) = {got:?}"
        );
        Ok(millis(start.elapsed()))
    };
    let driver = |python: PathBuf, kind: &'static str| {
        let dir = guests.dir.path().to_owned();
        let workers = settings.workers;
        move || -> Result<f64> { run_driver(&python, kind, &dir, workers, n, tasks, expected) }
    };
    let mut sides = vec![
        Side::new(wpool_side),
        Side::new(driver(pythons.default.clone(), "process")),
    ];
    if let Some(py314) = &pythons.py314 {
        sides.push(Side::new(driver(py314.clone(), "interpreter")));
    }
    let mut measured = sides::run(settings.rounds, sides)?.into_iter();
    runtime.block_on(pool.shutdown());
    let wpool = figure(measured.next(), "wpool", Unit::Ms)?;
    let label = format!(
        "H. componentize-py seed: heavy_calc({}) × {tasks}, {} workers",
        crate::workloads::millions(n),
        settings.workers
    );
    versus_pythons(&label, &wpool, measured)
}

/// The rows of `ours` against the measured native CPython
/// `ProcessPoolExecutor` and, when measured, 3.14's `InterpreterPoolExecutor`.
pub(crate) fn versus_pythons(
    label: &str,
    ours: &Figure,
    mut measured: impl Iterator<Item = Measured>,
) -> Result<Vec<Row>> {
    let versus = |baseline: Figure, name: &str| {
        Row::ratio(
            format!("{label}, vs {name}"),
            ours.clone(),
            baseline.clone(),
            ours.median / baseline.median,
            "wpool/Python",
            Target::Info,
            "info",
        )
    };
    let native = figure(measured.next(), "CPython ProcessPoolExecutor", Unit::Ms)?;
    let mut rows = vec![versus(native, "native CPython (ProcessPoolExecutor)")];
    let interpreters = "Python 3.14 InterpreterPoolExecutor";
    let skipped = |reason: String| {
        Row::skipped(
            format!("{label}, vs {interpreters}"),
            ours.clone(),
            interpreters,
            reason,
            "info",
        )
    };
    rows.push(match measured.next() {
        Some(Measured::Rounds(r)) => versus(Figure::new(interpreters, Unit::Ms, r), interpreters),
        Some(Measured::Skipped(reason)) => skipped(reason),
        None => skipped("no Python 3.14 (pass --python314 PATH)".to_owned()),
    });
    Ok(rows)
}

/// One round of `driver.py` with `python`: the map's wall time in ms, after
/// checking every result is `expected`. Exit status 3 means unavailable.
pub(crate) fn run_driver(
    python: &Path,
    kind: &str,
    dir: &Path,
    workers: usize,
    n: u64,
    tasks: usize,
    expected: u64,
) -> Result<f64> {
    let args = [
        kind,
        &workers.to_string(),
        &n.to_string(),
        &tasks.to_string(),
    ];
    let answer = driver_json(python, &args, dir)?;
    let results = answer["results"].as_array().context("no `results`")?;
    ensure!(
        results.len() == tasks && results.iter().all(|r| r.as_u64() == Some(expected)),
        "CPython's heavy_calc({n}) = {results:?}, expected {expected}"
    );
    answer["ms"].as_f64().context("no `ms`")
}

/// Runs `driver.py ARGS` with `python` in `dir` and reads the JSON it
/// prints; exit status 3 (unavailable) is a [`Skipped`] side.
fn driver_json(python: &Path, args: &[&str], dir: &Path) -> Result<serde_json::Value> {
    let output = Command::new(python)
        .arg("driver.py")
        .args(args)
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return Err(Skipped(format!("cannot run `{}`: {e}", python.display())).into()),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => return Err(Skipped(stderr.trim().to_owned()).into()),
        _ => bail!(
            "`{} driver.py {}` failed ({}): {}",
            python.display(),
            args.join(" "),
            output.status,
            stderr.trim()
        ),
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "driver.py printed no JSON: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// One side's figure; an error when it was skipped (sides that may be
/// skipped are matched by hand).
pub(crate) fn figure(measured: Option<Measured>, name: &str, unit: Unit) -> Result<Figure> {
    match measured {
        Some(Measured::Rounds(rounds)) => Ok(Figure::new(name, unit, rounds)),
        Some(Measured::Skipped(reason)) => bail!("{name} skipped: {reason}"),
        None => bail!("{name}: no figures"),
    }
}
