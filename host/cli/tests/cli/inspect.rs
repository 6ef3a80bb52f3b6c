use crate::wpool;

#[test]
fn inspect_builtin_lists_exports() {
    wpool()
        .args(["inspect", "sha256"])
        .run()
        .success()
        .stdout_contains("kind: component")
        .stdout_contains("digest: func(data: list<u8>) -> list<u8>")
        .stdout_contains("hex: func(data: list<u8>) -> string");
}

#[test]
fn inspect_a_file_and_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let wat = crate::write(
        dir.path(),
        "answer.wat",
        r#"(module (func (export "answer") (result i32) i32.const 42))"#,
    );
    wpool()
        .arg("inspect")
        .arg(&wat)
        .run()
        .success()
        .stdout_contains("kind: core module")
        .stdout_contains("answer: func() -> i32");
    let junk = crate::write(dir.path(), "junk.wasm", "\0asm\x01\0\0\0\x7f");
    wpool()
        .arg("inspect")
        .arg(&junk)
        .run()
        .status(2)
        .stderr_contains("cannot compile guest `junk`");
    wpool()
        .args(["inspect", "no-such-guest"])
        .run()
        .status(2)
        .stderr_contains("unknown built-in guest `no-such-guest`");
}

#[test]
fn guests_lists_the_builtins() {
    wpool()
        .arg("guests")
        .run()
        .success()
        .stdout_contains("heavy_calc (component)")
        .stdout_contains("heavy-calc: func(n: u64) -> u64")
        .stdout_contains("sha256 (component)");
}

#[test]
fn compile_cache_is_hit_by_a_second_process() {
    let cache = tempfile::tempdir().unwrap();
    let first = wpool()
        .env("WPOOL_CACHE_DIR", cache.path())
        .args(["inspect", "heavy_calc"])
        .run()
        .success();
    assert!(
        first.stdout.contains("compiled: cache miss"),
        "{}",
        first.stdout
    );
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    wpool()
        .env("WPOOL_CACHE_DIR", cache.path())
        .args(["inspect", "heavy_calc"])
        .run()
        .success()
        .stdout_contains("compiled: cache hit");
    wpool()
        .env("WPOOL_CACHE_DIR", cache.path())
        .args(["inspect", "heavy_calc", "--no-cache"])
        .run()
        .success()
        .stdout_contains("compiled: cache disabled");
}

#[test]
fn help_shows_examples() {
    wpool()
        .arg("--help")
        .run()
        .success()
        .stdout_contains("wpool run examples/heavy_calc.toml")
        .stdout_contains("Exit status");
}
