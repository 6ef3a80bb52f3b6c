//! (D) The seed's program 1, scaled up: fetch 1,000 bodies of 16 KiB–1 MiB
//! from a loopback server and sha256 each, with `wpool run` (the release
//! binary, a real job file), against fetching alone, hashing alone and the
//! seed's asyncio program.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures::{StreamExt, TryStreamExt};
use wpool_tests::http::{TestServer, bytes_for};

use crate::cpu::Cpu;
use crate::python::{self, Outcome, Pythons};
use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side, Skipped};
use crate::versus::{combined, hex};
use crate::workloads::{Bench, millis, thousands};

/// Downloads in flight, for wpool's fetch and for the baselines alike.
const CONCURRENCY: usize = 32;

/// How the seed's asyncio program is run and timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PyRun {
    /// Its round, timed inside Python, after start-up and a warmed pool.
    Seed,
    /// Fetching only, timed inside Python.
    FetchOnly,
    /// The whole process, timed from here: start-up, imports (their
    /// bytecode cached by an earlier run), a pool made as the seed's program
    /// makes it (not warmed up), the round, shutdown.
    SeedProcess,
}

/// Body sizes spread evenly on a log scale from 16 KiB to 1 MiB, in a
/// shuffled but fixed order.
fn sizes(count: usize) -> Vec<usize> {
    let mut state: u64 = 0x5eed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            ((16 << 10) as f64 * 64f64.powf(unit)) as usize
        })
        .collect()
}

/// A job file fetching `urls` and hashing every body with `sha256`, granted
/// the host's digest capability or not, writing JSON lines to `out`.
fn job_text(urls: &[String], out: &Path, digest: bool) -> String {
    let mut text = String::from("[pool]\ntimeout = \"60s\"\n\n");
    let guest = if digest {
        text.push_str("[guests]\nsha = { builtin = \"sha256\", digest = true }\n\n");
        "sha"
    } else {
        "sha256"
    };
    text.push_str("[[fetch]]\nname = \"bodies\"\nurls = [\n");
    for url in urls {
        let _ = writeln!(text, "  \"{url}\",");
    }
    let _ = write!(
        text,
        "]\nconcurrency = {CONCURRENCY}\nmax_body = \"2MiB\"\n\n\
         [[task]]\nguest = \"{guest}\"\ncall = \"hex\"\neach = {{ fetch = \"bodies\" }}\n\n\
         [output]\nformat = \"jsonl\"\npath = \"{}\"\n",
        out.display()
    );
    text
}

impl Bench {
    /// (D) fetch + sha256 of 1,000 bodies.
    pub fn fetch_versus(&self, pythons: &Pythons, wpool_bin: &Path) -> Result<Vec<Row>> {
        let count = if self.settings.quick { 200 } else { 1_000 };
        let workers = self.settings.workers;
        let server = TestServer::start();
        let sizes = sizes(count);
        let mut urls = Vec::with_capacity(count);
        let mut expected_hexes = Vec::with_capacity(count);
        for (i, &len) in sizes.iter().enumerate() {
            let body = bytes_for(i as u64, len);
            expected_hexes.push(hex(&crate::baseline::sha256_native(&body)));
            let path = format!("/body/{i}");
            server.add(&path, body);
            urls.push(server.url(&path));
        }
        let expected = combined(&expected_hexes);
        let total_mib = sizes.iter().sum::<usize>() as f64 / f64::from(1 << 20);

        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let out = dir.path().join("out.jsonl");
        let job = dir.path().join("fetch.toml");
        std::fs::write(&job, job_text(&urls, &out, false))?;
        let job_digest = dir.path().join("fetch-digest.toml");
        std::fs::write(&job_digest, job_text(&urls, &out, true))?;
        let urls_file = dir.path().join("urls.txt");
        std::fs::write(&urls_file, urls.join("\n"))?;
        let cache = dir.path().join("cache");

        // Fetching needs a runtime with I/O (the bench's own have none).
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        // Filled by "fetch alone"; hashed by "hash alone".
        let fetched: std::cell::RefCell<Vec<Vec<u8>>> = Default::default();
        let (asyncio, hash_in) = pythons.seed_program();
        let python_extra = |run: PyRun| {
            let mut extra = vec![
                "--hash-in".to_owned(),
                hash_in.to_owned(),
                "--urls-file".to_owned(),
                urls_file.display().to_string(),
                "--concurrency".to_owned(),
                CONCURRENCY.to_string(),
            ];
            match run {
                PyRun::FetchOnly => extra.push("--fetch-only".to_owned()),
                PyRun::SeedProcess => extra.push("--no-warm-up".to_owned()),
                PyRun::Seed => {}
            }
            extra
        };
        // CPU time per call of a side (the warm-up's first): the digest
        // job's whole run (its process and this one's loopback server),
        // fetching alone (client and server), hashing alone (wasm, digest).
        let cpu: [std::cell::RefCell<Vec<f64>>; 4] = Default::default();
        let [run_cpu, fetch_cpu, hash_cpu, hash_digest_cpu] = [0, 1, 2, 3];
        let python_note = std::cell::RefCell::new(String::new());
        let python_run = |run: PyRun| {
            let (asyncio, extra, expected, note) =
                (&asyncio, python_extra(run), &expected, &python_note);
            let total: usize = sizes.iter().sum();
            let pycache = (run == PyRun::SeedProcess).then(|| dir.path().join("pycache"));
            move || -> Result<f64> {
                match python::run_in(asyncio, "fetch", workers, &extra, pycache.as_deref())? {
                    Outcome::Skipped(reason) => Err(Skipped(reason).into()),
                    Outcome::Ran(answer) => {
                        if run == PyRun::FetchOnly {
                            ensure!(
                                answer.check.as_u64() == Some(total as u64),
                                "Python fetched {}",
                                answer.check
                            );
                        } else {
                            ensure!(
                                answer.check.as_str() == Some(expected.as_str()),
                                "Python's digests differ"
                            );
                        }
                        *note.borrow_mut() = answer.note;
                        Ok(match run {
                            PyRun::SeedProcess => answer.process_ms,
                            PyRun::Seed | PyRun::FetchOnly => answer.seconds[0] * 1e3,
                        })
                    }
                }
            }
        };
        // The whole program: `wpool run` on a warm compile cache.
        let wpool_run = |job: &Path, cpu_of: Option<usize>| {
            let job = job.to_path_buf();
            let (cache, out, expected, cpu) = (&cache, &out, &expected, &cpu);
            move || -> Result<f64> {
                let cpu_start = Cpu::now();
                let start = Instant::now();
                let status = Command::new(wpool_bin)
                    .arg("run")
                    .arg(&job)
                    .env("WPOOL_CACHE_DIR", cache)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .with_context(|| format!("cannot run `{}`", wpool_bin.display()))?;
                let ms = millis(start.elapsed());
                if let Some(side) = cpu_of {
                    cpu[side].borrow_mut().push(Cpu::since(cpu_start));
                }
                ensure!(status.success(), "`wpool run` failed: {status}");
                let hexes: Vec<String> = std::fs::read_to_string(out)?
                    .lines()
                    .map(|line| {
                        let record: serde_json::Value = serde_json::from_str(line)?;
                        Ok(record["value"].as_str().unwrap_or_default().to_owned())
                    })
                    .collect::<Result<_>>()?;
                ensure!(
                    combined(&hexes) == *expected,
                    "`wpool run`'s digests differ"
                );
                Ok(ms)
            }
        };
        // Hashing alone: the same guest on the same pool, bodies in memory.
        let hash_alone = |guest: &wpool::LoadedGuest, cpu_of: usize| {
            let (guest, fetched, expected, cpu) = (guest.clone(), &fetched, &expected, &cpu);
            move || -> Result<f64> {
                let bodies = fetched.borrow().clone();
                ensure!(bodies.len() == count, "nothing fetched yet");
                let cpu_start = Cpu::now();
                let start = Instant::now();
                let hexes: Vec<String> = self.single.block_on(
                    futures::stream::iter(bodies)
                        .map(|b| self.many.call::<(Vec<u8>,), String>(&guest, "hex", (b,)))
                        .buffered(4 * workers)
                        .try_collect(),
                )?;
                let ms = millis(start.elapsed());
                cpu[cpu_of].borrow_mut().push(Cpu::since(cpu_start));
                ensure!(combined(&hexes) == *expected, "hash-alone digests differ");
                Ok(ms)
            }
        };
        let sides = vec![
            Side::new(wpool_run(&job, None)),
            Side::new(wpool_run(&job_digest, Some(run_cpu))),
            // Fetching alone: the same HTTP client library, same concurrency,
            // a new client (no warm connections) like a new process has.
            Side::new(|| {
                let cpu_start = Cpu::now();
                let start = Instant::now();
                let client = reqwest::Client::builder()
                    .build()
                    .context("cannot build an HTTP client")?;
                let bodies: Vec<Vec<u8>> = io.block_on(
                    futures::stream::iter(&urls)
                        .map(|url| {
                            let client = client.clone();
                            async move {
                                let response = client.get(url).send().await?.error_for_status()?;
                                anyhow::Ok(response.bytes().await?.to_vec())
                            }
                        })
                        .buffered(CONCURRENCY)
                        .try_collect(),
                )?;
                let ms = millis(start.elapsed());
                cpu[fetch_cpu].borrow_mut().push(Cpu::since(cpu_start));
                ensure!(bodies.len() == count, "fetched {} bodies", bodies.len());
                *fetched.borrow_mut() = bodies;
                Ok(ms)
            }),
            Side::new(hash_alone(&self.sha_many, hash_cpu)),
            Side::new(hash_alone(&self.sha_host_many, hash_digest_cpu)),
            Side::limited(self.settings.rounds, python_run(PyRun::Seed)),
            Side::limited(self.settings.rounds, python_run(PyRun::FetchOnly)),
            // Warmed up once: its imports' bytecode compiled, as wpool's
            // guest is in its warm compile cache.
            Side {
                warm_up: true,
                ..Side::limited(self.settings.rounds, python_run(PyRun::SeedProcess))
            },
        ];
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next = |name: &str| match measured.next().expect("a side") {
            Measured::Rounds(r) => Ok(Figure::new(name, Unit::Ms, r)),
            Measured::Skipped(reason) => Err(reason),
        };
        let total = next("`wpool run`").map_err(anyhow::Error::msg)?;
        let total_digest = next("`wpool run`, digest granted").map_err(anyhow::Error::msg)?;
        let fetch = next("fetch alone").map_err(anyhow::Error::msg)?;
        let hash = next("hash alone").map_err(anyhow::Error::msg)?;
        let hash_digest = next("hash alone, digest granted").map_err(anyhow::Error::msg)?;
        let label = format!(
            "D. fetch + sha256 of {} bodies (16 KiB–1 MiB, {total_mib:.0} MiB) on loopback, {workers} workers",
            thousands(count)
        );
        let slower = |a: &Figure, b: &Figure| {
            if a.median >= b.median {
                a.clone()
            } else {
                b.clone()
            }
        };
        // Per round, the warm-up's figure first.
        let rounds_of = |side: usize| -> Vec<f64> { cpu[side].borrow()[1..].to_vec() };
        let fetch_cpu = rounds_of(fetch_cpu);
        let mut rows = Vec::new();
        for (what, total, hash, hash_cpu) in [
            ("wasm sha256", &total, &hash, rounds_of(hash_cpu)),
            (
                "sha256 granted the host digest",
                &total_digest,
                &hash_digest,
                rounds_of(hash_digest_cpu),
            ),
        ] {
            let slower = slower(&fetch, hash);
            rows.push(Row::over(
                format!("{label}, {what}: `wpool run` vs the slower of fetch alone / hash alone"),
                total,
                &slower,
                "total/max",
                Target::AtMost(1.1),
                "≤ 1.10×",
            ));
            // What the cores allow: fetching and hashing both in one run
            // cannot take less than their CPU time shared by every vCPU
            // (the loopback server's included: it runs here too).
            let bound = (fetch.rounds.iter().zip(&hash.rounds))
                .zip(fetch_cpu.iter().zip(&hash_cpu))
                .map(|((fetch, hash), (fetch_cpu, hash_cpu))| {
                    fetch
                        .max(*hash)
                        .max((fetch_cpu + hash_cpu) / workers as f64)
                })
                .collect();
            let bound = Figure::new(
                format!("CPU of fetch alone + hash alone ÷ {workers} vCPUs"),
                Unit::Ms,
                bound,
            );
            rows.push(Row::over(
                format!("{label}, {what}: `wpool run` vs what the cores allow (CPU of fetch alone + hash alone ÷ {workers} vCPUs)"),
                total,
                &bound,
                "total/bound",
                Target::Info,
                "info",
            ));
        }
        let parts = fetch_cpu
            .iter()
            .zip(rounds_of(hash_digest_cpu))
            .map(|(fetch, hash)| fetch + hash)
            .collect();
        let run_cpu = Figure::new("CPU of `wpool run`", Unit::Ms, rounds_of(run_cpu));
        let parts = Figure::new("CPU of fetch alone + hash alone", Unit::Ms, parts);
        rows.push(Row::over(
            format!("{label}: CPU of `wpool run` (digest granted; the process and the loopback server) vs CPU of fetch alone + hash alone"),
            &run_cpu,
            &parts,
            "cpu/cpu",
            Target::Info,
            "info",
        ));
        let client_note = python_note.borrow().clone();
        let client = if client_note.contains("aiohttp") {
            "aiohttp"
        } else {
            "urllib in threads"
        };
        let best = slower(&total_digest, &total_digest);
        let hashing = match hash_in {
            "interpreter" => "Python 3.14, InterpreterPool hashing",
            _ => "ProcessPool hashing",
        };
        for (name, measured, whole) in [
            (
                format!(
                    "Python asyncio seed program ({client}, {hashing}), its round timed inside Python"
                ),
                next("python"),
                false,
            ),
            (
                format!("Python asyncio fetch only ({client})"),
                next("python fetch only"),
                false,
            ),
            (
                format!(
                    "Python asyncio seed program ({client}, {hashing}) as a whole process, start-up and shutdown included"
                ),
                next("python, whole process"),
                true,
            ),
        ] {
            // The bar: whole processes, against the seed's own
            // program on 3.14 (`wpool run` is always timed as a whole
            // process; the other rows time Python's round alone).
            let (target, target_text) = if whole && hash_in == "interpreter" {
                (Target::AtLeast(8.0), "≥ 8×")
            } else {
                (Target::Info, "info")
            };
            rows.push(match measured {
                Ok(theirs) => {
                    let theirs = Figure::new(name.clone(), Unit::Ms, theirs.rounds);
                    Row::ratio(
                        format!("{label}: `wpool run` (digest granted) vs {name}"),
                        best.clone(),
                        theirs.clone(),
                        theirs.median / best.median,
                        "speedup",
                        target,
                        target_text,
                    )
                }
                Err(reason) => Row::skipped(
                    format!("{label} vs {name}"),
                    best.clone(),
                    &name,
                    reason,
                    target_text,
                ),
            });
        }
        drop(server);
        Ok(rows)
    }
}
