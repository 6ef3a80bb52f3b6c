//! (a) on one vCPU: heavy_calc in a one-worker pool against the same loop
//! in native Rust, both sides on the same vCPU.
//!
//! The unpinned row runs native code on the bench's thread and the guest on
//! the pool's worker thread, wherever the kernel puts each; on a VM whose
//! vCPUs run at different speeds from moment to moment (a busy neighbour on
//! one of them), that compares two vCPUs as much as two compilers. Here a
//! thread pins itself to the vCPU it is on (`sched_setaffinity`) and builds
//! the pool there: the worker thread inherits the pin, and the native loop
//! runs on the pinned thread.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use wpool::{Guest, Pool};

use crate::baseline;
use crate::report::{Figure, Row, Target, Unit};
use crate::workloads::{Settings, interleave, millions, millis};

/// The pinned comparison, as row a's target reads it.
pub fn heavy_vs_native(settings: &Settings) -> Result<Row> {
    let n = settings.heavy_n();
    let rounds = settings.rounds;
    std::thread::scope(|scope| {
        scope
            .spawn(move || pinned(n, rounds))
            .join()
            .map_err(|_| anyhow::anyhow!("the pinned thread panicked"))?
    })
}

fn pinned(n: u64, rounds: usize) -> Result<Row> {
    let cpu = rustix::thread::sched_getcpu();
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).context("cannot pin the thread to its vCPU")?;
    // Built here, the pool's threads inherit the pin.
    let pool = Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(120))
        .no_cache()
        .build()
        .context("cannot build the pinned pool")?;
    let calc = pool
        .load(Guest::builtin("heavy_calc"))
        .context("cannot load `heavy_calc`")?;
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let expected = baseline::heavy_calc(n);
    let [wasm, native] = interleave(
        rounds,
        [
            &mut || {
                let start = Instant::now();
                let got = rt.block_on(pool.call::<(u64,), u64>(&calc, "heavy-calc", (n,)))?;
                let ms = millis(start.elapsed());
                ensure!(got == expected, "wasm heavy_calc({n}) = {got}");
                Ok(ms)
            },
            &mut || {
                let start = Instant::now();
                black_box(baseline::heavy_calc(black_box(n)));
                Ok(millis(start.elapsed()))
            },
        ],
    )?;
    rt.block_on(pool.shutdown());
    let wasm = Figure::new("wpool", Unit::Ms, wasm);
    let native = Figure::new("native", Unit::Ms, native);
    Ok(Row::over(
        format!(
            "a. heavy_calc({}), 1 worker, typed call, the worker and native code \
             on one vCPU (pinned)",
            millions(n)
        ),
        &wasm,
        &native,
        "wasm/native",
        Target::AtMost(1.10),
        "≤ 1.10×",
    ))
}
