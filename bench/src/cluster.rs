//! (G) Through the cluster: `wpool run --nats` with two local `wpool worker`
//! processes (half the cores each) on a local `nats-server -js`, against a
//! local `wpool run` on the same cores: the seed's heavy_calc set and
//! 10,000 tiny tasks, whole processes on both sides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side};
use crate::workloads::{Bench, millis};

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `nats-server -js` on a free port in `dir`; returns it and its URL.
fn nats_server(dir: &Path) -> Result<(Killed, String)> {
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
        .arg(dir)
        .arg("--ports_file_dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `nats-server` (Debian: apt-get install nats-server)")?;
    let ports = dir.join(format!("nats-server_{}.ports", child.id()));
    let server = Killed(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(url) = json["nats"][0].as_str()
        {
            return Ok((server, url.to_owned()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nats-server wrote no ports file")
}

/// Waits until `count` workers are in the registry.
fn wait_for_workers(bin: &Path, url: &str, count: usize) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let out = Command::new(bin)
            .args(["cluster", "status", "--json", "--nats", url])
            .output()?;
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            && json["workers"].as_array().is_some_and(|w| w.len() >= count)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the workers did not register")
}

/// Runs a job file as a whole process, checks it succeeded with `tasks`
/// records, returns the milliseconds it took.
fn run(bin: &Path, cache: &Path, job: &Path, nats: Option<&str>, workers: usize) -> Result<f64> {
    let mut command = Command::new(bin);
    command.args(["run", "--format", "jsonl", "--no-progress"]);
    match nats {
        Some(url) => command.args(["--nats", url]),
        None => command.args(["--workers", &workers.to_string()]),
    };
    let start = Instant::now();
    let output = command
        .arg(job)
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
    Ok(ms)
}

impl Bench {
    /// (G) The seed set and tiny tasks through the cluster vs locally.
    pub fn cluster(&self, bin: &Path) -> Result<Vec<Row>> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let cache = dir.path().join("cache");
        let (_server, url) = nats_server(dir.path())?;
        let per_worker = (self.settings.workers / 2).max(1);
        let workers: Vec<Killed> = (0..2)
            .map(|i| {
                Command::new(bin)
                    .args(["worker", "--nats", &url, "--name", &format!("bench-{i}")])
                    .args(["--workers", &per_worker.to_string()])
                    .env("WPOOL_CACHE_DIR", &cache)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map(Killed)
                    .context("cannot start `wpool worker`")
            })
            .collect::<Result<_>>()?;
        wait_for_workers(bin, &url, workers.len())?;
        let seed: PathBuf =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/heavy_calc.toml");
        let tiny_count: usize = if self.settings.quick { 2_000 } else { 10_000 };
        let tiny = dir.path().join("tiny.toml");
        std::fs::write(
            &tiny,
            format!(
                "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = {{ range = [0, {tiny_count}] }}\n"
            ),
        )?;
        let total = per_worker * 2;
        // Warm both compile caches (workers' and run's) first.
        run(bin, &cache, &seed, Some(&url), total)?;
        let sides = vec![
            Side::new(|| run(bin, &cache, &seed, Some(&url), total)),
            Side::new(|| run(bin, &cache, &seed, None, total)),
            Side::new(|| run(bin, &cache, &tiny, Some(&url), total)),
            Side::new(|| run(bin, &cache, &tiny, None, total)),
        ];
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next =
            |name: &str, unit: Unit, per: Option<usize>| match measured.next().expect("a side") {
                Measured::Rounds(r) => {
                    let r = match per {
                        Some(n) => r.into_iter().map(|ms| n as f64 / (ms / 1000.0)).collect(),
                        None => r,
                    };
                    Ok(Figure::new(name, unit, r))
                }
                Measured::Skipped(reason) => Err(anyhow::anyhow!("{name} skipped: {reason}")),
            };
        let heavy_cluster = next("2 workers over NATS", Unit::Ms, None)?;
        let heavy_local = next("local pool", Unit::Ms, None)?;
        let tiny_cluster = next("2 workers over NATS", Unit::OpsPerSec, Some(tiny_count))?;
        let tiny_local = next("local pool", Unit::OpsPerSec, Some(tiny_count))?;
        let speed = heavy_local.median / heavy_cluster.median;
        drop(workers);
        Ok(vec![
            Row::ratio(
                "G. seed heavy_calc set through the cluster (whole `wpool run`)",
                heavy_cluster,
                heavy_local,
                speed,
                "local/cluster",
                Target::AtLeast(0.90),
                "≥ 0.90×",
            ),
            Row::absolute(
                format!("G. {tiny_count} tiny tasks through the cluster, tasks/s"),
                tiny_cluster,
                tiny_local,
                Target::AtLeast(20_000.0),
                "≥ 20k/s",
            ),
        ])
    }
}
