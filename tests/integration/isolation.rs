use std::time::Duration;

use wpool::{Access, ErrorKind, Grants, Guest, IntoArgs, Pool, Value};
use wpool_tests::guest_path;

fn hostile_pool(workers: usize) -> Pool {
    wpool_tests::builder(workers)
        .timeout(Duration::from_millis(500))
        .memory_limit(64 << 20)
        .output_limit(1 << 20)
        .stdio_limit(4096)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_alone_and_typed() {
    let pool = hostile_pool(2);
    let g = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        tasks.push(pool.submit(&g, "ok", i.into_args()));
        match i {
            10 => tasks.push(pool.submit(&g, "trap", ().into_args())),
            30 => tasks.push(pool.submit(&g, "spin", ().into_args())),
            50 => tasks.push(pool.submit(&g, "grow", 1000u32.into_args())),
            70 => tasks.push(pool.submit(&g, "recurse", 100_000_000u64.into_args())),
            90 => tasks.push(pool.submit(&g, "panic", "boom at 90".into_args())),
            _ => {}
        }
    }
    let results = futures::future::join_all(tasks).await;
    let mut ok = 0;
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(out) => {
                ok += 1;
                assert!(out.value.as_u64().is_some());
            }
            Err(e) => failures.push((e.kind(), e.function().to_owned(), e.detail().to_owned())),
        }
    }
    assert_eq!(ok, 100, "{failures:#?}");
    let kinds: Vec<(ErrorKind, &str)> = failures.iter().map(|(k, f, _)| (*k, f.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (ErrorKind::Trap, "trap"),
            (ErrorKind::Timeout, "spin"),
            (ErrorKind::MemoryLimit, "grow"),
            (ErrorKind::Trap, "recurse"),
            (ErrorKind::Trap, "panic"),
        ]
    );
    let detail = |f: &str| {
        failures
            .iter()
            .find(|(_, name, _)| name == f)
            .unwrap()
            .2
            .clone()
    };
    assert!(detail("trap").contains("unreachable"), "{}", detail("trap"));
    assert_eq!(detail("spin"), "timed out after 500ms");
    assert_eq!(detail("grow"), "exceeded the memory limit of 64 MiB");
    assert!(
        detail("recurse").contains("stack overflow"),
        "{}",
        detail("recurse")
    );
    assert!(
        detail("panic").contains("boom at 90"),
        "the panic message is reported: {}",
        detail("panic")
    );

    // The pool keeps working, on every worker.
    for i in 0..10u64 {
        assert_eq!(
            pool.submit(&g, "ok", i).await.unwrap().value.as_u64(),
            Some(i + 1)
        );
    }
}

#[tokio::test]
async fn timeout_message_names_task_guest_and_function() {
    let pool = hostile_pool(1);
    let g = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    let err = pool.submit(&g, "spin", ()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        err.to_string(),
        format!(
            "task {} (`hostile`/`spin`) timed out after 500ms",
            err.task()
        )
    );
    assert_eq!(err.worker(), Some(0));
}

#[tokio::test]
async fn fuel_runs_out() {
    let pool = wpool_tests::builder(1).fuel(1_000_000).build().unwrap();
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let err = pool
        .submit(&calc, "heavy-calc", 100_000_000u64)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel);
    assert_eq!(err.detail(), "ran out of fuel (budget 1000000)");
    // Each task gets a fresh budget.
    let small = pool.submit(&calc, "heavy-calc", 1000u64).await.unwrap();
    assert!(small.value.as_u64().is_some());
}

#[tokio::test]
async fn output_is_capped() {
    let pool = hostile_pool(1);
    let g = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    // Under the cap: fine.
    let out = pool.submit(&g, "big-output", 256u64 << 10).await.unwrap();
    assert_eq!(out.value.as_bytes().map(<[u8]>::len), Some(256 << 10));
    // Far over the cap: refused while the result is lifted into the host.
    for len in [2u64 << 20, 16 << 20] {
        let err = pool.submit(&g, "big-output", len).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutputLimit, "{err}");
        assert_eq!(err.detail(), "returned more than the output limit of 1 MiB");
    }
    // Bytes in, bytes out (a typed fast path): measured after the call.
    let echo = pool.load(Guest::file(guest_path("echo"))).unwrap();
    let err = pool
        .submit(&echo, "reverse-bytes", vec![7u8; 2 << 20])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutputLimit, "{err}");
    assert_eq!(
        err.detail(),
        "returned about 2 MiB, over the output limit of 1 MiB"
    );

    // A stdout flood succeeds, keeping only the first 4 KiB of each stream.
    let out = pool.submit(&g, "flood-stdout", 2u64 << 20).await.unwrap();
    assert_eq!(out.value.as_u64(), Some(2 << 20));
    assert_eq!(out.stdout.len(), 4096);
    assert_eq!(out.stderr.len(), 4096);
    assert!(out.stdout.iter().all(|&b| b == b'y'));
    // Each task of a reused instance gets only what it wrote itself.
    let quiet = pool.submit(&g, "ok", 1u64).await.unwrap();
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
    let small = pool.submit(&g, "flood-stdout", 10u64).await.unwrap();
    assert_eq!((small.stdout.len(), small.stderr.len()), (10, 10));
    let quiet = pool.submit(&g, "ok", 2u64).await.unwrap();
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    let pool = hostile_pool(1);
    let g = pool.load(Guest::file(guest_path("hostile"))).unwrap();
    for path in ["/etc/passwd", ".", "Cargo.toml"] {
        let err = pool.submit(&g, "read-file", path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Guest, "{path}: {err}");
    }
    let home = pool.submit(&g, "env-var", "HOME").await.unwrap();
    assert_eq!(home.value, Value::Null);
    let args = pool.submit(&g, "args", ()).await.unwrap();
    assert_eq!(args.value, Value::List(vec![]));
}

/// Grants without folders give a WASI context built on the guest's first
/// WASI call: a fresh instance per task still sees its environment and
/// arguments and has its stdout captured, after tasks that made no WASI call.
#[tokio::test]
async fn grants_reach_every_fresh_instance() {
    let pool = wpool_tests::builder(1)
        .instance_mode(wpool::InstanceMode::Fresh)
        .stdio_limit(4096)
        .build()
        .unwrap();
    let grants = Grants::new().env("MODE", "fast").arg("hostile");
    let g = pool
        .load(Guest::file(guest_path("hostile")).grants(grants))
        .unwrap();
    for round in 0..3u64 {
        let pure = pool.submit(&g, "ok", round).await.unwrap();
        assert!(pure.stdout.is_empty(), "round {round}");
        let mode = pool.submit(&g, "env-var", "MODE").await.unwrap();
        assert_eq!(mode.value, Value::from("fast"), "round {round}");
        let args = pool.submit(&g, "args", ()).await.unwrap();
        assert_eq!(
            args.value,
            Value::List(vec![Value::from("hostile")]),
            "round {round}"
        );
        let printed = pool.submit(&g, "flood-stdout", 10u64).await.unwrap();
        assert_eq!(printed.stdout, b"yyyyyyyyyy", "round {round}");
    }
}

#[tokio::test]
async fn grants_allow_exactly_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "granted text").unwrap();
    let out = tempfile::tempdir().unwrap();
    let pool = hostile_pool(1);
    let grants = Grants::new()
        .dir(dir.path(), "/data", Access::ReadOnly)
        .dir(out.path(), "/out", Access::ReadWrite)
        .env("MODE", "fast")
        .arg("hostile")
        .arg("--flag");
    let g = pool
        .load(Guest::file(guest_path("hostile")).grants(grants))
        .unwrap();

    let text = pool.submit(&g, "read-file", "/data/in.txt").await.unwrap();
    assert_eq!(text.value, Value::from("granted text"));
    let denied = pool
        .submit(&g, "write-file", ("/data/new.txt", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        denied.kind(),
        ErrorKind::Guest,
        "read-only grant refuses writes"
    );
    assert!(!dir.path().join("new.txt").exists());
    pool.submit(&g, "write-file", ("/out/new.txt", "written"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("new.txt")).unwrap(),
        "written"
    );
    let escape = pool
        .submit(&g, "read-file", "/data/../../etc/passwd")
        .await
        .unwrap_err();
    assert_eq!(
        escape.kind(),
        ErrorKind::Guest,
        "no escaping a grant: {escape}"
    );

    assert_eq!(
        pool.submit(&g, "env-var", "MODE").await.unwrap().value,
        Value::from("fast")
    );
    assert_eq!(
        pool.submit(&g, "env-var", "HOME").await.unwrap().value,
        Value::Null
    );
    assert_eq!(
        pool.submit(&g, "args", ()).await.unwrap().value,
        Value::List(vec!["hostile".into(), "--flag".into()])
    );
}

#[test]
fn missing_grant_directory_fails_at_load() {
    let pool = hostile_pool(1);
    let grants = Grants::new().dir("/no/such/dir", "/data", Access::ReadOnly);
    let err = pool.load(Guest::file(guest_path("hostile")).grants(grants));
    // The directory is opened when an instance is created; loading checks it up front.
    assert!(
        err.is_err(),
        "a missing grant directory is refused when loading"
    );
}

/// A task's own timeout holds while its instance is created: a start
/// function that never returns is interrupted even when the pool has no
/// timeout of its own.
#[tokio::test]
async fn a_spinning_start_function_is_timed_out_by_the_tasks_own_timeout() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let guest = pool
        .load(Guest::bytes(
            "spin-at-start",
            r#"(module
                 (func $spin (loop $l (br $l)))
                 (start $spin)
                 (func (export "f") (result i32) i32.const 1))"#,
        ))
        .unwrap();
    let options = wpool::TaskOptions::new().timeout(Duration::from_millis(200));
    let run = pool.submit_with(&guest, "f", (), options);
    let err = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the start function was not interrupted: the task's timeout was not applied")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        err.detail()
            .contains("could not be instantiated: timed out after 200ms"),
        "{err}"
    );
}

/// A fresh instance per task, in a pool with room for one instance: each
/// task's instance is freed (after its reply) before the next is made,
/// whether the task returned or trapped, and inside one `map` batch too.
/// (The module has a memory, so the pool's one memory slot is the limit.)
#[tokio::test]
async fn fresh_instances_free_their_slot_before_the_next_task() {
    use futures::StreamExt;
    const BUMP_OR_TRAP: &str = r#"(module
      (memory 1)
      (global $n (mut i32) (i32.const 0))
      (func (export "bump") (param $trap i32) (result i32)
        local.get $trap
        if unreachable end
        global.get $n i32.const 1 i32.add global.set $n global.get $n))"#;
    let pool = wpool_tests::builder(1)
        .instance_mode(wpool::InstanceMode::Fresh)
        .max_instances(1)
        .build()
        .unwrap();
    let g = pool.load(Guest::bytes("bump", BUMP_OR_TRAP)).unwrap();
    for round in 0..3 {
        let out = pool.submit(&g, "bump", 0i32).await.unwrap();
        assert_eq!(out.value, Value::from(1i64), "round {round}");
        let err = pool.submit(&g, "bump", 1i32).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Trap, "round {round}: {err}");
    }
    let inputs = (0..500).map(|i| i32::from(i % 7 == 3));
    let results: Vec<_> = pool.map(&g, "bump", inputs).collect().await;
    assert_eq!(results.len(), 500);
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(out) if i % 7 != 3 => assert_eq!(out.value, Value::from(1i64), "task {i}"),
            Err(e) if i % 7 == 3 => assert_eq!(e.kind(), ErrorKind::Trap, "task {i}: {e}"),
            other => panic!("task {i}: {other:?}"),
        }
    }
}
