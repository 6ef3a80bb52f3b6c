//! `reduce` and `report`: results combined as they arrive, a report written
//! atomically; a failing combination fails only the reduce record.

use std::path::Path;

use crate::{repo, run_jsonl, write};

/// Copies `examples/logs.toml` and its logs into `dir`.
fn logs_example(dir: &Path) -> std::path::PathBuf {
    let logs = dir.join("data/logs");
    std::fs::create_dir_all(&logs).unwrap();
    for entry in std::fs::read_dir(repo().join("examples/data/logs")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, logs.join(path.file_name().unwrap())).unwrap();
    }
    let job = dir.join("logs.toml");
    std::fs::copy(repo().join("examples/logs.toml"), &job).unwrap();
    job
}

/// What the report must say, counted here from the raw lines.
fn count(dir: &Path, needle: &str) -> usize {
    std::fs::read_dir(dir.join("data/logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|text| text.lines().filter(|l| l.contains(needle)).count())
        .sum()
}

#[test]
fn the_logs_example_merges_every_file_into_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let job = logs_example(dir.path());
    let records = run_jsonl(&job, 0);
    assert_eq!(
        records.len(),
        4,
        "three files, then the reduce: {records:?}"
    );
    let mut requests = 0;
    for r in &records[..3] {
        assert_eq!(r["call"], "parse");
        requests += r["value"]["requests"].as_u64().unwrap();
    }
    assert_eq!(requests, 900);
    let reduced = &records[3];
    assert_eq!(reduced["task"], 3);
    assert_eq!(reduced["call"], "merge > render");
    assert_eq!(reduced["input"], "3 results");
    assert_eq!(reduced["ok"], true);

    let report_path = dir.path().join("out/report.md");
    assert_eq!(reduced["value"]["path"], report_path.display().to_string());
    let report = std::fs::read_to_string(&report_path).unwrap();
    assert_eq!(
        reduced["value"]["bytes"].as_u64().unwrap() as usize,
        report.len()
    );
    assert!(report.contains("3 files, 900 requests"), "{report}");
    assert!(report.contains("(2 malformed lines skipped)"), "{report}");
    let not_found = count(dir.path(), "\" 404 ");
    assert!(
        report.contains(&format!("| 404 | {not_found} |")),
        "{report}"
    );
    let home = count(dir.path(), "\"GET / HTTP");
    assert!(report.contains(&format!("| `/` | {home} |")), "{report}");
    // Written atomically: nothing else in the folder.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.md"]);
}

/// A core module whose `add` traps past 100: the reduce record fails, the
/// per-input records stand, and the exit status says something failed.
#[test]
fn a_failing_reduce_fails_only_its_record() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sum.wat",
        r#"(module
             (func (export "one") (param i64) (result i64) local.get 0)
             (func (export "add") (param i64 i64) (result i64)
               (local $s i64)
               (local.set $s (i64.add (local.get 0) (local.get 1)))
               (if (i64.gt_s (local.get $s) (i64.const 100)) (then unreachable))
               local.get $s))"#,
    );
    let job = write(
        dir.path(),
        "job.toml",
        r#"
[guests]
sum = "sum.wat"

[[task]]
name = "small"
guest = "sum"
call = "one"
each = [10, 20, 30]
reduce = "add"

[[task]]
name = "big"
guest = "sum"
call = "one"
each = [50, 60]
reduce = "add"
"#,
    );
    let records = run_jsonl(&job, 1);
    assert_eq!(records.len(), 7);
    let values: Vec<_> = records[..5].iter().map(|r| r["value"].clone()).collect();
    assert_eq!(values, [10, 20, 30, 50, 60]);
    assert_eq!(records[5]["name"], "small");
    assert_eq!(records[5]["value"], 60);
    assert_eq!(records[6]["name"], "big");
    assert_eq!(records[6]["ok"], false);
    assert_eq!(records[6]["error"]["kind"], "trap");
}

/// `[output] path` appears whole or not at all.
#[test]
fn the_output_file_is_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.jsonl");
    std::fs::write(&out, "from an earlier run\n").unwrap();
    let job = write(
        dir.path(),
        "job.toml",
        &format!(
            r#"
[[task]]
guest = "heavy_calc"
call = "heavy-calc"
each = {{ range = [0, 500] }}

[output]
format = "jsonl"
path = "{}"
"#,
            out.display()
        ),
    );
    crate::wpool().arg("run").arg(&job).run().success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 500);
    assert!(!text.contains("earlier run"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `save`: each result in its own file, named from the input; the record
/// says where. A bad template is a job error.
#[test]
fn save_writes_each_result_to_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.txt", "b a b");
    write(dir.path(), "two.txt", "c c c d");
    let job = write(
        dir.path(),
        "job.toml",
        r#"
[[task]]
guest = "wordfreq"
call = "run"
each = { files = "*.txt" }
args = [["1"]]
save = "top/{stem}.top"
"#,
    );
    let records = run_jsonl(&job, 0);
    let top = dir.path().join("top");
    assert_eq!(
        std::fs::read_to_string(top.join("one.top")).unwrap(),
        "2 b\n"
    );
    assert_eq!(
        std::fs::read_to_string(top.join("two.top")).unwrap(),
        "3 c\n"
    );
    assert_eq!(
        records[0]["value"]["path"],
        top.join("one.top").display().to_string()
    );
    assert_eq!(records[0]["value"]["bytes"], 4);

    let bad = write(
        dir.path(),
        "bad.toml",
        "[[task]]\nguest = \"wordfreq\"\ncall = \"run\"\nargs = [\"x\"]\nsave = \"out/{base}.txt\"\n",
    );
    crate::wpool()
        .arg("run")
        .arg(&bad)
        .run()
        .status(2)
        .stderr_contains("bad.toml:5:8: `save`: unknown placeholder `{base}`");
}
