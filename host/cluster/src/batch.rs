//! Tasks go out in batches: as many waiting tasks of the same guest,
//! limits and function as the job allows travel in one message (a batch
//! that is not full waits up to [`BATCH_LINGER`] for more), and no message
//! waits for the server's acknowledgement of the one before.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::message::PublishMessage;
use tokio::sync::{mpsc, oneshot};

use crate::names;
use crate::wire::{Entry, GuestRef, Limits, TaskMsg};

/// Tasks whose arguments encode to more bytes than this travel alone.
pub const BATCH_INPUT: usize = 4 * 1024;
/// A batch message stops growing at this many bytes of tasks.
const BATCH_BYTES: usize = 256 * 1024;

/// How long a batch that is not full waits for more tasks, from its first
/// (unless [`Submission::batch_linger`](crate::Submission::batch_linger)
/// says otherwise).
pub(crate) const BATCH_LINGER: Duration = Duration::from_millis(10);

/// A deadline that will not come.
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// How the job's tasks are batched; the submitter may change it any time.
#[derive(Debug)]
pub(crate) struct Batching {
    /// The most tasks in one message.
    pub(crate) tasks: AtomicUsize,
    /// How long a batch that is not full waits for more, in microseconds.
    pub(crate) linger_us: AtomicU64,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            tasks: AtomicUsize::new(1),
            linger_us: AtomicU64::new(BATCH_LINGER.as_micros() as u64),
        }
    }
}

/// What batches of tasks share.
pub(crate) type BatchKey = (GuestRef, Limits, String);

/// A task waiting for the batcher.
pub(crate) struct Queued {
    pub(crate) key: BatchKey,
    pub(crate) entry: Entry,
    pub(crate) size: usize,
    pub(crate) done: oneshot::Sender<Result<(), async_nats::Error>>,
}

/// Sends the job's tasks in order, as many of the same kind in one message
/// as are waiting (up to the batch size), without waiting for the server's
/// acknowledgement of one message before sending the next.
pub(crate) async fn batcher(
    js: jetstream::Context,
    subject: String,
    mut queued: mpsc::UnboundedReceiver<Queued>,
    batching: Arc<Batching>,
) {
    let mut next: Option<Queued> = None;
    loop {
        let first = match next.take() {
            Some(first) => first,
            None => match queued.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let max = batching.tasks.load(Ordering::Relaxed);
        let now = tokio::time::Instant::now();
        let linger = Duration::from_micros(batching.linger_us.load(Ordering::Relaxed));
        let linger = now.checked_add(linger).unwrap_or(now + YEAR);
        let mut bytes = first.size;
        let mut tasks = vec![first];
        let mut yielded = 0;
        while tasks.len() < max && tasks[0].size <= BATCH_INPUT && bytes < BATCH_BYTES {
            let more = match queued.try_recv() {
                Ok(more) => more,
                // Give the tasks being prepared a chance to join.
                Err(mpsc::error::TryRecvError::Empty) if yielded < 2 => {
                    yielded += 1;
                    tokio::task::yield_now().await;
                    continue;
                }
                // Then wait a little for the batch to fill: tasks that
                // trickle in (as earlier results free room for them) would
                // otherwise go out a few per message, and every message
                // costs the server and a worker far more than a task.
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(linger, queued.recv()).await {
                        Ok(Some(more)) => more,
                        Ok(None) | Err(_) => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            if more.key == tasks[0].key && more.size <= BATCH_INPUT {
                bytes += more.size;
                tasks.push(more);
            } else {
                next = Some(more);
                break;
            }
        }
        tracing::debug!(tasks = tasks.len(), waited = ?now.elapsed(), "batch sent");
        send(&js, &subject, tasks).await;
    }
}

/// Sends one message of tasks; their senders learn when it is stored.
async fn send(js: &jetstream::Context, subject: &str, tasks: Vec<Queued>) {
    let (done, entries): (Vec<_>, Vec<_>) = tasks
        .into_iter()
        .map(|q| (q.done, (q.key, q.entry)))
        .unzip();
    let mut entries = entries.into_iter();
    let Some(((guest, limits, call), first)) = entries.next() else {
        return;
    };
    let first_index = first.index;
    let job = subject.rsplit('.').next().unwrap_or_default().to_owned();
    let message = TaskMsg {
        job: job.clone(),
        guest,
        limits,
        call,
        tasks: std::iter::once(first)
            .chain(entries.map(|(_, e)| e))
            .collect(),
    };
    let id = names::batch_id(&job, first_index, message.tasks.len());
    let sent = match serde_json::to_vec(&message) {
        Ok(payload) => {
            let publish = PublishMessage::build()
                .payload(payload.into())
                .message_id(id);
            js.send_publish(subject.to_owned(), publish)
                .await
                .map_err(async_nats::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    let stored = async move {
        let stored = match sent {
            Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        for done in done {
            let _ = done.send(stored.clone().map_err(Into::into));
        }
    };
    tokio::spawn(stored);
}
