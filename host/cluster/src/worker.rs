//! The worker process (`wpool worker --nats URL`): pulls at most as many
//! tasks as it has free slots from the shared work-queue consumer, runs each
//! in a local isolated pool, and on shutdown stops pulling, finishes what it
//! holds and leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, Consumer, pull};
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::cluster::{Cluster, ConnectConfig};
use crate::error::ClusterError;
use crate::execute::{Executor, Shared};
use crate::names;
use crate::registry::WorkerInfo;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The NATS server; the worker waits for it if it is not up yet.
    pub url: String,
    /// The worker's name, in every record it produces.
    pub name: String,
    /// Tasks run at once: the threads of each local pool.
    pub slots: usize,
    /// Pool settings every local pool starts from (compile cache…); each
    /// task's limits are applied on top.
    pub base: wpool::PoolBuilder,
    /// Ack wait of the worker consumer, used when this worker creates it.
    pub ack_wait: Duration,
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Tasks whose results it stored.
    pub done: usize,
}

/// How long a stopping worker tries to leave the registry and flush.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a worker until `shutdown` resolves: then it stops pulling, finishes
/// the tasks it holds (storing their results), removes itself from the
/// registry and returns.
///
/// # Errors
///
/// When the connection cannot be made at all (a malformed URL); an absent
/// server is waited for.
pub async fn serve(
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<WorkerStats, ClusterError> {
    let (stop, stopped) = watch::channel(false);
    let connect = ConnectConfig {
        url: config.url.clone(),
        timeout: None,
        name: format!("wpool worker {}", config.name),
    };
    let work = async {
        let cluster = Cluster::connect(&connect).await?;
        let Some(consumer) = setup(&cluster, &config, stopped.clone()).await else {
            return Ok(WorkerStats::default());
        };
        let executor = Arc::new(Executor::new(
            cluster.clone(),
            config.name.clone(),
            config.slots,
            config.base.clone(),
            consumer.cached_info().config.ack_wait,
        ));
        let stats = pull_loop(consumer, executor.clone(), stopped.clone()).await;
        executor.shutdown().await;
        // Leaving the registry is a courtesy (the entry expires anyway): a
        // server that has gone away must not keep a stopping worker alive.
        let leave = async {
            if let Ok(registry) = cluster.registry().await {
                let _ = registry.delete(&config.name).await;
            }
            let _ = cluster.client.flush().await;
        };
        if tokio::time::timeout(LEAVE_TIMEOUT, leave).await.is_err() {
            tracing::warn!("the server did not answer while leaving the registry; exiting anyway");
        }
        Ok(stats)
    };
    tokio::pin!(work);
    tokio::pin!(shutdown);
    let mut signalled = false;
    loop {
        tokio::select! {
            done = &mut work => return done,
            () = &mut shutdown, if !signalled => {
                signalled = true;
                tracing::info!("stopping: no more pulls, finishing the tasks held");
                let _ = stop.send(true);
            }
        }
    }
}

/// Opens the task stream and the worker consumer, retrying while the
/// server is not there; `None` if stopped first.
async fn setup(
    cluster: &Cluster,
    config: &WorkerConfig,
    mut stopped: watch::Receiver<bool>,
) -> Option<Consumer<pull::Config>> {
    let mut warned = false;
    loop {
        let attempt = async {
            let stream = cluster.tasks().await?;
            cluster.objects(names::GUEST_BUCKET).await?;
            cluster.objects(names::DATA_BUCKET).await?;
            cluster.registry().await?;
            cluster.results().await?;
            stream
                .get_or_create_consumer(
                    names::WORKER_CONSUMER,
                    pull::Config {
                        durable_name: Some(names::WORKER_CONSUMER.into()),
                        ack_policy: AckPolicy::Explicit,
                        ack_wait: config.ack_wait,
                        max_deliver: names::MAX_DELIVERIES + 1,
                        filter_subject: format!("{}.>", names::TASK_SUBJECT),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| ClusterError::setup(names::WORKER_CONSUMER, e))
        };
        match attempt.await {
            Ok(consumer) => return Some(consumer),
            Err(e) => {
                if !warned {
                    tracing::warn!("waiting for NATS JetStream at `{}`: {e}", cluster.url);
                    warned = true;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stopped.wait_for(|s| *s) => return None,
        }
    }
}

/// Pulls while not stopped: each pull asks for as many tasks as there are
/// free slots and expires quickly, so that stopping never strands a task
/// in flight to this worker.
///
/// Slots count tasks, not messages: a message of `n` tasks (a batch) holds
/// up to `n` slots until it is done, so a worker holds about as many tasks
/// as it has slots (one batch beyond, at most, when a batch is bigger than
/// its slots). A pull asks for as many messages as fit the free slots at
/// the size of the last message seen.
async fn pull_loop(
    consumer: Consumer<pull::Config>,
    executor: Shared,
    mut stopped: watch::Receiver<bool>,
) -> WorkerStats {
    let slots = Arc::new(Semaphore::new(executor.slots));
    let busy = Arc::new(AtomicUsize::new(0));
    // Messages whose tasks are running (holding slots).
    let held_messages = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let draining = Arc::new(AtomicBool::new(false));
    let mut running = JoinSet::new();
    // Tasks in the last message pulled: how many slots the next will want
    // (unknown at first: the first pull waits for every slot and asks for
    // one message).
    let mut message_size = usize::MAX;
    refresh(&executor, &busy, &draining).await;
    tracing::info!(name = %executor.name, slots = executor.slots, "worker ready");
    let heartbeat = tokio::spawn(heartbeat(executor.clone(), busy.clone(), draining.clone()));
    loop {
        // The slots the next message will want, free together, before a
        // pull (a batch bigger than the slots waits for all of them).
        let need = message_size.min(executor.slots).max(1);
        let mut free = tokio::select! {
            permit = slots.clone().acquire_many_owned(need as u32) => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped.wait_for(|s| *s) => break,
        };
        // Every slot free now: one pull for all of them.
        while let Ok(more) = slots.clone().try_acquire_owned() {
            free.merge(more);
        }
        let wanted = (free.num_permits() / message_size).max(1);
        let batch = consumer
            .batch()
            .max_messages(wanted)
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!("cannot pull tasks: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // Every message of a pull request is taken, even after a stop:
        // the request expires soon, and what it brings is run, not lost.
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    tracing::debug!("pull ended: {e}");
                    break;
                }
            };
            // Its slots: from this pull's, then any freed since; a message
            // that finds none (more than asked for came) runs anyway.
            message_size = tasks_in(&message);
            let want = message_size.min(executor.slots);
            let mut held = free
                .split(want.min(free.num_permits()))
                .expect("no more than there are");
            while held.num_permits() < want
                && let Ok(more) = slots.clone().try_acquire_owned()
            {
                held.merge(more);
            }
            let executor = executor.clone();
            let busy = busy.clone();
            let done = done.clone();
            busy.fetch_add(held.num_permits(), Ordering::Relaxed);
            let running_now = held_messages.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::info!(
                tasks = message_size,
                slots = held.num_permits(),
                messages = running_now,
                "message taken"
            );
            let slot = Busy {
                busy,
                messages: held_messages.clone(),
                permit: held,
            };
            running.spawn(async move {
                match executor.handle(message, Box::new(slot)).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!("a task's result was not stored: {e}"),
                }
            });
            while let Some(finished) = running.try_join_next() {
                if let Err(e) = finished {
                    tracing::error!("a task handler failed: {e}");
                }
            }
        }
    }
    draining.store(true, Ordering::Relaxed);
    while let Some(finished) = running.join_next().await {
        if let Err(e) = finished {
            tracing::error!("a task handler failed: {e}");
        }
    }
    heartbeat.abort();
    WorkerStats {
        done: done.load(Ordering::Relaxed),
    }
}

/// The slots a message holds: frees them and counts them out when dropped.
struct Busy {
    busy: Arc<AtomicUsize>,
    messages: Arc<AtomicUsize>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.busy
            .fetch_sub(self.permit.num_permits(), Ordering::Relaxed);
        self.messages.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many tasks a task message carries, from its `Nats-Msg-Id`
/// (`<job>.<first>+<count>`); 1 when it does not say.
fn tasks_in(message: &async_nats::jetstream::Message) -> usize {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get("Nats-Msg-Id"))
        .and_then(|id| id.as_str().rsplit_once('+'))
        .and_then(|(_, count)| count.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// Keeps this worker's registry entry fresh (the first refresh is done
/// before the worker says it is ready).
async fn heartbeat(executor: Shared, busy: Arc<AtomicUsize>, draining: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(names::HEARTBEAT);
    tick.tick().await;
    loop {
        tick.tick().await;
        refresh(&executor, &busy, &draining).await;
    }
}

/// Writes this worker's registry entry.
async fn refresh(executor: &Executor, busy: &AtomicUsize, draining: &AtomicBool) {
    let info = WorkerInfo {
        name: executor.name.clone(),
        slots: executor.slots,
        busy: busy.load(Ordering::Relaxed),
        draining: draining.load(Ordering::Relaxed),
    };
    let registry = match executor.cluster.registry().await {
        Ok(registry) => registry,
        Err(e) => {
            tracing::debug!("cannot refresh the registry: {e}");
            return;
        }
    };
    if let Ok(bytes) = serde_json::to_vec(&info)
        && let Err(e) = registry.put(&executor.name, bytes.into()).await
    {
        tracing::debug!("cannot refresh the registry: {e}");
    }
}
