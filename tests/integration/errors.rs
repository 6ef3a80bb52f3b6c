//! Error kinds and sources: a bug inside wpool is `internal`, never a
//! guest's trap; load and build errors keep their source chain.

use std::error::Error as _;
use std::time::Duration;

use wpool::{ErrorKind, Guest, LoadError, Pool};

fn pool() -> Pool {
    Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

const ANSWER: &str = r#"(module (func (export "answer") (result i32) i32.const 42))"#;

#[tokio::test]
async fn a_panic_inside_wpool_is_internal_and_the_pool_carries_on() {
    let pool = pool();
    let guest = pool.load(Guest::bytes("answer", ANSWER)).unwrap();
    let err = pool.__panicking_task(&guest).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(err.is_panic(), "{err}");
    assert_eq!(err.kind().as_str(), "internal");
    assert!(err.to_string().contains("a bug in wpool"), "{err}");
    // The worker survived and runs the next task.
    let out = pool.submit(&guest, "answer", ()).await.unwrap();
    assert_eq!(out.value, wpool::Value::from(42));
}

#[test]
fn a_guest_that_does_not_compile_keeps_wasmtimes_error_as_its_source() {
    let pool = pool();
    let err = pool
        .load(Guest::bytes(
            "broken",
            "(module (func (export \"f\") i32.add))",
        ))
        .unwrap_err();
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");
    assert_eq!(err.to_string(), "cannot compile guest `broken`");
    let source = err.source().expect("the compile error keeps its source");
    let chain = chain(source);
    assert!(chain.contains("type mismatch"), "{chain}");
}

#[test]
fn a_guest_that_does_not_link_names_the_missing_import_in_its_source() {
    let pool = pool();
    let err = pool
        .load(Guest::bytes(
            "needy",
            r#"(module (import "nowhere" "thing" (func)) (func (export "f")))"#,
        ))
        .unwrap_err();
    assert!(matches!(err, LoadError::Link { .. }), "{err}");
    let chain = chain(err.source().expect("the link error keeps its source"));
    assert!(chain.contains("nowhere"), "{chain}");
}

#[test]
fn a_grant_of_a_missing_folder_keeps_the_os_error() {
    let pool = pool();
    let missing = std::env::temp_dir().join("wpool-no-such-folder-for-a-grant");
    let err = pool
        .load(
            Guest::bytes("answer", ANSWER).grants(wpool::Grants::new().dir(
                &missing,
                "/data",
                wpool::Access::ReadOnly,
            )),
        )
        .unwrap_err();
    let LoadError::Grant { name, host, .. } = &err else {
        panic!("expected a grant error, got {err}");
    };
    assert_eq!((name.as_str(), host), ("answer", &missing));
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("an io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Said once: the message, then its source.
    assert_eq!(
        wpool::error_chain(&err),
        format!(
            "cannot grant `{}` to guest `answer`: {io}",
            missing.display()
        )
    );
}

#[test]
fn a_grant_of_a_file_is_not_a_directory() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = pool()
        .load(
            Guest::bytes("answer", ANSWER).grants(wpool::Grants::new().dir(
                file.path(),
                "/data",
                wpool::Access::ReadOnly,
            )),
        )
        .unwrap_err();
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("an io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotADirectory);
}

#[test]
fn an_unreadable_guest_file_says_the_os_error_once() {
    let missing = std::env::temp_dir().join("wpool-no-such-guest.wasm");
    let err = pool().load(Guest::file(&missing)).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }), "{err}");
    let text = wpool::error_chain(&err);
    assert_eq!(
        text.matches("os error 2").count(),
        1,
        "the OS error appears once: {text}"
    );
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        text = format!("{text}: {e}");
        next = e.source();
    }
    text
}
