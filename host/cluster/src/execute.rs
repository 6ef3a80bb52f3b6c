//! One delivered task on a worker: its guest fetched by hash and compiled
//! once, its pool chosen by its limits, in-progress acks while it runs, its
//! result stored, then the acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::{Message, PublishMessage};
use async_nats::jetstream::object_store::ObjectStore;
use tokio::sync::{Mutex, OnceCell};
use wpool::{Grants, Guest, LoadedGuest, Pool, TaskOptions};

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::names;
use crate::objects;
use crate::wire::{self, GuestRef, Limits, ResultMsg, TaskMsg, WireOutcome};

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

    /// Handles one delivery, down to its acknowledgement; `slot` is
    /// released as soon as the task has run (storing its result and
    /// acknowledging it need no worker thread). Errors are of the cluster
    /// (the result could not be stored): the task is then left
    /// unacknowledged, and JetStream delivers it again.
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
        let started = Instant::now();
        let (worker, outcome, ran) = if deliveries > names::MAX_DELIVERIES as u64 {
            let message = format!(
                "task {} was delivered {} times and no worker finished it (each died or \
                 vanished while running it); not run again",
                task.index,
                deliveries - 1
            );
            tracing::warn!("{message}");
            (
                None,
                WireOutcome::Err {
                    kind: "worker_lost".into(),
                    message,
                },
                None,
            )
        } else {
            tracing::info!(job = %task.job, index = task.index, deliveries, "task started");
            self.run_with_progress(&task, &message).await
        };
        drop(slot);
        let result = ResultMsg {
            index: task.index,
            node: self.name.clone(),
            worker,
            deliveries,
            ms: ran.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1000.0,
            outcome,
        };
        self.publish_result(&task.job, result).await?;
        message
            .double_ack()
            .await
            .map_err(|e| ClusterError::request("cannot acknowledge a task", e))?;
        tracing::info!(job = %task.job, index = task.index, "task done");
        Ok(())
    }

    /// Runs the task, telling JetStream every third of the ack wait that it
    /// is still in progress.
    async fn run_with_progress(
        &self,
        task: &TaskMsg,
        message: &Message,
    ) -> (Option<usize>, WireOutcome, Option<Duration>) {
        let run = self.run(task);
        tokio::pin!(run);
        let mut tick = tokio::time::interval((self.ack_wait / 3).max(Duration::from_millis(100)));
        tick.tick().await;
        loop {
            tokio::select! {
                done = &mut run => return done,
                _ = tick.tick() => {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!("cannot extend task {}: {e}", task.index);
                    }
                }
            }
        }
    }

    /// Runs the task: the worker thread, the outcome, and how long it ran
    /// there (`None` if it never reached the pool).
    async fn run(&self, task: &TaskMsg) -> (Option<usize>, WireOutcome, Option<Duration>) {
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
            Err(e) => return fail("guest_unavailable", chain(&e)),
        };
        let mut blobs = BTreeMap::new();
        let mut keys = Vec::new();
        task.args.iter().for_each(|a| wire::blob_keys(a, &mut keys));
        let data = match self.data().await {
            Ok(data) => data,
            Err(e) => return fail("input_unavailable", chain(&e)),
        };
        for key in keys {
            match objects::get_checked(&data, names::DATA_BUCKET, &key).await {
                Ok(bytes) => {
                    blobs.insert(key, bytes);
                }
                Err(e) => return fail("input_unavailable", chain(&e)),
            }
        }
        let args = match (task.args.iter().cloned())
            .map(|a| wire::decode(a, &blobs))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(args) => args,
            Err(e) => return fail("invalid_call", e.to_string()),
        };
        let options = match task.timeout_ms {
            Some(ms) => TaskOptions::new().timeout(Duration::from_millis(ms)),
            None => TaskOptions::new(),
        };
        match pool.submit_with(&guest, &task.call, args, options).await {
            Ok(out) => {
                let mut big = BTreeMap::new();
                let value = wire::encode(out.value, &mut big);
                for (key, bytes) in &big {
                    if let Err(e) = objects::put_once(&data, names::DATA_BUCKET, key, bytes).await {
                        return fail("output_unavailable", chain(&e));
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

    async fn publish_result(&self, job: &str, result: ResultMsg) -> Result<(), ClusterError> {
        let subject = names::result_subject(job);
        let id = names::message_id(job, result.index);
        let mut payload = serde_json::to_vec(&result)
            .map_err(|e| ClusterError::request("cannot encode a result", e))?;
        if payload.len()
            > self
                .cluster
                .client
                .server_info()
                .max_payload
                .saturating_sub(1024)
        {
            let message = format!(
                "the result ({} bytes encoded) is larger than the NATS message limit",
                payload.len()
            );
            let small = ResultMsg {
                outcome: WireOutcome::Err {
                    kind: "output_limit".into(),
                    message,
                },
                ..result
            };
            payload = serde_json::to_vec(&small)
                .map_err(|e| ClusterError::request("cannot encode a result", e))?;
        }
        let publish = PublishMessage::build()
            .payload(payload.into())
            .message_id(id);
        let publish_err = |e: async_nats::Error| ClusterError::Publish {
            subject: subject.clone(),
            source: e,
        };
        (self.cluster.js)
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| publish_err(e.into()))?
            .await
            .map_err(|e| publish_err(e.into()))?;
        Ok(())
    }

    /// Closes every local pool, letting running tasks finish.
    pub(crate) async fn shutdown(&self) {
        let pools: Vec<Pool> = self.pools.lock().await.drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.shutdown().await;
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) type Shared = Arc<Executor>;
