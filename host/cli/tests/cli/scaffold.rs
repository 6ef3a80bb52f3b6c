//! `wpool new` (Rust and `--lang python`): scaffold → test → build → inspect
//! → run, for real.

use std::path::Path;
use std::process::Command;

use crate::{repo, wpool};

/// `cargo` in `dir`, with none of the outer `cargo test`'s settings.
fn cargo(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key == "RUSTFLAGS" {
            cmd.env_remove(key);
        }
    }
    // Shared between runs (and kept out of the temporary crate) so that
    // wit-bindgen is compiled once, not per test run.
    cmd.env("CARGO_TARGET_DIR", repo().join("target/scaffold"));
    let status = cmd.status().expect("run cargo");
    assert!(
        status.success(),
        "`cargo {}` failed in {}",
        args.join(" "),
        dir.display()
    );
}

#[test]
fn a_scaffolded_guest_tests_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("word-stats");
    wpool()
        .args(["new", "word-stats", "--path"])
        .arg(&crate_dir)
        .run()
        .success()
        .stdout_contains("created guest `word-stats`");
    for file in [
        "Cargo.toml",
        "wit/world.wit",
        "src/lib.rs",
        "job.toml",
        "README.md",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} missing");
    }

    // Its unit tests pass natively, and it builds into a component.
    cargo(&crate_dir, &["test", "--quiet"]);
    cargo(
        &crate_dir,
        &["build", "--quiet", "--release", "--target", "wasm32-wasip2"],
    );
    let built = repo().join("target/scaffold/wasm32-wasip2/release/word_stats.wasm");
    // Where the generated job file (and its README) expects it.
    let expected = crate_dir.join("target/wasm32-wasip2/release/word_stats.wasm");
    std::fs::create_dir_all(expected.parent().unwrap()).unwrap();
    std::fs::copy(&built, &expected).unwrap();

    wpool()
        .arg("inspect")
        .arg(&expected)
        .run()
        .success()
        .stdout_contains("kind: component")
        .stdout_contains("process: func(input: list<u8>) -> string");
    let records = wpool()
        .args(["run", "--format", "jsonl"])
        .arg(crate_dir.join("job.toml"))
        .run()
        .success()
        .json_lines();
    let values: Vec<&str> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["0 2 11", "2 3 13"]);
}

#[test]
fn bad_names_and_occupied_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    wpool()
        .args(["new", "9lives", "--path"])
        .arg(dir.path().join("x"))
        .run()
        .status(2)
        .stderr_contains("9lives");
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    wpool()
        .args(["new", "ok-name", "--path"])
        .arg(dir.path())
        .run()
        .status(2)
        .stderr_contains("--force");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_scaffolded_python_guest_tests_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let guest = dir.path().join("py-stats");
    wpool()
        .args(["new", "py-stats", "--lang", "python", "--path"])
        .arg(&guest)
        .run()
        .success()
        .stdout_contains("created guest `py-stats`")
        .stdout_contains("sh build.sh");
    for file in [
        "wit/world.wit",
        "app.py",
        "test_app.py",
        "build.sh",
        "job.toml",
        "README.md",
        ".gitignore",
    ] {
        assert!(guest.join(file).is_file(), "{file} missing");
    }

    // Its tests pass natively with CPython, without componentize-py's bindings.
    let out = Command::new("python3")
        .arg("test_app.py")
        .current_dir(&guest)
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 test_app.py failed:\n{stderr}"
    );
    assert!(stderr.contains("Ran 3 tests"), "{stderr}");

    // With componentize-py, `build.sh` makes a component that its job runs.
    if crate::python_component::componentize_py().is_none() {
        return;
    }
    let out = Command::new("./build.sh")
        .current_dir(&guest)
        .output()
        .expect("run build.sh");
    assert!(
        out.status.success(),
        "build.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wpool()
        .arg("inspect")
        .arg(guest.join("py-stats.wasm"))
        .run()
        .success()
        .stdout_contains("kind: component")
        .stdout_contains("heavy-calc: func(n: u64) -> u64")
        .stdout_contains("word-stats: func(input: list<u8>) -> string");
    let records = wpool()
        .args(["run", "--format", "jsonl"])
        .arg(guest.join("job.toml"))
        .run()
        .success()
        .json_lines();
    let values: Vec<serde_json::Value> = records.iter().map(|r| r["value"].clone()).collect();
    let expected = [
        serde_json::json!(2001),
        serde_json::json!(199_999),
        serde_json::json!("2 3 13"),
    ];
    assert_eq!(values, expected);
}

#[test]
fn an_unknown_language_lists_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    wpool()
        .args(["new", "guest", "--lang", "cobol", "--path"])
        .arg(dir.path().join("guest"))
        .run()
        .status(2)
        .stderr_contains("rust")
        .stderr_contains("python");
}
