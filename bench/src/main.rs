//! `wpool-bench`: runs every workload against its baseline in the same run,
//! interleaved, prints a markdown table and writes `results.json`.
//!
//! ```text
//! cargo run --release -p wpool-bench -- [--rounds N] [--quick] [--out PATH]
//! ```

mod baseline;
mod byte_calls;
mod cli_run;
mod cluster;
mod cpu;
mod fetch;
mod pinned;
mod pyguests;
mod pyscripts;
mod python;
mod report;
mod resilience;
mod sides;
mod startup;
mod usecases;
mod versus;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use crate::report::{Report, Row};
use crate::workloads::{Bench, Settings};

/// Runs each workload against its baseline, interleaved A B A B, and prints
/// the medians as a markdown table.
#[derive(Debug, Parser)]
#[command(name = "wpool-bench")]
struct Args {
    /// Rounds per workload [default: 5; 2 with --quick].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: Option<u64>,
    /// Smaller sizes and 2 rounds: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON results
    /// [default: $CARGO_TARGET_DIR/bench/results.json, else target/bench/results.json].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Only these workloads (letters, comma-separated: `A,C,f`) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "LETTERS")]
    only: Vec<String>,
    /// The Python for the thread and process pool baselines.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// A Python 3.14 for `InterpreterPoolExecutor` [default: `python3.14` on PATH, if any].
    #[arg(long, value_name = "PATH")]
    python314: Option<PathBuf>,
    /// A `results.json` of an earlier run: print how wpool's medians moved.
    #[arg(long, value_name = "PATH")]
    compare: Option<PathBuf>,
    /// The release `wpool` binary, for the whole-program workloads D to H and J
    /// [default: target/release/wpool; `cargo build --release -p wpool-cli`].
    #[arg(long, value_name = "PATH")]
    wpool_bin: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
}

fn default_out() -> PathBuf {
    target_dir().join("bench").join("results.json")
}

/// Runs one workload, saying on stderr what runs and how long it took.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprint!("{name} … ");
    let start = Instant::now();
    let out = f().with_context(|| format!("workload `{name}` failed"))?;
    eprintln!("{:.1} s", start.elapsed().as_secs_f64());
    Ok(out)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with `cargo run --release -p wpool-bench`");
    }
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let settings = Settings {
        rounds: args
            .rounds
            .map_or(if args.quick { 2 } else { 5 }, |n| n as usize),
        quick: args.quick,
        workers,
        only: args.only.clone(),
    };
    let pythons = python::Pythons::find(Some(args.python.clone()), args.python314.clone());
    let started = Instant::now();
    eprintln!(
        "{} rounds per workload, {workers} workers{}",
        settings.rounds,
        if args.quick { ", quick sizes" } else { "" }
    );

    // First, before the other workloads raise the memory high-water mark.
    let memory = if settings.wants("h") {
        Some(step("h. peak RSS, streaming", || {
            resilience::streaming_memory(&settings)
        })?)
    } else {
        None
    };
    let bench = step("setup (build pools, compile guests)", || {
        Bench::new(settings.clone())
    })?;
    let mut rows: Vec<Row> = Vec::new();
    if settings.wants("A") {
        rows.extend(step("A. seed heavy_calc vs native and Python", || {
            bench.seed_versus(&pythons)
        })?);
    }
    if settings.wants("B") {
        rows.extend(step("B. tiny tasks vs Python", || {
            bench.tiny_versus(&pythons)
        })?);
    }
    if settings.wants("C") {
        rows.extend(step("C. sha256 vs native and Python", || {
            bench.sha_versus(&pythons)
        })?);
    }
    let whole_program = ["D", "E", "F", "G", "H", "J"];
    if whole_program.iter().any(|w| settings.wants(w)) {
        let bin = args
            .wpool_bin
            .clone()
            .unwrap_or_else(|| target_dir().join("release").join("wpool"));
        anyhow::ensure!(
            bin.is_file(),
            "workloads D to H and J run the release binary, and `{}` is missing: \
             build it with `cargo build --release -p wpool-cli` (`just bench` does), \
             or leave them out with --only",
            bin.display()
        );
        if settings.wants("D") {
            rows.extend(step("D. fetch + sha256 vs Python asyncio", || {
                bench.fetch_versus(&pythons, &bin)
            })?);
        }
        if settings.wants("E") {
            rows.extend(step("E. start-up, cold and warm cache", || {
                bench.startup(&bin)
            })?);
        }
        if settings.wants("F") {
            rows.extend(step(
                "F. byte-heavy calls, dynamic and job file vs typed",
                || bench.byte_calls(&bin),
            )?);
        }
        if settings.wants("G") {
            rows.extend(step(
                "G. through NATS with 2 worker processes vs local",
                || bench.cluster(&bin),
            )?);
        }
        if settings.wants("J") {
            rows.extend(step("J. `wpool run` of tiny tasks", || {
                bench.cli_run(&bin)
            })?);
        }
        if settings.wants("H") {
            rows.extend(step(
                "H. Python guests (componentize-py) vs CPython",
                || pyguests::python_guests(&settings, &pythons, &bin),
            )?);
            rows.extend(step(
                "H. Python scripts (CPython for WASI) vs CPython",
                || pyscripts::rows(&settings, &pythons, &bin),
            )?);
        }
    }
    if settings.wants("a") {
        rows.push(step("a. heavy_calc vs native", || bench.heavy_vs_native())?);
        rows.push(step("a. heavy_calc vs native, on one vCPU", || {
            pinned::heavy_vs_native(&settings)
        })?);
    }
    if settings.wants("b") {
        rows.extend(step("b. seed set, N workers vs 1", || {
            bench.seed_speedup()
        })?);
    }
    if settings.wants("c") {
        rows.extend(step("c. tiny-task throughput", || bench.tiny_throughput())?);
    }
    if settings.wants("d") {
        rows.push(step("d. round-trip latency", || bench.round_trip())?);
    }
    if settings.wants("e") {
        rows.push(step("e. fresh-instance cost", || bench.fresh_instance())?);
    }
    if settings.wants("f") {
        rows.extend(step("f. sha256 throughput", || bench.sha256())?);
    }
    if settings.wants("i") {
        rows.extend(step("i. use-case guests", || bench.use_cases())?);
    }
    bench.shutdown();
    if settings.wants("g") {
        rows.push(step("g. throughput after hostile tasks", || {
            resilience::hostile_recovery(&settings)
        })?);
    }
    rows.extend(memory);

    let seconds = started.elapsed().as_secs_f64();
    println!("{}", report::table(&rows));
    let checked: Vec<bool> = rows.iter().filter_map(|r| r.met).collect();
    println!(
        "{} of {} targets met; {} rounds, {workers} workers, {seconds:.1} s in all",
        checked.iter().filter(|&&m| m).count(),
        checked.len(),
        settings.rounds,
    );

    if let Some(earlier) = &args.compare {
        let text = std::fs::read_to_string(earlier)
            .with_context(|| format!("cannot read `{}`", earlier.display()))?;
        let earlier: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a results.json", earlier.display()))?;
        println!("\n{}", report::compare(&earlier, &rows));
    }
    let out = args.out.unwrap_or_else(default_out);
    let report = Report {
        rounds: settings.rounds,
        quick: args.quick,
        workers,
        seconds,
        results: &rows,
    };
    report::write_json(&out, &report)
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
