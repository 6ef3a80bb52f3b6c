//! One input through the pool to its record: what every input of one
//! `[[task]]` shares ([`TaskCtx`]), and the [`Runner`] that turns an
//! [`Input`] into a call and its outcome into a [`Record`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use wpool::{ErrorKind, LoadedGuest, Output, Pool, TaskError, TaskOptions, Value};

use crate::atomic::save_value;
use crate::dispatch::{Data, Input, Runner};
use crate::job::SaveSpec;
use crate::record::{Outcome, Record};
use crate::sink::{Deliveries, Delivery};
use wpool_cli::script::{self, Script};

/// What every input of one `[[task]]` shares.
pub(crate) struct TaskCtx {
    pub(crate) pool: Pool,
    pub(crate) guest: LoadedGuest,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) guest_name: Arc<str>,
    pub(crate) call: Arc<str>,
    /// The Python script `call` is a function of, when the guest is its
    /// interpreter: each call becomes the interpreter's `run`.
    pub(crate) script: Option<Arc<Script>>,
    pub(crate) options: TaskOptions,
    /// Set when the run was interrupted: queued tasks then never start.
    pub(crate) halted: Arc<AtomicBool>,
    /// The task's `args`, after a file's bytes or a fetched body.
    pub(crate) extra: Vec<Value>,
    /// Record index of the task's first input.
    pub(crate) first: usize,
    pub(crate) records: mpsc::Sender<Deliveries>,
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

    fn batch_size(&self) -> usize {
        let call = if self.script.is_some() {
            "run"
        } else {
            &self.call
        };
        self.pool.batch_size(&self.guest, call)
    }

    async fn start_batch(
        self: Arc<Self>,
        batch: Vec<(Input, OwnedSemaphorePermit)>,
    ) -> BoxFuture<'static, ()> {
        let mut calls = Vec::with_capacity(batch.len());
        let mut others = Vec::new();
        for (input, permit) in batch {
            let index = self.first + input.offset;
            match self.ready_args(input.data) {
                Ok(args) => calls.push((index, input.label, args, permit)),
                Err(data) => others.push((
                    Input {
                        offset: input.offset,
                        label: input.label,
                        data,
                    },
                    permit,
                )),
            }
        }
        let mut finishes = Vec::with_capacity(1 + others.len());
        if !calls.is_empty() {
            finishes.push(self.clone().queue_batch(calls).await.boxed());
        }
        for (input, permit) in others {
            finishes.push(self.clone().start(input, permit).await);
        }
        futures::future::join_all(finishes).map(drop).boxed()
    }
}

impl TaskCtx {
    /// Whether this input travels as arguments alone (no file to read, no
    /// failed fetch to record).
    fn ready_args(&self, data: Data) -> Result<Vec<Value>, Data> {
        match data {
            Data::Args(args) => Ok(args),
            Data::Body(Ok(body), _) => Ok(self.with_extra(body)),
            other => Err(other),
        }
    }

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

    /// The call as it reaches the pool: the task's own, or a Python
    /// script's request to its interpreter's `run`.
    fn call_args(&self, args: Vec<Value>) -> (&str, Vec<Value>) {
        match &self.script {
            Some(script) => ("run", script.request(&self.call, &args)),
            None => (&*self.call, args),
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
        let (call, args) = self.call_args(args);
        let queued = (self.pool)
            .enqueue_with(&self.guest, call, args, self.options.clone())
            .await;
        async move {
            let result = match queued {
                Ok(queued) => queued.await,
                Err(e) => Err(e),
            };
            self.finish(index, input, result, started, permit).await;
        }
    }

    /// Joins the pool's queue with consecutive inputs as one batch (see
    /// [`Pool::enqueue_batch`]), and returns what waits for the results and
    /// sends their records.
    async fn queue_batch(
        self: Arc<Self>,
        inputs: Vec<(usize, String, Vec<Value>, OwnedSemaphorePermit)>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let started = Instant::now();
        let mut calls = Vec::with_capacity(inputs.len());
        let mut rest = Vec::with_capacity(inputs.len());
        let mut call = &*self.call;
        for (index, input, args, permit) in inputs {
            let (name, args) = self.call_args(args);
            call = name;
            calls.push(args);
            rest.push((index, input, permit));
        }
        let queued = (self.pool)
            .enqueue_batch(&self.guest, call, calls, self.options.clone())
            .await;
        async move {
            let results = match queued {
                Ok(results) => results.await,
                Err(e) => rest.iter().map(|_| Err(e.clone())).collect(),
            };
            // One message for the batch's records, and one permit (the
            // batch's, merged) released once the last of them is written.
            let mut deliveries = Vec::with_capacity(rest.len());
            let mut held: Option<OwnedSemaphorePermit> = None;
            for ((index, input, permit), result) in rest.into_iter().zip(results) {
                if self.hold_permit {
                    match &mut held {
                        Some(held) => held.merge(permit),
                        None => held = Some(permit),
                    }
                }
                deliveries.extend(self.deliver(index, input, result, started).await);
            }
            if let Some(last) = deliveries.last_mut() {
                last.permit = held;
            }
            if !deliveries.is_empty() {
                let _ = self.records.send(Deliveries::Many(deliveries)).await;
            }
        }
    }

    /// Turns an input's outcome into its record and sends it.
    async fn finish(
        &self,
        index: usize,
        input: String,
        result: Result<Output, TaskError>,
        started: Instant,
        permit: OwnedSemaphorePermit,
    ) {
        if let Some(mut delivery) = self.deliver(index, input, result, started).await {
            delivery.permit = self.hold_permit.then_some(permit);
            let _ = self.records.send(delivery.into()).await;
        }
    }

    /// An input's record, without a permit; none for an input the run was
    /// interrupted before it started.
    async fn deliver(
        &self,
        index: usize,
        input: String,
        result: Result<Output, TaskError>,
        started: Instant,
    ) -> Option<Delivery> {
        if let Err(e) = &result
            && self.never_started(e)
        {
            return None; // not run: no record
        }
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
        Some(Delivery {
            record,
            permit: None,
        })
    }

    /// Whether a task failed because the run was interrupted before a
    /// worker started it.
    fn never_started(&self, e: &TaskError) -> bool {
        self.halted.load(Ordering::Relaxed)
            && e.kind() == ErrorKind::Cancelled
            && e.worker().is_none()
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
        let _ = self.records.send(delivery.into()).await;
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
