//! [`ClusterError`]: what can go wrong talking to the cluster.

use std::time::Duration;

/// A failure of the cluster machinery (never of a task: task failures are
/// results).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The server refused the connection or the URL is not a NATS URL.
    #[error("cannot connect to NATS at `{url}`")]
    Connect {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The server did not answer in time.
    #[error("cannot connect to NATS at `{url}`: no answer within {timeout:?}")]
    ConnectTimeout {
        /// The URL given.
        url: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A stream, consumer, bucket or object store could not be created or
    /// opened (is JetStream enabled on the server? `nats-server -js`).
    #[error("cannot open `{what}` on the NATS server (is JetStream enabled: `nats-server -js`?)")]
    Setup {
        /// Which one.
        what: String,
        /// Why.
        #[source]
        source: async_nats::Error,
    },
    /// A message could not be published or its acknowledgement read.
    #[error("cannot publish to `{subject}`")]
    Publish {
        /// Where to.
        subject: String,
        /// Why.
        #[source]
        source: async_nats::Error,
    },
    /// An object could not be stored or read.
    #[error("cannot {action} object `{key}` in `{bucket}`")]
    Object {
        /// `put` or `get`.
        action: &'static str,
        /// The object store.
        bucket: String,
        /// The object's key.
        key: String,
        /// Why.
        #[source]
        source: async_nats::Error,
    },
    /// Another JetStream request failed.
    #[error("{what}")]
    Request {
        /// What was asked.
        what: String,
        /// Why.
        #[source]
        source: async_nats::Error,
    },
}

impl ClusterError {
    pub(crate) fn setup(what: &str, source: impl Into<async_nats::Error>) -> Self {
        ClusterError::Setup {
            what: what.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn request(what: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        ClusterError::Request {
            what: what.into(),
            source: source.into(),
        }
    }

    pub(crate) fn object(
        action: &'static str,
        bucket: &str,
        key: &str,
        source: impl Into<async_nats::Error>,
    ) -> Self {
        ClusterError::Object {
            action,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source: source.into(),
        }
    }
}
