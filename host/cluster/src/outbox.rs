//! The results of one task message on a worker: published a few at a time
//! as they finish, as JSON arrays with a message id JetStream deduplicates
//! on, and waited for (stored) before the message is acknowledged.

use std::time::Duration;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;

use crate::error::ClusterError;
use crate::execute::Executor;
use crate::names;
use crate::wire::{ResultMsg, WireOutcome};

/// How long a finished task's result may wait for others to travel with.
pub(crate) const RESULT_LINGER: Duration = Duration::from_millis(2);

/// Results of one message waiting to be published together, and the
/// acknowledgements of those published.
pub(crate) struct Outbox<'a> {
    executor: &'a Executor,
    job: &'a str,
    subject: String,
    /// Encoded results, each a JSON object; sent as one JSON array.
    waiting: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    /// The most a message may carry (the server's limit, read once: the
    /// client hands out a copy of everything the server said each time).
    limit: usize,
    sent: Vec<PublishAckFuture>,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(executor: &'a Executor, job: &'a str) -> Self {
        Outbox {
            executor,
            job,
            subject: names::result_subject(job),
            waiting: Vec::new(),
            bytes: 0,
            limit: (executor.cluster.client.server_info().max_payload).saturating_sub(1024),
            sent: Vec::new(),
        }
    }

    /// Adds a result; one too big for a message becomes an `output_limit`
    /// failure.
    pub(crate) async fn push(&mut self, result: ResultMsg) -> Result<(), ClusterError> {
        let encode = |r: &ResultMsg| {
            serde_json::to_vec(r).map_err(|e| ClusterError::request("cannot encode a result", e))
        };
        let mut payload = encode(&result)?;
        if payload.len() > self.limit {
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
        if self.bytes + payload.len() > self.limit / 2 {
            self.flush().await?;
        }
        self.bytes += payload.len() + 1;
        self.waiting.push((result.index, payload));
        Ok(())
    }

    /// Publishes the results waiting as one message, without waiting for
    /// the server to store it.
    pub(crate) async fn flush(&mut self) -> Result<(), ClusterError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let id = names::result_batch_id(self.job, self.waiting.iter().map(|(index, _)| *index));
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
    pub(crate) async fn stored(self) -> Result<(), ClusterError> {
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
