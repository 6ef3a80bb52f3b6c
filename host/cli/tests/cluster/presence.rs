use crate::harness::{Nats, Worker, by_index, free_port, job, run_nats};

fn small_job(dir: &std::path::Path) -> std::path::PathBuf {
    job(
        dir,
        "small.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [10, 20]\n",
    )
}

/// No worker: the run says so, and `--timeout` ends it with exit 1, an
/// `unfinished` record per task, and its tasks withdrawn from the queue.
#[test]
fn no_worker_is_reported_and_timeout_ends_the_run() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let run = run_nats(&nats.url, &small_job(dir.path()), &["--timeout", "3s"])
        .status(1)
        .stderr_contains("no worker is connected");
    let records = by_index(run.json_lines(), 2);
    for record in &records {
        assert_eq!(record["error"]["kind"], "unfinished", "{record}");
    }
    let queued = nats.inspect(async |js| {
        let mut stream = js.get_stream("WPOOL_TASKS").await.expect("task stream");
        stream.info().await.expect("info").state.messages
    });
    assert_eq!(queued, 0, "the run withdrew its tasks");
}

/// `--timeout` accounts for every input, also those never sent: more than
/// are kept in flight (4,096), and fetched bodies, among them URLs the
/// stopped fetch never got to.
#[test]
fn timeout_records_the_inputs_never_sent() {
    let nats = Nats::start();
    let server = wpool_tests::http::TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = (0..300)
        .map(|i| format!("\"{}\"", server.url(&format!("/bytes/100?seed={i}"))))
        .collect();
    let text = format!(
        "[[fetch]]\nname = \"pages\"\nurls = [{}]\nconcurrency = 4\n\n\
         [[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = {{ fetch = \"pages\" }}\n\n\
         [[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = {{ range = [0, 6000] }}\n",
        urls.join(", ")
    );
    let run = run_nats(
        &nats.url,
        &job(dir.path(), "many.toml", &text),
        &["--timeout", "3s"],
    )
    .status(1);
    let records = by_index(run.json_lines(), 6300);
    let never_sent = |range: std::ops::Range<usize>| {
        records[range]
            .iter()
            .filter(|r| {
                assert_eq!(r["error"]["kind"], "unfinished", "{r}");
                let message = r["error"]["message"].as_str().unwrap();
                assert!(message.contains("no result within --timeout"), "{r}");
                message.contains("never sent to a worker")
            })
            .count()
    };
    // 64 fetched bodies are sent at most; the heavy_calc range keeps 4,096
    // in flight.
    assert!(never_sent(0..300) >= 300 - 64, "{:?}", &records[..3]);
    assert!(never_sent(300..6300) >= 6000 - 4096);
    assert!(
        records[..300]
            .iter()
            .all(|r| r["input"].as_str().unwrap().starts_with("http://"))
    );
    assert_eq!(records[6299]["input"], "5999");
}

/// A worker started before the server waits for it, then serves.
#[test]
fn a_worker_waits_for_the_server() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut early = Worker::spawn(&url, "early", 1);
    early.wait_for("waiting for NATS");
    let nats = Nats::start_on(Some(port));
    early.wait_for("worker ready");
    let dir = tempfile::tempdir().unwrap();
    let records = by_index(
        run_nats(&nats.url, &small_job(dir.path()), &[])
            .success()
            .json_lines(),
        2,
    );
    assert!(records.iter().all(|r| r["node"] == "early"));
    let status = crate::harness::wpool()
        .args(["cluster", "status", "--json", "--nats", &nats.url])
        .run()
        .success();
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["workers"][0]["name"], "early", "{status}");
    assert_eq!(status["workers"][0]["slots"], 1);
    assert_eq!(status["workers"].as_array().unwrap().len(), 1);
    assert_eq!(status["pending"], 0);
}

/// A worker told to stop after its server went away still exits (leaving
/// the registry gives up instead of waiting for the server forever).
#[test]
fn a_worker_stops_when_its_server_is_gone() {
    let nats = Nats::start();
    let mut worker = Worker::start(&nats.url, "orphan", 1);
    drop(nats);
    let status = worker
        .terminate_within(std::time::Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the worker never exited:\n{}", worker.log.join("\n")));
    assert!(status.success(), "{status}: {}", worker.log.join("\n"));
}
