//! The seed's workloads on every core, wpool side by side with native Rust
//! threads and Python's executors: (A) heavy_calc, (B) tiny tasks,
//! (C) sha256 of 64 KiB payloads.
//!
//! Python's `InterpreterPoolExecutor` needs a Python 3.14; without one its
//! rows say "skipped", and the targets set against it are checked against
//! `ProcessPoolExecutor` instead, said in the row (the two measured within 1%
//! of each other on the seed's heavy_calc on this machine: DESIGN.md).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Result, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use sha2::Digest;

use crate::baseline;
use crate::python::{self, Executor, Outcome, Pythons};
use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side, Skipped};
use crate::workloads::{Bench, millions, millis, thousands};

/// Tiny tasks in workload B.
const TINY_TASKS: usize = 10_000;
/// Bytes per payload in workload C.
const SHA_SIZE: usize = 64 << 10;

/// Runs `f(i)` for every index on `workers` plain threads, taking indices in
/// order like an executor's queue; returns the results in index order.
pub fn on_threads<T: Send>(count: usize, workers: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return done;
                        }
                        done.push((i, f(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a native worker panicked"))
            .collect()
    });
    let mut all: Vec<(usize, T)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// The payloads of workload C, as the Python script makes them:
/// `payload_i[j] = (i + j) % 251`.
pub fn payloads(count: usize) -> Vec<Vec<u8>> {
    let base: Vec<u8> = (0..SHA_SIZE + 251).map(|k| (k % 251) as u8).collect();
    (0..count)
        .map(|i| base[i % 251..i % 251 + SHA_SIZE].to_vec())
        .collect()
}

/// SHA-256 (hex) of the concatenated hex digests: the script's check value.
pub fn combined(hexes: &[String]) -> String {
    hex(&sha2::Sha256::digest(hexes.concat().as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One Python round as a side's figure (milliseconds), its check verified.
fn python_side<'a>(
    executor: Option<Executor>,
    missing: &'a str,
    workload: &'a str,
    workers: usize,
    extra: Vec<String>,
    check: impl Fn(&serde_json::Value) -> bool + 'a,
) -> impl FnMut() -> Result<f64> + 'a {
    move || {
        let Some(executor) = &executor else {
            return Err(Skipped(missing.to_owned()).into());
        };
        match python::run(executor, workload, workers, &extra)? {
            Outcome::Skipped(reason) => Err(Skipped(reason).into()),
            Outcome::Ran(answer) => {
                if !check(&answer.check) {
                    bail!(
                        "{} gave a wrong answer for `{workload}`: {}",
                        executor.label(),
                        answer.check
                    );
                }
                Ok(answer.seconds[0] * 1e3)
            }
        }
    }
}

const NO_314: &str = "no python3.14 here (pass --python314 PATH)";

/// Rows comparing wpool (`ours`) against each Python executor of `sides`.
/// The Python pool named by `target_vs` ("interpreter", or "process" as a
/// stand-in when there is no 3.14) carries the speedup target `bar`.
fn python_rows(label: &str, ours: &Figure, python: &[(Executor, Measured)], bar: f64) -> Vec<Row> {
    let interpreter_ran = python
        .iter()
        .any(|(e, m)| e.kind == "interpreter" && matches!(m, Measured::Rounds(r) if !r.is_empty()));
    let target_vs = if interpreter_ran {
        "interpreter"
    } else {
        "process"
    };
    python
        .iter()
        .map(|(executor, measured)| {
            let name = executor.label();
            match measured {
                Measured::Skipped(reason) => Row::skipped(
                    format!("{label} vs {name}"),
                    ours.clone(),
                    &name,
                    reason.clone(),
                    format!("≥ {bar}×"),
                ),
                Measured::Rounds(rounds) => {
                    let theirs = Figure::new(name.clone(), Unit::Ms, rounds.clone());
                    let speedup = theirs.median / ours.median;
                    let (target, text) = if executor.kind == target_vs {
                        let text = if target_vs == "process" {
                            format!("≥ {bar}× (the 3.14 pool's target; no 3.14 here)")
                        } else {
                            format!("≥ {bar}×")
                        };
                        (Target::AtLeast(bar), text)
                    } else {
                        (Target::Info, "info".to_owned())
                    };
                    Row::ratio(
                        format!("{label} vs {name}"),
                        ours.clone(),
                        theirs,
                        speedup,
                        "speedup",
                        target,
                        text,
                    )
                }
            }
        })
        .collect()
}

/// Each Python executor with what it measured; a missing 3.14 stands as
/// the interpreter pool it would have been, so its row says "skipped".
fn pair_up(
    executors: Vec<Option<Executor>>,
    measured: impl Iterator<Item = Measured>,
) -> Vec<(Executor, Measured)> {
    executors
        .into_iter()
        .map(|e| {
            e.unwrap_or(Executor {
                python: "python3.14".into(),
                kind: "interpreter",
            })
        })
        .zip(measured)
        .collect()
}

fn figure(name: &str, measured: Measured) -> Result<Figure> {
    match measured {
        Measured::Rounds(rounds) => Ok(Figure::new(name, Unit::Ms, rounds)),
        Measured::Skipped(reason) => bail!("{name} was skipped: {reason}"),
    }
}

impl Bench {
    /// (A) The seed's program 2: heavy_calc over the seed set on every core.
    pub fn seed_versus(&self, pythons: &Pythons) -> Result<Vec<Row>> {
        let seeds = self.settings.seeds();
        let workers = self.settings.workers;
        let expected: Vec<u64> = seeds.iter().map(|&n| baseline::heavy_calc(n)).collect();
        let n_arg = vec!["--n".to_owned(), seeds.map(|n| n.to_string()).join(",")];
        let check = |v: &serde_json::Value| {
            v.as_array().is_some_and(|a| {
                a.iter().map(|x| x.as_u64()).collect::<Vec<_>>()
                    == expected.iter().map(|&e| Some(e)).collect::<Vec<_>>()
            })
        };
        // A Python round takes ~15 s (process pool) to ~30 s (threads).
        let python_rounds = self.settings.rounds.min(3);
        let executors = [
            Some(pythons.executor("process")),
            Some(pythons.executor("thread")),
            pythons.interpreter(),
        ];
        let mut sides = vec![
            Side::new(|| {
                let start = Instant::now();
                let got: Vec<u64> = self.single.block_on(
                    self.many
                        .map(&self.calc_many, "heavy-calc", seeds)
                        .map(|r| r.map(|out| out.value.as_u64().unwrap_or(u64::MAX)))
                        .try_collect(),
                )?;
                ensure!(got == expected, "wpool gave {got:?}");
                Ok(millis(start.elapsed()))
            }),
            Side::new(|| {
                let start = Instant::now();
                let got = on_threads(seeds.len(), workers, |i| baseline::heavy_calc(seeds[i]));
                ensure!(got == expected, "native gave {got:?}");
                Ok(millis(start.elapsed()))
            }),
        ];
        for executor in &executors {
            let rounds = if executor.as_ref().is_some_and(|e| e.kind == "thread") {
                1 // bound by the GIL: twice the process pool's time; one round says enough
            } else {
                python_rounds
            };
            sides.push(Side::limited(
                rounds,
                python_side(
                    executor.clone(),
                    NO_314,
                    "heavy",
                    workers,
                    n_arg.clone(),
                    check,
                ),
            ));
        }
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let ours = figure("wpool", measured.next().expect("wpool side"))?;
        let native = figure("native threads", measured.next().expect("native side"))?;
        let label = format!(
            "A. seed heavy_calc [{}], {workers} workers",
            seeds.map(millions).join(", ")
        );
        let mut rows = vec![Row::ratio(
            format!("{label} vs native threads"),
            ours.clone(),
            native.clone(),
            ours.median / native.median,
            "wasm/native",
            Target::AtMost(1.10),
            "≤ 1.10×",
        )];
        let python = pair_up(executors.to_vec(), measured);
        rows.extend(python_rows(&label, &ours, &python, 50.0));
        Ok(rows)
    }

    /// (B) 10,000 tiny tasks (`heavy_calc(1)`), all submitted, then gathered.
    pub fn tiny_versus(&self, pythons: &Pythons) -> Result<Vec<Row>> {
        let workers = self.settings.workers;
        let executors = [
            Some(pythons.executor("process")),
            Some(pythons.executor("thread")),
            Some(pythons.executor("sequential")),
            pythons.interpreter(),
        ];
        let count_arg = vec!["--count".to_owned(), TINY_TASKS.to_string()];
        let check = |v: &serde_json::Value| v.as_u64() == Some(0);
        // `map`, like `executor.map`: every input submitted, at most
        // `map_in_flight` at a time, results gathered in order.
        let mut sides = vec![Side::new(|| {
            let start = Instant::now();
            let got: Vec<u64> = self.single.block_on(
                self.many
                    .map(
                        &self.calc_many,
                        "heavy-calc",
                        std::iter::repeat_n(1u64, TINY_TASKS),
                    )
                    .map(|r| r.map(|o| o.value.as_u64().unwrap_or(1)))
                    .try_collect(),
            )?;
            ensure!(got.iter().all(|&v| v == 0), "heavy_calc(1) is 0");
            Ok(millis(start.elapsed()))
        })];
        for executor in &executors {
            sides.push(Side::limited(
                self.settings.rounds,
                python_side(
                    executor.clone(),
                    NO_314,
                    "tiny",
                    workers,
                    count_arg.clone(),
                    check,
                ),
            ));
        }
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let ours = figure("wpool", measured.next().expect("wpool side"))?;
        let python = pair_up(executors.to_vec(), measured);
        Ok(python_rows(
            &format!("B. {} tiny tasks, {workers} workers", thousands(TINY_TASKS)),
            &ours,
            &python,
            100.0,
        ))
    }

    /// (C) sha256 of 1,000 × 64 KiB payloads on every core: the wasm guest
    /// (SIMD), the guest granted the host's digest, native Rust, Python.
    pub fn sha_versus(&self, pythons: &Pythons) -> Result<Vec<Row>> {
        let workers = self.settings.workers;
        let count = self.settings.sha_count();
        let source = payloads(count);
        // wpool reads the payloads where they are, as the native threads
        // and Python do: shared, not handed over (a worker drops a
        // reference, not a 64 KiB buffer).
        let shared: Vec<wpool::Bytes> = source.iter().cloned().map(wpool::Bytes::from).collect();
        let expected_hexes: Vec<String> = source
            .iter()
            .map(|p| hex(&baseline::sha256_native(p)))
            .collect();
        let expected = combined(&expected_hexes);
        let wpool_side = |guest: &wpool::LoadedGuest| {
            let (shared, expected) = (&shared, &expected);
            let guest = guest.clone();
            move || -> Result<f64> {
                let start = Instant::now();
                // `map`, as a user hashing a list would: the calls travel
                // in batches when they are quick enough.
                let hexes: Vec<String> = self.single.block_on(
                    self.many
                        .map(&guest, "hex", shared.clone())
                        .map(|r| r.map(|o| o.value.as_str().unwrap_or_default().to_owned()))
                        .try_collect(),
                )?;
                let ms = millis(start.elapsed());
                ensure!(combined(&hexes) == *expected, "wpool's digests differ");
                Ok(ms)
            }
        };
        let native_side = |hash: fn(&[u8]) -> [u8; 32]| {
            let (source, expected) = (&source, &expected);
            move || -> Result<f64> {
                let start = Instant::now();
                let digests = on_threads(source.len(), workers, |i| hash(black_box(&source[i])));
                let ms = millis(start.elapsed());
                let hexes: Vec<String> = digests.iter().map(|d| hex(d)).collect();
                ensure!(combined(&hexes) == *expected, "native digests differ");
                Ok(ms)
            }
        };
        let executors = [
            Some(pythons.executor("thread")),
            Some(pythons.executor("process")),
            Some(pythons.executor("sequential")),
            pythons.interpreter(),
        ];
        let extra = vec![
            "--count".to_owned(),
            count.to_string(),
            "--size".to_owned(),
            SHA_SIZE.to_string(),
        ];
        let check = |v: &serde_json::Value| v.as_str() == Some(expected.as_str());
        let mut sides = vec![
            Side::new(wpool_side(&self.sha_many)),
            Side::new(wpool_side(&self.sha_host_many)),
            Side::new(native_side(baseline::sha256_soft)),
            Side::new(native_side(baseline::sha256_native)),
        ];
        for executor in &executors {
            sides.push(Side::limited(
                self.settings.rounds,
                python_side(
                    executor.clone(),
                    NO_314,
                    "sha256",
                    workers,
                    extra.clone(),
                    check,
                ),
            ));
        }
        let mut measured = sides::run(self.settings.rounds, sides)?.into_iter();
        let mut next = |name: &str| figure(name, measured.next().expect("a side"));
        let wasm = next("wpool, wasm")?;
        let host = next("wpool, host digest")?;
        let soft = next("native pure Rust")?;
        let ni = next("native SHA-NI")?;
        let label = format!("C. sha256 {} × 64 KiB, {workers} workers", thousands(count));
        let mut rows = vec![
            Row::ratio(
                format!("{label}, wasm guest vs native pure-Rust sha2"),
                wasm.clone(),
                soft.clone(),
                soft.median / wasm.median,
                "wasm/native speed",
                Target::AtLeast(0.9),
                "≥ 0.9×",
            ),
            Row::ratio(
                format!("{label}, host digest vs native SHA-NI"),
                host.clone(),
                ni.clone(),
                ni.median / host.median,
                "wpool/native speed",
                Target::Info,
                "info",
            ),
        ];
        let python = pair_up(executors.to_vec(), measured);
        rows.extend(python_rows(
            &format!("{label}, wasm guest"),
            &wasm,
            &python,
            3.0,
        ));
        // The goal: wpool's best against Python's fastest option.
        let fastest = python
            .iter()
            .filter_map(|(e, m)| match m {
                Measured::Rounds(r) if !r.is_empty() => {
                    Some(Figure::new(e.label(), Unit::Ms, r.clone()))
                }
                _ => None,
            })
            .min_by(|a, b| a.median.total_cmp(&b.median));
        if let Some(fastest) = fastest {
            let best = if host.median <= wasm.median {
                &host
            } else {
                &wasm
            };
            rows.push(Row::ratio(
                format!("{label}, {} vs Python's fastest", best.name),
                best.clone(),
                fastest.clone(),
                fastest.median / best.median,
                "speedup",
                Target::AtLeast(1.5),
                "≥ 1.5×",
            ));
        }
        Ok(rows)
    }
}
