//! `wpool-bench`: runs every workload against its baseline in the same run,
//! interleaved, prints a markdown table and writes `results.json`.
//!
//! ```text
//! cargo run --release -p wpool-bench -- [--rounds N] [--quick] [--out PATH]
//! ```

mod baseline;
mod report;
mod resilience;
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
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("bench").join("results.json")
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
    };
    let started = Instant::now();
    eprintln!(
        "{} rounds per workload, {workers} workers{}",
        settings.rounds,
        if args.quick { ", quick sizes" } else { "" }
    );

    // First, before the other workloads raise the memory high-water mark.
    let memory = step("h. peak RSS, streaming", || {
        resilience::streaming_memory(&settings)
    })?;
    let bench = step("setup (build pools, compile guests)", || {
        Bench::new(settings)
    })?;
    let mut rows: Vec<Row> = Vec::new();
    rows.push(step("a. heavy_calc vs native", || bench.heavy_vs_native())?);
    rows.push(step("b. seed set, N workers vs 1", || {
        bench.seed_speedup()
    })?);
    rows.extend(step("c. tiny-task throughput", || bench.tiny_throughput())?);
    rows.push(step("d. round-trip latency", || bench.round_trip())?);
    rows.push(step("e. fresh-instance cost", || bench.fresh_instance())?);
    rows.extend(step("f. sha256 throughput", || bench.sha256())?);
    bench.shutdown();
    rows.push(step("g. throughput after hostile tasks", || {
        resilience::hostile_recovery(&settings)
    })?);
    rows.push(memory);

    let seconds = started.elapsed().as_secs_f64();
    println!("{}", report::table(&rows));
    let checked: Vec<bool> = rows.iter().filter_map(|r| r.met).collect();
    println!(
        "{} of {} targets met; {} rounds, {workers} workers, {seconds:.1} s in all",
        checked.iter().filter(|&&m| m).count(),
        checked.len(),
        settings.rounds,
    );

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
