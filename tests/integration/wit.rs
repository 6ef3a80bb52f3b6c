//! A guest's interface as WIT: a component's own types declared once, by
//! name, as `wasm-tools component wit` prints them.

use std::time::Duration;

use wpool::{Guest, GuestKind};
use wpool_tests::{guest_path, pool};

/// The one line of `wit` that declares `item`, e.g. `export merge: func`.
fn line<'a>(wit: &'a str, item: &str) -> &'a str {
    let mut lines = wit.lines().filter(|l| l.trim_start().starts_with(item));
    let found = lines
        .next()
        .unwrap_or_else(|| panic!("no `{item}` in:\n{wit}"));
    assert!(lines.next().is_none(), "`{item}` twice in:\n{wit}");
    found.trim()
}

#[tokio::test]
async fn logs_declares_its_records_once_and_names_them() {
    let pool = pool(1, Duration::from_secs(10));
    let report = pool.inspect(Guest::builtin("logs")).unwrap();
    assert_eq!(report.kind, GuestKind::Component);
    let wit = report.wit.expect("the logs component has WIT");
    assert!(wit.starts_with("package root:component;"), "{wit}");
    assert_eq!(line(&wit, "world "), "world root {");
    for record in ["status-count", "path-count", "stats"] {
        assert_eq!(
            line(&wit, &format!("record {record} ")),
            format!("record {record} {{")
        );
    }
    assert_eq!(line(&wit, "statuses:"), "statuses: list<status-count>,");
    assert_eq!(line(&wit, "hours:"), "hours: list<u64>,");
    assert_eq!(
        line(&wit, "export parse:"),
        "export parse: func(log: list<u8>) -> stats;"
    );
    assert_eq!(
        line(&wit, "export merge:"),
        "export merge: func(a: stats, b: stats) -> stats;"
    );
    assert_eq!(
        line(&wit, "export render:"),
        "export render: func(all: stats) -> string;"
    );
    // No record is expanded inline any more.
    assert!(!wit.contains("record {"), "{wit}");
    // What `wpool guests` prints comes from a loaded guest: the same text.
    let loaded = pool.load(Guest::builtin("logs")).unwrap();
    assert_eq!(loaded.wit(), Some(wit.as_str()));
    pool.shutdown().await;
}

#[tokio::test]
async fn heavy_calc_and_sha256_print_their_worlds() {
    let pool = pool(1, Duration::from_secs(10));
    let calc = pool.load(Guest::builtin("heavy_calc")).unwrap();
    let wit = calc.wit().expect("heavy_calc has WIT");
    assert_eq!(
        line(wit, "export heavy-calc:"),
        "export heavy-calc: func(n: u64) -> u64;"
    );
    let sha = pool.inspect(Guest::builtin("sha256")).unwrap();
    let wit = sha.wit.expect("sha256 has WIT");
    assert_eq!(
        line(&wit, "import wpool:host/digest"),
        "import wpool:host/digest@0.1.0;"
    );
    assert_eq!(
        line(&wit, "export hex:"),
        "export hex: func(data: list<u8>) -> string;"
    );
    pool.shutdown().await;
}

/// Every kind of named type: each declared once, used by its name.
#[tokio::test]
async fn echo_names_its_variant_enum_and_flags() {
    let pool = pool(1, Duration::from_secs(10));
    let echo = pool.load(Guest::file(guest_path("echo"))).unwrap();
    let wit = echo.wit().expect("echo has WIT");
    assert_eq!(line(wit, "record point "), "record point {");
    assert_eq!(line(wit, "variant shape "), "variant shape {");
    assert_eq!(line(wit, "enum color "), "enum color {");
    assert_eq!(line(wit, "flags perms "), "flags perms {");
    assert_eq!(line(wit, "rect("), "rect(tuple<f64, f64>),");
    assert_eq!(
        line(wit, "export echo-point:"),
        "export echo-point: func(p: point) -> point;"
    );
    assert_eq!(
        line(wit, "export shapes:"),
        "export shapes: func(n: u32) -> list<shape>;"
    );
    assert_eq!(
        line(wit, "export checked-div:"),
        "export checked-div: func(a: s64, b: s64) -> result<s64, string>;"
    );
    pool.shutdown().await;
}

/// Core modules and command guests keep their signatures: no WIT.
#[tokio::test]
async fn modules_and_commands_have_no_wit() {
    let pool = pool(1, Duration::from_secs(10));
    let module = pool
        .inspect(Guest::bytes(
            "answer",
            r#"(module (func (export "answer") (result i32) i32.const 42))"#,
        ))
        .unwrap();
    assert_eq!(module.kind, GuestKind::Module);
    assert_eq!(module.wit, None);
    let command = pool.load(Guest::builtin("wordfreq")).unwrap();
    assert_eq!(command.kind(), GuestKind::Command);
    assert_eq!(command.wit(), None);
    pool.shutdown().await;
}
