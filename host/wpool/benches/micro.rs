//! Criterion micro-benchmarks of wpool's per-task costs: a round trip through
//! the pool (typed and dynamic), fresh instance versus reuse, SHA-256 of
//! 64 KiB in wasm and a `map` of 1,000 such payloads hashed by the host,
//! tiny tasks in bulk (`map`, many submitters), a dynamic call of a
//! built-in's record signature (`etl/transform`: bytes and a record), and
//! making a pool.
//!
//! Pools have no compile cache: guests are compiled by `load`, before any
//! timing starts. The single-call groups use one worker and await calls one
//! after another on a current-thread tokio runtime; a sample times a whole
//! batch of calls (`iter_custom`) so `block_on` is not part of the figure.
//! The bulk group uses two workers. Side-by-side ratios against native code
//! live in the `wpool-bench` binary (`bench/`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use tokio::runtime::Runtime;
use wpool::{Bytes, Grants, Guest, InstanceMode, LoadedGuest, Pool, Value};

/// The SHA-256 input size.
const SHA_INPUT: usize = 64 << 10;
/// Payloads per `map` of SHA-256 inputs.
const SHA_MAP: usize = 1000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("cannot build the tokio runtime")
}

/// Tiny tasks per `bulk` sample.
const BULK_TASKS: usize = 10_000;
/// Concurrent submitters in the `bulk` group.
const SUBMITTERS: usize = 64;

fn pool(mode: InstanceMode) -> Pool {
    pool_of(1, mode)
}

fn pool_of(workers: usize, mode: InstanceMode) -> Pool {
    Pool::builder()
        .workers(workers)
        .timeout(Duration::from_secs(60))
        .instance_mode(mode)
        .no_cache()
        .build()
        .expect("cannot build the pool")
}

fn load(pool: &Pool, name: &str) -> LoadedGuest {
    pool.load(Guest::builtin(name))
        .unwrap_or_else(|e| panic!("cannot load `{name}`: {e}"))
}

/// A benchmark group measured for `seconds` after a second of warm-up, 20
/// samples.
fn configured<'c>(
    c: &'c mut Criterion,
    name: &str,
    seconds: u64,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .measurement_time(Duration::from_secs(seconds))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    group
}

/// Times `iters` sequential typed `heavy-calc(1)` calls.
fn typed_calls(rt: &Runtime, pool: &Pool, calc: &LoadedGuest, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let out: u64 = pool
                .call::<(u64,), u64>(calc, "heavy-calc", (black_box(1),))
                .await
                .expect("task failed");
            black_box(out);
        }
        start.elapsed()
    })
}

fn call(c: &mut Criterion) {
    let rt = runtime();
    let pool = pool(InstanceMode::Reuse);
    let calc = load(&pool, "heavy_calc");
    let mut group = configured(c, "call", 3);
    group.bench_function("typed heavy_calc(1)", |b| {
        b.iter_custom(|iters| typed_calls(&rt, &pool, &calc, iters))
    });
    group.bench_function("dynamic submit heavy_calc(1)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let out = pool
                        .submit(&calc, "heavy-calc", black_box(1u64))
                        .await
                        .expect("task failed");
                    black_box(out.value);
                }
                start.elapsed()
            })
        })
    });
    // The same round trip with the idle worker sleeping at once: each call
    // then waits for a thread to wake (the `spin` setting's baseline).
    let sleeper = Pool::builder()
        .workers(1)
        .spin(Duration::ZERO)
        .no_cache()
        .build()
        .expect("cannot build the pool");
    let sleeper_calc = load(&sleeper, "heavy_calc");
    group.bench_function("typed heavy_calc(1), no spin", |b| {
        b.iter_custom(|iters| typed_calls(&rt, &sleeper, &sleeper_calc, iters))
    });
    group.finish();
    rt.block_on(pool.shutdown());
    rt.block_on(sleeper.shutdown());
}

fn instance(c: &mut Criterion) {
    let rt = runtime();
    let mut group = configured(c, "instance", 3);
    for (name, mode) in [
        ("reuse tiny task", InstanceMode::Reuse),
        ("fresh tiny task", InstanceMode::Fresh),
    ] {
        let pool = pool(mode);
        let calc = load(&pool, "heavy_calc");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| typed_calls(&rt, &pool, &calc, iters))
        });
        rt.block_on(pool.shutdown());
    }
    group.finish();
}

fn sha256(c: &mut Criterion) {
    let rt = runtime();
    let pool = pool(InstanceMode::Reuse);
    let sha = load(&pool, "sha256");
    let data: Vec<u8> = (0..SHA_INPUT)
        .map(|i| (i.wrapping_mul(31) + 7) as u8)
        .collect();
    let mut group = configured(c, "sha256", 3);
    group.throughput(Throughput::Bytes(SHA_INPUT as u64));
    group.bench_function("digest 64 KiB (wasm, typed)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let digest: Vec<u8> = pool
                        .call::<(Vec<u8>,), Vec<u8>>(&sha, "digest", (data.clone(),))
                        .await
                        .expect("task failed");
                    black_box(digest);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    rt.block_on(pool.shutdown());

    // A map of many payloads, hashed by the host (the digest grant): what
    // is left is wpool's cost per task and per batch.
    let pool = pool_of(2, InstanceMode::Reuse);
    let sha = pool
        .load(
            Guest::builtin("sha256")
                .named("sha256+digest")
                .grants(Grants::new().digest(true)),
        )
        .expect("cannot load `sha256` with the digest grant");
    let payloads: Vec<Vec<u8>> = (0..SHA_MAP)
        .map(|i| data.iter().map(|b| b.wrapping_add(i as u8)).collect())
        .collect();
    let mut group = configured(c, "sha256", 5);
    group.throughput(Throughput::Bytes((SHA_MAP * SHA_INPUT) as u64));
    group.bench_function("map 1k × 64 KiB owned, host digest, 2 workers", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let owned = payloads.clone();
                elapsed += rt.block_on(async {
                    let start = Instant::now();
                    let mut hexes = pool.map(&sha, "hex", owned);
                    while let Some(out) = hexes.next().await {
                        black_box(out.expect("task failed").value);
                    }
                    start.elapsed()
                });
            }
            elapsed
        })
    });
    // The same payloads shared with the tasks (`wpool::Bytes`): nothing is
    // copied or freed on the host per task.
    let shared: Vec<Bytes> = payloads.into_iter().map(Bytes::from).collect();
    group.bench_function("map 1k × 64 KiB shared, host digest, 2 workers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut hexes = pool.map(&sha, "hex", shared.clone());
                    while let Some(out) = hexes.next().await {
                        black_box(out.expect("task failed").value);
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    rt.block_on(pool.shutdown());
}

/// Tiny tasks in bulk on two workers: `map` driven from one current-thread
/// runtime (as `executor.map` would be), and many concurrent submitters on a
/// two-thread runtime.
fn bulk(c: &mut Criterion) {
    let single = runtime();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("cannot build the tokio runtime");
    let pool = pool_of(2, InstanceMode::Reuse);
    let calc = load(&pool, "heavy_calc");
    let mut group = configured(c, "bulk", 3);
    group.throughput(Throughput::Elements(BULK_TASKS as u64));
    group.bench_function("map 10k tiny tasks, 2 workers", |b| {
        b.iter_custom(|iters| {
            single.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut results = pool.map(
                        &calc,
                        "heavy-calc",
                        std::iter::repeat_n(black_box(1u64), BULK_TASKS),
                    );
                    while let Some(out) = results.next().await {
                        black_box(out.expect("task failed").value);
                    }
                }
                start.elapsed()
            })
        })
    });
    let per = BULK_TASKS / SUBMITTERS;
    group.throughput(Throughput::Elements((per * SUBMITTERS) as u64));
    group.bench_function("10k typed calls, 64 submitters, 2 workers", |b| {
        let (pool, calc) = (pool.clone(), calc.clone());
        let call = move || pool.call::<(u64,), u64>(&calc, "heavy-calc", (black_box(1),));
        b.iter_custom(|iters| storm(&multi, iters, per, call.clone()))
    });
    group.bench_function("10k dynamic submits, 64 submitters, 2 workers", |b| {
        let (pool, calc) = (pool.clone(), calc.clone());
        let call = move || {
            let submitted = pool.submit(&calc, "heavy-calc", black_box(1u64));
            async move { submitted.await.map(|out| out.value.as_u64().unwrap_or(0)) }
        };
        b.iter_custom(|iters| storm(&multi, iters, per, call.clone()))
    });
    group.finish();
    single.block_on(pool.shutdown());
}

/// `iters` times, `SUBMITTERS` tasks each making `per` calls one after
/// another; the time it took.
fn storm<F, Fut>(multi: &Runtime, iters: u64, per: usize, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<u64, wpool::TaskError>> + Send,
{
    multi.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let submitters: Vec<_> = (0..SUBMITTERS)
                .map(|_| {
                    let call = call.clone();
                    tokio::spawn(async move {
                        for _ in 0..per {
                            black_box(call().await.expect("task failed"));
                        }
                    })
                })
                .collect();
            for submitter in submitters {
                submitter.await.expect("a submitter panicked");
            }
        }
        start.elapsed()
    })
}

/// A dynamic `etl/transform` of 256 KiB of CSV with a `query` record, as a
/// job file makes it: the bytes and the record go in typed (`records`).
fn records(c: &mut Criterion) {
    let rt = runtime();
    let pool = pool(InstanceMode::Reuse);
    let etl = load(&pool, "etl");
    let mut csv = String::from("region,units,price\n");
    for i in 0.. {
        if csv.len() >= 256 << 10 {
            break;
        }
        let region = ["North", "South", "East", "West"][i % 4];
        csv.push_str(&format!("{region},{},{}.{:02}\n", i % 13, i % 97, i % 100));
    }
    let csv = Bytes::from(csv);
    let query = Value::Map(vec![
        ("filter".into(), Value::List(vec!["units >= 3".into()])),
        ("columns".into(), Value::List(Vec::new())),
        ("group-by".into(), "region".into()),
        ("measure".into(), "price".into()),
        ("format".into(), "json".into()),
    ]);
    let mut group = configured(c, "records", 3);
    group.throughput(Throughput::Bytes(csv.len() as u64));
    group.bench_function("etl/transform 256 KiB, dynamic submit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let args = vec![Value::SharedBytes(csv.clone()), query.clone()];
                    let out = pool.submit(&etl, "transform", args).await;
                    black_box(out.expect("task failed"));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    rt.block_on(pool.shutdown());
}

/// Making a pool (the engine, the pooling allocator's reservations, the
/// worker threads) and shutting it down: what every `wpool run` pays first.
fn startup(c: &mut Criterion) {
    let rt = runtime();
    let mut group = configured(c, "startup", 3);
    group.bench_function("build and shut down a 2-worker pool", |b| {
        b.iter(|| {
            let pool = pool_of(2, InstanceMode::Reuse);
            rt.block_on(pool.shutdown());
        })
    });
    group.finish();
}

criterion_group!(micro, call, instance, sha256, bulk, records, startup);
criterion_main!(micro);
