//! `map` sends tiny tasks to workers in batches: each task of a batch keeps
//! its own result, id, failure and instance policy; a batch whose tasks turn
//! out long hands its rest to the other workers; dropping the map cancels
//! what has not started.

use futures::StreamExt;
use wpool::{ErrorKind, Guest, Output, TaskError, Value};
use wpool_tests::{COUNTER, builder, heavy_calc};

/// A core module that counts its calls (the count shows which calls shared
/// an instance) and traps on 13.
const STEPPER: &str = r#"(module
  (global $n (mut i64) (i64.const 0))
  (func (export "step") (param $x i64) (result i64)
    (if (i64.eq (local.get $x) (i64.const 13)) (then unreachable))
    global.get $n i64.const 1 i64.add global.set $n global.get $n))"#;

async fn collect(
    stream: impl futures::Stream<Item = Result<Output, TaskError>>,
) -> Vec<Result<Output, TaskError>> {
    stream.collect().await
}

/// Thousands of tiny calls on one worker: the trap of one, and the input of
/// the wrong type of another, fail those two alone, in their places; the
/// trap threw its instance away (the count starts again after it), the
/// refused input never ran (the count does not move); ids follow the input
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_in_a_batch_keeps_its_own_outcome() {
    let pool = builder(1).build().unwrap();
    let stepper = pool.load(Guest::bytes("stepper", STEPPER)).unwrap();
    let inputs: Vec<Value> = (0..3_000i64)
        .map(|i| match i {
            2_000 => Value::Int(13),
            2_500 => Value::String("not a number".into()),
            i => Value::Int(i + 100),
        })
        .collect();
    let results = collect(pool.map(&stepper, "step", inputs)).await;
    assert_eq!(results.len(), 3_000);
    let mut expected_count = 0;
    let mut last_id = None;
    for (i, result) in results.iter().enumerate() {
        match i {
            2_000 => {
                let e = result.as_ref().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
                expected_count = 0; // a new instance next
            }
            2_500 => {
                let e = result.as_ref().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidCall, "{e}");
                assert!(e.to_string().contains("step"), "{e}");
            }
            _ => {
                let out = result.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
                expected_count += 1;
                assert_eq!(out.value.as_i64(), Some(expected_count), "input {i}");
            }
        }
        let id = match result {
            Ok(out) => out.task,
            Err(e) => e.task(),
        };
        assert!(last_id.is_none_or(|last| id > last), "ids in input order");
        last_id = Some(id);
    }
}

/// Tiny tasks first teach the map to batch; the long ones after them must
/// still spread over both workers: a batch that runs long hands the rest of
/// its tasks back to the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_tasks_after_tiny_ones_use_every_worker() {
    let pool = builder(2).build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let long = 40_000_000u64;
    let inputs: Vec<u64> = std::iter::repeat_n(1, 3_000)
        .chain(std::iter::repeat_n(long, 8))
        .collect();
    let results = collect(pool.map(&calc, "heavy-calc", inputs)).await;
    let outputs: Vec<Output> = results.into_iter().map(Result::unwrap).collect();
    assert!(outputs[..3_000].iter().all(|o| o.value.as_u64() == Some(0)));
    let long_ones = &outputs[3_000..];
    assert!(
        long_ones
            .iter()
            .all(|o| o.value.as_u64() == Some(heavy_calc(long)))
    );
    let mut workers: Vec<usize> = long_ones.iter().map(|o| o.worker).collect();
    workers.sort();
    workers.dedup();
    assert_eq!(
        workers,
        [0, 1],
        "the long tasks ran on one worker: {long_ones:#?}"
    );
}

/// Dropping a map part-way cancels the tasks it had not started: of
/// 100,000 inputs only those read so far and a few batches in flight ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_map_cancels_what_has_not_started() {
    let pool = builder(1).map_in_flight(2).map_batch(64).build().unwrap();
    let counter = pool.load(Guest::bytes("counter", COUNTER)).unwrap();
    let mut stream = Box::pin(pool.map(&counter, "bump", std::iter::repeat_n((), 100_000)));
    for expected in 1..=3_000 {
        let out = stream.next().await.unwrap().unwrap();
        assert_eq!(out.value.as_i64(), Some(expected));
    }
    drop(stream);
    let after = pool.submit(&counter, "bump", ()).await.unwrap();
    let ran = after.value.as_i64().unwrap() - 1;
    // At most the batches in flight (2) and the one being cut ran beyond
    // what was read.
    assert!(
        (3_000..=3_000 + 3 * 64).contains(&ran),
        "{ran} calls ran after reading 3,000 of 100,000"
    );
}

/// `map_batch(1)` sends every task alone, with the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_can_be_turned_off() {
    let pool = builder(2).map_batch(1).build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let got: Vec<u64> = pool
        .map_unordered(&calc, "heavy-calc", 0..500u64)
        .map(|r| r.unwrap().value.as_u64().unwrap())
        .collect()
        .await;
    let mut got = got;
    got.sort();
    let mut expected: Vec<u64> = (0..500).map(heavy_calc).collect();
    expected.sort();
    assert_eq!(got, expected);
}
