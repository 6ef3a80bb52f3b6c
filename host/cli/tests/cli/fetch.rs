use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use wpool_tests::http::{TestServer, bytes_for, refused_url};

use crate::scripted::{Reply, Scripted, response};
use crate::{run_job, run_jsonl, sha_hex, write};

fn fetch_job(dir: &std::path::Path, urls: &[String], options: &str) -> std::path::PathBuf {
    let urls: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    let text = format!(
        "[[fetch]]\nname = \"pages\"\nurls = [{}]\n{options}\n\n[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = {{ fetch = \"pages\" }}\n",
        urls.join(", ")
    );
    write(dir, "fetch.toml", &text)
}

#[test]
fn failing_servers_give_error_records_and_the_rest_succeed() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let urls = vec![
        server.url("/bytes/1000?seed=1"),
        server.url("/status/404"),
        server.url("/status/500"),
        server.url("/slow"),
        refused_url(),
        server.url("/flaky/k1/2"),
        server.url("/big/5000000"),
        server.url("/stream/5000000"),
        server.url("/bytes/70000?seed=2"),
    ];
    let job = fetch_job(
        dir.path(),
        &urls,
        "timeout = \"500ms\"\nretries = 2\nbackoff = \"10ms\"\nmax_body = \"1MiB\"",
    );
    let run = run_job(&job)
        .status(1)
        .stderr_contains("9 tasks: 3 ok, 6 failed");
    let records = run.json_lines();
    assert_eq!(records.len(), 9);
    let get = |i: usize| &records[i];
    assert_eq!(get(0)["value"], sha_hex(&bytes_for(1, 1000)));
    assert_eq!(get(0)["input"], urls[0]);
    let error = |i: usize| {
        (
            get(i)["error"]["kind"].as_str().unwrap().to_owned(),
            get(i)["error"]["message"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        error(1),
        (
            "fetch".into(),
            format!("GET {}: status 404 Not Found", urls[1])
        )
    );
    let (kind, message) = error(2);
    assert_eq!(kind, "fetch");
    assert!(
        message.contains("status 500") && message.ends_with("(after 3 attempts)"),
        "{message}"
    );
    assert_eq!(server.hits("/status/500"), 3, "a 500 is retried");
    assert_eq!(server.hits("/status/404"), 1, "a 404 is not");
    let (_, message) = error(3);
    assert!(message.contains("timed out"), "{message}");
    let (_, message) = error(4);
    assert!(
        message.contains("cannot connect") && message.contains("refused"),
        "{message}"
    );
    assert_eq!(
        get(5)["value"],
        sha_hex(b"ok after 2"),
        "flaky succeeds on its third attempt"
    );
    let (_, message) = error(6);
    assert!(
        message.contains("exceeds the limit of 1048576 bytes"),
        "{message}"
    );
    let (_, message) = error(7);
    assert!(
        message.contains("exceeds the limit of 1048576 bytes"),
        "streamed bodies are capped too: {message}"
    );
    assert_eq!(get(8)["value"], sha_hex(&bytes_for(2, 70000)));
}

#[test]
fn accepted_status_and_headers() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let urls = vec![server.url("/status/404"), server.url("/status/201")];
    let job = fetch_job(dir.path(), &urls, "status = [404]\nretries = 0");
    let run = run_job(&job).status(1);
    let records = run.json_lines();
    assert_eq!(
        records[0]["value"],
        sha_hex(b"status 404"),
        "404 accepted when listed"
    );
    assert_eq!(
        records[1]["error"]["kind"], "fetch",
        "201 refused when not listed"
    );
}

/// Each body is hashed as soon as it arrives: a result is written while
/// another fetch is still being held by the server.
#[test]
fn fetch_and_compute_overlap() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let urls = vec![server.url("/bytes/100000?seed=7"), server.url("/hold/last")];
    let job = fetch_job(dir.path(), &urls, "timeout = \"60s\"");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wpool"))
        .args(["run", "--order", "completed", "--format", "jsonl"])
        .arg(&job)
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first record arrives while `/hold/last` is still unanswered.
    let first = lines
        .next()
        .expect("a record before the held fetch completes")
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["input"], urls[0]);
    assert_eq!(first["value"], sha_hex(&bytes_for(7, 100_000)));
    assert!(
        server.wait_for_request("/hold/last", Duration::from_secs(60)),
        "the held request was made"
    );
    server.release("last");
    let second: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["value"], sha_hex(b"held last"));
    assert!(child.wait().unwrap().success());
}

#[test]
fn one_fetch_feeds_two_tasks() {
    let server = TestServer::start();
    server.add("/x", "payload");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[fetch]]\nname = \"p\"\nurls = [\"{}\"]\n\n[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = {{ fetch = \"p\" }}\n\n[[task]]\nguest = \"sha256\"\ncall = \"digest\"\neach = {{ fetch = \"p\" }}\n",
        server.url("/x")
    );
    let job = write(dir.path(), "two.toml", &text);
    let run = run_job(&job).success();
    let records = run.json_lines();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["value"], sha_hex(b"payload"));
    assert_eq!(records[1]["value"], sha_hex(b"payload"));
    assert_eq!(server.hits("/x"), 1, "fetched once");
}

/// A body that stops halfway times out with its URL in the message (the
/// client's own error has none while the body streams).
#[test]
fn a_stalled_body_times_out_naming_its_url() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
    let server = Scripted::start(vec![Reply::Stall(head.into())]);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url().to_owned();
    let job = fetch_job(
        dir.path(),
        std::slice::from_ref(&url),
        "timeout = \"300ms\"\nretries = 0",
    );
    let records = run_jsonl(&job, 1);
    assert_eq!(records[0]["error"]["kind"], "fetch");
    assert_eq!(
        records[0]["error"]["message"],
        format!("GET {url}: timed out after 300ms")
    );
}

/// A 429 with `Retry-After: 1` is retried after a second, not after the
/// job's 10ms backoff.
#[test]
fn retry_after_is_honoured() {
    let server = Scripted::start(vec![
        Reply::Send(response(
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            "slow down",
        )),
        Reply::Send(response("200 OK", "", "hello")),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let job = fetch_job(
        dir.path(),
        &[server.url().to_owned()],
        "retries = 1\nbackoff = \"10ms\"",
    );
    let records = run_jsonl(&job, 0);
    assert_eq!(records[0]["value"], sha_hex(b"hello"));
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
}
