//! The workloads. Each one runs wpool and its baseline(s) interleaved,
//! A B A B …, for the same number of rounds, so a noisy neighbour or a
//! frequency change hits both sides alike; a row reports the medians.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::{StreamExt, TryStreamExt};
use tokio::runtime::Runtime;
use wpool::{Grants, Guest, InstanceMode, LoadedGuest, Pool};

use crate::baseline::{self, RawPool};
use crate::report::{Figure, Row, Target, Unit, median};

/// Sizes and repetitions.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Workloads to run (letters), all when empty.
    pub only: Vec<String>,
    /// Rounds per workload (each round runs every side once).
    pub rounds: usize,
    /// Smaller sizes, for a smoke run.
    pub quick: bool,
    /// Workers in the multi-worker pool.
    pub workers: usize,
}

impl Settings {
    /// Whether the workload lettered `letter` is to run.
    pub fn wants(&self, letter: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == letter)
    }

    pub(crate) fn heavy_n(&self) -> u64 {
        if self.quick { 20_000_000 } else { 50_000_000 }
    }

    pub(crate) fn seeds(&self) -> [u64; 4] {
        if self.quick {
            [10_000_000, 12_000_000, 14_000_000, 16_000_000]
        } else {
            [50_000_000, 60_000_000, 70_000_000, 80_000_000]
        }
    }

    fn storm_tasks(&self) -> usize {
        if self.quick { 40_000 } else { 200_000 }
    }

    fn sequential_calls(&self) -> usize {
        if self.quick { 5_000 } else { 20_000 }
    }

    pub(crate) fn sha_count(&self) -> usize {
        if self.quick { 200 } else { 1_000 }
    }
}

/// Concurrent submitters in the tiny-task throughput workload.
const SUBMITTERS: usize = 64;
/// Bytes per SHA-256 task.
const SHA_INPUT: usize = 64 << 10;
/// SHA-256 tasks kept in flight so the single worker never waits for the next.
const SHA_IN_FLIGHT: usize = 4;

/// The pools, guests and runtimes every workload shares, set up (and every
/// guest compiled) before anything is timed.
#[derive(Debug)]
pub struct Bench {
    pub(crate) settings: Settings,
    /// Drives one submitter: latency and single-worker workloads.
    pub(crate) single: Runtime,
    /// Drives many submitters: the throughput workload.
    multi: Runtime,
    pub(crate) one: Pool,
    pub(crate) many: Pool,
    fresh: Pool,
    calc_one: LoadedGuest,
    pub(crate) calc_many: LoadedGuest,
    calc_fresh: LoadedGuest,
    sha_one: LoadedGuest,
    /// `sha256` on every worker, hashing in the guest (wasm SIMD).
    pub(crate) sha_many: LoadedGuest,
    /// `sha256` on every worker, granted the host's `digest` capability.
    pub(crate) sha_host_many: LoadedGuest,
    raw_one: RawPool,
    raw_many: RawPool,
    _cache: tempfile::TempDir,
}

impl Bench {
    /// Builds three pools (1 worker, `workers` workers, 1 worker with a fresh
    /// instance per task) on a fresh compile cache and loads the guests.
    pub fn new(settings: Settings) -> Result<Self> {
        let cache = tempfile::Builder::new()
            .prefix("wpool-bench-cache")
            .tempdir()
            .context("cannot create a cache dir")?;
        let pool = |workers: usize, mode: InstanceMode| -> Result<Pool> {
            Pool::builder()
                .workers(workers)
                .timeout(Duration::from_secs(120))
                .instance_mode(mode)
                .cache_dir(cache.path())
                .build()
                .context("cannot build a pool")
        };
        let one = pool(1, InstanceMode::Reuse)?;
        let many = pool(settings.workers, InstanceMode::Reuse)?;
        let fresh = pool(1, InstanceMode::Fresh)?;
        let load = |pool: &Pool, name: &str| {
            pool.load(Guest::builtin(name))
                .with_context(|| format!("cannot load `{name}`"))
        };
        Ok(Bench {
            single: tokio::runtime::Builder::new_current_thread().build()?,
            multi: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(settings.workers)
                .build()?,
            calc_one: load(&one, "heavy_calc")?,
            calc_many: load(&many, "heavy_calc")?,
            calc_fresh: load(&fresh, "heavy_calc")?,
            sha_one: load(&one, "sha256")?,
            sha_many: load(&many, "sha256")?,
            sha_host_many: many
                .load(
                    Guest::builtin("sha256")
                        .named("sha256+digest")
                        .grants(Grants::new().digest(true)),
                )
                .context("cannot load `sha256` with the digest grant")?,
            raw_one: RawPool::new(1)?,
            raw_many: RawPool::new(settings.workers)?,
            one,
            many,
            fresh,
            settings,
            _cache: cache,
        })
    }

    /// Waits for every pool's workers to exit.
    pub fn shutdown(self) {
        self.single.block_on(async {
            self.one.shutdown().await;
            self.many.shutdown().await;
            self.fresh.shutdown().await;
        });
    }

    /// (a) `heavy_calc(50M)` on one worker, typed call, against native Rust.
    pub fn heavy_vs_native(&self) -> Result<Row> {
        let n = self.settings.heavy_n();
        let expected = baseline::heavy_calc(n);
        if n == 50_000_000 {
            ensure!(
                expected == 99_999_998,
                "native heavy_calc(50M) = {expected}, expected 99999998"
            );
        }
        let [wasm, native] = interleave(
            self.settings.rounds,
            [
                &mut || {
                    let start = Instant::now();
                    let got = self.single.block_on(self.one.call::<(u64,), u64>(
                        &self.calc_one,
                        "heavy-calc",
                        (n,),
                    ))?;
                    let ms = millis(start.elapsed());
                    ensure!(
                        got == expected,
                        "wasm heavy_calc({n}) = {got}, expected {expected}"
                    );
                    Ok(ms)
                },
                &mut || {
                    let start = Instant::now();
                    black_box(baseline::heavy_calc(n));
                    Ok(millis(start.elapsed()))
                },
            ],
        )?;
        let wasm = Figure::new("wpool", Unit::Ms, wasm);
        let native = Figure::new("native", Unit::Ms, native);
        let ratio = wasm.median / native.median;
        Ok(Row::ratio(
            format!(
                "a. heavy_calc({}), 1 worker, typed call, the worker and native code \
                 where the kernel puts them",
                millions(n)
            ),
            wasm,
            native,
            ratio,
            "wasm/native",
            Target::Info,
            "info (the target: pinned, next row)",
        ))
    }

    /// (b) The seed set on every worker against the same on one worker.
    pub fn seed_speedup(&self) -> Result<Vec<Row>> {
        let seeds = self.settings.seeds();
        let expected: Vec<u64> = seeds.iter().map(|&n| baseline::heavy_calc(n)).collect();
        let run = |pool: &Pool, calc: &LoadedGuest| -> Result<f64> {
            let start = Instant::now();
            let got: Vec<u64> = self.single.block_on(
                pool.map(calc, "heavy-calc", seeds)
                    .map(|r| r.map(|out| out.value.as_u64().unwrap_or(u64::MAX)))
                    .try_collect(),
            )?;
            let ms = millis(start.elapsed());
            ensure!(
                got == expected,
                "seed results {got:?}, expected {expected:?}"
            );
            Ok(ms)
        };
        let workers = self.settings.workers;
        // Native Rust on the same queue: what the cores give the schedule.
        let native = |threads: usize| -> Result<f64> {
            let start = Instant::now();
            let got =
                crate::versus::on_threads(seeds.len(), threads, |i| baseline::heavy_calc(seeds[i]));
            let ms = millis(start.elapsed());
            ensure!(got == expected, "native gave {got:?}");
            Ok(ms)
        };
        let [many, one, native_many, native_one] = interleave(
            self.settings.rounds,
            [
                &mut || run(&self.many, &self.calc_many),
                &mut || run(&self.one, &self.calc_one),
                &mut || native(workers),
                &mut || native(1),
            ],
        )?;
        let many = Figure::new(format!("{workers} workers"), Unit::Ms, many);
        let one = Figure::new("1 worker", Unit::Ms, one);
        let native_many = Figure::new(format!("{workers} threads"), Unit::Ms, native_many);
        let native_one = Figure::new("1 thread", Unit::Ms, native_one);
        let speedup = one.median / many.median;
        let bar = 0.925 * workers as f64;
        let set = seeds.map(millions).join(", ");
        Ok(vec![
            Row::ratio(
                format!("b. seed set [{set}], {workers} workers vs 1"),
                many,
                one,
                speedup,
                "speedup",
                Target::AtLeast(bar),
                format!("≥ {bar:.3}× (0.925 × {workers})"),
            ),
            Row::ratio(
                format!(
                    "b. the same set in native Rust on the same queue, {workers} threads vs 1: \
                     what the cores allow"
                ),
                native_many.clone(),
                native_one.clone(),
                native_one.median / native_many.median,
                "speedup",
                Target::Info,
                "info",
            ),
        ])
    }

    /// (c) Tiny tasks through the public API from many concurrent
    /// submitters, typed and dynamic, against the raw dispatch.
    pub fn tiny_throughput(&self) -> Result<Vec<Row>> {
        let total = self.settings.storm_tasks();
        let per = total.div_ceil(SUBMITTERS);
        let (pool, calc, raw) = (&self.many, &self.calc_many, &self.raw_many);
        let typed = {
            let (pool, calc) = (pool.clone(), calc.clone());
            move || {
                let call = pool.call::<(u64,), u64>(&calc, "heavy-calc", (1,));
                async move { anyhow::Ok(call.await?) }
            }
        };
        let dynamic = {
            let (pool, calc) = (pool.clone(), calc.clone());
            move || {
                let call = pool.submit(&calc, "heavy-calc", 1u64);
                async move { anyhow::Ok(call.await?.value.as_u64().unwrap_or(u64::MAX)) }
            }
        };
        let bare = {
            let raw = raw.clone();
            move || {
                let raw = raw.clone();
                async move { anyhow::Ok(raw.heavy_calc(1).await) }
            }
        };
        let [typed, dynamic, bare] = interleave(
            self.settings.rounds,
            [
                &mut || self.storm(per, typed.clone()),
                &mut || self.storm(per, dynamic.clone()),
                &mut || self.storm(per, bare.clone()),
            ],
        )?;
        let workers = self.settings.workers;
        let bare = Figure::new("raw channel", Unit::OpsPerSec, bare);
        let label = |how: &str| {
            format!(
                "c. {} tiny tasks, {how}, {SUBMITTERS} submitters, {workers} workers",
                thousands(per * SUBMITTERS)
            )
        };
        Ok(vec![
            Row::absolute(
                label("typed call"),
                Figure::new("wpool", Unit::OpsPerSec, typed),
                bare.clone(),
                Target::AtLeast(1e6),
                "wpool ≥ 1,000,000/s",
            ),
            Row::absolute(
                label("dynamic submit"),
                Figure::new("wpool", Unit::OpsPerSec, dynamic),
                bare,
                Target::AtLeast(1e6),
                "wpool ≥ 1,000,000/s",
            ),
        ])
    }

    /// (d) One submitter, sequential typed `heavy_calc(1)` calls: the
    /// median round trip, against the raw dispatch.
    pub fn round_trip(&self) -> Result<Row> {
        let calls = self.settings.sequential_calls();
        let [wasm, bare] = interleave(
            self.settings.rounds,
            [
                &mut || {
                    self.latency(calls, || {
                        let call = self
                            .one
                            .call::<(u64,), u64>(&self.calc_one, "heavy-calc", (1,));
                        async move { anyhow::Ok(call.await?) }
                    })
                },
                &mut || {
                    self.latency(calls, || async {
                        anyhow::Ok(self.raw_one.heavy_calc(1).await)
                    })
                },
            ],
        )?;
        Ok(Row::absolute(
            format!(
                "d. round trip, typed heavy_calc(1), 1 submitter, {} calls",
                thousands(calls)
            ),
            Figure::new("wpool", Unit::Us, wasm),
            Figure::new("raw channel", Unit::Us, bare),
            Target::AtMost(10.0),
            "wpool ≤ 10 µs",
        ))
    }

    /// (e) A fresh instance per task against instance reuse: the extra
    /// median cost per call.
    pub fn fresh_instance(&self) -> Result<Row> {
        let calls = self.settings.sequential_calls();
        let call = |pool: &Pool, calc: &LoadedGuest| {
            self.latency(calls, || {
                let call = pool.call::<(u64,), u64>(calc, "heavy-calc", (1,));
                async move { anyhow::Ok(call.await?) }
            })
        };
        let [fresh, reuse] = interleave(
            self.settings.rounds,
            [&mut || call(&self.fresh, &self.calc_fresh), &mut || {
                call(&self.one, &self.calc_one)
            }],
        )?;
        let fresh = Figure::new("fresh", Unit::Us, fresh);
        let reuse = Figure::new("reuse", Unit::Us, reuse);
        let cost = fresh.median - reuse.median;
        Ok(Row::difference(
            format!(
                "e. fresh instance per task vs reuse, 1 worker, {} calls",
                thousands(calls)
            ),
            fresh,
            reuse,
            cost,
            "fresh − reuse",
            Target::AtMost(15.0),
            "≤ 15 µs",
        ))
    }

    /// (f) SHA-256 of 64 KiB on one worker (typed `digest`) against pure-Rust
    /// `sha2` and, for information, `sha2` with SHA-NI.
    pub fn sha256(&self) -> Result<Vec<Row>> {
        let count = self.settings.sha_count();
        let data: Arc<[u8]> = (0..SHA_INPUT)
            .map(|i| (i.wrapping_mul(31) + 7) as u8)
            .collect();
        let expected = baseline::sha256_native(&data);
        ensure!(
            baseline::sha256_soft(&data) == expected,
            "the pure-Rust and SHA-NI digests differ"
        );
        let mib = (count * SHA_INPUT) as f64 / f64::from(1 << 20);
        let native = |hash: fn(&[u8]) -> [u8; 32]| -> Result<f64> {
            let start = Instant::now();
            for _ in 0..count {
                black_box(hash(black_box(&data)));
            }
            Ok(mib / start.elapsed().as_secs_f64())
        };
        let [wasm, soft, ni] = interleave(
            self.settings.rounds,
            [
                &mut || {
                    let start = Instant::now();
                    let calls = futures::stream::iter(0..count)
                        .map(|_| {
                            self.one.call::<(Vec<u8>,), Vec<u8>>(
                                &self.sha_one,
                                "digest",
                                (data.to_vec(),),
                            )
                        })
                        .buffered(SHA_IN_FLIGHT);
                    let digests: Vec<Vec<u8>> = self.single.block_on(calls.try_collect())?;
                    let elapsed = start.elapsed();
                    ensure!(
                        digests.iter().all(|d| *d == expected),
                        "a wasm digest differs from the native one"
                    );
                    Ok(mib / elapsed.as_secs_f64())
                },
                &mut || native(baseline::sha256_soft),
                &mut || native(baseline::sha256_native),
            ],
        )?;
        let wasm = Figure::new("wpool", Unit::MibPerSec, wasm);
        let soft = Figure::new("pure Rust", Unit::MibPerSec, soft);
        let ni = Figure::new("SHA-NI", Unit::MibPerSec, ni);
        let label = |vs: &str| {
            format!(
                "f. sha256 64 KiB × {}, 1 worker, typed digest, vs {vs}",
                thousands(count)
            )
        };
        Ok(vec![
            Row::ratio(
                label("pure Rust"),
                wasm.clone(),
                soft.clone(),
                wasm.median / soft.median,
                "wasm/native speed",
                Target::Info,
                "info",
            ),
            Row::ratio(
                label("SHA-NI"),
                wasm.clone(),
                ni.clone(),
                wasm.median / ni.median,
                "wasm/native speed",
                Target::Info,
                "info",
            ),
        ])
    }

    /// Runs `per` sequential calls in each of [`SUBMITTERS`] tasks on the
    /// multi-thread runtime; returns calls per second.
    fn storm<F, Fut>(&self, per: usize, call: F) -> Result<f64>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<u64>> + Send + 'static,
    {
        self.multi.block_on(async {
            let start = Instant::now();
            let handles: Vec<_> = (0..SUBMITTERS)
                .map(|_| {
                    let call = call.clone();
                    tokio::spawn(async move {
                        for _ in 0..per {
                            let got = call().await?;
                            ensure!(got == 0, "heavy_calc(1) returned {got}");
                        }
                        Ok(())
                    })
                })
                .collect();
            for handle in handles {
                handle.await.context("a submitter panicked")??;
            }
            Ok((per * SUBMITTERS) as f64 / start.elapsed().as_secs_f64())
        })
    }

    /// Times `calls` sequential calls, one at a time, on the current-thread
    /// runtime; returns the median in microseconds.
    fn latency<F, Fut>(&self, calls: usize, call: F) -> Result<f64>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64>>,
    {
        self.single.block_on(async {
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let start = Instant::now();
                let got = call().await?;
                times.push(start.elapsed().as_secs_f64() * 1e6);
                ensure!(got == 0, "heavy_calc(1) returned {got}");
            }
            Ok(median(&times))
        })
    }
}

/// Runs every side once to warm up, then `rounds` rounds of every side in
/// turn; returns each side's per-round figures.
pub(crate) fn interleave<const K: usize>(
    rounds: usize,
    mut sides: [&mut dyn FnMut() -> Result<f64>; K],
) -> Result<[Vec<f64>; K]> {
    for side in sides.iter_mut() {
        side()?;
    }
    let mut figures: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (side, out) in sides.iter_mut().zip(figures.iter_mut()) {
            out.push(side()?);
        }
    }
    Ok(figures)
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn millions(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        n.to_string()
    }
}

pub(crate) fn thousands(n: usize) -> String {
    if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}
