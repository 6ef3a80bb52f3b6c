//! Each input of one `[[task]]` becomes a published task ([`RemoteTask`]
//! is the [`Runner`]); what comes back becomes its record
//! ([`RemoteTask::finish`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use wpool::Value;
use wpool_cluster::{GuestRef, Limits, Submission, Task, TaskResult};

use crate::atomic::save_value;
use crate::dispatch::{Data, Input, Runner};
use crate::job::SaveSpec;
use crate::record::{Outcome, Record, Remote};
use crate::sink::{Deliveries, Delivery};
use crate::task::millis;

/// A task published and not yet answered.
pub(crate) struct Pending {
    pub(crate) task: Arc<RemoteTask>,
    pub(crate) input: String,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Tasks published and not yet answered, by index.
pub(crate) type PendingMap = Arc<Mutex<HashMap<u64, Pending>>>;

/// What every input of one `[[task]]` shares.
pub(crate) struct RemoteTask {
    pub(crate) submission: Arc<Submission>,
    pub(crate) pending: PendingMap,
    pub(crate) guest: GuestRef,
    pub(crate) limits: Limits,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) guest_name: Arc<str>,
    pub(crate) call: Arc<str>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) extra: Vec<Value>,
    pub(crate) first: usize,
    pub(crate) records: mpsc::Sender<Deliveries>,
    pub(crate) hold_permit: bool,
    pub(crate) reduce: Option<mpsc::Sender<Value>>,
    pub(crate) save: Option<SaveSpec>,
    /// Files read and not yet handed to the publisher (big ones uploaded,
    /// small ones queued in a batch): a few at a time, so a job of big
    /// files never holds thousands of them in memory while thousands of
    /// tasks are in flight.
    pub(crate) staging: Arc<Semaphore>,
}

impl Runner for RemoteTask {
    async fn start(
        self: Arc<Self>,
        input: Input,
        permit: OwnedSemaphorePermit,
    ) -> BoxFuture<'static, ()> {
        let index = self.first + input.offset;
        let label = input.label;
        async move {
            let started = Instant::now();
            let staged = match &input.data {
                Data::File(_) => self.staging.clone().acquire_owned().await.ok(),
                _ => None,
            };
            let args = match input.data {
                Data::Args(args) => args,
                Data::Body(Ok(body), _) => self.with_extra(body),
                Data::Body(Err(message), elapsed) => {
                    return self.fail(index, label, "fetch", message, elapsed).await;
                }
                Data::File(path) => match tokio::fs::read(&path).await {
                    Ok(bytes) => self.with_extra(bytes),
                    Err(e) => {
                        let message = format!("cannot read `{}`: {e}", path.display());
                        return self
                            .fail(index, label, "read", message, started.elapsed())
                            .await;
                    }
                },
            };
            self.publish(index, label, args, permit, staged, started)
                .await;
        }
        .boxed()
    }
}

impl RemoteTask {
    fn with_extra(&self, first: Vec<u8>) -> Vec<Value> {
        let mut args = vec![Value::Bytes(first)];
        args.extend(self.extra.iter().cloned());
        args
    }

    async fn publish(
        self: Arc<Self>,
        index: usize,
        input: String,
        args: Vec<Value>,
        permit: OwnedSemaphorePermit,
        staged: Option<OwnedSemaphorePermit>,
        started: Instant,
    ) {
        let key = index as u64;
        let task = Task {
            index: key,
            guest: self.guest.clone(),
            limits: self.limits.clone(),
            call: self.call.to_string(),
            args,
            timeout: self.timeout,
        };
        // Registered first: the result may come back before the
        // publication's acknowledgement does.
        let pending = Pending {
            task: self.clone(),
            input: input.clone(),
            permit,
        };
        lock(&self.pending).insert(key, pending);
        let queued = self.submission.publish(task).await;
        // The file's bytes are in the object store or in the batch being
        // sent: the next file may be read while this one's batch lingers.
        drop(staged);
        let published = match queued {
            Ok(published) => published.confirm().await,
            Err(e) => Err(e),
        };
        if let Err(e) = published
            && lock(&self.pending).remove(&key).is_some()
        {
            let message = format!("{:#}", anyhow::Error::new(e));
            self.fail(index, input, "publish", message, started.elapsed())
                .await;
        }
    }

    /// Writes the record of a task that came back.
    pub(crate) async fn finish(&self, pending: Pending, result: TaskResult) {
        let index = usize::try_from(result.index).unwrap_or(usize::MAX);
        let outcome = match result.outcome {
            Ok(value) => {
                if let Some(reduce) = &self.reduce {
                    let _ = reduce.send(value.clone()).await;
                }
                match &self.save {
                    None => Outcome::Ok(value),
                    Some(save) => {
                        match save_value(save.path_for(&pending.input, index), value).await {
                            Ok(written) => Outcome::Ok(written),
                            Err(message) => Outcome::Err {
                                kind: "write".to_owned(),
                                message,
                            },
                        }
                    }
                }
            }
            Err((kind, message)) => Outcome::Err { kind, message },
        };
        let remote = Remote {
            node: result.node,
            deliveries: result.deliveries,
        };
        let mut record = self.record(index, pending.input, outcome, result.ms);
        record.worker = result.worker;
        record.remote = Some(remote);
        let permit = self.hold_permit.then_some(pending.permit);
        let _ = self.records.send(Delivery { record, permit }.into()).await;
    }

    /// Writes the record of a task that never came back.
    pub(crate) async fn unfinished(&self, index: u64, input: String, message: String) {
        let record = self.record(
            index as usize,
            input,
            Outcome::Err {
                kind: "unfinished".to_owned(),
                message,
            },
            0.0,
        );
        let delivery = Delivery {
            record,
            permit: None,
        };
        let _ = self.records.send(delivery.into()).await;
    }

    fn record(&self, index: usize, input: String, outcome: Outcome, ms: f64) -> Record {
        Record {
            index,
            name: self.name.clone(),
            guest: self.guest_name.clone(),
            call: self.call.clone(),
            input,
            outcome,
            ms,
            worker: None,
            remote: None,
        }
    }

    async fn fail(
        &self,
        index: usize,
        input: String,
        kind: &str,
        message: String,
        elapsed: Duration,
    ) {
        let outcome = Outcome::Err {
            kind: kind.to_owned(),
            message,
        };
        let record = self.record(index, input, outcome, millis(elapsed));
        let delivery = Delivery {
            record,
            permit: None,
        };
        let _ = self.records.send(delivery.into()).await;
    }
}

/// Locks the pending map (a panic while holding it is a bug elsewhere; the
/// map itself stays consistent).
pub(crate) fn lock(pending: &PendingMap) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
