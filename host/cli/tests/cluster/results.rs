//! `wpool_cluster`'s result stream, driven from the library as an embedder
//! would: reading results survives being cut off at any await.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wpool::Value;
use wpool_cluster::{Cluster, ConnectConfig, GuestRef, Limits, Task};

use crate::harness::{Nats, Worker};

/// Results whose values travel through the object store (over 128 KiB),
/// read with `Results::next` under timeouts that cut most reads off in the
/// middle of a download (as a `select!` branch that loses does): every
/// result still arrives, once. `forget_results` then removes the job's big
/// inputs and results from the store.
#[test]
fn reading_results_is_cancel_safe() {
    const TASKS: u64 = 12;
    let nats = Nats::start();
    let _worker = Worker::start(&nats.url, "a", 2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::connect(&ConnectConfig {
            url: nats.url.clone(),
            timeout: Some(Duration::from_secs(10)),
            name: "results test".into(),
        })
        .await
        .unwrap();
        let echo = std::fs::read(wpool_tests::guest_path("echo")).unwrap();
        let (sha256, _) = cluster.upload_guest(&echo).await.unwrap();
        let guest = GuestRef {
            name: "echo".into(),
            sha256,
            env: Vec::new(),
            args: Vec::new(),
            digest: false,
        };
        let (submission, mut results) = cluster.submit().await.unwrap();
        for index in 0..TASKS {
            let body = input(index);
            let task = Task {
                index,
                guest: guest.clone(),
                limits: Limits::default(),
                call: "reverse-bytes".into(),
                args: vec![Value::Bytes(body)],
                timeout: None,
            };
            submission
                .publish(task)
                .await
                .unwrap()
                .confirm()
                .await
                .unwrap();
        }
        let mut got = BTreeMap::new();
        let (mut patience, mut cut_off) = (Duration::from_micros(100), 0);
        let started = Instant::now();
        while got.len() < TASKS as usize {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "results lost: {} of {TASKS} arrived, {cut_off} reads cut off",
                got.len()
            );
            match tokio::time::timeout(patience, results.next()).await {
                Ok(Some(result)) => {
                    let value = result.unwrap().outcome.expect("reverse-bytes succeeds");
                    assert!(got.insert(result_index(&value), value).is_none(), "twice");
                    patience = Duration::from_micros(100);
                }
                Ok(None) => panic!("the result stream ended"),
                // Cut off: the next read starts that result again, a little
                // more patiently (a 600 KiB download takes a few ms).
                Err(_) => {
                    cut_off += 1;
                    patience += patience / 2;
                }
            }
        }
        assert!(cut_off > TASKS as usize, "reads were cut off ({cut_off})");
        for (index, value) in got {
            let mut reversed = input(index);
            reversed.reverse();
            assert_eq!(value, Value::Bytes(reversed));
        }
        let names = |store: async_nats::jetstream::object_store::ObjectStore| async move {
            use futures::StreamExt;
            let list: Vec<_> = store.list().await.unwrap().collect().await;
            list.into_iter()
                .map(|o| o.unwrap().name)
                .collect::<Vec<_>>()
        };
        let client = async_nats::connect(&nats.url).await.unwrap();
        let store = (async_nats::jetstream::new(client))
            .get_object_store("wpool-data")
            .await
            .unwrap();
        let stored = names(store.clone()).await;
        // 12 inputs and their 12 results, named by the job.
        assert_eq!(stored.len(), 2 * TASKS as usize, "{stored:?}");
        let job = submission.id();
        assert!(
            stored
                .iter()
                .all(|name| name.starts_with(&format!("{job}.")))
        );
        submission.forget_results().await.unwrap();
        assert_eq!(names(store).await, Vec::<String>::new());
    });
}

/// Task `index`'s input: 600 KiB of `index`, but the first byte.
fn input(index: u64) -> Vec<u8> {
    let mut body = vec![index as u8; 600 << 10];
    body[0] = 255;
    body
}

/// The index a `reverse-bytes` result of [`input`] came from.
fn result_index(value: &Value) -> u64 {
    u64::from(value.as_bytes().expect("bytes")[0])
}
