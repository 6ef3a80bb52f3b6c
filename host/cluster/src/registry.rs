//! Who is there: every worker keeps an entry in the `wpool-workers`
//! key-value bucket, refreshed every [`HEARTBEAT`](crate::names::HEARTBEAT)
//! and expiring [`WORKER_TTL`](crate::names::WORKER_TTL) after the last
//! refresh, so a worker that died disappears on its own.

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::names;

/// A live worker, as its registry entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Its name (`--name`).
    pub name: String,
    /// How many tasks it runs at once.
    pub slots: usize,
    /// How many it is running now.
    pub busy: usize,
    /// Whether it is draining (stopped pulling, finishing what it holds).
    pub draining: bool,
}

/// The cluster at a glance.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Status {
    /// Live workers, by name.
    pub workers: Vec<WorkerInfo>,
    /// Task messages waiting on the queue, not yet delivered to a worker
    /// (a message carries one task, or a batch of up to 100 in a job of
    /// 1,000 tasks or more).
    pub pending: u64,
    /// Task messages delivered to a worker and not yet acknowledged.
    pub running: u64,
}

impl Cluster {
    /// The live workers, by name.
    ///
    /// # Errors
    ///
    /// When the registry cannot be read.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, ClusterError> {
        let registry = self.registry().await?;
        let mut keys = registry
            .keys()
            .await
            .map_err(|e| ClusterError::request("cannot list workers", e))?;
        let mut workers = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| ClusterError::request("cannot list workers", e))?;
            let entry = registry
                .get(&key)
                .await
                .map_err(|e| ClusterError::request("cannot read a worker's entry", e))?;
            if let Some(info) = entry.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
                workers.push(info);
            }
        }
        workers.sort_by(|a: &WorkerInfo, b| a.name.cmp(&b.name));
        Ok(workers)
    }

    /// Live workers, task messages waiting and task messages running.
    ///
    /// # Errors
    ///
    /// When the registry, stream or consumer cannot be read.
    pub async fn status(&self) -> Result<Status, ClusterError> {
        let workers = self.workers().await?;
        let mut tasks = self.tasks().await?;
        let pending = tasks
            .info()
            .await
            .map_err(|e| ClusterError::request("cannot read the task stream", e))?
            .state
            .messages;
        let running = match tasks.consumer_info(names::WORKER_CONSUMER).await {
            Ok(info) => u64::try_from(info.num_ack_pending).unwrap_or(0),
            Err(_) => 0,
        };
        Ok(Status {
            workers,
            pending: pending.saturating_sub(running),
            running,
        })
    }
}
