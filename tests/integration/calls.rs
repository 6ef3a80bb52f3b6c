use std::time::Duration;

use wpool::{ErrorKind, Guest, GuestKind, LoadedGuest, Pool, Value};
use wpool_tests::{guest_path, pool};

fn json(text: &str) -> Value {
    serde_json::from_str::<serde_json::Value>(text)
        .unwrap()
        .into()
}

async fn echo(pool: &Pool, guest: &LoadedGuest, func: &str, args: &str) -> String {
    let args = match json(args) {
        Value::List(items) => items,
        other => panic!("args must be a JSON array, got {other:?}"),
    };
    match pool.submit(guest, func, args).await {
        Ok(out) => out.value.to_json(),
        Err(e) => format!("error {}: {}", e.kind(), e.detail()),
    }
}

#[tokio::test]
async fn every_wit_type_round_trips() {
    let pool = pool(2, Duration::from_secs(10));
    let g = pool.load(Guest::file(guest_path("echo"))).unwrap();
    assert_eq!(g.kind(), GuestKind::Component);
    let cases = [
        ("add", "[2, -5]", "-3"),
        (
            "echo-point",
            r#"[{"x": 1, "y": -2, "label": "p"}]"#,
            r#"{"x":1,"y":-2,"label":"p"}"#,
        ),
        ("area", r#"[{"rect": [2.0, 3.5]}]"#, "7.0"),
        ("area", r#"["empty"]"#, "0.0"),
        ("next-color", r#"["blue"]"#, r#""red""#),
        ("echo-perms", r#"[["read", "exec"]]"#, r#"["read","exec"]"#),
        ("maybe-double", "[21]", "42"),
        ("maybe-double", "[null]", "null"),
        ("checked-div", "[7, 2]", "3"),
        ("swap", r#"[["x", 9]]"#, r#"[9,"x"]"#),
        ("sum", "[[1, 2.5, 3]]", "6.5"),
        ("upper", r#"["héllo"]"#, r#""HÉLLO""#),
        ("char-code", r#"["€"]"#, "8364"),
        ("negate", "[true]", "false"),
        ("reverse-bytes", r#"[[1, 2, 255]]"#, r#""ff0201""#),
        (
            "shapes",
            "[3]",
            r#"[{"circle":0.0},{"rect":[1.0,2.0]},"empty"]"#,
        ),
        (
            "extremes",
            "[]",
            "[18446744073709551615,-9223372036854775808,-128,65535,1.5,-0.25]",
        ),
    ];
    for (func, args, expected) in cases {
        assert_eq!(
            echo(&pool, &g, func, args).await,
            expected,
            "{func}({args})"
        );
    }
}

/// Signatures of at most one scalar in and out are called through typed
/// functions on the worker: every scalar type, both ways, at its limits,
/// gives what the `Val` path gives (and what a typed call gives).
#[tokio::test]
async fn scalar_signatures_round_trip() {
    let pool = pool(1, Duration::from_secs(10));
    let g = pool.load(Guest::file(guest_path("echo"))).unwrap();
    let cases = [
        ("negate", "[false]", "true"),
        ("neg32", "[-2147483647]", "2147483647"),
        ("neg32", "[-2147483648]", "-2147483648"),
        ("succ32", "[4294967295]", "0"),
        ("succ32", "[41]", "42"),
        ("neg64", "[9223372036854775807]", "-9223372036854775807"),
        ("is-even", "[18446744073709551614]", "true"),
        ("is-even", "[7]", "false"),
        ("halve", "[5]", "2.5"),
        ("halve", "[-0.5]", "-0.25"),
        ("char-count", r#"["héllo €"]"#, "7"),
        (
            "to-text",
            "[-9223372036854775808]",
            r#""-9223372036854775808""#,
        ),
        ("upper", r#"[""]"#, r#""""#),
        ("set-tick", "[41]", "null"),
        ("tick", "[]", "41"),
        ("tick", "[]", "42"),
    ];
    for (func, args, expected) in cases {
        assert_eq!(
            echo(&pool, &g, func, args).await,
            expected,
            "{func}({args})"
        );
    }
    // Bad arguments are refused before the call, as on the `Val` path.
    for (func, args) in [
        ("neg32", "[2147483648]"),
        ("succ32", "[-1]"),
        ("is-even", r#"["2"]"#),
        ("halve", "[]"),
        ("tick", "[1]"),
        ("char-count", "[3]"),
    ] {
        let got = echo(&pool, &g, func, args).await;
        assert!(
            got.starts_with("error invalid_call"),
            "{func}({args}): {got}"
        );
    }
    // The typed call agrees with the dynamic one.
    let typed: f64 = pool.call(&g, "halve", (5.0f64,)).await.unwrap();
    assert_eq!(typed, 2.5);
    let typed: String = pool.call(&g, "to-text", (-7i64,)).await.unwrap();
    assert_eq!(
        echo(&pool, &g, "to-text", "[-7]").await,
        format!("{typed:?}")
    );
}

#[tokio::test]
async fn result_err_is_a_guest_error() {
    let pool = pool(1, Duration::from_secs(10));
    let g = pool.load(Guest::file(guest_path("echo"))).unwrap();
    let err = pool
        .submit(&g, "checked-div", (1i64, 0i64))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest);
    assert_eq!(err.detail(), "returned an error: cannot divide 1 by 0");
    assert!(err.to_string().starts_with("task "), "{err}");
    assert!(err.to_string().contains("(`echo`/`checked-div`)"), "{err}");
}

#[tokio::test]
async fn bad_calls_fail_before_anything_runs() {
    let pool = pool(1, Duration::from_secs(10));
    let g = pool.load(Guest::file(guest_path("echo"))).unwrap();
    let cases = [
        (
            "nope",
            "[]",
            "guest `echo` has no function `nope`; it exports `add`, `echo-point`",
        ),
        (
            "add",
            "[1]",
            "`add` takes 2 arguments (func(a: s32, b: s32) -> s32), got 1",
        ),
        (
            "add",
            r#"["1", 2]"#,
            "argument `a`: expected s32, found a string",
        ),
        (
            "add",
            "[4294967296, 2]",
            "argument `a`: 4294967296 is out of range for s32",
        ),
        (
            "echo-point",
            r#"[{"x": 1, "y": 2}]"#,
            "argument `p`: missing field `label` (string)",
        ),
        (
            "echo-point",
            r#"[{"x": 1, "y": 2, "label": "a", "z": 3}]"#,
            "argument `p`: unknown field `z`; expected `x`, `y`, `label`",
        ),
        (
            "echo-point",
            r#"[{"x": 1.5, "y": 2, "label": "a"}]"#,
            "argument `p.x`: expected s32, found a float",
        ),
        (
            "next-color",
            r#"["purple"]"#,
            "argument `c`: unknown case `purple`; expected `red`, `green`, `blue`",
        ),
        (
            "area",
            r#"["circle"]"#,
            "argument `s`: case `circle` needs a payload (f64)",
        ),
        (
            "echo-perms",
            r#"[["fly"]]"#,
            "argument `p`: unknown flag `fly`; expected `read`, `write`, `exec`",
        ),
        (
            "char-code",
            r#"["ab"]"#,
            "argument `c`: expected a single character, found a string of 2 characters",
        ),
        (
            "sum",
            r#"[[1, "x"]]"#,
            "argument `xs[1]`: expected f32, found a string",
        ),
    ];
    for (func, args, expected) in cases {
        let args = match json(args) {
            Value::List(items) => items,
            _ => unreachable!(),
        };
        let checked = g.check(func, &args).unwrap_err();
        assert!(checked.message().starts_with(expected), "{func}: {checked}");
        let err = pool.submit(&g, func, args).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCall);
        assert_eq!(err.worker(), None, "rejected without reaching a worker");
        assert!(err.detail().starts_with(expected), "{func}: {err}");
    }
}

#[tokio::test]
async fn exports_have_wit_signatures() {
    let pool = pool(1, Duration::from_secs(10));
    let sha = pool.load(Guest::builtin("sha256")).unwrap();
    let sigs: Vec<String> = sha
        .functions()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.signature()))
        .collect();
    assert_eq!(
        sigs,
        [
            "digest: func(data: list<u8>) -> list<u8>",
            "hex: func(data: list<u8>) -> string"
        ]
    );
    let echo = pool.load(Guest::file(guest_path("echo"))).unwrap();
    assert_eq!(
        echo.function("checked-div").unwrap().signature(),
        "func(a: s64, b: s64) -> result<s64, string>"
    );
    assert_eq!(
        echo.function("area").unwrap().signature(),
        "func(s: variant { circle(f64), rect(tuple<f64, f64>), empty }) -> f64"
    );
}

const COUNTER: &str = r#"
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    global.get $n
    i32.const 1
    i32.add
    global.set $n
    global.get $n)
  (func (export "mix") (param i32 i64 f64) (result f64)
    local.get 0
    f64.convert_i32_s
    local.get 1
    f64.convert_i64_s
    f64.add
    local.get 2
    f64.add))
"#;

#[tokio::test]
async fn core_modules_take_numbers() {
    let pool = pool(1, Duration::from_secs(10));
    let m = pool.load(Guest::bytes("counter", COUNTER)).unwrap();
    assert_eq!(m.kind(), GuestKind::Module);
    assert_eq!(
        m.function("mix").unwrap().signature(),
        "func(p0: i32, p1: i64, p2: f64) -> f64"
    );
    let out = pool
        .submit(&m, "mix", (-2i32, 40i64, 0.5f64))
        .await
        .unwrap();
    assert_eq!(out.value, Value::Float(38.5));
    let err = pool
        .submit(&m, "mix", (1i32, "x", 0.5f64))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCall);
    assert_eq!(err.detail(), "argument `p1`: expected i64, found a string");
}

#[tokio::test]
async fn reuse_keeps_state_and_fresh_does_not() {
    let reuse = pool(1, Duration::from_secs(10));
    let m = reuse.load(Guest::bytes("counter", COUNTER)).unwrap();
    assert_eq!(wpool_tests::bumps(&reuse, &m, 3).await, [1, 2, 3]);

    let fresh = wpool_tests::builder(1)
        .instance_mode(wpool::InstanceMode::Fresh)
        .build()
        .unwrap();
    let m = fresh.load(Guest::bytes("counter", COUNTER)).unwrap();
    assert_eq!(wpool_tests::bumps(&fresh, &m, 3).await, [1, 1, 1]);
}

#[tokio::test]
async fn typed_call_mismatch_is_invalid_call() {
    let pool = pool(1, Duration::from_secs(10));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let err = pool
        .call::<(String,), u64>(&calc, "heavy-calc", ("x".to_owned(),))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCall);
    assert!(err.detail().contains("func(n: u64) -> u64"), "{err}");
    // The pool carries on.
    let n: u64 = pool.call(&calc, "heavy-calc", (10u64,)).await.unwrap();
    assert_eq!(n, wpool_tests::heavy_calc(10));
}

#[test]
fn malformed_and_unlinkable_guests_fail_to_load() {
    let pool = pool(1, Duration::from_secs(1));
    let err = pool
        .load(Guest::bytes("junk", b"\0asm\x01\0\0\0\x99\x99"))
        .unwrap_err();
    assert!(matches!(err, wpool::LoadError::Compile { .. }), "{err}");
    assert!(
        err.to_string().starts_with("cannot compile guest `junk`"),
        "{err}"
    );

    let wants_socket = r#"(module (import "env" "open_socket" (func (param i32) (result i32))))"#;
    let err = pool.load(Guest::bytes("net", wants_socket)).unwrap_err();
    assert!(matches!(err, wpool::LoadError::Link { .. }), "{err}");
    let cause = std::error::Error::source(&err).expect("the link error's cause");
    assert!(cause.to_string().contains("open_socket"), "{cause}");
}

/// A submitted task's future is moved on its way (into the caller's own
/// future, into a spawned task): `submit` builds its job up front and holds
/// no other future inside, so it is no bigger than a typed call's (840 bytes
/// against 416 when it awaited `enqueue_with` inside).
#[tokio::test]
async fn a_submitted_task_is_no_bigger_than_a_typed_call() {
    let pool = pool(1, Duration::from_secs(10));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let submitted = pool.submit(&calc, "heavy-calc", 10u64);
    let called = pool.call::<(u64,), u64>(&calc, "heavy-calc", (10,));
    assert!(
        std::mem::size_of_val(&submitted) <= std::mem::size_of_val(&called),
        "submit: {} bytes, call: {} bytes",
        std::mem::size_of_val(&submitted),
        std::mem::size_of_val(&called)
    );
    assert_eq!(submitted.await.unwrap().value, Value::UInt(19));
    assert_eq!(called.await.unwrap(), 19);
}
