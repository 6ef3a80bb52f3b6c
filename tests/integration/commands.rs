//! WASI command guests: a `wasi:cli/run` component (Rust) and a `_start` core
//! module (C, built here with clang and wasi-libc), fed on stdin, answering
//! on stdout, failing on a non-zero exit status.

use std::time::Duration;

use futures::StreamExt;
use wpool::{ErrorKind, Guest, GuestKind, Value};
use wpool_tests::{c_guest, guest_path, pool};

const TEXT: &str = "The cat saw the dog. THE DOG saw a cat; the end.";
const TOP_TEXT: &str = "4 the\n2 cat\n2 dog\n2 saw\n1 a\n1 end\n";

/// The same top-K, computed here.
fn expected_top(text: &str, k: usize) -> String {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            *counts.entry(word.to_ascii_lowercase()).or_default() += 1;
        }
    }
    let mut ranked: Vec<_> = counts.into_iter().collect();
    ranked.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
    ranked
        .into_iter()
        .take(k)
        .map(|(w, n)| format!("{n} {w}\n"))
        .collect()
}

fn args(stdin: &str, argv: &[&str]) -> Vec<Value> {
    vec![
        Value::from(stdin),
        Value::List(argv.iter().map(|a| Value::from(*a)).collect()),
    ]
}

#[tokio::test]
async fn a_cli_run_component_is_a_command() {
    let pool = pool(2, Duration::from_secs(20));
    let wordfreq = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();
    assert_eq!(wordfreq.kind(), GuestKind::Command);
    let names: Vec<&str> = wordfreq.functions().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["run"]);

    let out = pool.submit(&wordfreq, "run", TEXT).await.unwrap();
    assert_eq!(out.value, Value::from(TOP_TEXT));
    assert_eq!(expected_top(TEXT, 10), TOP_TEXT);

    let top1 = pool
        .submit(&wordfreq, "run", args(TEXT, &["1"]))
        .await
        .unwrap();
    assert_eq!(top1.value, Value::from("4 the\n"));

    let empty = pool.submit(&wordfreq, "run", Value::Null).await.unwrap();
    assert_eq!(empty.value, Value::from(""));
}

#[tokio::test]
async fn a_non_zero_exit_fails_the_task_with_its_stderr() {
    let pool = pool(1, Duration::from_secs(20));
    let wordfreq = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();
    let err = pool
        .submit(&wordfreq, "run", args(TEXT, &["zero"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest);
    let message = err.to_string();
    // WASI preview 2's `exit` carries only success or failure: status 1 (the
    // C module below, on preview 1, reports its 2).
    assert!(message.contains("exited with status 1"), "{message}");
    assert!(message.contains("K must be a positive number"), "{message}");
    // The worker carries on.
    let ok = pool
        .submit(&wordfreq, "run", args(TEXT, &["2"]))
        .await
        .unwrap();
    assert_eq!(ok.value, Value::from("4 the\n2 cat\n"));
}

#[tokio::test]
async fn every_task_gets_its_own_stdin_and_args() {
    let pool = pool(2, Duration::from_secs(30));
    let wordfreq = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();
    let inputs: Vec<Vec<Value>> = (0..40)
        .map(|i| {
            let text = format!("w{i} ").repeat(i + 1) + "shared";
            args(&text, &["1"])
        })
        .collect();
    let results: Vec<Value> = pool
        .map(&wordfreq, "run", inputs)
        .map(|r| r.unwrap().value)
        .collect()
        .await;
    for (i, value) in results.iter().enumerate() {
        let want = if i == 0 {
            "1 shared\n".to_owned() // a tie: `shared` < `w0`
        } else {
            format!("{} w{i}\n", i + 1)
        };
        assert_eq!(value, &Value::from(want), "task {i}");
    }
}

#[tokio::test]
async fn a_command_printing_past_the_output_limit_fails() {
    let pool = wpool_tests::builder(1).output_limit(64).build().unwrap();
    let wordfreq = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();
    let text: String = (0..100).map(|i| format!("word{i} ")).collect();
    let err = pool
        .submit(&wordfreq, "run", args(&text, &["100"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutputLimit, "{err}");
}

#[tokio::test]
async fn command_arguments_are_checked_before_queueing() {
    let pool = pool(1, Duration::from_secs(20));
    let wordfreq = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();
    let err = wordfreq.check("run", &[Value::from(3u64)]).unwrap_err();
    assert!(
        err.to_string().contains("expected bytes or a string"),
        "{err}"
    );
    let err = wordfreq
        .check("run", &[Value::from("x"), Value::from("1")])
        .unwrap_err();
    assert!(err.to_string().contains("a list of strings"), "{err}");
    let err = wordfreq.check("run", &[]).unwrap_err();
    assert!(err.to_string().contains("takes 1 or 2 arguments"), "{err}");
}

/// `_start` modules written by hand: exit codes, endless loops.
#[tokio::test]
async fn start_modules_exit_codes_and_timeouts() {
    let pool = pool(1, Duration::from_millis(300));
    let exit3 = pool
        .load(Guest::bytes(
            "exit3",
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func (export "_start") (call $exit (i32.const 3))))"#,
        ))
        .unwrap();
    assert_eq!(exit3.kind(), GuestKind::Command);
    let err = pool.submit(&exit3, "run", "").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest);
    assert!(err.to_string().contains("exited with status 3"), "{err}");

    let exit0 = pool
        .load(Guest::bytes(
            "exit0",
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func (export "_start") (call $exit (i32.const 0))))"#,
        ))
        .unwrap();
    let ok = pool.submit(&exit0, "run", "").await.unwrap();
    assert_eq!(ok.value, Value::from(""));

    let spin = pool
        .load(Guest::bytes(
            "spin",
            r#"(module (func (export "_start") (loop (br 0))))"#,
        ))
        .unwrap();
    let err = pool.submit(&spin, "run", "").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

/// The C program prints exactly what the Rust one prints.
#[tokio::test]
async fn a_c_command_module_runs_unchanged() {
    let Some(wasm) = c_guest("wordfreq") else {
        return;
    };
    let pool = pool(2, Duration::from_secs(20));
    let c = pool.load(Guest::file(&wasm).named("wordfreq_c")).unwrap();
    assert_eq!(c.kind(), GuestKind::Command);
    assert!(
        c.imports()
            .iter()
            .all(|i| i.starts_with("wasi_snapshot_preview1::")),
        "{:?}",
        c.imports()
    );
    let rust = pool.load(Guest::file(guest_path("wordfreq"))).unwrap();

    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for k in ["1", "5", "40"] {
        let from_c = pool.submit(&c, "run", args(&text, &[k])).await.unwrap();
        let from_rust = pool.submit(&rust, "run", args(&text, &[k])).await.unwrap();
        assert_eq!(from_c.value, from_rust.value, "K = {k}");
        assert_eq!(
            from_c.value,
            Value::from(expected_top(&text, k.parse().unwrap())),
            "K = {k}"
        );
    }
    let err = pool
        .submit(&c, "run", args("x", &["-1"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest);
    assert!(err.to_string().contains("exited with status 2"), "{err}");
}
