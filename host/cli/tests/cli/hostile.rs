use wpool_tests::guest_path;

use crate::{hostile_job, run_job, run_jsonl, wpool, write};

/// Every kind of hostile task in one job, beside well-behaved ones: each
/// fails alone with its own kind, and grants give exactly what they say.
#[test]
fn hostile_guests_fail_alone_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ro")).unwrap();
    write(&dir.path().join("ro"), "in.txt", "readable");
    std::fs::create_dir(dir.path().join("rw")).unwrap();
    let text = format!(
        r#"
[pool]
workers = 2
timeout = "500ms"
memory = "32MiB"
output_limit = "1MiB"

[guests]
hostile = "{hostile}"
granted = {{ path = "{hostile}", dirs = [{{ host = "ro", guest = "/ro" }}, {{ host = "rw", guest = "/rw", write = true }}], env = {{ MODE = "fast" }}, args = ["granted", "-v"] }}

[[task]]
guest = "hostile"
call = "ok"
each = [1, 2]

[[task]]
guest = "hostile"
call = "spin"

[[task]]
guest = "hostile"
call = "trap"

[[task]]
guest = "hostile"
call = "recurse"
args = [100000000]

[[task]]
guest = "hostile"
call = "grow"
args = [1000]

[[task]]
guest = "hostile"
call = "big-output"
args = [16000000]

[[task]]
guest = "hostile"
call = "flood-stdout"
args = [2000000]
timeout = "20s"

[[task]]
guest = "hostile"
call = "panic"
args = ["no more"]

[[task]]
guest = "hostile"
call = "read-file"
each = ["/etc/passwd", "{job_dir}/job.toml", "job.toml"]

[[task]]
guest = "hostile"
call = "env-var"
args = ["HOME"]

[[task]]
guest = "granted"
call = "read-file"
each = ["/ro/in.txt", "/ro/../../etc/passwd"]

[[task]]
guest = "granted"
call = "write-file"
each = [["/ro/new.txt", "x"], ["/rw/new.txt", "written"]]

[[task]]
guest = "granted"
call = "env-var"
each = ["MODE", "HOME"]

[[task]]
guest = "granted"
call = "args"

[[task]]
guest = "hostile"
call = "ok"
args = [41]
"#,
        hostile = guest_path("hostile").display(),
        job_dir = dir.path().display(),
    );
    let job = write(dir.path(), "job.toml", &text);
    let run = run_job(&job).status(1);
    let records = run.json_lines();
    let outcome = |i: usize| -> String {
        let r = &records[i];
        assert_eq!(r["task"], i);
        if r["ok"] == true {
            format!("ok {}", r["value"])
        } else {
            format!(
                "{}: {}",
                r["error"]["kind"].as_str().unwrap(),
                r["error"]["message"].as_str().unwrap()
            )
        }
    };
    assert_eq!(outcome(0), "ok 2");
    assert_eq!(outcome(1), "ok 3");
    assert_eq!(outcome(2), "timeout: timed out after 500ms");
    assert!(
        outcome(3).starts_with("trap: trapped: wasm `unreachable` instruction executed"),
        "{}",
        outcome(3)
    );
    assert!(
        outcome(4).starts_with("trap: trapped: stack overflow"),
        "{}",
        outcome(4)
    );
    assert_eq!(
        outcome(5),
        "memory_limit: exceeded the memory limit of 32 MiB"
    );
    assert_eq!(
        outcome(6),
        "output_limit: returned more than the output limit of 1 MiB"
    );
    assert_eq!(
        outcome(7),
        "ok 2000000",
        "a stdout flood is capped, not fatal"
    );
    assert!(
        outcome(8).starts_with("trap: trapped: wasm `unreachable`")
            && outcome(8).contains("no more"),
        "{}",
        outcome(8)
    );
    for i in 9..=11 {
        assert!(
            outcome(i).starts_with("guest: returned an error:"),
            "no file is reachable without a grant: {}",
            outcome(i)
        );
    }
    assert_eq!(outcome(12), "ok null", "no environment without a grant");
    assert_eq!(outcome(13), "ok \"readable\"");
    assert!(
        outcome(14).starts_with("guest: "),
        "a grant cannot be escaped: {}",
        outcome(14)
    );
    assert!(
        outcome(15).starts_with("guest: "),
        "read-only grant refuses writes: {}",
        outcome(15)
    );
    assert_eq!(outcome(16), "ok null");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("rw/new.txt")).unwrap(),
        "written"
    );
    assert!(!dir.path().join("ro/new.txt").exists());
    assert_eq!(outcome(17), "ok \"fast\"");
    assert_eq!(outcome(18), "ok null");
    assert_eq!(outcome(19), "ok [\"granted\",\"-v\"]");
    assert_eq!(outcome(20), "ok 42", "the pool keeps working");
    assert_eq!(records.len(), 21);
}

/// A malformed module and a module importing what wpool does not provide are
/// refused before anything runs, naming the guest in the job file.
#[test]
fn broken_guests_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "junk.wasm", "\0asm\x01\0\0\0garbage");
    write(
        dir.path(),
        "net.wat",
        r#"(module (import "wasi:sockets/tcp" "connect" (func)) (func (export "f")))"#,
    );
    for (file, message) in [
        ("junk.wasm", "cannot compile guest `bad`"),
        ("net.wat", "cannot link guest `bad`"),
    ] {
        let text =
            format!("[guests]\nbad = \"{file}\"\n\n[[task]]\nguest = \"bad\"\ncall = \"f\"\n");
        let job = write(dir.path(), "job.toml", &text);
        let run = wpool().arg("run").arg(&job).run().status(2);
        assert!(
            run.stderr.contains(&format!("job.toml:2:7: {message}")),
            "{}",
            run.stderr
        );
    }
}

/// A million-input job is generated lazily; here a smaller one checks the
/// range source and input order end to end.
#[test]
fn range_source_streams_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[[task]]\nguest = \"hostile\"\ncall = \"ok\"\neach = { range = [10, 5010, 5] }\n";
    let records = run_jsonl(&hostile_job(dir.path(), "range.toml", body), 0);
    assert_eq!(records.len(), 1000);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["task"], i);
        assert_eq!(r["value"], 10 + 5 * i as u64 + 1);
    }
}
