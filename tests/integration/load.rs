use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use wpool::{ErrorKind, Guest, IntoArgs, Pool, Value};
use wpool_tests::{cache_dir, guest_path};

/// 10,000 tasks, one in ten hostile (five kinds), across every worker:
/// exactly 9,000 results and 1,000 errors of the right kinds, no hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_under_load() {
    let pool = Pool::builder()
        .timeout(Duration::from_millis(100))
        .memory_limit(4 << 20)
        .cache_dir(cache_dir())
        .build()
        .unwrap();
    let g = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let hostile = [
        ("trap", ().into_args(), ErrorKind::Trap),
        ("spin", ().into_args(), ErrorKind::Timeout),
        ("grow", 16u32.into_args(), ErrorKind::MemoryLimit),
        ("recurse", 100_000_000u64.into_args(), ErrorKind::Trap),
        ("panic", "load".into_args(), ErrorKind::Trap),
    ];
    let inputs = (0..10_000u64).map(|i| {
        if i % 10 == 9 {
            let (func, args, kind) = hostile[(i / 10) as usize % hostile.len()].clone();
            (i, func, args, Some(kind))
        } else {
            (i, "ok", i.into_args(), None)
        }
    });
    let results: Vec<_> = futures::stream::iter(inputs)
        .map(|(i, func, args, kind)| {
            let task = pool.submit(&g, func, args);
            async move { (i, kind, task.await) }
        })
        .buffer_unordered(64)
        .collect()
        .await;

    assert_eq!(results.len(), 10_000);
    let mut ok = 0;
    let mut kinds: HashMap<ErrorKind, usize> = HashMap::new();
    for (i, expected, result) in results {
        match (expected, result) {
            (None, Ok(out)) => {
                assert_eq!(out.value, Value::UInt(i + 1));
                ok += 1;
            }
            (Some(kind), Err(e)) => {
                assert_eq!(e.kind(), kind, "task {i}: {e}");
                *kinds.entry(kind).or_default() += 1;
            }
            (expected, got) => panic!("task {i}: expected {expected:?}, got {got:?}"),
        }
    }
    assert_eq!(ok, 9_000);
    assert_eq!(kinds[&ErrorKind::Trap], 600);
    assert_eq!(kinds[&ErrorKind::Timeout], 200);
    assert_eq!(kinds[&ErrorKind::MemoryLimit], 200);
}
