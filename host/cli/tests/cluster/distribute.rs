use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{Nats, Worker, by_index, job, repo, run_nats, wpool};

/// The seed's heavy_calc job and a 500-task job through two workers give
/// the values of a local run, and both workers ran some.
#[test]
fn two_workers_give_the_local_values() {
    let nats = Nats::start();
    let _a = Worker::start(&nats.url, "a", 2);
    let _b = Worker::start(&nats.url, "b", 2);

    let seed = repo().join("examples/heavy_calc.toml");
    let records = by_index(run_nats(&nats.url, &seed, &[]).success().json_lines(), 4);
    let values: Vec<u64> = records
        .iter()
        .map(|r| r["value"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = [50_000_000, 60_000_000, 70_000_000, 80_000_000]
        .into_iter()
        .map(wpool_tests::heavy_calc)
        .collect();
    assert_eq!(values, expected);

    let dir = tempfile::tempdir().unwrap();
    let many = job(
        dir.path(),
        "many.toml",
        // About 2 s of work in all: long enough that both workers pull some
        // even when the machine is busy (with a tenth of it, one worker
        // could finish everything before the other's first pull).
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { range = [0, 5000000, 10000] }\n",
    );
    let remote = by_index(run_nats(&nats.url, &many, &[]).success().json_lines(), 500);
    let local = by_index(
        wpool()
            .args(["run", "--format", "jsonl", "--workers", "2"])
            .arg(&many)
            .run()
            .success()
            .json_lines(),
        500,
    );
    for (r, l) in remote.iter().zip(&local) {
        assert_eq!(r["value"], l["value"], "task {}", r["task"]);
        assert_eq!(r["input"], l["input"]);
        assert_eq!(r["deliveries"], 1);
    }
    let nodes: BTreeSet<&str> = remote.iter().map(|r| r["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, BTreeSet::from(["a", "b"]), "both workers ran tasks");
    assert!(local.iter().all(|r| r.get("node").is_none()));
    // Each run removed its results from the server once it had them.
    let kept = nats.inspect(async |js| {
        let mut stream = js.get_stream("WPOOL_RESULTS").await.expect("result stream");
        stream.info().await.expect("stream info").state.messages
    });
    assert_eq!(kept, 0, "results left on the server");
}

/// A second run of the same job uploads nothing: the guest object store's
/// stream holds the same messages after it as before.
#[test]
fn the_guest_is_uploaded_once() {
    let nats = Nats::start();
    let _a = Worker::start(&nats.url, "a", 1);
    let dir = tempfile::tempdir().unwrap();
    let small = job(
        dir.path(),
        "small.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [10, 20]\n",
    );
    let guest_messages = || {
        nats.inspect(async |js| {
            let mut stream = js
                .get_stream("OBJ_wpool-guests")
                .await
                .expect("guest store");
            stream.info().await.expect("stream info").state.messages
        })
    };
    run_nats(&nats.url, &small, &[]).success();
    let after_first = guest_messages();
    assert!(after_first > 0, "the first run uploads the guest");
    run_nats(&nats.url, &small, &[]).success();
    assert_eq!(
        guest_messages(),
        after_first,
        "the second run uploads nothing"
    );
    let objects = nats.inspect(async |js| {
        use futures::StreamExt;
        let store = js.get_object_store("wpool-guests").await.unwrap();
        let list: Vec<_> = store.list().await.unwrap().collect().await;
        list.into_iter()
            .map(|o| o.unwrap().name)
            .collect::<Vec<_>>()
    });
    let builtin = wpool_builtins::get("heavy_calc").unwrap().bytes;
    assert_eq!(objects, [wpool_cluster::sha256_hex(builtin)]);
}

/// A file input above the inline limit travels through the data object
/// store (under the job's id and its hash) and hashes as it does locally; a
/// small one travels inline. The run removes its object when it ends.
#[test]
fn big_inputs_travel_through_the_object_store() {
    let nats = Nats::start();
    let _a = Worker::start(&nats.url, "a", 2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("in/big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("in/small.bin"), b"small").unwrap();
    let path = job(
        dir.path(),
        "hash.toml",
        "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = { files = \"in/*.bin\" }\n",
    );
    let records = by_index(run_nats(&nats.url, &path, &[]).success().json_lines(), 2);
    assert_eq!(records[0]["input"], "in/big.bin");
    assert_eq!(records[0]["value"], wpool_cluster::sha256_hex(&big));
    assert_eq!(records[1]["value"], wpool_cluster::sha256_hex(b"small"));
    let (messages, bytes) = nats.inspect(async |js| {
        let mut stream = js.get_stream("OBJ_wpool-data").await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        (state.last_sequence, state.bytes)
    });
    // 3 MiB went up in 128 KiB chunks, and are gone: what stays is the
    // object's deletion marker.
    assert!(messages >= 24, "{messages} messages stored");
    assert!(bytes < 4096, "{bytes} bytes left in the data store");
    assert!(data_objects(&nats).is_empty());
}

/// The objects in the data store.
pub(crate) fn data_objects(nats: &Nats) -> Vec<String> {
    nats.inspect(async |js| {
        use futures::StreamExt;
        let store = js.get_object_store("wpool-data").await.unwrap();
        let list: Vec<_> = store.list().await.unwrap().collect().await;
        list.into_iter()
            .map(|o| o.unwrap().name)
            .collect::<Vec<_>>()
    })
}

/// Example jobs with files, a command module, `reduce` and `save` give the
/// local values through the cluster (`reduce` and `save` run where `run`
/// runs).
#[test]
fn examples_with_files_and_reduce_match_a_local_run() {
    let nats = Nats::start();
    let _a = Worker::start(&nats.url, "a", 2);
    for example in ["examples/wordfreq.toml", "examples/logs.toml"] {
        let path = repo().join(example);
        let remote = run_nats(&nats.url, &path, &[]).success().json_lines();
        let local = wpool()
            .args(["run", "--format", "jsonl"])
            .arg(&path)
            .run()
            .success()
            .json_lines();
        let remote = by_index(remote, local.len());
        let local = by_index(local, remote.len());
        for (r, l) in remote.iter().zip(&local) {
            assert_eq!(r["value"], l["value"], "{example}: {r}");
            assert_eq!(r["call"], l["call"]);
        }
    }
}

/// Tasks published one at a time, each after the batcher has gone idle,
/// still travel in full batches: a batch that is not full waits (its
/// linger) for more, and a full one goes at once, long before its linger
/// would have passed. Without waiting, every task here would be a message.
#[test]
fn tasks_that_trickle_in_travel_in_full_batches() {
    use wpool_cluster::{Cluster, ConnectConfig, GuestRef, Limits, Task};
    let nats = Nats::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (messages, tasks) = runtime.block_on(async {
        let config = ConnectConfig {
            url: nats.url.clone(),
            timeout: Some(Duration::from_secs(10)),
            name: "trickle".into(),
        };
        let cluster = Cluster::connect(&config).await.expect("connect");
        let (submission, _results) = cluster.submit().await.expect("submit");
        submission.batch_up_to(5);
        // Far longer than the test: only a full batch can leave.
        submission.batch_linger(Duration::from_secs(600));
        let guest = GuestRef {
            name: "heavy_calc".into(),
            sha256: "0".repeat(64),
            env: Vec::new(),
            args: Vec::new(),
            digest: false,
        };
        let mut published = Vec::new();
        for index in 0..10u64 {
            let task = Task {
                index,
                guest: guest.clone(),
                limits: Limits::default(),
                call: "heavy-calc".into(),
                args: vec![index.into()],
                timeout: None,
            };
            published.push(submission.publish(task).await.expect("publish"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for p in published {
            tokio::time::timeout(Duration::from_secs(60), p.confirm())
                .await
                .expect("a full batch is sent without waiting for its linger")
                .expect("stored");
        }
        let js = async_nats::jetstream::new(async_nats::connect(&nats.url).await.unwrap());
        let mut stream = js.get_stream("WPOOL_TASKS").await.expect("task stream");
        let messages = stream.info().await.expect("stream info").state.messages;
        let mut tasks = Vec::new();
        for sequence in 1..=messages {
            let message = stream
                .get_raw_message(sequence)
                .await
                .expect("a task message");
            let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            tasks.push(body["tasks"].as_array().unwrap().len());
        }
        (messages, tasks)
    });
    assert_eq!(messages, 2, "10 tasks in batches of 5: {tasks:?}");
    assert_eq!(tasks, [5, 5]);
}

/// Slots count tasks: a 2-slot worker given a 1,000-task job (messages of
/// 10 tasks) runs one message at a time, not one per slot (its log says
/// how many messages were running whenever it took one).
#[test]
fn a_worker_holds_about_as_many_tasks_as_it_has_slots() {
    let nats = Nats::start();
    let mut a = Worker::start(&nats.url, "a", 2);
    let dir = tempfile::tempdir().unwrap();
    let path = job(
        dir.path(),
        "thousand.toml",
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { range = [100000, 101000] }\n",
    );
    by_index(run_nats(&nats.url, &path, &[]).success().json_lines(), 1000);
    let mut taken = Vec::new();
    while taken.iter().map(|(tasks, _)| tasks).sum::<usize>() < 1000 {
        let line = a.wait_for("message taken");
        let field = |name: &str| -> usize {
            let at = line.find(&format!("{name}=")).expect("the field") + name.len() + 1;
            line[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        taken.push((field("tasks"), field("messages")));
    }
    assert!(
        taken.iter().all(|&(tasks, _)| tasks == 10),
        "messages of 10: {taken:?}"
    );
    let most = taken.iter().map(|&(_, running)| running).max().unwrap();
    assert_eq!(most, 1, "messages running at once on 2 slots: {taken:?}");
}
