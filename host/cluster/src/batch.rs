//! Tasks go out in batches: as many waiting tasks of the same guest,
//! limits and function as the job allows travel in one message, and no
//! message waits for the server's acknowledgement of the one before.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_nats::jetstream;
use async_nats::jetstream::message::PublishMessage;
use tokio::sync::{mpsc, oneshot};

use crate::names;
use crate::wire::{Entry, GuestRef, Limits, TaskMsg};

/// Tasks whose arguments encode to more bytes than this travel alone.
pub const BATCH_INPUT: usize = 4 * 1024;
/// A batch message stops growing at this many bytes of tasks.
const BATCH_BYTES: usize = 256 * 1024;

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
    batch: Arc<AtomicUsize>,
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
        let max = batch.load(Ordering::Relaxed);
        let mut bytes = first.size;
        let mut tasks = vec![first];
        let mut yielded = 0;
        while tasks.len() < max && tasks[0].size <= BATCH_INPUT && bytes < BATCH_BYTES {
            match queued.try_recv() {
                Ok(more) if more.key == tasks[0].key && more.size <= BATCH_INPUT => {
                    bytes += more.size;
                    tasks.push(more);
                }
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                // Give the tasks being prepared a chance to join.
                Err(mpsc::error::TryRecvError::Empty) if yielded < 2 => {
                    yielded += 1;
                    tokio::task::yield_now().await;
                }
                Err(_) => break,
            }
        }
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
