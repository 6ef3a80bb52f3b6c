//! Components from Python source: componentize-py builds the seed's
//! `heavy_calc` and `compute_hash` from `app.py` and a WIT world; `wpool run`
//! and the library run them, and CPython running the same `app.py` natively
//! gives the expected results.
//!
//! Without componentize-py on PATH (`python3 -m pip install
//! 'componentize-py>=0.25,<0.26'`; `scripts/setup.sh` does) the tests are
//! skipped with a note, unless `WPOOL_REQUIRE_PY_GUESTS=1` (CI sets it),
//! which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use wpool::{CacheStatus, Guest, Pool};

use crate::{repo, wpool, write};

/// The world: the seed's two functions as typed exports.
const WORLD: &str = "package wpool:seed;

world seed {
  export heavy-calc: func(n: u64) -> u64;
  export compute-hash: func(body: list<u8>) -> string;
}
";

/// The guest's source. The plain functions are what CPython runs natively
/// for the expected results; `WitWorld` exists only in the component, where
/// componentize-py provides `wit_world`.
const APP: &str = r#"import hashlib


def heavy_calc(n):
    return sum(i * i % 7 for i in range(n))


def compute_hash(body):
    return hashlib.sha256(body).hexdigest()


try:
    import wit_world
except ImportError:
    wit_world = None

if wit_world is not None:

    class WitWorld(wit_world.WitWorld):
        def heavy_calc(self, n: int) -> int:
            return heavy_calc(n)

        def compute_hash(self, body: bytes) -> str:
            return compute_hash(body)
"#;

/// The inputs of `heavy-calc`.
const NS: [u64; 4] = [0, 1, 1000, 123_457];

/// The 1 MiB body hashed besides `""` and `"abc"`: byte `i` is `i % 251`.
fn big_body() -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i % 251) as u8).collect()
}

/// `componentize-py` on PATH, or `None` (with a note) when it is missing.
/// Panics instead in CI or with `WPOOL_REQUIRE_PY_GUESTS=1`.
pub(crate) fn componentize_py() -> Option<PathBuf> {
    let found = Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if found {
        return Some(PathBuf::from("componentize-py"));
    }
    let note = "componentize-py is not on PATH \
                (python3 -m pip install 'componentize-py>=0.25,<0.26')";
    if wpool_tests::tool_required("WPOOL_REQUIRE_PY_GUESTS") {
        panic!("{note}, and CI (or WPOOL_REQUIRE_PY_GUESTS) requires it");
    }
    eprintln!("skipped: {note}");
    None
}

/// The built seed component, its folder (with `app.py`) and the results of
/// its first `wpool run` on an empty compile cache.
struct Seed {
    dir: PathBuf,
    wasm: PathBuf,
    /// The compile cache that first run filled (this process's own).
    cache: PathBuf,
    /// The job that calls every export on every input.
    job: PathBuf,
    /// The values of that first, cold run.
    cold_values: Vec<Value>,
}

/// Builds the component once per test binary (componentize-py takes ~15-20
/// s) and runs its job once on an empty cache; `None` when skipped.
fn seed() -> Option<&'static Seed> {
    static SEED: OnceLock<Option<Seed>> = OnceLock::new();
    SEED.get_or_init(|| {
        let componentize = componentize_py()?;
        let dir = scratch_dir();
        write(&dir, "app.py", APP);
        std::fs::create_dir_all(dir.join("wit")).unwrap();
        write(&dir.join("wit"), "world.wit", WORLD);
        let wasm = dir.join("seed.wasm");
        let out = Command::new(componentize)
            .args(["-d", "wit", "-w", "seed", "componentize", "app", "-o"])
            .arg(&wasm)
            .current_dir(&dir)
            .output()
            .expect("run componentize-py");
        assert!(
            out.status.success(),
            "componentize-py failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("body.bin"), big_body()).unwrap();
        let job = write(
            &dir,
            "job.toml",
            &format!(
                "[guests]\nseed = \"seed.wasm\"\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"heavy-calc\"\neach = {NS:?}\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"compute-hash\"\neach = [\"\", \"abc\"]\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"compute-hash\"\neach = {{ files = \"body.bin\" }}\n"
            ),
        );
        let cache = dir.join("cache");
        let (cold_values, log) = run_logged(&job, &cache);
        assert!(log.contains("compile cache stored"), "{log}");
        Some(Seed {
            dir,
            wasm,
            cache,
            job,
            cold_values,
        })
    })
    .as_ref()
}

/// This process's folder under `target/python-guests/`; folders of earlier
/// test processes that have ended are removed (each holds ~18 MB of
/// component and ~60 MB of compiled code).
fn scratch_dir() -> PathBuf {
    let root = repo().join("target/python-guests");
    if cfg!(target_os = "linux") {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `wpool run -vv --format jsonl JOB` with the compile cache in `cache`:
/// every record must be ok; returns their values in input order and the
/// log (stderr), where the cache says `compile cache hit` or `stored`.
fn run_logged(job: &Path, cache: &Path) -> (Vec<Value>, String) {
    let run = wpool()
        .env("WPOOL_CACHE_DIR", cache)
        .args(["run", "-vv", "--format", "jsonl"])
        .arg(job)
        .run()
        .success();
    let records = run.json_lines();
    for record in &records {
        assert_eq!(record["ok"], true, "{record}");
    }
    let values = records.iter().map(|r| r["value"].clone()).collect();
    (values, run.stderr)
}

/// What CPython gives running the same `app.py` natively, in the job's order.
fn cpython_values(seed: &Seed) -> Vec<Value> {
    let script = format!(
        "import json, sys\n\
         sys.path.insert(0, {dir:?})\n\
         import app\n\
         big = bytes(i % 251 for i in range(1 << 20))\n\
         out = [app.heavy_calc(n) for n in {NS:?}]\n\
         out += [app.compute_hash(b) for b in (b'', b'abc', big)]\n\
         print(json.dumps(out))",
        dir = seed.dir.to_str().unwrap(),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    // CPython agrees with the seed's definitions as wpool's tests know them.
    assert_eq!(values[2], json!(wpool_tests::heavy_calc(1000)));
    assert_eq!(values[5], json!(crate::sha_hex(b"abc")));
    values
}

/// The names of the compile cache's entries (a hit only touches its entry).
fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn wpool_run_gives_cpythons_results_and_the_second_run_hits_the_cache() {
    let Some(seed) = seed() else { return };
    let expected = cpython_values(seed);
    assert_eq!(seed.cold_values, expected, "cold run");

    // The cold run compiled the component once and cached it ...
    let entries = cache_entries(&seed.cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    // ... so a second run loads it from there instead of compiling,
    let (warm_values, log) = run_logged(&seed.job, &seed.cache);
    assert_eq!(warm_values, expected, "warm run");
    assert!(log.contains("compile cache hit"), "{log}");
    assert!(!log.contains("compile cache stored"), "{log}");
    assert_eq!(cache_entries(&seed.cache), entries);
    // and so does `wpool inspect`.
    wpool()
        .env("WPOOL_CACHE_DIR", &seed.cache)
        .arg("inspect")
        .arg(&seed.wasm)
        .run()
        .success()
        .stdout_contains("kind: component")
        .stdout_contains("compiled: cache hit")
        .stdout_contains("heavy-calc: func(n: u64) -> u64")
        .stdout_contains("compute-hash: func(body: list<u8>) -> string");
}

#[test]
fn the_library_loads_it_from_the_cache_and_calls_it() {
    let Some(seed) = seed() else { return };
    let expected = cpython_values(seed);
    let pool = Pool::builder()
        .workers(2)
        .cache_dir(&seed.cache)
        .build()
        .unwrap();
    let guest = pool.load(Guest::file(&seed.wasm)).unwrap();
    assert_eq!(guest.cache_status(), CacheStatus::Hit);
    assert_eq!(guest.name(), "seed");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got: Vec<Value> = runtime.block_on(async {
        let mut got = Vec::new();
        for n in NS {
            // Typed: no dynamic conversion.
            let value: u64 = pool.call(&guest, "heavy-calc", (n,)).await.unwrap();
            got.push(json!(value));
        }
        for body in [Vec::new(), b"abc".to_vec(), big_body()] {
            let out = pool.submit(&guest, "compute-hash", (body,)).await.unwrap();
            got.push(json!(out.value.as_str().unwrap()));
        }
        got
    });
    assert_eq!(got, expected);
    runtime.block_on(pool.shutdown());
}

#[test]
fn many_workers_fit_in_the_pooling_allocator() {
    let Some(seed) = seed() else { return };
    // Each instance holds ~10 core instances: this many workers once
    // exhausted the pooling allocator's core-instance limit.
    let workers = 128;
    let job = write(
        &seed.dir,
        "many.toml",
        &format!(
            "[guests]\nseed = \"seed.wasm\"\n\n\
             [[task]]\nguest = \"seed\"\ncall = \"heavy-calc\"\neach = {{ range = [0, {workers}] }}\n"
        ),
    );
    let records = wpool()
        .env("WPOOL_CACHE_DIR", &seed.cache)
        .args([
            "run",
            "--format",
            "jsonl",
            "--workers",
            &workers.to_string(),
        ])
        .arg(&job)
        .run()
        .success()
        .json_lines();
    assert_eq!(records.len(), workers);
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record["ok"], true, "{record}");
        assert_eq!(record["value"], json!(wpool_tests::heavy_calc(n as u64)));
    }
}

#[test]
fn a_memory_limit_below_the_components_heap_is_a_clear_error() {
    let Some(seed) = seed() else { return };
    // CPython's linear memory starts at ~12 MiB: a 4 MiB limit cannot hold it.
    let job = write(
        &seed.dir,
        "small.toml",
        "[pool]\nmemory = \"4MiB\"\n\n[guests]\nseed = \"seed.wasm\"\n\n\
         [[task]]\nguest = \"seed\"\ncall = \"heavy-calc\"\nargs = [10]\n",
    );
    wpool()
        .args(["run", "--no-cache", "--format", "jsonl"])
        .arg(&job)
        .run()
        .status(2)
        .stderr_contains("guest `seed`")
        .stderr_contains("memory has a minimum byte size of")
        .stderr_contains("exceeds the limit of 0x400000 bytes");
}
