use std::time::Duration;

use futures::{FutureExt, StreamExt};
use wpool::{ErrorKind, Guest, Output};
use wpool_tests::{COUNTER, builder, guest_path, heavy_calc, pool};

fn overlaps(a: &Output, b: &Output) -> bool {
    a.started < b.started + b.elapsed && b.started < a.started + a.elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_at_the_same_time() {
    let pool = pool(2, Duration::from_secs(60));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    // Four long tasks on two idle workers: each worker takes one at once, so
    // the first two windows overlap, whatever the machine's speed.
    let outputs: Vec<Output> =
        futures::future::join_all((0..4).map(|_| pool.submit(&calc, "heavy-calc", 30_000_000u64)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let concurrent = outputs.iter().enumerate().any(|(i, a)| {
        outputs[i + 1..]
            .iter()
            .any(|b| a.worker != b.worker && overlaps(a, b))
    });
    assert!(
        concurrent,
        "no two tasks overlapped on different workers: {outputs:#?}"
    );
    let mut workers: Vec<usize> = outputs.iter().map(|o| o.worker).collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers, [0, 1]);
}

/// When a task finished on its worker.
fn finished(o: &Output) -> std::time::Instant {
    o.started + o.elapsed
}

/// `map` yields results in input order even though they complete in
/// another: one long task first, short ones after it on the other worker.
/// `map_unordered` yields them as they complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_keeps_input_order() {
    let pool = builder(2).map_in_flight(3).build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    // Distinct inputs (so each result names its input), the first one far
    // longer than all the others together.
    let inputs: Vec<u64> = std::iter::once(60_000_000)
        .chain((1..20).map(|i| i * 10))
        .collect();
    let expected: Vec<u64> = inputs.iter().map(|&n| heavy_calc(n)).collect();
    let outputs: Vec<Output> = pool
        .map(&calc, "heavy-calc", inputs.clone())
        .map(Result::unwrap)
        .collect()
        .await;
    let got: Vec<u64> = outputs.iter().map(|o| o.value.as_u64().unwrap()).collect();
    assert_eq!(got, expected, "results in input order");
    // ... while the second input finished before the first: the order was
    // restored, not given.
    assert!(
        finished(&outputs[1]) < finished(&outputs[0]),
        "the long first task finished first: {outputs:#?}"
    );

    let unordered: Vec<u64> = pool
        .map_unordered(&calc, "heavy-calc", inputs)
        .map(|r| r.unwrap().value.as_u64().unwrap())
        .collect()
        .await;
    assert_ne!(unordered[0], expected[0], "the long task came first");
    let (mut unordered, mut sorted) = (unordered, expected);
    unordered.sort();
    sorted.sort();
    assert_eq!(unordered, sorted);
}

#[tokio::test]
async fn dropping_a_queued_task_cancels_it() {
    // One worker, kept busy by a task that times out; a counter task queued
    // behind it is dropped before it starts, so it never bumps the counter.
    let pool = pool(1, Duration::from_millis(300));
    let hostile = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let counter = pool.load(Guest::bytes("counter", COUNTER)).unwrap();
    let mut busy = Box::pin(pool.submit(&hostile, "spin", ()));
    assert!(futures::poll!(busy.as_mut()).is_pending(), "queued");
    // Polled once (so queued behind the spin task), then dropped.
    let doomed = pool.submit(&counter, "bump", ());
    assert!(doomed.now_or_never().is_none(), "the worker is busy");
    let busy = busy.await.unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::Timeout);
    let after = pool.submit(&counter, "bump", ()).await.unwrap();
    assert_eq!(
        after.value.as_i64(),
        Some(1),
        "the dropped task did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_submitted_work() {
    let pool = pool(2, Duration::from_secs(30));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    // Submit and poll each task once so every one is in the queue. Eight
    // tasks on two workers: the later ones are still queued when shutdown
    // starts (a loaded machine may let an early one finish within its first
    // poll, which is fine; not all of them can).
    let mut tasks: Vec<_> = (1..=8u64)
        .map(|i| Box::pin(pool.submit(&calc, "heavy-calc", i * 5_000_000)))
        .collect();
    let mut pending = 0;
    for t in &mut tasks {
        pending += usize::from(futures::poll!(t.as_mut()).is_pending());
    }
    assert!(pending >= 2, "only {pending} of 8 tasks were still queued");
    pool.shutdown().await;
    for (i, t) in (1u64..).zip(tasks) {
        let n = i * 5_000_000;
        assert_eq!(t.await.unwrap().value.as_u64(), Some(heavy_calc(n)));
    }
    // Afterwards the pool refuses work.
    assert!(pool.is_closed());
    let err = pool.submit(&calc, "heavy-calc", 1u64).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolClosed);
    assert!(matches!(
        pool.load(Guest::builtin("sha256")),
        Err(wpool::LoadError::PoolClosed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_interrupts_running_tasks() {
    let pool = pool(1, Duration::from_secs(600));
    let hostile = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let mut spin = Box::pin(pool.submit(&hostile, "spin", ()));
    assert!(futures::poll!(spin.as_mut()).is_pending());
    let mut queued = Box::pin(pool.submit(&hostile, "ok", 1u64));
    assert!(futures::poll!(queued.as_mut()).is_pending());
    pool.abort();
    let err = spin.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let err = queued.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
}

/// `enqueue_with` queues when it is awaited: on one worker, tasks start in
/// exactly the order their `enqueue_with`s were awaited, which here is the
/// reverse of the order they were called in (and numbered in), while their
/// results are awaited later still.
#[tokio::test]
async fn enqueue_keeps_the_order_of_calls() {
    let pool = pool(1, Duration::from_secs(30));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let inputs: Vec<u64> = (0..30u64)
        .map(|i| if i % 3 == 0 { 200_000 + i } else { 10 + i })
        .collect();
    let calls: Vec<_> = inputs
        .iter()
        .map(|&n| pool.enqueue_with(&calc, "heavy-calc", n, wpool::TaskOptions::default()))
        .collect();
    let mut queued = Vec::new();
    for call in calls.into_iter().rev() {
        queued.push(call.await.unwrap());
    }
    let mut outputs = Vec::new();
    for task in queued.into_iter().rev() {
        outputs.push(task.await.unwrap());
    }
    outputs.reverse();
    // `outputs` is in queueing order: the last input first.
    let results: Vec<u64> = outputs.iter().map(|o| o.value.as_u64().unwrap()).collect();
    let expected: Vec<u64> = inputs.iter().rev().map(|&n| heavy_calc(n)).collect();
    assert_eq!(results, expected);
    for pair in outputs.windows(2) {
        assert!(
            pair[0].task > pair[1].task,
            "numbered in call order, not queueing order"
        );
        assert!(
            pair[0].started < pair[1].started,
            "task {} started after task {}",
            pair[0].task,
            pair[1].task
        );
    }
}

/// Every `shutdown` waits for the workers to exit, not only the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_shutdowns_all_wait_for_the_workers() {
    let pool = pool(2, Duration::from_secs(30));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    assert_eq!(pool.__live_workers(), 2);
    let mut tasks: Vec<_> = (0..2)
        .map(|_| Box::pin(pool.submit(&calc, "heavy-calc", 100_000_000u64)))
        .collect();
    for t in &mut tasks {
        assert!(futures::poll!(t.as_mut()).is_pending());
    }
    let first = async {
        pool.shutdown().await;
        pool.__live_workers()
    };
    let second = async {
        pool.shutdown().await;
        pool.__live_workers()
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        (first, second),
        (0, 0),
        "a shutdown returned while workers ran"
    );
    for t in tasks {
        assert!(t.await.is_ok());
    }
}

/// A task's state as a `concurrent.futures` executor keeps it: the start
/// hook moves it from queued to running, a cancel from queued to
/// cancelled; whichever comes first wins.
struct StartState(std::sync::atomic::AtomicU8);

impl StartState {
    const QUEUED: u8 = 0;
    const RUNNING: u8 = 1;
    const CANCELLED: u8 = 2;

    fn swap(&self, to: u8) -> bool {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        self.0
            .compare_exchange(Self::QUEUED, to, AcqRel, Acquire)
            .is_ok()
    }

    fn get(&self) -> u8 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// `TaskOptions::on_start` decides, race-free, between running and
/// cancelled: on one worker, a first task's hook holds the worker until the
/// test has tried to cancel every task. The running one cannot be cancelled
/// and its result arrives; the queued one is cancelled there, never runs,
/// and fails with `Cancelled`; the next one runs normally.
#[tokio::test]
async fn the_start_hook_decides_between_running_and_cancelled() {
    use std::sync::{Arc, Barrier};
    let pool = pool(1, Duration::from_secs(30));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let counter = pool.load(Guest::bytes("counter", COUNTER)).unwrap();
    let states: Vec<Arc<StartState>> = (0..3).map(|_| Arc::new(StartState(0.into()))).collect();
    let (started, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let options = |i: usize| {
        let (state, started, release) = (states[i].clone(), started.clone(), release.clone());
        wpool::TaskOptions::new().on_start(move || {
            let running = state.swap(StartState::RUNNING);
            if i == 0 {
                started.wait(); // the test now tries to cancel every task
                release.wait();
            }
            running
        })
    };
    let first = pool.enqueue_with(&calc, "heavy-calc", 1_000u64, options(0));
    let first = first.await.unwrap();
    let doomed = pool
        .enqueue_with(&counter, "bump", (), options(1))
        .await
        .unwrap();
    let last = pool
        .enqueue_with(&counter, "bump", (), options(2))
        .await
        .unwrap();

    started.wait();
    assert_eq!(states[0].get(), StartState::RUNNING);
    assert!(
        !states[0].swap(StartState::CANCELLED),
        "a running task is not cancellable"
    );
    assert!(states[1].swap(StartState::CANCELLED), "a queued task is");
    release.wait();

    assert_eq!(first.await.unwrap().value.as_u64(), Some(heavy_calc(1_000)));
    let cancelled = doomed.await.unwrap_err();
    assert_eq!(cancelled.kind(), ErrorKind::Cancelled, "{cancelled}");
    assert_eq!(states[1].get(), StartState::CANCELLED);
    let after = last.await.unwrap();
    assert_eq!(states[2].get(), StartState::RUNNING);
    assert_eq!(
        after.value.as_i64(),
        Some(1),
        "the cancelled task never ran"
    );
}

/// Calls made one after another, each awaited before the next: the worker
/// that just finished one checks the queue before it sleeps (its `spin`),
/// so it takes the next call itself, and no sleeping worker has to wake.
/// (Without the spin, the worker asleep longest is woken for each call: they
/// alternate.) A worker checking the queue still stops when it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pool_answers_the_next_call_from_the_worker_that_is_awake() {
    let pool = builder(2)
        .spin(Duration::from_secs(30))
        .build()
        .expect("pool builds");
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let mut workers = Vec::new();
    for n in 0..100u64 {
        let out = pool.submit(&calc, "heavy-calc", n).await.unwrap();
        assert_eq!(out.value.as_u64(), Some(heavy_calc(n)));
        workers.push(out.worker);
    }
    let same = workers.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(
        same >= 50,
        "only {same} of 99 calls ran on the worker of the call before: {workers:?}"
    );
    // The last worker checks the queue for 30 s: closing it must end that.
    tokio::time::timeout(Duration::from_secs(10), pool.shutdown())
        .await
        .expect("shutdown waited for a worker checking a closed queue");
}
