//! (J) `wpool run` of many tiny tasks: the whole command-line path (job file,
//! dispatch, pool, records, JSON lines to a file) as a process, in input
//! order and in completed order, against the same calls through `Pool::map`
//! in a started pool.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use wpool::Guest;

use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side};
use crate::workloads::{Bench, thousands};

/// A core module whose `id` returns its argument: a call that costs nothing
/// but its trip.
const IDENTITY: &str = r#"(module (func (export "id") (param i64) (result i64) local.get 0))"#;

/// The issue's bar for `wpool run` of tiny tasks.
const TARGET: f64 = 300e3;

impl Bench {
    /// (J) `wpool run` of tiny tasks, tasks per second.
    pub fn cli_run(&self, wpool_bin: &Path) -> Result<Vec<Row>> {
        let count: i64 = if self.settings.quick { 40_000 } else { 200_000 };
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        std::fs::write(dir.path().join("id.wat"), IDENTITY)?;
        let job = dir.path().join("tiny.toml");
        std::fs::write(
            &job,
            format!(
                "[guests]\nid = \"id.wat\"\n\n[[task]]\nname = \"tiny\"\nguest = \"id\"\n\
                 call = \"id\"\neach = {{ range = [0, {count}] }}\n"
            ),
        )?;
        let out = dir.path().join("out.jsonl");
        let cache = dir.path().join("cache");
        let workers = self.settings.workers.to_string();
        let run = |order: &str| -> Result<f64> {
            let start = Instant::now();
            let status = Command::new(wpool_bin)
                .args([
                    "run",
                    "--format",
                    "jsonl",
                    "--no-progress",
                    "--order",
                    order,
                ])
                .args(["--workers", &workers, "-o"])
                .arg(&out)
                .arg(&job)
                .env("WPOOL_CACHE_DIR", &cache)
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("cannot run `{}`", wpool_bin.display()))?;
            let seconds = start.elapsed().as_secs_f64();
            ensure!(status.success(), "`wpool run` failed: {status}");
            let written = std::fs::read(&out)?;
            let lines = written.iter().filter(|&&b| b == b'\n').count();
            ensure!(lines as i64 == count, "{lines} records for {count} tasks");
            Ok(count as f64 / seconds)
        };
        let identity = self.many.load(Guest::bytes("id", IDENTITY))?;
        let sides = vec![
            Side::new(|| run("input")),
            Side::new(|| run("completed")),
            // The same calls inside a started pool, in input order.
            Side::new(|| {
                let start = Instant::now();
                let sum = self.single.block_on(
                    self.many
                        .map(&identity, "id", 0..count)
                        .fold(0i64, |sum, r| async move {
                            sum + r.map_or(-1, |o| o.value.as_i64().unwrap_or(-1))
                        }),
                );
                let seconds = start.elapsed().as_secs_f64();
                ensure!(sum == count * (count - 1) / 2, "identity sum {sum}");
                Ok(count as f64 / seconds)
            }),
        ];
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next = |name: &str| match measured.next().expect("a side") {
            Measured::Rounds(r) => Ok(Figure::new(name, Unit::OpsPerSec, r)),
            Measured::Skipped(reason) => Err(anyhow::anyhow!("{name} skipped: {reason}")),
        };
        let input = next("wpool run")?;
        let completed = next("wpool run")?;
        let library = next("Pool::map in a started pool")?;
        let label = |order: &str| {
            format!(
                "J. `wpool run` of {} tiny tasks, {order} order, {} workers, JSON lines to a file",
                thousands(count as usize),
                self.settings.workers
            )
        };
        Ok(vec![
            Row::absolute(
                label("input"),
                input,
                library.clone(),
                Target::AtLeast(TARGET),
                "≥ 300k/s",
            ),
            Row::absolute(
                label("completed"),
                completed,
                library,
                Target::AtLeast(TARGET),
                "≥ 300k/s",
            ),
        ])
    }
}
