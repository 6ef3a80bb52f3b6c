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
        .stdout_contains("heavy_calc (component)\n  package root:component;\n")
        .stdout_contains("    export heavy-calc: func(n: u64) -> u64;\n")
        .stdout_contains("sha256 (component)")
        .stdout_contains("    export merge: func(a: stats, b: stats) -> stats;\n")
        .stdout_contains("wordfreq (WASI command)\n  run: func(stdin: list<u8>")
        .stdout_lacks("record {");
}

/// A component's interface is its WIT world: each record declared once by
/// its own name, not expanded into every signature; the rest stays.
#[test]
fn inspect_prints_a_components_wit() {
    let run = wpool()
        .args(["inspect", "logs"])
        .run()
        .success()
        .stdout_contains("kind: component")
        .stdout_contains("wasi:cli/stdout@0.2")
        .stdout_contains("interface (WIT):\n  package root:component;\n\n  world root {\n")
        .stdout_contains("\n    record stats {\n      files: u64,\n")
        .stdout_contains("      statuses: list<status-count>,\n")
        .stdout_contains("    export parse: func(log: list<u8>) -> stats;\n")
        .stdout_contains("    export merge: func(a: stats, b: stats) -> stats;\n")
        .stdout_contains("    export render: func(all: stats) -> string;\n  }\nstatus: runnable\n")
        .stdout_lacks("record {")
        .stdout_lacks("exports:");
    assert_eq!(
        run.stdout.matches("record stats {").count(),
        1,
        "{}",
        run.stdout
    );

    // A `.wat` component: its WIT too, with its imported type's name.
    let dir = tempfile::tempdir().unwrap();
    let wat = crate::write(
        dir.path(),
        "points.wat",
        r#"(component
             (type $point' (record (field "x" s32) (field "y" s32)))
             (import "point" (type $point (eq $point')))
             (core module $m
               (func (export "sum") (param i32 i32) (result i32)
                 local.get 0
                 local.get 1
                 i32.add))
             (core instance $i (instantiate $m))
             (func $sum (param "p" $point) (result s32)
               (canon lift (core func $i "sum")))
             (export "sum" (func $sum)))"#,
    );
    wpool()
        .arg("inspect")
        .arg(&wat)
        .run()
        .success()
        .stdout_contains("  (none)")
        .stdout_contains("    record point {\n      x: s32,\n      y: s32,\n    }\n")
        .stdout_contains("    export sum: func(p: point) -> s32;\n");
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

#[test]
fn inspect_a_command_guest() {
    let run = wpool()
        .args(["inspect", "wordfreq"])
        .run()
        .success()
        .stdout_contains("kind: WASI command")
        .stdout_contains("run: func(stdin: list<u8>, args?: list<string>) -> string")
        .stdout_contains("status: runnable");
    let stdin_line = run
        .stdout
        .lines()
        .find(|l| l.contains("wasi:cli/stdin@0.2"))
        .unwrap_or_else(|| panic!("no stdin import in:\n{}", run.stdout));
    assert!(stdin_line.ends_with("provided by wpool"), "{stdin_line}");

    if let Some(c) = wpool_tests::c_guest("wordfreq") {
        let run = wpool()
            .arg("inspect")
            .arg(&c)
            .run()
            .success()
            .stdout_contains("kind: WASI command")
            .stdout_contains("status: runnable");
        let fd_read = run
            .stdout
            .lines()
            .find(|l| l.contains("wasi_snapshot_preview1::fd_read"))
            .unwrap_or_else(|| panic!("no fd_read import in:\n{}", run.stdout));
        assert!(fd_read.ends_with("provided by wpool"), "{fd_read}");
    }
}

/// A guest that cannot run is still described, with the reason, exit 1.
#[test]
fn inspect_says_why_a_guest_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let http = crate::write(
        dir.path(),
        "http.wat",
        r#"(component
             (import "wasi:http/outgoing-handler@0.2.0" (instance
               (export "handle" (func))))
             (import "wasi:cli/environment@0.2.0" (instance
               (export "get-arguments" (func (result (list string)))))))"#,
    );
    let run = wpool()
        .arg("inspect")
        .arg(&http)
        .run()
        .status(1)
        .stdout_contains("kind: component")
        .stdout_contains("status: cannot run: it imports `wasi:http/outgoing-handler@0.2.0`")
        .stdout_contains("guests get no network");
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no `{name}` in:\n{}", run.stdout))
            .to_owned()
    };
    assert!(line("wasi:http/outgoing").ends_with("NOT PROVIDED"));
    assert!(line("wasi:cli/environment").ends_with("provided by wpool"));

    let env = crate::write(
        dir.path(),
        "env.wat",
        r#"(module (import "env" "emscripten_memcpy" (func)) (func (export "go")))"#,
    );
    wpool()
        .arg("inspect")
        .arg(&env)
        .run()
        .status(1)
        .stdout_contains("go: func()")
        .stdout_contains("env::emscripten_memcpy  NOT PROVIDED")
        .stdout_contains("emscripten");
}
