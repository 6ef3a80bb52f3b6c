//! The submitting side (`wpool run --nats`): guests up by hash, tasks out on
//! the work queue, results back, each index once.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::Subscriber;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use wpool::Value;

use crate::batch::{Batching, Queued, batcher};
use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::names;
use crate::objects;
use crate::wire::{
    self, Entry, GuestRef, Limits, ResultMsg, TaskMsg, WireError, WireOutcome, sha256_hex,
};

/// One task to run somewhere in the cluster.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its index in the job: the key of its result.
    pub index: u64,
    /// The guest, uploaded with [`Cluster::upload_guest`].
    pub guest: GuestRef,
    /// The pool settings it runs under.
    pub limits: Limits,
    /// The exported function to call.
    pub call: String,
    /// Its arguments.
    pub args: Vec<Value>,
    /// Its own wall-clock limit, instead of [`Limits::timeout_ms`].
    pub timeout: Option<Duration>,
}

/// A finished task, as a worker reported it.
#[derive(Debug, Clone)]
pub struct TaskResult {
    /// The task's index.
    pub index: u64,
    /// The name of the worker process that ran it; empty for a task
    /// whose last delivery was lost too (`worker_lost` from the advisory).
    pub node: String,
    /// The worker thread inside that process, if the task reached one.
    pub worker: Option<usize>,
    /// How many times JetStream delivered the task: more than 1 when a
    /// worker died holding it.
    pub deliveries: u64,
    /// How long it ran, in milliseconds.
    pub ms: f64,
    /// The value, or the failure's kind (`timeout`, `trap`, …, or
    /// `worker_lost` when every worker that ran it died) and message.
    pub outcome: Result<Value, (String, String)>,
}

/// A job being submitted: publishes its tasks and reads their results.
///
/// Dropping it leaves published tasks on the queue: call
/// [`Submission::cancel`] to withdraw those no worker has finished.
pub struct Submission {
    cluster: Cluster,
    id: String,
    /// `wpool.tasks.<id>`.
    subject: Arc<str>,
    data: ObjectStore,
    /// The job's objects in the data store, removed when the job is over.
    stored: Stored,
    batching: Arc<Batching>,
    queue: mpsc::UnboundedSender<Queued>,
}

/// Names of a job's objects in the data store: its big inputs, and the big
/// results read back.
type Stored = Arc<Mutex<BTreeSet<String>>>;

/// The results of a [`Submission`], each task index at most once (a task
/// that ran twice, because a worker died after finishing it, is reported
/// once).
pub struct Results {
    messages: Ordered,
    advisories: Subscriber,
    tasks: Stream,
    job: String,
    ready: VecDeque<ResultMsg>,
    /// Max-deliveries advisories received and not yet handled.
    advisories_held: VecDeque<async_nats::Message>,
    seen: HashSet<u64>,
    data: ObjectStore,
    stored: Stored,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("id", &self.id).finish()
    }
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Results")
            .field("seen", &self.seen.len())
            .finish()
    }
}

/// A task published but not yet stored by the server.
#[derive(Debug)]
pub struct Published {
    ack: oneshot::Receiver<Result<(), async_nats::Error>>,
    subject: Arc<str>,
}

impl Published {
    /// Waits until the server has stored the task.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Publish`] if the server did not store it.
    pub async fn confirm(self) -> Result<(), ClusterError> {
        let stored = match self.ack.await {
            Ok(stored) => stored,
            Err(_) => Err("the publisher stopped".into()),
        };
        stored.map_err(|source| ClusterError::Publish {
            subject: self.subject.to_string(),
            source,
        })
    }
}

impl Cluster {
    /// Puts a guest's bytes in the guest object store under their SHA-256,
    /// unless they are there already. Returns the hash and whether it
    /// uploaded.
    ///
    /// # Errors
    ///
    /// When the object store cannot be opened or written.
    pub async fn upload_guest(&self, bytes: &[u8]) -> Result<(String, bool), ClusterError> {
        let store = self.objects(names::GUEST_BUCKET).await?;
        let key = sha256_hex(bytes);
        let uploaded = objects::put_once(&store, names::GUEST_BUCKET, &key, bytes).await?;
        Ok((key, uploaded))
    }

    /// Starts a job: a fresh job id (a job submitted again runs again), its
    /// result subscription open before any task goes out.
    ///
    /// # Errors
    ///
    /// When the streams or stores cannot be opened.
    pub async fn submit(&self) -> Result<(Submission, Results), ClusterError> {
        let tasks = self.tasks().await?;
        let results = self.results().await?;
        let data = self.objects(names::DATA_BUCKET).await?;
        let id = job_id();
        let consumer = results
            .create_consumer(OrderedConfig {
                filter_subject: names::result_subject(&id),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::setup(names::RESULT_STREAM, e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| ClusterError::setup(names::RESULT_STREAM, e))?;
        let advisories = (self.client)
            .subscribe(names::MAX_DELIVERIES_ADVISORY)
            .await
            .map_err(|e| ClusterError::setup(names::TASK_STREAM, e))?;
        let batching = Arc::new(Batching::default());
        let stored = Stored::default();
        let (queue, queued) = mpsc::unbounded_channel();
        tokio::spawn(batcher(
            self.js.clone(),
            names::task_subject(&id),
            queued,
            batching.clone(),
        ));
        let submission = Submission {
            cluster: self.clone(),
            subject: names::task_subject(&id).into(),
            id: id.clone(),
            data: data.clone(),
            stored: stored.clone(),
            batching,
            queue,
        };
        let results = Results {
            messages,
            advisories,
            tasks,
            job: id,
            ready: VecDeque::new(),
            advisories_held: VecDeque::new(),
            seen: HashSet::new(),
            data,
            stored,
        };
        Ok((submission, results))
    }
}

impl Submission {
    /// The job's id: its tasks go to `wpool.tasks.<id>`, results come back
    /// on `wpool.results.<id>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Lets up to `tasks` tasks of the same guest, limits and function
    /// travel in one message (default 1). Only small tasks are batched
    /// (their arguments under [`BATCH_INPUT`](crate::BATCH_INPUT) bytes
    /// encoded), and only those published within the
    /// [linger](Submission::batch_linger) of a batch's first task. A batch
    /// is pulled by one worker, which runs its tasks on all of its slots:
    /// set it so that a batch is a small share of the job.
    pub fn batch_up_to(&self, tasks: usize) {
        self.batching.tasks.store(tasks.max(1), Ordering::Relaxed);
    }

    /// How long a batch that is not full waits for more tasks, counted
    /// from its first (default 10 ms). A full batch goes at once. Waiting
    /// matters when tasks trickle in (as results of earlier ones free room
    /// for them): sent as they come, they would travel a few per message,
    /// and each message costs the server and a worker far more than a tiny
    /// task does. Zero sends whatever is waiting.
    pub fn batch_linger(&self, linger: Duration) {
        let micros = u64::try_from(linger.as_micros()).unwrap_or(u64::MAX);
        self.batching.linger_us.store(micros, Ordering::Relaxed);
    }

    /// Publishes one task (its big byte values to the data object store
    /// first). Returns once it is queued for sending;
    /// [`Published::confirm`] waits for the server to store it.
    ///
    /// # Errors
    ///
    /// When a big value cannot be stored or the task cannot be sent.
    pub async fn publish(&self, task: Task) -> Result<Published, ClusterError> {
        let mut blobs = BTreeMap::new();
        let args = (task.args.into_iter())
            .map(|v| wire::encode(v, &mut blobs))
            .collect();
        for (key, bytes) in &blobs {
            let name = objects::job_object(&self.id, key);
            objects::put_once(&self.data, names::DATA_BUCKET, &name, bytes).await?;
            remember(&self.stored, name);
        }
        let entry = Entry {
            index: task.index,
            args,
            timeout_ms: task
                .timeout
                .map(|t| t.as_millis().try_into().unwrap_or(u64::MAX)),
        };
        let mut size = ByteCount(0);
        serde_json::to_writer(&mut size, &entry)
            .map_err(|e| ClusterError::request("cannot encode a task", e))?;
        let size = size.0;
        let (done, ack) = oneshot::channel();
        let queued = Queued {
            key: (task.guest, task.limits, task.call),
            entry,
            size,
            done,
        };
        let subject = self.subject.clone();
        if self.queue.send(queued).is_err() {
            return Err(ClusterError::Publish {
                subject: subject.to_string(),
                source: "the publisher stopped".into(),
            });
        }
        Ok(Published { ack, subject })
    }

    /// Removes the job's results from the result stream, and its big values
    /// from the data object store: the inputs it stored and the results
    /// its [`Results`] read. `run` calls it once it has read what it
    /// needed: they would otherwise stay for the max age (24 h), and a
    /// long-lived server would keep every job's. A result that arrives
    /// later (a task that ran twice), or one never read, expires with the
    /// max age.
    ///
    /// # Errors
    ///
    /// When the purge request fails, or an object cannot be removed (the
    /// others are removed all the same).
    pub async fn forget_results(&self) -> Result<(), ClusterError> {
        let stream = self.cluster.results().await?;
        let purged = purge(
            &stream,
            names::result_subject(&self.id),
            "cannot remove the job's results",
        )
        .await;
        let stored = std::mem::take(&mut *lock(&self.stored));
        let mut failed = None;
        for name in stored {
            if let Err(e) = self.data.delete(&name).await
                && !matches!(
                    e.kind(),
                    async_nats::jetstream::object_store::DeleteErrorKind::NotFound
                )
            {
                failed.get_or_insert(ClusterError::object("delete", names::DATA_BUCKET, &name, e));
            }
        }
        purged?;
        failed.map_or(Ok(()), Err)
    }

    /// Withdraws the job's tasks that no worker has acknowledged yet.
    ///
    /// # Errors
    ///
    /// When the purge request fails.
    pub async fn cancel(&self) -> Result<(), ClusterError> {
        let stream = self.cluster.tasks().await?;
        purge(
            &stream,
            names::task_subject(&self.id),
            "cannot withdraw the job's tasks",
        )
        .await
    }
}

fn lock(stored: &Stored) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    stored
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn remember(stored: &Stored, name: String) {
    lock(stored).insert(name);
}

/// Removes every message on `subject` from `stream`.
async fn purge(stream: &Stream, subject: String, what: &'static str) -> Result<(), ClusterError> {
    stream
        .purge()
        .filter(subject)
        .await
        .map_err(|e| ClusterError::request(what, e))?;
    Ok(())
}

impl Results {
    /// The next result not seen before; `None` if the subscription ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future (a `tokio::select!` branch that
    /// lost) loses nothing. A result is taken off the queue only once its
    /// value, big parts read from the object store included, is complete,
    /// and an advisory only once it was handled; the next call starts that
    /// step again.
    ///
    /// # Errors
    ///
    /// When the subscription fails, a result does not decode, or its big
    /// value cannot be read.
    pub async fn next(&mut self) -> Option<Result<TaskResult, ClusterError>> {
        loop {
            if let Some(result) = self.ready.front() {
                if self.seen.contains(&result.index) {
                    tracing::debug!(index = result.index, "duplicate result ignored");
                    self.ready.pop_front();
                    continue;
                }
                let blobs = self.blobs(result).await;
                let result = self.ready.pop_front().expect("the front result is there");
                self.seen.insert(result.index);
                return Some(blobs.and_then(|blobs| decode(result, &blobs)));
            }
            if let Some(advisory) = self.advisories_held.front() {
                let payload = advisory.payload.clone();
                // Safe to start over: results already queued or seen are
                // skipped, and the message is removed last.
                self.lost(&payload).await;
                self.advisories_held.pop_front();
                continue;
            }
            let message = tokio::select! {
                message = self.messages.next() => message?,
                Some(advisory) = self.advisories.next() => {
                    self.advisories_held.push_back(advisory);
                    continue;
                }
            };
            let message = match message {
                Ok(message) => message,
                Err(e) => return Some(Err(ClusterError::request("cannot read results", e))),
            };
            match serde_json::from_slice::<Vec<ResultMsg>>(&message.payload) {
                Ok(results) => self.ready.extend(results),
                Err(e) => {
                    let e = WireError::Json(e);
                    return Some(Err(ClusterError::request("a result does not decode", e)));
                }
            }
        }
    }

    /// A task message that reached its last delivery without an answer
    /// (its last worker died too): if it is this job's, each of its tasks
    /// not answered yet is `worker_lost`, and the message is removed.
    async fn lost(&mut self, advisory: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Advisory {
            stream_seq: u64,
            deliveries: u64,
        }
        let Ok(advisory) = serde_json::from_slice::<Advisory>(advisory) else {
            tracing::warn!("a max-deliveries advisory does not decode");
            return;
        };
        let message = match self.tasks.get_raw_message(advisory.stream_seq).await {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(seq = advisory.stream_seq, "no task message: {e}");
                return;
            }
        };
        if message.subject.as_str() != names::task_subject(&self.job) {
            return;
        }
        let Ok(task) = serde_json::from_slice::<TaskMsg>(&message.payload) else {
            return;
        };
        for entry in task.tasks {
            if self.seen.contains(&entry.index) {
                continue;
            }
            let message = format!(
                "task {} was delivered {} times and every worker that took it died or \
                 vanished while holding it; not run again",
                entry.index, advisory.deliveries
            );
            tracing::warn!("{message}");
            self.ready.push_back(ResultMsg {
                index: entry.index,
                node: String::new(),
                worker: None,
                deliveries: advisory.deliveries,
                ms: 0.0,
                outcome: WireOutcome::Err {
                    kind: "worker_lost".into(),
                    message,
                },
            });
        }
        if let Err(e) = self.tasks.delete_message(advisory.stream_seq).await {
            tracing::debug!(seq = advisory.stream_seq, "cannot remove a lost task: {e}");
        }
    }

    /// The big parts of a result's value, read from the object store.
    async fn blobs(&self, result: &ResultMsg) -> Result<BTreeMap<String, Vec<u8>>, ClusterError> {
        let mut blobs = BTreeMap::new();
        if let WireOutcome::Ok(value) = &result.outcome {
            let mut keys = Vec::new();
            wire::blob_keys(value, &mut keys);
            for key in keys {
                let name = objects::job_object(&self.job, &key);
                let bytes =
                    objects::get_checked(&self.data, names::DATA_BUCKET, &name, &key).await?;
                remember(&self.stored, name);
                blobs.insert(key, bytes);
            }
        }
        Ok(blobs)
    }
}

/// A result as the caller sees it, its big parts taken from `blobs`.
fn decode(
    result: ResultMsg,
    blobs: &BTreeMap<String, Vec<u8>>,
) -> Result<TaskResult, ClusterError> {
    let outcome = match result.outcome {
        WireOutcome::Ok(value) => Ok(wire::decode(value, blobs)
            .map_err(|e| ClusterError::request("a result does not decode", e))?),
        WireOutcome::Err { kind, message } => Err((kind, message)),
    };
    Ok(TaskResult {
        index: result.index,
        node: result.node,
        worker: result.worker,
        deliveries: result.deliveries,
        ms: result.ms,
        outcome,
    })
}

/// A job id unique enough across machines and runs: the time, the process
/// and a counter, hashed.
fn job_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}.{}.{}.{:?}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::thread::current().id()
    );
    sha256_hex(seed.as_bytes())[..20].to_owned()
}

/// Counts the bytes written to it: a task's encoded size, without keeping
/// the encoding (the batch is encoded as a whole).
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_count_is_the_encoded_size() {
        let entry = Entry {
            index: 7,
            args: vec![wire::WireValue::String("a \"quoted\" ünïcode".into())],
            timeout_ms: Some(1500),
        };
        let mut count = ByteCount(0);
        serde_json::to_writer(&mut count, &entry).unwrap();
        assert_eq!(count.0, serde_json::to_vec(&entry).unwrap().len());
        assert!(count.0 > 30);
    }
}
