//! A connection to the cluster's JetStream and the things it is made of:
//! the task and result streams, the guest and data object stores, the
//! worker registry. Whoever comes first creates them; everyone else finds
//! them.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use async_nats::{Client, ConnectOptions};

use crate::error::ClusterError;
use crate::names;

/// How a connection is made.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// The server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// How long to wait for the server: `None` waits (and reconnects)
    /// forever, as a worker does; `Some` fails after that long, as `run` does.
    pub timeout: Option<Duration>,
    /// The client's name, shown by `nats-server`'s monitoring.
    pub name: String,
}

/// A connection to the cluster: the client and its JetStream context.
///
/// Cloning shares the connection. Dropping the last clone closes it; what
/// was published and acknowledged by the server stays.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub(crate) client: Client,
    pub(crate) js: jetstream::Context,
    pub(crate) url: String,
}

impl Cluster {
    /// Connects to the server.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Connect`] when the server cannot be reached within
    /// [`ConnectConfig::timeout`] or the URL is not a NATS URL.
    pub async fn connect(config: &ConnectConfig) -> Result<Cluster, ClusterError> {
        let connect_err = |source: async_nats::ConnectError| ClusterError::Connect {
            url: config.url.clone(),
            source,
        };
        let options = ConnectOptions::new().name(&config.name);
        let client = match config.timeout {
            Some(timeout) => {
                let connect = options
                    .connection_timeout(timeout)
                    .max_reconnects(None)
                    .connect(config.url.as_str());
                match tokio::time::timeout(timeout, connect).await {
                    Ok(client) => client.map_err(connect_err)?,
                    Err(_) => {
                        return Err(ClusterError::ConnectTimeout {
                            url: config.url.clone(),
                            timeout,
                        });
                    }
                }
            }
            None => options
                .retry_on_initial_connect()
                .connect(config.url.as_str())
                .await
                .map_err(connect_err)?,
        };
        let js = jetstream::new(client.clone());
        Ok(Cluster {
            client,
            js,
            url: config.url.clone(),
        })
    }

    /// The server's URL, as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The work-queue stream of tasks, created if missing.
    pub(crate) async fn tasks(&self) -> Result<stream::Stream, ClusterError> {
        self.js
            .get_or_create_stream(stream::Config {
                name: names::TASK_STREAM.into(),
                subjects: vec![format!("{}.>", names::TASK_SUBJECT)],
                retention: stream::RetentionPolicy::WorkQueue,
                duplicate_window: names::DUPLICATE_WINDOW,
                max_age: names::KEEP,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::setup(names::TASK_STREAM, e))
    }

    /// The stream of results, created if missing.
    pub(crate) async fn results(&self) -> Result<stream::Stream, ClusterError> {
        self.js
            .get_or_create_stream(stream::Config {
                name: names::RESULT_STREAM.into(),
                subjects: vec![format!("{}.>", names::RESULT_SUBJECT)],
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: names::DUPLICATE_WINDOW,
                max_age: names::KEEP,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::setup(names::RESULT_STREAM, e))
    }

    /// An object store, created if missing.
    pub(crate) async fn objects(
        &self,
        bucket: &str,
    ) -> Result<object_store::ObjectStore, ClusterError> {
        if let Ok(store) = self.js.get_object_store(bucket).await {
            return Ok(store);
        }
        self.js
            .create_object_store(object_store::Config {
                bucket: bucket.into(),
                max_age: names::KEEP,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::setup(bucket, e))
    }

    /// The registry of live workers (a key-value bucket whose entries
    /// expire when a worker stops refreshing its own).
    pub(crate) async fn registry(&self) -> Result<kv::Store, ClusterError> {
        if let Ok(store) = self.js.get_key_value(names::WORKER_BUCKET).await {
            return Ok(store);
        }
        // The bucket's stream, made here: async-nats' `create_key_value`
        // first reads the account's info, whose 2.9 form it cannot parse
        // (it wants 2.10's `reserved_memory`). These are the settings it
        // would have used.
        let bucket = names::WORKER_BUCKET;
        self.js
            .get_or_create_stream(stream::Config {
                name: format!("KV_{bucket}"),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: 1,
                max_age: names::WORKER_TTL,
                discard: stream::DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::setup(bucket, e))?;
        self.js
            .get_key_value(bucket)
            .await
            .map_err(|e| ClusterError::setup(bucket, e))
    }
}
