use wpool_tests::guest_path;

use crate::{column, hostile_job, run_job, run_jsonl, sha_hex, wpool, write};

/// A job mixing good tasks with failures of every kind.
fn mixed_job(dir: &std::path::Path) -> std::path::PathBuf {
    let text = format!(
        r#"
[pool]
workers = 2
timeout = "300ms"
memory = "32MiB"

[guests]
hostile = "{hostile}"

[[task]]
guest = "hostile"
call = "ok"
each = [1, 2, 3]

[[task]]
name = "bomb"
guest = "hostile"
call = "grow"
args = [100]

[[task]]
guest = "hostile"
call = "spin"

[[task]]
guest = "hostile"
call = "trap"

[[task]]
guest = "hostile"
call = "read-file"
args = ["/etc/passwd"]

[[task]]
guest = "sha256"
call = "hex"
args = ["abc"]
"#,
        hostile = guest_path("hostile").display()
    );
    write(dir, "mixed.toml", &text)
}

#[test]
fn failures_give_complete_records_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let job = mixed_job(dir.path());
    let run = run_job(&job)
        .status(1)
        .stderr_contains("8 tasks: 4 ok, 4 failed");
    let records = run.json_lines();
    assert_eq!(records.len(), 8);
    let summary: Vec<(u64, bool, &str)> = records
        .iter()
        .map(|r| {
            for key in ["task", "guest", "call", "input", "ok", "ms", "worker"] {
                assert!(r.get(key).is_some(), "`{key}` missing from {r}");
            }
            let kind = if r["ok"] == true {
                ""
            } else {
                r["error"]["kind"].as_str().unwrap()
            };
            if r["ok"] == false {
                assert!(!r["error"]["message"].as_str().unwrap().is_empty(), "{r}");
                assert!(r.get("value").is_none());
            }
            (
                r["task"].as_u64().unwrap(),
                r["ok"].as_bool().unwrap(),
                kind,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, true, ""),
            (1, true, ""),
            (2, true, ""),
            (3, false, "memory_limit"),
            (4, false, "timeout"),
            (5, false, "trap"),
            (6, false, "guest"),
            (7, true, ""),
        ]
    );
    assert_eq!(records[3]["name"], "bomb");
    assert_eq!(records[4]["error"]["message"], "timed out after 300ms");
    assert_eq!(
        records[7]["value"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn json_format_is_one_array() {
    let dir = tempfile::tempdir().unwrap();
    let job = mixed_job(dir.path());
    let run = wpool()
        .args(["run", "--format", "json"])
        .arg(&job)
        .run()
        .status(1);
    let all: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 8);
}

#[test]
fn table_format_has_a_row_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let job = mixed_job(dir.path());
    let run = wpool()
        .args(["run", "--format", "table"])
        .arg(&job)
        .run()
        .status(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 9, "header and 8 rows:\n{}", run.stdout);
    assert!(lines[0].contains("guest/call"));
    assert!(lines[5].contains("FAIL timeout"), "{}", lines[5]);
    assert!(lines[8].contains("ba7816bf"), "{}", lines[8]);
}

#[test]
fn output_file_and_completed_order() {
    let dir = tempfile::tempdir().unwrap();
    let job = mixed_job(dir.path());
    let out = dir.path().join("out.jsonl");
    let run = wpool()
        .args(["run", "--order", "completed", "-o"])
        .arg(&out)
        .arg(&job)
        .run()
        .status(1);
    assert!(run.stdout.is_empty(), "results go to the file");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut tasks: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["task"]
                .as_u64()
                .unwrap()
        })
        .collect();
    tasks.sort();
    assert_eq!(tasks, (0..8).collect::<Vec<_>>());
}

#[test]
fn files_source_hashes_each_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for (name, body) in [("b.txt", "bee"), ("a.txt", "ay"), ("skip.bin", "no")] {
        write(&dir.path().join("data"), name, body);
    }
    let job = write(
        dir.path(),
        "files.toml",
        "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = { files = \"data/*.txt\" }\n",
    );
    let run = run_job(&job).success();
    let records = run.json_lines();
    let inputs: Vec<&str> = column(&records, "input");
    assert_eq!(inputs, ["data/a.txt", "data/b.txt"]);
    assert_eq!(records[0]["value"], sha_hex(b"ay"));
    assert_eq!(records[1]["value"], sha_hex(b"bee"));
}

#[test]
fn per_task_timeout_overrides_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[pool]\ntimeout = \"60s\"\n\n[[task]]\nguest = \"hostile\"\ncall = \"spin\"\ntimeout = \"200ms\"\n";
    // `[pool]` after `[guests]` is still valid TOML.
    let records = run_jsonl(&hostile_job(dir.path(), "t.toml", body), 1);
    assert_eq!(records[0]["error"]["message"], "timed out after 200ms");
}

/// A job of many quick inputs: far more output than a pipe holds.
fn many_records_job(dir: &std::path::Path) -> std::path::PathBuf {
    write(
        dir,
        "many.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { range = [0, 100000000] }\n",
    )
}

/// `wpool run … | head -1`: the reader leaves after one line; wpool stops
/// quietly with 0, as ripgrep does.
#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let job = many_records_job(dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wpool"))
        .args(["run", "--format", "jsonl"])
        .arg(&job)
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["task"], 0);
    drop(lines); // closes the read end, like `head` exiting
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Results that cannot be written (a full disk) after tasks ran: exit 1,
/// with the reason; not 2, which means the job itself is wrong.
#[cfg(target_os = "linux")]
#[test]
fn unwritable_results_are_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "one.toml",
        "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\nargs = [\"abc\"]\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wpool"))
        .args(["run", "--format", "jsonl"])
        .arg(&job)
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot write results"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}
