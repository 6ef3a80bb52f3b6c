//! (E) Start-up: `wpool run examples/heavy_calc.toml` as a whole process,
//! with a cold compile cache (every guest compiled by Cranelift) and a warm
//! one, against the same four tasks run inside an already started pool.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures::{StreamExt, TryStreamExt};

use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side};
use crate::workloads::{Bench, millis};

/// The example job, in the repository.
fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/heavy_calc.toml")
}

impl Bench {
    /// (E) Whole-process start-up, cold and warm cache.
    pub fn startup(&self, wpool_bin: &Path) -> Result<Vec<Row>> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let warm_cache = dir.path().join("warm");
        let job = example();
        let expected = "99999998";
        let run = |cache: &Path| -> Result<f64> {
            let start = Instant::now();
            let output = Command::new(wpool_bin)
                .args(["run", "--format", "jsonl"])
                .arg(&job)
                .env("WPOOL_CACHE_DIR", cache)
                .stderr(Stdio::null())
                .output()
                .with_context(|| format!("cannot run `{}`", wpool_bin.display()))?;
            let ms = millis(start.elapsed());
            ensure!(
                output.status.success(),
                "`wpool run` failed: {}",
                output.status
            );
            ensure!(
                String::from_utf8_lossy(&output.stdout).contains(expected),
                "`wpool run` printed no {expected}"
            );
            Ok(ms)
        };
        let mut cold_round = 0;
        let seeds = [50_000_000u64, 60_000_000, 70_000_000, 80_000_000];
        let sides = vec![
            Side::new(|| {
                cold_round += 1;
                run(&dir.path().join(format!("cold-{cold_round}")))
            }),
            Side::new(|| run(&warm_cache)),
            // The compute alone: the example's tasks in a started pool.
            Side::new(|| {
                let start = Instant::now();
                let got: Vec<u64> = self.single.block_on(
                    self.many
                        .map(&self.calc_many, "heavy-calc", seeds)
                        .map(|r| r.map(|o| o.value.as_u64().unwrap_or(0)))
                        .try_collect(),
                )?;
                ensure!(got[0] == 99_999_998, "heavy_calc(50M) = {}", got[0]);
                Ok(millis(start.elapsed()))
            }),
        ];
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next = |name: &str| match measured.next().expect("a side") {
            Measured::Rounds(r) => Ok(Figure::new(name, Unit::Ms, r)),
            Measured::Skipped(reason) => Err(anyhow::anyhow!("{name} skipped: {reason}")),
        };
        let cold = next("cold cache")?;
        let warm = next("warm cache")?;
        let compute = next("compute in a started pool")?;
        let label = "E. start-up of `wpool run examples/heavy_calc.toml`";
        Ok(vec![
            Row::difference(
                format!("{label}, warm cache, over the compute"),
                warm.clone(),
                compute.clone(),
                warm.median - compute.median,
                "warm − compute",
                Target::AtMost(30.0),
                "≤ 30 ms",
            ),
            Row::difference(
                format!("{label}, cold cache vs warm (compiling the guest)"),
                cold.clone(),
                warm.clone(),
                cold.median - warm.median,
                "cold − warm",
                Target::Info,
                "info",
            ),
        ])
    }
}
