//! A folder of guests: new and changed files are picked up by a running
//! pool; tasks already submitted finish on the version they were given.

use std::path::Path;
use std::time::Duration;

use wpool::Value;
use wpool_tests::{bumps, guest_path, pool};

/// A core module whose `version` returns `v`, whose `slow` spins `iters`
/// times, then returns `v`, and whose `bump` counts its calls (as
/// [`wpool_tests::COUNTER`]'s does).
fn module(v: i32) -> String {
    format!(
        r#"(module
             (global $n (mut i32) (i32.const 0))
             (func (export "bump") (result i32)
               global.get $n i32.const 1 i32.add global.set $n global.get $n)
             (func (export "version") (result i32) i32.const {v})
             (func (export "slow") (param $n i64) (result i32)
               (loop $l
                 (local.set $n (i64.sub (local.get $n) (i64.const 1)))
                 (br_if $l (i64.gt_s (local.get $n) (i64.const 0))))
               i32.const {v}))"#
    )
}

/// Replaces `dir/name` atomically, as a deploy should.
fn put(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

async fn version(pool: &wpool::Pool, guest: &wpool::LoadedGuest) -> Value {
    pool.submit(guest, "version", ()).await.unwrap().value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_picked_up_and_running_tasks_keep_their_version() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "calc.wasm", module(1));
    std::fs::copy(guest_path("hostile"), dir.path().join("hostile.wasm")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a guest").unwrap();

    let pool = pool(2, Duration::from_secs(30));
    let guests = pool.load_dir(dir.path()).unwrap();
    assert_eq!(guests.names().unwrap(), ["calc", "hostile"]);
    let v1 = guests.get("calc").unwrap();
    assert_eq!(v1.name(), "calc");
    assert_eq!(version(&pool, &v1).await, Value::Int(1));

    // A long task on version 1, in flight while the file changes.
    let slow = tokio::spawn(pool.submit(&v1, "slow", 200_000_000i64));
    put(dir.path(), "calc.wasm", module(2));
    let v2 = guests.get("calc").unwrap();
    assert_eq!(version(&pool, &v2).await, Value::Int(2));
    assert_eq!(slow.await.unwrap().unwrap().value, Value::Int(1));
    // A handle taken before the change still runs version 1.
    assert_eq!(version(&pool, &v1).await, Value::Int(1));

    // A new file is a new guest.
    put(dir.path(), "late.wasm", module(7));
    assert_eq!(guests.names().unwrap(), ["calc", "hostile", "late"]);
    let late = guests.get("late").unwrap();
    assert_eq!(version(&pool, &late).await, Value::Int(7));

    // The component in the folder works like any other guest.
    let hostile = guests.get("hostile").unwrap();
    let out = pool.submit(&hostile, "ok", 41u64).await.unwrap();
    assert_eq!(out.value, Value::UInt(42));
}

/// An unchanged file gives back the same loaded guest, not a recompile: on
/// one worker reusing instances, its counter carries on across `get`s. A
/// replaced file, even with the same contents, is a new guest whose counter
/// starts again, so the counter does tell the two apart.
#[tokio::test]
async fn an_unchanged_file_is_the_same_loaded_guest() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "calc.wasm", module(1));
    let pool = pool(1, Duration::from_secs(10));
    let guests = pool.load_dir(dir.path()).unwrap();
    let first = guests.get("calc").unwrap();
    assert_eq!(bumps(&pool, &first, 2).await, [1, 2]);
    let again = guests.get("calc").unwrap();
    assert_eq!(
        bumps(&pool, &again, 2).await,
        [3, 4],
        "a recompile starts at 1"
    );

    put(dir.path(), "calc.wasm", module(1));
    let reloaded = guests.get("calc").unwrap();
    assert_eq!(
        bumps(&pool, &reloaded, 1).await,
        [1],
        "a replaced file reloads"
    );
    // The handle taken before keeps its own instance.
    assert_eq!(bumps(&pool, &first, 1).await, [5]);
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "calc.wasm", module(1));
    let pool = pool(1, Duration::from_secs(10));
    let guests = pool.load_dir(dir.path()).unwrap();
    assert_eq!(
        version(&pool, &guests.get("calc").unwrap()).await,
        Value::Int(1)
    );

    put(dir.path(), "calc.wasm", b"\0asm\x01\0\0\0garbage");
    let still = guests.get("calc").unwrap();
    assert_eq!(version(&pool, &still).await, Value::Int(1));
    let problems = guests.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "calc");
    assert!(
        problems[0].1.contains("cannot compile guest `calc`"),
        "{problems:?}"
    );

    put(dir.path(), "calc.wasm", module(3));
    assert_eq!(
        version(&pool, &guests.get("calc").unwrap()).await,
        Value::Int(3)
    );
    assert!(guests.problems().is_empty());

    // A broken file with no earlier version is an error.
    put(
        dir.path(),
        "bad.wasm",
        "(module (func (export \"f\") unknown_op))",
    );
    let err = guests.get("bad").unwrap_err();
    assert!(
        err.to_string().contains("cannot compile guest `bad`"),
        "{err}"
    );

    // A removed file is gone.
    std::fs::remove_file(dir.path().join("calc.wasm")).unwrap();
    assert!(guests.get("calc").is_err());
}

#[tokio::test]
async fn names_outside_the_folder_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("guests");
    std::fs::create_dir(&dir).unwrap();
    put(outer.path(), "secret.wasm", module(9));
    let pool = pool(1, Duration::from_secs(10));
    let guests = pool.load_dir(&dir).unwrap();
    for name in ["../secret", "", ".hidden", "a/b", "/etc/passwd"] {
        assert!(guests.get(name).is_err(), "`{name}` must not load");
    }
    let missing = pool.load_dir(outer.path().join("nope")).unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
}

/// Reloading many times does not leak instances: the pooling allocator has
/// room for only so many, and every old version's instance is swept.
#[tokio::test]
async fn old_versions_are_freed() {
    let dir = tempfile::tempdir().unwrap();
    let pool = wpool_tests::builder(1).max_instances(4).build().unwrap();
    let guests = pool.load_dir(dir.path()).unwrap();
    for v in 0..40 {
        put(dir.path(), "calc.wasm", module(v));
        let guest = guests.get("calc").unwrap();
        match pool.submit(&guest, "version", ()).await {
            Ok(out) => assert_eq!(out.value, Value::Int(v.into())),
            Err(e) => panic!("version {v}: {e}"),
        }
    }
}

/// A core module big enough that Cranelift takes a while over it.
fn big_module() -> String {
    let mut wat = String::from("(module\n");
    for i in 0..4000 {
        wat.push_str(&format!(
            "(func (export \"f{i}\") (param $x i64) (result i64)
               (i64.add (i64.mul (local.get $x) (i64.const {i}))
                 (i64.xor (i64.shl (local.get $x) (i64.const 3)) (i64.const {i}))))\n"
        ));
    }
    wat.push(')');
    wat
}

/// Compiling one guest of a folder holds no lock the others need: `get`s of
/// an already loaded guest go on while another one compiles.
#[test]
fn a_slow_compile_does_not_hold_up_other_guests() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "small.wasm", module(1));
    put(dir.path(), "big.wasm", big_module());
    let pool = wpool::Pool::builder().workers(1).build().unwrap();
    let guests = pool.load_dir(dir.path()).unwrap();
    guests.get("small").unwrap();

    let started = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let during = std::thread::scope(|s| {
        s.spawn(|| {
            started.store(true, Ordering::SeqCst);
            guests.get("big").unwrap();
            done.store(true, Ordering::SeqCst);
        });
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        let mut during = 0u64;
        while !done.load(Ordering::SeqCst) {
            guests.get("small").unwrap();
            if !done.load(Ordering::SeqCst) {
                during += 1;
            }
        }
        during
    });
    // Held under the lock, the compile would let through only the `get`s
    // that slipped in before it started: a handful at most.
    assert!(
        during >= 1000,
        "only {during} gets of `small` completed while `big` compiled"
    );
}
