use crate::{column, repo, run_job, sha_hex, wpool, write};
use wpool_tests::http::TestServer;

#[test]
fn heavy_calc_example_gives_the_seed_results() {
    let run = wpool()
        .current_dir(repo())
        .args(["run", "examples/heavy_calc.toml", "--format", "jsonl"])
        .run()
        .success()
        .stderr_contains("4 tasks: 4 ok, 0 failed")
        .stderr_contains("peak RSS");
    let records = run.json_lines();
    let values: Vec<u64> = records
        .iter()
        .map(|r| r["value"].as_u64().unwrap())
        .collect();
    assert_eq!(values, [99_999_998, 119_999_999, 140_000_000, 159_999_999]);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["task"], i);
        assert_eq!(r["guest"], "heavy_calc");
        assert_eq!(r["call"], "heavy-calc");
        assert_eq!(r["ok"], true);
        assert!(r["ms"].as_f64().unwrap() > 0.0);
        assert!(r["worker"].as_u64().is_some());
    }
    assert_eq!(records[0]["input"], "50000000");
}

#[test]
fn fetch_hash_example_hashes_every_page() {
    // Serve examples/data as the README does, on a free port, and point a
    // copy of the example at it.
    let server = TestServer::start();
    let data = repo().join("examples/data");
    let mut expected = Vec::new();
    for name in ["a.json", "b.json", "c.json"] {
        let body = std::fs::read(data.join(name)).unwrap();
        expected.push(sha_hex(&body));
        server.add(&format!("/{name}"), body);
    }
    let text = std::fs::read_to_string(repo().join("examples/fetch_hash.toml"))
        .unwrap()
        .replace("http://127.0.0.1:8000", &server.url(""));
    let dir = tempfile::tempdir().unwrap();
    let job = write(dir.path(), "fetch_hash.toml", &text);
    let run = run_job(&job).success();
    let records = run.json_lines();
    let got: Vec<&str> = column(&records, "value");
    assert_eq!(got, expected);
    assert_eq!(records[1]["input"], server.url("/b.json"));
}

#[test]
fn wordfreq_example_runs_a_command_guest_per_file() {
    let run = wpool()
        .current_dir(repo())
        .args(["run", "examples/wordfreq.toml", "--format", "jsonl"])
        .run()
        .success()
        .stderr_contains("3 tasks: 3 ok, 0 failed");
    let records = run.json_lines();
    let by_input: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["input"].as_str().unwrap(), r["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by_input,
        [
            ("data/texts/isolation.txt", "4 a\n4 the\n3 no\n"),
            ("data/texts/pool.txt", "7 the\n3 a\n3 queue\n"),
            ("data/texts/speed.txt", "5 the\n3 on\n2 compiled\n"),
        ]
    );
}

#[test]
fn a_failing_command_fails_only_its_task() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "one two two");
    let job = write(
        dir.path(),
        "job.toml",
        r#"
[[task]]
guest = "wordfreq"
call = "run"
each = { files = "*.txt" }
args = [["1"]]

[[task]]
name = "bad-k"
guest = "wordfreq"
call = "run"
args = ["one two", ["nope"]]
"#,
    );
    let run = run_job(&job).status(1);
    let records = run.json_lines();
    assert_eq!(records[0]["value"], "2 two\n");
    assert_eq!(records[1]["ok"], false);
    assert_eq!(records[1]["error"]["kind"], "guest");
    let message = records[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("K must be a positive number"), "{message}");
}

/// `guest_dirs`: every `.wasm` in the folder is a guest by file stem; here a
/// component and a C command module, side by side.
#[test]
fn a_guest_folder_provides_guests_by_file_stem() {
    let dir = tempfile::tempdir().unwrap();
    let guests = dir.path().join("guests");
    std::fs::create_dir(&guests).unwrap();
    std::fs::copy(
        wpool_tests::guest_path("hostile"),
        guests.join("hostile.wasm"),
    )
    .unwrap();
    let c = wpool_tests::c_guest("wordfreq");
    if let Some(c) = &c {
        std::fs::copy(c, guests.join("wordfreq_c.wasm")).unwrap();
    }
    let mut text = String::from(
        r#"
guest_dirs = ["guests"]

[[task]]
guest = "hostile"
call = "ok"
each = [1, 2]
"#,
    );
    if c.is_some() {
        text.push_str(
            r#"
[[task]]
guest = "wordfreq_c"
call = "run"
args = ["b a b", ["1"]]
"#,
        );
    }
    let job = write(dir.path(), "job.toml", &text);
    let records = run_job(&job).success().json_lines();
    assert_eq!(records[0]["value"], 2);
    assert_eq!(records[1]["value"], 3);
    if c.is_some() {
        assert_eq!(records[2]["value"], "2 b\n");
    }
}

/// `digest = true` on a built-in guest under another name: the same hashes,
/// computed by the host; without the grant, the guest hashes by itself.
#[test]
fn the_digest_grant_in_a_job_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.bin", "hello");
    write(dir.path(), "b.bin", &"x".repeat(100_000));
    let job = write(
        dir.path(),
        "job.toml",
        r#"
[guests]
fast = { builtin = "sha256", digest = true }

[[task]]
guest = "fast"
call = "hex"
each = { files = "*.bin" }

[[task]]
guest = "sha256"
call = "hex"
each = { files = "*.bin" }
"#,
    );
    let records = run_job(&job).success().json_lines();
    let want = [sha_hex(b"hello"), sha_hex("x".repeat(100_000).as_bytes())];
    let values: Vec<&str> = column(&records, "value");
    assert_eq!(values, [&want[0], &want[1], &want[0], &want[1]]);
    assert_eq!(records[0]["guest"], "fast");
}
