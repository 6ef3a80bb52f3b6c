use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use crate::write;

/// A quick task, then many long ones on two workers, all inputs of one
/// `[[task]]` (so queued in that order: two tasks' inputs may interleave).
fn long_job(dir: &std::path::Path) -> std::path::PathBuf {
    let long: Vec<String> = (0..20).map(|_| "4000000000".to_owned()).collect();
    let text = format!(
        "[pool]\nworkers = 2\ntimeout = \"600s\"\n\n[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [1, {}]\n",
        long.join(", ")
    );
    write(dir, "long.toml", &text)
}

fn spawn(job: &std::path::Path, grace: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wpool"))
        .args([
            "run",
            "--order",
            "completed",
            "--format",
            "jsonl",
            "--grace",
            grace,
        ])
        .arg(job)
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigint_stops_dispatching_and_interrupts_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(&long_job(dir.path()), "300ms");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["task"], 0, "the quick task finished first");
    signal(&child, "INT");

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(stderr.contains("not run"), "{stderr}");

    // Every record written is complete; the long tasks that were running
    // (one per worker) were interrupted after the grace period; the queued
    // ones never started after the signal, so have no record.
    let records: Vec<serde_json::Value> = rest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        (1..=2).contains(&records.len()),
        "{} records: {rest}",
        records.len()
    );
    for r in &records {
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"]["kind"], "cancelled", "{r}");
    }
}

#[test]
fn second_signal_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(&long_job(dir.path()), "600s");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    signal(&child, "TERM");
    // Wait for the first signal's notice before sending the second.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("letting running tasks finish") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no notice on stderr"
        );
    }
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("SIGTERM again; stopping now"), "{rest}");
}
