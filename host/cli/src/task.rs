//! One input through the pool to its record: what every input of one
//! `[[task]]` shares ([`TaskCtx`]), and the [`Runner`] that turns an
//! [`Input`] into a call and its outcome into a [`Record`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use wpool::{LoadedGuest, Pool, TaskError, TaskOptions, Value};

use crate::atomic::save_value;
use crate::dispatch::{Data, Input, Runner};
use crate::job::SaveSpec;
use crate::record::{Outcome, Record};
use crate::sink::Delivery;
use wpool_cli::script::{self, Script};

/// What every input of one `[[task]]` shares.
pub(crate) struct TaskCtx {
    pub(crate) pool: Pool,
    pub(crate) guest: LoadedGuest,
    pub(crate) name: Option<String>,
    pub(crate) guest_name: String,
    pub(crate) call: String,
    /// The Python script `call` is a function of, when the guest is its
    /// interpreter: each call becomes the interpreter's `run`.
    pub(crate) script: Option<Arc<Script>>,
    pub(crate) options: TaskOptions,
    /// The task's `args`, after a file's bytes or a fetched body.
    pub(crate) extra: Vec<Value>,
    /// Record index of the task's first input.
    pub(crate) first: usize,
    pub(crate) records: mpsc::Sender<Delivery>,
    /// Keep an input's permit until its record is written (input order):
    /// finished records waiting for an earlier one then count against the
    /// in-flight bound, so memory stays bounded whatever the order of
    /// completion. Not for fetches, whose bodies arrive in any order.
    pub(crate) hold_permit: bool,
    /// Where successful results go to be combined (`reduce`).
    pub(crate) reduce: Option<mpsc::Sender<Value>>,
    /// Where each successful result is written (`save`).
    pub(crate) save: Option<SaveSpec>,
}

impl Runner for TaskCtx {
    async fn start(
        self: Arc<Self>,
        input: Input,
        permit: OwnedSemaphorePermit,
    ) -> BoxFuture<'static, ()> {
        let index = self.first + input.offset;
        let label = input.label;
        match input.data {
            Data::Args(args) => self.queue(index, label, args, permit).await.boxed(),
            Data::Body(Ok(body), _) => {
                let args = self.with_extra(body);
                self.queue(index, label, args, permit).await.boxed()
            }
            Data::Body(Err(message), elapsed) => {
                async move { self.fail(index, label, "fetch", message, elapsed).await }.boxed()
            }
            // Reading waits its turn in the spawned task, not in the queue.
            Data::File(path) => async move {
                let started = Instant::now();
                match tokio::fs::read(&path).await {
                    Ok(bytes) => {
                        let args = self.with_extra(bytes);
                        self.queue(index, label, args, permit).await.await;
                    }
                    Err(e) => {
                        let message = format!("cannot read `{}`: {e}", path.display());
                        self.fail(index, label, "read", message, started.elapsed())
                            .await;
                    }
                }
            }
            .boxed(),
        }
    }
}

impl TaskCtx {
    fn with_extra(&self, first: Vec<u8>) -> Vec<Value> {
        let mut args = vec![Value::Bytes(first)];
        args.extend(self.extra.iter().cloned());
        args
    }

    fn record(
        &self,
        index: usize,
        input: String,
        outcome: Outcome,
        ms: f64,
        worker: Option<usize>,
    ) -> Record {
        Record {
            index,
            name: self.name.clone(),
            guest: self.guest_name.clone(),
            call: self.call.clone(),
            input,
            outcome,
            ms,
            worker,
            remote: None,
        }
    }

    /// Joins the pool's queue (inputs queued one after another run in that
    /// order, like `executor.submit`), and returns what waits for the result
    /// and sends the record.
    async fn queue(
        self: Arc<Self>,
        index: usize,
        input: String,
        args: Vec<Value>,
        permit: OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send + 'static {
        let started = Instant::now();
        let (call, args) = match &self.script {
            Some(script) => ("run", script.request(&self.call, &args)),
            None => (self.call.as_str(), args),
        };
        let queued = (self.pool)
            .enqueue_with(&self.guest, call, args, self.options.clone())
            .await;
        async move {
            let result = match queued {
                Ok(queued) => queued.await,
                Err(e) => Err(e),
            };
            let record = match result {
                Ok(out) => {
                    let (ms, worker) = (millis(out.elapsed), Some(out.worker));
                    let outcome = match self.decode(out.value) {
                        Ok(value) => self.keep(value, &input, index).await,
                        Err(outcome) => outcome,
                    };
                    self.record(index, input, outcome, ms, worker)
                }
                Err(e) => {
                    let ms = millis(started.elapsed());
                    self.record(index, input, failure(&e), ms, e.worker())
                }
            };
            let permit = self.hold_permit.then_some(permit);
            let _ = self.records.send(Delivery { record, permit }).await;
        }
    }

    /// The function's result: the call's own, or what a Python script's
    /// function returned (a failure if the driver's output does not parse).
    fn decode(&self, value: Value) -> Result<Value, Outcome> {
        match &self.script {
            None => Ok(value),
            Some(_) => script::decode(&value).map_err(|message| Outcome::Err {
                kind: "guest".to_owned(),
                message,
            }),
        }
    }

    /// Hands a result to `reduce` and writes it (`save`): the record's outcome.
    async fn keep(&self, value: Value, input: &str, index: usize) -> Outcome {
        if let Some(reduce) = &self.reduce {
            let _ = reduce.send(value.clone()).await;
        }
        match &self.save {
            None => Outcome::Ok(value),
            Some(save) => match save_value(save.path_for(input, index), value).await {
                Ok(written) => Outcome::Ok(written),
                Err(message) => Outcome::Err {
                    kind: "write".to_owned(),
                    message,
                },
            },
        }
    }

    /// Sends the record of an input that never reached the pool.
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
        let record = self.record(index, input, outcome, millis(elapsed), None);
        let delivery = Delivery {
            record,
            permit: None,
        };
        let _ = self.records.send(delivery).await;
    }
}

/// A task's error as a record's outcome.
pub(crate) fn failure(e: &TaskError) -> Outcome {
    Outcome::Err {
        kind: e.kind().as_str().to_owned(),
        message: e.detail().to_owned(),
    }
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
