//! (E) Start-up: `wpool run examples/heavy_calc.toml` as a whole process,
//! with a cold compile cache (every guest compiled by Cranelift) and a warm
//! one, against the same four tasks run inside an already started pool; the
//! same job over `[1, 2, 3, 4]`, whose compute is next to nothing, for
//! start-up and shutdown alone; and the peak RSS of those runs.

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
        // Each run's peak RSS, as its summary line gives it (`VmHWM` read as
        // the run ends), warm-up runs first.
        let peaks: [std::cell::RefCell<Vec<f64>>; 2] = Default::default();
        let [cold_peaks, warm_peaks] = [0, 1];
        // The example with its inputs made tiny: start-up and shutdown.
        let tiny_job = dir.path().join("tiny.toml");
        let example_text = std::fs::read_to_string(&job).context("cannot read the example")?;
        let each = "each = [50_000_000, 60_000_000, 70_000_000, 80_000_000]";
        ensure!(example_text.contains(each), "the example's inputs moved");
        std::fs::write(&tiny_job, example_text.replace(each, "each = [1, 2, 3, 4]"))
            .context("cannot write the tiny job")?;
        let run_job = |job: &Path,
                       expected: &str,
                       cache: &Path,
                       peaks: &std::cell::RefCell<Vec<f64>>|
         -> Result<f64> {
            let start = Instant::now();
            let output = Command::new(wpool_bin)
                .args(["run", "--format", "jsonl"])
                .arg(job)
                .env("WPOOL_CACHE_DIR", cache)
                .stderr(Stdio::piped())
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
            let summary = String::from_utf8_lossy(&output.stderr);
            peaks.borrow_mut().push(
                peak_rss_mib(&summary)
                    .with_context(|| format!("no peak RSS in `wpool run`'s summary: {summary}"))?,
            );
            Ok(ms)
        };
        let run = |cache: &Path, peaks: &std::cell::RefCell<Vec<f64>>| {
            run_job(&job, expected, cache, peaks)
        };
        let tiny_peaks = std::cell::RefCell::new(Vec::new());
        // `inputs` through heavy_calc in the started pool, checked.
        let in_pool = |inputs: [u64; 4], expected: [u64; 4]| -> Result<f64> {
            let start = Instant::now();
            let got: Vec<u64> = self.single.block_on(
                self.many
                    .map(&self.calc_many, "heavy-calc", inputs)
                    .map(|r| r.map(|o| o.value.as_u64().unwrap_or(0)))
                    .try_collect(),
            )?;
            ensure!(got == expected, "heavy_calc({inputs:?}) = {got:?}");
            Ok(millis(start.elapsed()))
        };
        let mut cold_round = 0;
        let seeds = [50_000_000u64, 60_000_000, 70_000_000, 80_000_000];
        let sides = vec![
            Side::new(|| {
                cold_round += 1;
                run(
                    &dir.path().join(format!("cold-{cold_round}")),
                    &peaks[cold_peaks],
                )
            }),
            Side::new(|| run(&warm_cache, &peaks[warm_peaks])),
            // The compute alone: the example's tasks in a started pool.
            Side::new(|| in_pool(seeds, [99_999_998, 119_999_999, 140_000_000, 159_999_999])),
            // heavy_calc(4) = 0 + 1 + 4 + 9 % 7 = 7.
            Side::new(|| run_job(&tiny_job, "\"value\":7", &warm_cache, &tiny_peaks)),
            Side::new(|| in_pool([1, 2, 3, 4], [0, 1, 5, 7])),
        ];
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next = |name: &str| match measured.next().expect("a side") {
            Measured::Rounds(r) => Ok(Figure::new(name, Unit::Ms, r)),
            Measured::Skipped(reason) => Err(anyhow::anyhow!("{name} skipped: {reason}")),
        };
        let cold = next("cold cache")?;
        let warm = next("warm cache")?;
        let compute = next("compute in a started pool")?;
        let tiny = next("`wpool run` over [1, 2, 3, 4], warm cache")?;
        let tiny_compute = next("the same in a started pool")?;
        let label = "E. start-up of `wpool run examples/heavy_calc.toml`";
        let peak = |side: usize, name: &str| {
            Figure::new(name, Unit::Mib, peaks[side].borrow()[1..].to_vec())
        };
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
                "E. start-up and shutdown alone: `wpool run` of the example over \
                 [1, 2, 3, 4], warm cache, over the same in a started pool",
                tiny.clone(),
                tiny_compute.clone(),
                tiny.median - tiny_compute.median,
                "run − compute",
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
            Row::absolute(
                "E. peak RSS of `wpool run examples/heavy_calc.toml`, warm cache vs cold (MiB)",
                peak(warm_peaks, "warm cache"),
                peak(cold_peaks, "cold cache"),
                // 40 MB.
                Target::AtMost(40e6 / f64::from(1 << 20)),
                "≤ 40 MB (38.1 MiB)",
            ),
        ])
    }
}

/// The `peak RSS 19.7 MiB` of a `wpool run` summary, in MiB.
fn peak_rss_mib(summary: &str) -> Option<f64> {
    let (_, after) = summary.rsplit_once("peak RSS ")?;
    after.split_once(" MiB")?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_read_from_the_summary() {
        let summary = "4 tasks: 4 ok, 0 failed in 0.19s (20.6 tasks/s), peak RSS 19.7 MiB\n";
        assert_eq!(super::peak_rss_mib(summary), Some(19.7));
        assert_eq!(super::peak_rss_mib("4 tasks: 4 ok"), None);
    }
}
