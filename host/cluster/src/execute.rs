//! One delivered task on a worker: its guest fetched by hash and compiled
//! once, its pool chosen by its limits, in-progress acks while it runs, its
//! result stored, then the acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::Message;
use async_nats::jetstream::object_store::ObjectStore;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::{Mutex, OnceCell};
use wpool::{Grants, Guest, LoadedGuest, Pool, TaskOptions, Value};

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::names;
use crate::objects;
use crate::outbox::{Outbox, RESULT_LINGER};
use crate::wire::{self, Entry, GuestRef, Limits, ResultMsg, TaskMsg, WireOutcome};

/// What every task on one worker process shares.
pub(crate) struct Executor {
    pub(crate) cluster: Cluster,
    pub(crate) name: String,
    pub(crate) slots: usize,
    pub(crate) base: wpool::PoolBuilder,
    pub(crate) ack_wait: Duration,
    /// Local pools by limits, and the guests loaded in each.
    pools: Mutex<HashMap<Limits, Pool>>,
    guests: Mutex<HashMap<(Limits, GuestRef), LoadedGuest>>,
    data: OnceCell<ObjectStore>,
}

/// A free slot, held while a task runs; dropping it frees the slot.
pub(crate) type Slot = Box<dyn Send>;

impl Executor {
    pub(crate) fn new(
        cluster: Cluster,
        name: String,
        slots: usize,
        base: wpool::PoolBuilder,
        ack_wait: Duration,
    ) -> Self {
        Executor {
            cluster,
            name,
            slots,
            base,
            ack_wait,
            pools: Mutex::new(HashMap::new()),
            guests: Mutex::new(HashMap::new()),
            data: OnceCell::new(),
        }
    }

    /// Handles one delivery (one or more tasks), down to its
    /// acknowledgement. Its tasks go to the local pool at once, so a batch
    /// spreads over every slot; `slot` is released once they have all run.
    /// Results are published as they finish, a few at a time (within
    /// [`RESULT_LINGER`]), and the message is acknowledged once every
    /// result is stored. Errors are of the cluster (a result could not be
    /// stored): the message is then left unacknowledged, and JetStream
    /// delivers it again.
    pub(crate) async fn handle(&self, message: Message, slot: Slot) -> Result<(), ClusterError> {
        let deliveries = message.info().map_or(1, |info| info.delivered.max(1));
        let task: TaskMsg = match serde_json::from_slice(&message.payload) {
            Ok(task) => task,
            Err(e) => {
                tracing::error!("dropping a task that does not decode: {e}");
                let _ = message.ack_with(AckKind::Term).await;
                return Ok(());
            }
        };
        let deliveries = u64::try_from(deliveries).unwrap_or(1);
        let mut out = Outbox::new(self, &task.job);
        if deliveries > names::MAX_DELIVERIES as u64 {
            drop(slot);
            for entry in &task.tasks {
                let message = format!(
                    "task {} was delivered {} times and no worker finished it (each died or \
                     vanished while running it); not run again",
                    entry.index,
                    deliveries - 1
                );
                tracing::warn!("{message}");
                let outcome = WireOutcome::Err {
                    kind: "worker_lost".into(),
                    message,
                };
                out.push(self.result(entry.index, None, deliveries, 0.0, outcome))
                    .await?;
            }
        } else {
            self.run_all(&task, &message, deliveries, &mut out).await?;
            drop(slot);
        }
        out.flush().await?;
        out.stored().await?;
        message
            .double_ack()
            .await
            .map_err(|e| ClusterError::request("cannot acknowledge a task", e))?;
        tracing::debug!(job = %task.job, tasks = task.tasks.len(), "message done");
        Ok(())
    }

    /// Runs every task of the message at once on the local pool, telling
    /// JetStream every third of the ack wait that the message is still in
    /// progress, and hands each result to `out` as it finishes. Tasks whose
    /// arguments travel in the message go to the pool in batches sized like
    /// [`Pool::map`]'s (one hand-off to a worker for many tiny calls, each
    /// still its own task with its own limits); a task with an input in the
    /// object store goes alone, once its input is fetched.
    async fn run_all(
        &self,
        task: &TaskMsg,
        message: &Message,
        deliveries: u64,
        out: &mut Outbox<'_>,
    ) -> Result<(), ClusterError> {
        let first = task.tasks.first().map_or(0, |entry| entry.index);
        let tasks = task.tasks.len();
        tracing::info!(job = %task.job, index = first, tasks, deliveries, "task started");
        let (pool, guest) = match self.guest(task).await {
            Ok(found) => found,
            Err(e) => {
                let message = wpool::error_chain(&e);
                for entry in &task.tasks {
                    let outcome = failure("guest_unavailable", message.clone());
                    out.push(self.result(entry.index, None, deliveries, 0.0, outcome))
                        .await?;
                }
                return Ok(());
            }
        };
        let (alone, inline): (Vec<&Entry>, Vec<&Entry>) =
            task.tasks.iter().partition(|entry| has_blobs(entry));
        let mut running: FuturesUnordered<BoxFuture<'_, Vec<ResultMsg>>> = alone
            .into_iter()
            .map(|entry| {
                let (pool, guest) = (&pool, &guest);
                async move { vec![self.run_alone(pool, guest, task, entry, deliveries).await] }
                    .boxed()
            })
            .collect();
        let size = pool.batch_size(&guest, &task.call).max(1);
        for same_limit in inline.chunk_by(|a, b| a.timeout_ms == b.timeout_ms) {
            for batch in same_limit.chunks(size) {
                running.push(
                    self.run_batch(&pool, &guest, task, batch, deliveries)
                        .boxed(),
                );
            }
        }
        let mut tick = tokio::time::interval((self.ack_wait / 3).max(Duration::from_millis(100)));
        tick.tick().await;
        let linger = tokio::time::sleep(RESULT_LINGER);
        tokio::pin!(linger);
        let mut lingering = false;
        loop {
            tokio::select! {
                done = running.next() => match done {
                    None => return Ok(()),
                    Some(results) => {
                        for result in results {
                            out.push(result).await?;
                        }
                        if !lingering {
                            linger.as_mut().reset(tokio::time::Instant::now() + RESULT_LINGER);
                            lingering = true;
                        }
                    }
                },
                () = &mut linger, if lingering => {
                    lingering = false;
                    out.flush().await?;
                }
                _ = tick.tick() => {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!("cannot extend a task message of job {}: {e}", task.job);
                    }
                }
            }
        }
    }

    fn result(
        &self,
        index: u64,
        worker: Option<usize>,
        deliveries: u64,
        ms: f64,
        outcome: WireOutcome,
    ) -> ResultMsg {
        ResultMsg {
            index,
            node: self.name.clone(),
            worker,
            deliveries,
            ms,
            outcome,
        }
    }

    /// Runs tasks whose arguments all travelled in the message as one
    /// batch ([`Pool::enqueue_batch`]); a task whose arguments do not
    /// decode fails alone.
    async fn run_batch(
        &self,
        pool: &Pool,
        guest: &LoadedGuest,
        task: &TaskMsg,
        entries: &[&Entry],
        deliveries: u64,
    ) -> Vec<ResultMsg> {
        let no_blobs = BTreeMap::new();
        let mut results = Vec::with_capacity(entries.len());
        let mut calls = Vec::with_capacity(entries.len());
        let mut indices = Vec::with_capacity(entries.len());
        for entry in entries {
            match decode_args(entry, &no_blobs) {
                Ok(args) => {
                    calls.push(args);
                    indices.push(entry.index);
                }
                Err(e) => {
                    let outcome = failure("invalid_call", e.to_string());
                    results.push(self.result(entry.index, None, deliveries, 0.0, outcome));
                }
            }
        }
        if calls.is_empty() {
            return results;
        }
        tracing::debug!(job = %task.job, index = indices[0], tasks = calls.len(), "batch queued");
        let started = Instant::now();
        let options = task_options(entries[0]);
        let outputs = match pool.enqueue_batch(guest, &task.call, calls, options).await {
            Ok(batch) => batch.await,
            Err(e) => vec![Err(e); indices.len()],
        };
        for (index, output) in indices.into_iter().zip(outputs) {
            let (worker, outcome, ran) = self.outcome(&task.job, output).await;
            let ms = ran.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1000.0;
            results.push(self.result(index, worker, deliveries, ms, outcome));
        }
        results
    }

    /// Runs one task with an input in the object store, fetched first.
    async fn run_alone(
        &self,
        pool: &Pool,
        guest: &LoadedGuest,
        task: &TaskMsg,
        entry: &Entry,
        deliveries: u64,
    ) -> ResultMsg {
        tracing::debug!(job = %task.job, index = entry.index, deliveries, "task started");
        let started = Instant::now();
        let (worker, outcome, ran) = match self.fetch_args(&task.job, entry).await {
            Ok(args) => {
                let output = pool
                    .submit_with(guest, &task.call, args, task_options(entry))
                    .await;
                self.outcome(&task.job, output).await
            }
            Err(failed) => (None, failed, None),
        };
        let ms = ran.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1000.0;
        self.result(entry.index, worker, deliveries, ms, outcome)
    }

    /// A task's arguments, its object-store inputs fetched and checked.
    async fn fetch_args(&self, job: &str, entry: &Entry) -> Result<Vec<Value>, WireOutcome> {
        let mut keys = Vec::new();
        entry
            .args
            .iter()
            .for_each(|a| wire::blob_keys(a, &mut keys));
        let data = (self.data().await)
            .map_err(|e| failure("input_unavailable", wpool::error_chain(&e)))?;
        let mut blobs = BTreeMap::new();
        for key in keys {
            let name = objects::job_object(job, &key);
            let bytes = objects::get_checked(&data, names::DATA_BUCKET, &name, &key)
                .await
                .map_err(|e| failure("input_unavailable", wpool::error_chain(&e)))?;
            blobs.insert(key, bytes);
        }
        decode_args(entry, &blobs).map_err(|e| failure("invalid_call", e.to_string()))
    }

    /// A call's result as it travels: the worker thread, the outcome (a
    /// large value put in the object store), and how long it ran there
    /// (`None` if it never reached the pool).
    async fn outcome(
        &self,
        job: &str,
        output: Result<wpool::Output, wpool::TaskError>,
    ) -> (Option<usize>, WireOutcome, Option<Duration>) {
        match output {
            Ok(out) => {
                let mut big = BTreeMap::new();
                let value = wire::encode(out.value, &mut big);
                if !big.is_empty() {
                    let data = match self.data().await {
                        Ok(data) => data,
                        Err(e) => {
                            let message = wpool::error_chain(&e);
                            return (None, failure("output_unavailable", message), None);
                        }
                    };
                    for (key, bytes) in &big {
                        let name = objects::job_object(job, key);
                        if let Err(e) =
                            objects::put_once(&data, names::DATA_BUCKET, &name, bytes).await
                        {
                            let message = wpool::error_chain(&e);
                            return (None, failure("output_unavailable", message), None);
                        }
                    }
                }
                (Some(out.worker), WireOutcome::Ok(value), Some(out.elapsed))
            }
            Err(e) => (
                e.worker(),
                failure(e.kind().as_str(), e.detail().into()),
                None,
            ),
        }
    }

    /// The data object store, opened once.
    async fn data(&self) -> Result<ObjectStore, ClusterError> {
        self.data
            .get_or_try_init(|| self.cluster.objects(names::DATA_BUCKET))
            .await
            .cloned()
    }

    /// The pool for the task's limits and its guest loaded there: fetched
    /// by hash and compiled the first time, from memory afterwards.
    async fn guest(&self, task: &TaskMsg) -> Result<(Pool, LoadedGuest), ClusterError> {
        let pool = {
            let mut pools = self.pools.lock().await;
            match pools.get(&task.limits) {
                Some(pool) => pool.clone(),
                None => {
                    let builder = task.limits.apply(self.base.clone()).workers(self.slots);
                    let pool = builder
                        .build()
                        .map_err(|e| ClusterError::request("cannot start a local pool", e))?;
                    pools.insert(task.limits.clone(), pool.clone());
                    pool
                }
            }
        };
        let key = (task.limits.clone(), task.guest.clone());
        let mut guests = self.guests.lock().await;
        if let Some(guest) = guests.get(&key) {
            return Ok((pool, guest.clone()));
        }
        let store = self.cluster.objects(names::GUEST_BUCKET).await?;
        let sha = &task.guest.sha256;
        let bytes = objects::get_checked(&store, names::GUEST_BUCKET, sha, sha).await?;
        let mut grants = Grants::new().digest(task.guest.digest);
        for (k, v) in &task.guest.env {
            grants = grants.env(k, v);
        }
        for arg in &task.guest.args {
            grants = grants.arg(arg);
        }
        let guest = Guest::bytes(task.guest.name.clone(), bytes).grants(grants);
        let loading = pool.clone();
        // Compiling is CPU work: off the async threads.
        let loaded = tokio::task::spawn_blocking(move || loading.load(guest))
            .await
            .map_err(|e| ClusterError::request("loading a guest panicked", e))?
            .map_err(|e| ClusterError::request(format!("cannot load guest `{sha}`"), e))?;
        tracing::info!(guest = %task.guest.name, %sha, "guest loaded");
        guests.insert(key, loaded.clone());
        Ok((pool, loaded))
    }

    /// Closes every local pool, letting running tasks finish.
    pub(crate) async fn shutdown(&self) {
        let pools: Vec<Pool> = self.pools.lock().await.drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.shutdown().await;
        }
    }
}

pub(crate) type Shared = Arc<Executor>;

/// A failure outcome.
fn failure(kind: &str, message: String) -> WireOutcome {
    WireOutcome::Err {
        kind: kind.into(),
        message,
    }
}

/// Whether some argument of the task is in the object store.
fn has_blobs(entry: &Entry) -> bool {
    let mut keys = Vec::new();
    entry
        .args
        .iter()
        .for_each(|a| wire::blob_keys(a, &mut keys));
    !keys.is_empty()
}

fn decode_args(
    entry: &Entry,
    blobs: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<Value>, wire::WireError> {
    (entry.args.iter().cloned())
        .map(|a| wire::decode(a, blobs))
        .collect()
}

fn task_options(entry: &Entry) -> TaskOptions {
    match entry.timeout_ms {
        Some(ms) => TaskOptions::new().timeout(Duration::from_millis(ms)),
        None => TaskOptions::new(),
    }
}
