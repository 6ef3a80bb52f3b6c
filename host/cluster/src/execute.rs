//! One delivered task on a worker: its guest fetched by hash and compiled
//! once, its pool chosen by its limits, in-progress acks while it runs, its
//! result stored, then the acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::{Message, PublishMessage};
use async_nats::jetstream::object_store::ObjectStore;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Mutex, OnceCell};
use wpool::{Grants, Guest, LoadedGuest, Pool, TaskOptions};

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::names;
use crate::objects;
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
    /// progress, and hands each result to `out` as it finishes.
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
        let mut running: FuturesUnordered<_> = (task.tasks.iter())
            .map(|entry| async move {
                tracing::debug!(job = %task.job, index = entry.index, deliveries, "task started");
                let started = Instant::now();
                let (worker, outcome, ran) = self.run(task, entry).await;
                let ms = ran.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1000.0;
                self.result(entry.index, worker, deliveries, ms, outcome)
            })
            .collect();
        let mut tick = tokio::time::interval((self.ack_wait / 3).max(Duration::from_millis(100)));
        tick.tick().await;
        let linger = tokio::time::sleep(RESULT_LINGER);
        tokio::pin!(linger);
        let mut lingering = false;
        loop {
            tokio::select! {
                done = running.next() => match done {
                    None => return Ok(()),
                    Some(result) => {
                        out.push(result).await?;
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

    /// Runs the task: the worker thread, the outcome, and how long it ran
    /// there (`None` if it never reached the pool).
    async fn run(
        &self,
        task: &TaskMsg,
        entry: &Entry,
    ) -> (Option<usize>, WireOutcome, Option<Duration>) {
        let fail = |kind: &str, message: String| {
            (
                None,
                WireOutcome::Err {
                    kind: kind.into(),
                    message,
                },
                None,
            )
        };
        let (pool, guest) = match self.guest(task).await {
            Ok(found) => found,
            Err(e) => return fail("guest_unavailable", wpool::error_chain(&e)),
        };
        let mut blobs = BTreeMap::new();
        let mut keys = Vec::new();
        entry
            .args
            .iter()
            .for_each(|a| wire::blob_keys(a, &mut keys));
        let data = match self.data().await {
            Ok(data) => data,
            Err(e) => return fail("input_unavailable", wpool::error_chain(&e)),
        };
        for key in keys {
            match objects::get_checked(&data, names::DATA_BUCKET, &key).await {
                Ok(bytes) => {
                    blobs.insert(key, bytes);
                }
                Err(e) => return fail("input_unavailable", wpool::error_chain(&e)),
            }
        }
        let args = match (entry.args.iter().cloned())
            .map(|a| wire::decode(a, &blobs))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(args) => args,
            Err(e) => return fail("invalid_call", e.to_string()),
        };
        let options = match entry.timeout_ms {
            Some(ms) => TaskOptions::new().timeout(Duration::from_millis(ms)),
            None => TaskOptions::new(),
        };
        match pool.submit_with(&guest, &task.call, args, options).await {
            Ok(out) => {
                let mut big = BTreeMap::new();
                let value = wire::encode(out.value, &mut big);
                for (key, bytes) in &big {
                    if let Err(e) = objects::put_once(&data, names::DATA_BUCKET, key, bytes).await {
                        return fail("output_unavailable", wpool::error_chain(&e));
                    }
                }
                (Some(out.worker), WireOutcome::Ok(value), Some(out.elapsed))
            }
            Err(e) => (
                e.worker(),
                WireOutcome::Err {
                    kind: e.kind().as_str().into(),
                    message: e.detail().into(),
                },
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
        let bytes = objects::get_checked(&store, names::GUEST_BUCKET, sha).await?;
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

/// How long a finished task's result may wait for others to travel with.
const RESULT_LINGER: Duration = Duration::from_millis(2);

/// Results of one message waiting to be published together, and the
/// acknowledgements of those published.
struct Outbox<'a> {
    executor: &'a Executor,
    job: &'a str,
    subject: String,
    /// Encoded results, each a JSON object; sent as one JSON array.
    waiting: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    sent: Vec<PublishAckFuture>,
}

impl<'a> Outbox<'a> {
    fn new(executor: &'a Executor, job: &'a str) -> Self {
        Outbox {
            executor,
            job,
            subject: names::result_subject(job),
            waiting: Vec::new(),
            bytes: 0,
            sent: Vec::new(),
        }
    }

    /// The most a message may carry.
    fn limit(&self) -> usize {
        let max = self.executor.cluster.client.server_info().max_payload;
        max.saturating_sub(1024)
    }

    /// Adds a result; one too big for a message becomes an `output_limit`
    /// failure.
    async fn push(&mut self, result: ResultMsg) -> Result<(), ClusterError> {
        let encode = |r: &ResultMsg| {
            serde_json::to_vec(r).map_err(|e| ClusterError::request("cannot encode a result", e))
        };
        let mut payload = encode(&result)?;
        if payload.len() > self.limit() {
            let message = format!(
                "the result ({} bytes encoded) is larger than the NATS message limit",
                payload.len()
            );
            let outcome = WireOutcome::Err {
                kind: "output_limit".into(),
                message,
            };
            payload = encode(&ResultMsg { outcome, ..result })?;
        }
        if self.bytes + payload.len() > self.limit() / 2 {
            self.flush().await?;
        }
        self.bytes += payload.len() + 1;
        self.waiting.push((result.index, payload));
        Ok(())
    }

    /// Publishes the results waiting as one message, without waiting for
    /// the server to store it.
    async fn flush(&mut self) -> Result<(), ClusterError> {
        let Some(&(first, _)) = self.waiting.first() else {
            return Ok(());
        };
        let id = names::batch_id(self.job, first, self.waiting.len());
        let mut payload = Vec::with_capacity(self.bytes + 2);
        payload.push(b'[');
        for (i, (_, result)) in self.waiting.drain(..).enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(&result);
        }
        payload.push(b']');
        self.bytes = 0;
        let publish = PublishMessage::build()
            .payload(payload.into())
            .message_id(id);
        let ack = (self.executor.cluster.js)
            .send_publish(self.subject.clone(), publish)
            .await
            .map_err(|e| self.failed(e.into()))?;
        self.sent.push(ack);
        Ok(())
    }

    /// Waits until the server has stored every result published.
    async fn stored(self) -> Result<(), ClusterError> {
        for ack in self.sent {
            ack.await.map_err(|e| ClusterError::Publish {
                subject: self.subject.clone(),
                source: e.into(),
            })?;
        }
        Ok(())
    }

    fn failed(&self, source: async_nats::Error) -> ClusterError {
        ClusterError::Publish {
            subject: self.subject.clone(),
            source,
        }
    }
}
