use std::time::Duration;

use crate::harness::{Nats, Worker, by_index, job, run_nats};

/// Spin, trap and a memory bomb beside good tasks: each fails with its own
/// kind, once; nothing is delivered twice.
#[test]
fn hostile_tasks_fail_once_with_typed_errors() {
    let nats = Nats::start();
    let _a = Worker::start(&nats.url, "a", 2);
    let dir = tempfile::tempdir().unwrap();
    let hostile = wpool_tests::guest_path("hostile");
    let path = job(
        dir.path(),
        "hostile.toml",
        &format!(
            "[pool]\ntimeout = \"500ms\"\nmemory = \"32MiB\"\n\n[guests]\nhostile = \"{}\"\n\n\
             [[task]]\nguest = \"hostile\"\ncall = \"ok\"\neach = [1, 2]\n\n\
             [[task]]\nguest = \"hostile\"\ncall = \"spin\"\n\n\
             [[task]]\nguest = \"hostile\"\ncall = \"trap\"\n\n\
             [[task]]\nguest = \"hostile\"\ncall = \"grow\"\nargs = [1000]\n",
            hostile.display()
        ),
    );
    let records = by_index(run_nats(&nats.url, &path, &[]).status(1).json_lines(), 5);
    assert_eq!(records[0]["value"], 2);
    assert_eq!(records[1]["value"], 3);
    let kinds: Vec<&str> = records[2..]
        .iter()
        .map(|r| r["error"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["timeout", "trap", "memory_limit"]);
    for record in &records {
        assert_eq!(record["deliveries"], 1, "{record}");
        assert_eq!(record["node"], "a");
    }
}

/// A worker killed (-9) while it runs tasks: they are delivered again, to
/// a worker that joined after the run started; every task is in the output
/// exactly once.
#[test]
fn a_killed_workers_tasks_are_redelivered() {
    let nats = Nats::start();
    let mut a = Worker::start(&nats.url, "a", 2);
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        100_000_000u64,
        100_000_001,
        100_000_002,
        100_000_003,
        100_000_004,
        100_000_005,
    ];
    let path = job(
        dir.path(),
        "long.toml",
        &format!("[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = {inputs:?}\n"),
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &[]));
    a.wait_for("task started");
    a.kill();
    let _b = Worker::start(&nats.url, "b", 2);
    let records = by_index(run.join().unwrap().success().json_lines(), inputs.len());
    for (record, n) in records.iter().zip(inputs) {
        assert_eq!(record["value"], wpool_tests::heavy_calc(n), "{record}");
        assert_eq!(record["node"], "b", "only the live worker stored results");
    }
    assert!(
        records
            .iter()
            .any(|r| r["deliveries"].as_u64().unwrap() >= 2),
        "a task held by the killed worker was delivered again: {records:?}"
    );
}

/// SIGTERM: the worker finishes what it holds, exits 0, and nothing is
/// delivered twice.
#[test]
fn a_terminated_worker_drains() {
    let nats = Nats::start();
    let mut a = Worker::start(&nats.url, "a", 2);
    let _b = Worker::start(&nats.url, "b", 2);
    let dir = tempfile::tempdir().unwrap();
    let path = job(
        dir.path(),
        "drain.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { range = [100000000, 100000008] }\n",
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &[]));
    a.wait_for("task started");
    let status = a.terminate();
    assert!(status.success(), "{status}: {}", a.log.join("\n"));
    let records = by_index(run.join().unwrap().success().json_lines(), 8);
    assert!(records.iter().all(|r| r["deliveries"] == 1), "{records:?}");
    assert!(
        records.iter().any(|r| r["node"] == "a"),
        "the stopping worker finished the task it held"
    );
}

/// A second SIGTERM while draining does not wait for a long task: the
/// worker exits at once (130), and the task it held runs on another worker
/// after the ack wait, once in the output. (One task: `run` publishes a
/// job's tasks concurrently, so which of several a worker takes first is
/// not fixed.)
#[test]
fn a_second_signal_stops_a_draining_worker_at_once() {
    let nats = Nats::start();
    let mut a = Worker::start(&nats.url, "a", 1);
    let dir = tempfile::tempdir().unwrap();
    // heavy_calc of 3e11 runs for minutes: it ends at the 12 s timeout,
    // longer than the patience below.
    let path = job(
        dir.path(),
        "long.toml",
        "[pool]\ntimeout = \"12s\"\n\n[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\nargs = [300000000000]\n",
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &["--timeout", "120s"]));
    a.wait_for("task started");
    a.signal_term();
    a.wait_for("finishing the tasks it holds");
    let status = a
        .terminate_within(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("a second SIGTERM did not stop it: {}", a.log.join("\n")));
    assert_eq!(status.code(), Some(130), "{}", a.log.join("\n"));
    // Another worker takes what `a` held.
    let _b = Worker::start(&nats.url, "b", 2);
    let records = by_index(run.join().unwrap().status(1).json_lines(), 1);
    let held = &records[0];
    assert_eq!(held["node"], "b", "{records:?}");
    assert_eq!(held["error"]["kind"], "timeout", "{records:?}");
    assert!(
        held["deliveries"].as_u64() > Some(1),
        "the held task was delivered again: {records:?}"
    );
}

/// A task whose every worker dies is given up after three deliveries: the
/// fourth is recorded as `worker_lost`, not run.
#[test]
fn a_task_that_keeps_losing_workers_ends_as_worker_lost() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let path = job(
        dir.path(),
        "doomed.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [100000000]\n",
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &[]));
    for attempt in 1..=3 {
        let mut doomed = Worker::start(&nats.url, &format!("doomed-{attempt}"), 1);
        let line = doomed.wait_for("task started");
        assert!(line.contains(&format!("deliveries={attempt}")), "{line}");
        doomed.kill();
    }
    let _last = Worker::start(&nats.url, "last", 1);
    let records = by_index(run.join().unwrap().status(1).json_lines(), 1);
    assert_eq!(records[0]["error"]["kind"], "worker_lost", "{}", records[0]);
    assert_eq!(records[0]["deliveries"], 4);
    assert_eq!(records[0]["node"], "last");
}

/// A task lost on its last delivery too (its worker died before answering
/// `worker_lost`): JetStream delivers it no more, and the run learns it from
/// the max-deliveries advisory instead of waiting for `--timeout`.
#[test]
fn a_task_lost_on_its_last_delivery_too_ends_as_worker_lost() {
    use async_nats::jetstream::consumer::PullConsumer;
    use futures::StreamExt;

    let nats = Nats::start();
    // A worker creates the shared consumer (2 s ack wait) and leaves.
    let mut setup = Worker::start(&nats.url, "setup", 1);
    assert!(setup.terminate().success());
    let dir = tempfile::tempdir().unwrap();
    let path = job(
        dir.path(),
        "doomed.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [7]\n",
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &["--timeout", "120s"]));
    // Every delivery is taken and never answered, as by a worker killed
    // with -9 while holding it.
    nats.inspect(async |js| {
        let stream = js.get_stream("WPOOL_TASKS").await.expect("task stream");
        let consumer: PullConsumer = stream
            .get_consumer("wpool-workers")
            .await
            .expect("consumer");
        let mut delivered = 0;
        while delivered < 4 {
            let mut batch = (consumer.batch())
                .max_messages(1)
                .expires(std::time::Duration::from_secs(5))
                .messages()
                .await
                .expect("pull");
            while let Some(message) = batch.next().await {
                let message = message.expect("a delivery");
                delivered += 1;
                assert_eq!(message.info().unwrap().delivered, delivered);
            }
        }
    });
    // A live worker pulls: it is not given the task again.
    let _last = Worker::start(&nats.url, "last", 1);
    let records = by_index(run.join().unwrap().status(1).json_lines(), 1);
    assert_eq!(records[0]["error"]["kind"], "worker_lost", "{}", records[0]);
    assert_eq!(records[0]["deliveries"], 4, "{}", records[0]);
    assert_eq!(
        records[0]["node"], "",
        "no worker answered it: {}",
        records[0]
    );
}

/// Many small tasks travel in batches (one message, many tasks): a worker
/// killed (-9) holding a batch has it delivered again, and every task is in
/// the output exactly once with its value.
#[test]
fn a_killed_workers_batches_are_redelivered_and_answered_once() {
    let nats = Nats::start();
    let mut a = Worker::start(&nats.url, "a", 2);
    let dir = tempfile::tempdir().unwrap();
    // 1,000 tasks travel ten to a message (a hundredth of the job); the
    // first message's are long, so that `a` still holds it when killed.
    let inputs: Vec<u64> = (0..1_000)
        .map(|i| if i < 10 { 100_000_000 + i } else { 1_000 + i })
        .collect();
    let path = job(
        dir.path(),
        "many.toml",
        &format!("[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = {inputs:?}\n"),
    );
    let url = nats.url.clone();
    let run = std::thread::spawn(move || run_nats(&url, &path, &[]));
    a.wait_for("task started");
    a.kill();
    let mut b = Worker::start(&nats.url, "b", 2);
    let records = by_index(run.join().unwrap().success().json_lines(), inputs.len());
    for (record, n) in records.iter().zip(inputs) {
        assert_eq!(record["value"], wpool_tests::heavy_calc(n), "{record}");
        assert_eq!(record["node"], "b", "only the live worker stored results");
    }
    assert!(
        records
            .iter()
            .any(|r| r["deliveries"].as_u64().unwrap() >= 2),
        "the batch held by the killed worker was delivered again"
    );
    b.wait_for("tasks=10");
}
