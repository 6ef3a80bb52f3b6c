//! Workloads of the hostile-input issue: good-task throughput before and
//! after a batch of hostile tasks, and peak memory as a streamed job grows.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use tokio::runtime::Runtime;
use wpool::{Guest, IntoArgs, LoadedGuest, Pool};

use crate::report::{Figure, Row, Target, Unit};
use crate::workloads::Settings;

/// The hostile guest built from `guest/hostile` (by `wpool-tests`' build script).
fn hostile(pool: &Pool) -> Result<LoadedGuest> {
    pool.load(Guest::file(wpool_tests::guest_path("hostile")))
        .context("cannot load the hostile guest")
}

/// Good tasks per second: `count` calls of `ok`, 64 in flight.
fn good_rate(runtime: &Runtime, pool: &Pool, guest: &LoadedGuest, count: u64) -> Result<f64> {
    runtime.block_on(async {
        let start = Instant::now();
        let mut results = pool.map_unordered(guest, "ok", 0..count);
        let mut n = 0u64;
        while let Some(result) = results.next().await {
            result?;
            n += 1;
        }
        ensure!(n == count, "{n} of {count} results");
        Ok(count as f64 / start.elapsed().as_secs_f64())
    })
}

/// (g) Throughput of good tasks on a pool that absorbed a batch of hostile
/// tasks (traps, timeouts, memory bombs, stack overflows, panics) against a
/// clean pool built the same way, measured in alternating rounds: the
/// battered pool must not have degraded.
pub fn hostile_recovery(settings: &Settings) -> Result<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let build = || {
        Pool::builder()
            .workers(settings.workers)
            .timeout(Duration::from_millis(50))
            .memory_limit(8 << 20)
            .no_cache()
            .build()
    };
    let (clean, battered) = (build()?, build()?);
    let (clean_guest, battered_guest) = (hostile(&clean)?, hostile(&battered)?);
    // Good tasks run at ~1 M/s through `map` (batched): a million makes a
    // round long enough (about a second) to outlast the VM's hiccups.
    let (good, hostile_count) = if settings.quick {
        (100_000, 200)
    } else {
        (1_000_000, 1_000)
    };
    let failed = runtime.block_on(async {
        let kinds: [(&str, Vec<wpool::Value>); 5] = [
            ("trap", ().into_args()),
            ("spin", ().into_args()),
            ("grow", 64u32.into_args()),
            ("recurse", 100_000_000u64.into_args()),
            ("panic", "bench".into_args()),
        ];
        let tasks = (0..hostile_count).map(|i| {
            let (func, args) = kinds[i % kinds.len()].clone();
            battered.submit(&battered_guest, func, args)
        });
        futures::stream::iter(tasks)
            .buffer_unordered(64)
            .filter(|r| std::future::ready(r.is_err()))
            .count()
            .await
    });
    ensure!(
        failed == hostile_count,
        "{failed} of {hostile_count} hostile tasks failed"
    );
    good_rate(&runtime, &clean, &clean_guest, good / 10)?; // warm up both
    good_rate(&runtime, &battered, &battered_guest, good / 10)?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        before.push(good_rate(&runtime, &clean, &clean_guest, good)?);
        after.push(good_rate(&runtime, &battered, &battered_guest, good)?);
    }
    runtime.block_on(async {
        clean.shutdown().await;
        battered.shutdown().await;
    });
    let after = Figure::new("after hostile", Unit::OpsPerSec, after);
    let before = Figure::new("clean pool", Unit::OpsPerSec, before);
    let ratio = after.median / before.median;
    Ok(Row::ratio(
        format!(
            "g. good tasks/s after {hostile_count} hostile tasks vs a clean pool, {} workers",
            settings.workers
        ),
        after,
        before,
        ratio,
        "after/clean",
        Target::AtLeast(0.9),
        "≥ 0.90×",
    ))
}

/// The process's peak resident set size in MiB (`VmHWM`, Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// (h) Peak RSS while streaming N tiny tasks through `map` (results consumed
/// as they come), for N and 10 × N: flat if nothing holds all inputs or
/// results. Runs first, before other workloads raise the high-water mark.
pub fn streaming_memory(settings: &Settings) -> Result<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let pool = Pool::builder()
        .workers(settings.workers)
        .no_cache()
        .build()?;
    let guest = hostile(&pool)?;
    let small = if settings.quick { 20_000 } else { 100_000 };
    let mut peaks = Vec::new();
    for count in [small, small * 10] {
        good_rate(&runtime, &pool, &guest, count)?;
        peaks.push(peak_rss_mib().context("no /proc/self/status here")?);
    }
    runtime.block_on(pool.shutdown());
    let (small_peak, big_peak) = (peaks[0], peaks[1]);
    Ok(Row::ratio(
        format!(
            "h. peak RSS streaming {}k vs {}k tiny tasks (MiB)",
            small * 10 / 1000,
            small / 1000
        ),
        Figure::new(
            format!("{}k tasks", small * 10 / 1000),
            Unit::Mib,
            vec![big_peak],
        ),
        Figure::new(
            format!("{}k tasks", small / 1000),
            Unit::Mib,
            vec![small_peak],
        ),
        big_peak / small_peak,
        "10×N / N",
        Target::AtMost(1.10),
        "≤ 1.10× (flat)",
    ))
}
