//! The names and settings the cluster is made of (see the crate docs).

use std::time::Duration;

/// The work-queue stream that holds tasks until a worker acknowledges them.
pub const TASK_STREAM: &str = "WPOOL_TASKS";
/// Tasks are published on `wpool.tasks.<job>`.
pub const TASK_SUBJECT: &str = "wpool.tasks";
/// The one durable pull consumer every worker pulls from.
pub const WORKER_CONSUMER: &str = "wpool-workers";
/// The stream of results.
pub const RESULT_STREAM: &str = "WPOOL_RESULTS";
/// Results are published on `wpool.results.<job>`.
pub const RESULT_SUBJECT: &str = "wpool.results";
/// Guests, keyed by the SHA-256 of their bytes.
pub const GUEST_BUCKET: &str = "wpool-guests";
/// Inputs and results too big to travel inline, keyed by SHA-256.
pub const DATA_BUCKET: &str = "wpool-data";
/// Live workers: one key per worker, refreshed while it runs.
pub const WORKER_BUCKET: &str = "wpool-workers";

/// Within this window a task or result published twice with the same
/// `Nats-Msg-Id` ([`batch_id`]) is stored once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long tasks, results and objects are kept at most.
pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// A worker's registry entry expires this long after its last refresh.
pub const WORKER_TTL: Duration = Duration::from_secs(6);
/// How often a worker refreshes its registry entry.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Default time a worker has to acknowledge (or extend) a task before
/// JetStream gives it to another worker.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries after which a task that keeps killing its workers is given up
/// (recorded as `worker_lost`) instead of run again.
pub const MAX_DELIVERIES: i64 = 3;

/// The advisory JetStream sends when a task message reached the worker
/// consumer's max deliveries unacknowledged (its payload names the
/// message by `stream_seq`).
pub const MAX_DELIVERIES_ADVISORY: &str =
    "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.WPOOL_TASKS.wpool-workers";

/// The subject of a job's tasks.
pub fn task_subject(job: &str) -> String {
    format!("{TASK_SUBJECT}.{job}")
}

/// The subject of a job's results.
pub fn result_subject(job: &str) -> String {
    format!("{RESULT_SUBJECT}.{job}")
}

/// The `Nats-Msg-Id` of a message of `count` tasks starting at `first`
/// (each task is published in one message only, so its first index is
/// unique).
pub fn batch_id(job: &str, first: u64, count: usize) -> String {
    format!("{job}.{first}+{count}")
}

/// The `Nats-Msg-Id` of a message of results, from every index in it: a
/// worker that takes over a redelivered message may group its results
/// differently from the worker that died, and a group starting at the
/// same index with the same size but other members must not be dropped as
/// a duplicate. A retried publish of the same group keeps its id.
pub fn result_batch_id(job: &str, indices: impl IntoIterator<Item = u64>) -> String {
    // FNV-1a over the indices' bytes: stable across processes and builds.
    let (mut first, mut count, mut hash) = (None, 0usize, 0xcbf2_9ce4_8422_2325u64);
    for index in indices {
        first.get_or_insert(index);
        count += 1;
        for byte in index.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{job}.{}+{count}.{hash:016x}", first.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_ids_tell_groups_with_the_same_start_and_size_apart() {
        let a = result_batch_id("job", [4, 5, 9]);
        assert_eq!(a, result_batch_id("job", [4, 5, 9]), "stable");
        assert_ne!(a, result_batch_id("job", [4, 7, 9]));
        assert_ne!(a, result_batch_id("job", [4, 9, 5]));
        assert!(a.starts_with("job.4+3."), "{a}");
    }
}
