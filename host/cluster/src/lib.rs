//! Runs wpool tasks across machines on NATS JetStream: `wpool run --nats`
//! submits, any number of `wpool worker --nats` processes run, and JetStream
//! does the queueing, redelivery and deduplication. Built on `wpool`'s
//! public API only; `wpool` itself knows nothing of NATS.
//!
//! ```no_run
//! use wpool_cluster::{Cluster, ConnectConfig, GuestRef, Limits, Task};
//!
//! # async fn demo() -> Result<(), wpool_cluster::ClusterError> {
//! let cluster = Cluster::connect(&ConnectConfig {
//!     url: "nats://127.0.0.1:4222".into(),
//!     timeout: Some(std::time::Duration::from_secs(3)),
//!     name: "example".into(),
//! })
//! .await?;
//! let wasm = std::fs::read("heavy_calc.wasm").expect("a guest");
//! let (sha256, _uploaded) = cluster.upload_guest(&wasm).await?;
//! let guest = GuestRef { name: "heavy_calc".into(), sha256, env: vec![], args: vec![], digest: false };
//! let (job, mut results) = cluster.submit().await?;
//! for (index, n) in [50_000_000u64, 60_000_000].into_iter().enumerate() {
//!     let task = Task {
//!         index: index as u64,
//!         guest: guest.clone(),
//!         limits: Limits::default(),
//!         call: "heavy-calc".into(),
//!         args: vec![wpool::Value::UInt(n)],
//!         timeout: None,
//!     };
//!     job.publish(task).await?.confirm().await?;
//! }
//! for _ in 0..2 {
//!     let result = results.next().await.expect("a result")?;
//!     println!("task {} on {}: {:?}", result.index, result.node, result.outcome);
//! }
//! # Ok(()) }
//! ```
//!
//! # What lives on the server
//!
//! | name | kind | settings | holds |
//! |---|---|---|---|
//! | `WPOOL_TASKS` | stream, subjects `wpool.tasks.>` | work-queue retention, 10 min duplicate window, 24 h max age | one message per task or batch of tasks on `wpool.tasks.<job>`, `Nats-Msg-Id` `<job>.<first index>+<count>`; removed when a worker acknowledges it |
//! | `wpool-workers` | durable pull consumer on `WPOOL_TASKS` | explicit ack, ack wait 30 s (`--ack-wait`), max deliver 4 | shared by every worker |
//! | `WPOOL_RESULTS` | stream, subjects `wpool.results.>` | limits retention, 10 min duplicate window, 24 h max age | a JSON array of one or more results per message on `wpool.results.<job>`, `Nats-Msg-Id` `<job>.<first index>+<count>.<hash of every index>` (a redelivered message's results may be grouped differently); purged by `run` when it ends ([`Submission::forget_results`]) |
//! | `wpool-guests` | object store | 24 h max age | guest `.wasm` bytes keyed by their SHA-256 |
//! | `wpool-data` | object store | 24 h max age | byte and string values over 128 KiB (inputs and results) named `<job>.<SHA-256>`; a job's inputs and the results it read removed by [`Submission::forget_results`] |
//! | `wpool-workers` | key-value bucket | history 1, entries expire after 6 s | one entry per live worker: name, slots, busy, draining |
//!
//! # A task's life
//!
//! 1. `run` validates the whole job locally (exit 2 before anything is
//!    published), uploads each guest once under its hash, opens an ordered
//!    consumer on `wpool.results.<job>`, subscribes to the consumer's
//!    max-deliveries advisory, and publishes the tasks without waiting for
//!    each acknowledgement. A message carries one task or, in a job of many
//!    small tasks ([`Submission::batch_up_to`]; the CLI batches jobs of
//!    1,000 tasks or more, a hundredth of the job per message, at most 100,
//!    arguments under [`BATCH_INPUT`] bytes), a batch of tasks of the same
//!    guest, limits and function; a batch that is not full waits up to 10
//!    ms for more ([`Submission::batch_linger`]), so that tasks released
//!    one by one as earlier results come back still travel together.
//! 2. A worker pulls as many messages as fit its free slots (slots count
//!    tasks: a message of `n` tasks holds `n` of them, or all), with pull
//!    requests that expire within half a second, fetches the guest by
//!    hash (checking the hash) and compiles it once per process, runs the
//!    message's tasks in a local pool with the job's limits (a batch goes
//!    to the pool in batches of its own, [`wpool::Pool::enqueue_batch`],
//!    spread over all its slots), and sends in-progress acks every third
//!    of the ack wait while they run. It holds about `slots` tasks: one
//!    batch at most when a batch is bigger than its slots.
//! 3. It publishes the results as they finish, a few per message (a JSON
//!    array; those finished within 2 ms of each other travel together),
//!    waits for the server to store them all, and only then acknowledges
//!    the message (double ack).
//! 4. `run` keeps the first result of every index and ignores any other.
//!    A message that reached its last delivery unanswered (the advisory
//!    names its stream sequence) is read back from the stream: its tasks
//!    without a result are `worker_lost`, and it is removed.
//! 5. Once it has read what it needs, `run` purges the job's results from
//!    the stream and removes the job's big values (its inputs, the results
//!    it read) from `wpool-data` ([`Submission::forget_results`]).
//!
//! # Guarantees
//!
//! - **Guest failures are final.** A trap, timeout, memory or fuel breach is
//!   a result like any other: recorded once, never retried.
//! - **Worker death means redelivery.** A worker that dies holding a task
//!   stops extending it; after the ack wait JetStream delivers it to another
//!   worker. A task delivered more than three times (every worker that took
//!   it died) is not run again: the fourth delivery is recorded as
//!   `worker_lost`, by the worker that receives it or, if that one dies
//!   too, by `run` on the max-deliveries advisory.
//! - **Exactly-once output.** A task may run twice (its worker died after
//!   running it, before acknowledging); its result is kept once, by job id
//!   and index.
//! - **Draining.** A stopping worker pulls nothing more, finishes and
//!   acknowledges what it holds, then leaves the registry.
//! - **Resubmission reruns.** Every `run` is a new job with a new id.
#![deny(missing_docs)]

mod batch;
mod cluster;
mod error;
mod execute;
pub mod names;
mod objects;
mod outbox;
mod registry;
mod submit;
mod wire;
mod worker;

pub use batch::BATCH_INPUT;
pub use cluster::{Cluster, ConnectConfig};
pub use error::ClusterError;
pub use registry::{Status, WorkerInfo};
pub use submit::{Published, Results, Submission, Task, TaskResult};
pub use wire::{GuestRef, INLINE_LIMIT, Limits, WireError, sha256_hex};
pub use worker::{WorkerConfig, WorkerStats, serve};
