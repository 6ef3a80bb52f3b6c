//! What travels on the subjects: a task ([`TaskMsg`]), its result
//! ([`ResultMsg`]), and values ([`WireValue`]) in a form that keeps
//! [`Value::Bytes`] apart from strings (wpool's own JSON does not).
//!
//! Byte and string values above [`INLINE_LIMIT`] do not travel inline: they
//! go to the data object store, keyed by their SHA-256, and the message
//! carries the key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wpool::{InstanceMode, Value};

/// Byte and string values larger than this travel through the data object store
/// instead of inside the message (NATS' default message limit is 1 MiB, and
/// inline bytes are hex, twice their size).
pub const INLINE_LIMIT: usize = 128 * 1024;

/// Lowercase hex SHA-256 of `bytes`: the key of guests and blobs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A value as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireValue {
    Null,
    Bool(bool),
    Int(i64),
    #[serde(rename = "uint")]
    UInt(u64),
    Float(f64),
    String(String),
    /// Bytes, inline, as hex.
    Bytes(String),
    /// Bytes in the data object store, by SHA-256.
    Blob(String),
    /// A string in the data object store (its UTF-8), by SHA-256.
    TextBlob(String),
    List(Vec<WireValue>),
    Map(Vec<(String, WireValue)>),
}

/// Converts `value`, moving byte values above [`INLINE_LIMIT`] into `blobs`
/// (key: SHA-256).
pub(crate) fn encode(value: Value, blobs: &mut BTreeMap<String, Vec<u8>>) -> WireValue {
    match value {
        Value::Null => WireValue::Null,
        Value::Bool(b) => WireValue::Bool(b),
        Value::Int(i) => WireValue::Int(i),
        Value::UInt(u) => WireValue::UInt(u),
        Value::Float(f) => WireValue::Float(f),
        Value::String(s) if s.len() > INLINE_LIMIT => {
            let bytes = s.into_bytes();
            let key = sha256_hex(&bytes);
            blobs.insert(key.clone(), bytes);
            WireValue::TextBlob(key)
        }
        Value::String(s) => WireValue::String(s),
        Value::Bytes(bytes) if bytes.len() > INLINE_LIMIT => {
            let key = sha256_hex(&bytes);
            blobs.insert(key.clone(), bytes);
            WireValue::Blob(key)
        }
        Value::Bytes(bytes) => WireValue::Bytes(hex::encode(bytes)),
        // Bytes shared with the caller travel as bytes (a copy for the wire).
        Value::SharedBytes(bytes) => encode(Value::Bytes(bytes.to_vec()), blobs),
        Value::List(items) => {
            WireValue::List(items.into_iter().map(|v| encode(v, blobs)).collect())
        }
        Value::Map(fields) => WireValue::Map(
            fields
                .into_iter()
                .map(|(k, v)| (k, encode(v, blobs)))
                .collect(),
        ),
        // `Value` is non-exhaustive: a variant added later travels as its JSON.
        other => WireValue::String(other.to_json()),
    }
}

/// The keys of every blob `value` refers to.
pub(crate) fn blob_keys(value: &WireValue, keys: &mut Vec<String>) {
    match value {
        WireValue::Blob(key) | WireValue::TextBlob(key) => keys.push(key.clone()),
        WireValue::List(items) => items.iter().for_each(|v| blob_keys(v, keys)),
        WireValue::Map(fields) => fields.iter().for_each(|(_, v)| blob_keys(v, keys)),
        _ => {}
    }
}

/// Converts back; blobs are looked up in `blobs` (fetched beforehand).
pub(crate) fn decode(
    value: WireValue,
    blobs: &BTreeMap<String, Vec<u8>>,
) -> Result<Value, WireError> {
    Ok(match value {
        WireValue::Null => Value::Null,
        WireValue::Bool(b) => Value::Bool(b),
        WireValue::Int(i) => Value::Int(i),
        WireValue::UInt(u) => Value::UInt(u),
        WireValue::Float(f) => Value::Float(f),
        WireValue::String(s) => Value::String(s),
        WireValue::Bytes(hex) => Value::Bytes(hex::decode(hex).map_err(WireError::Hex)?),
        WireValue::Blob(key) => Value::Bytes(
            blobs
                .get(&key)
                .cloned()
                .ok_or(WireError::MissingBlob(key))?,
        ),
        WireValue::TextBlob(key) => {
            let bytes = blobs
                .get(&key)
                .cloned()
                .ok_or_else(|| WireError::MissingBlob(key.clone()))?;
            Value::String(String::from_utf8(bytes).map_err(|_| WireError::NotText(key))?)
        }
        WireValue::List(items) => Value::List(
            items
                .into_iter()
                .map(|v| decode(v, blobs))
                .collect::<Result<_, _>>()?,
        ),
        WireValue::Map(fields) => Value::Map(
            fields
                .into_iter()
                .map(|(k, v)| Ok((k, decode(v, blobs)?)))
                .collect::<Result<_, WireError>>()?,
        ),
    })
}

/// A message that does not decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Inline bytes that are not hex.
    #[error("inline bytes are not hex")]
    Hex(#[source] hex::FromHexError),
    /// A blob the message names was not fetched.
    #[error("blob `{0}` is missing")]
    MissingBlob(String),
    /// A string's blob that is not UTF-8.
    #[error("blob `{0}` should be text but is not UTF-8")]
    NotText(String),
    /// Not the JSON of a message.
    #[error("malformed message")]
    Json(#[source] serde_json::Error),
}

/// The pool settings a task runs under: a worker keeps one local pool per
/// distinct set, so every limit applies exactly as in a local run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    /// Default wall-clock limit of a call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Memory limit of an instance, in bytes.
    pub memory: Option<u64>,
    /// Fuel per call.
    pub fuel: Option<u64>,
    /// Limit on a call's output, in bytes.
    pub output_limit: Option<u64>,
    /// A new instance for every task instead of one reused per worker.
    pub fresh: bool,
}

impl Limits {
    /// Applies these limits to a pool builder.
    pub fn apply(&self, mut builder: wpool::PoolBuilder) -> wpool::PoolBuilder {
        if let Some(ms) = self.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        if let Some(memory) = self.memory {
            builder = builder.memory_limit(usize::try_from(memory).unwrap_or(usize::MAX));
        }
        if let Some(fuel) = self.fuel {
            builder = builder.fuel(fuel);
        }
        if let Some(limit) = self.output_limit {
            builder = builder.output_limit(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        builder.instance_mode(if self.fresh {
            InstanceMode::Fresh
        } else {
            InstanceMode::Reuse
        })
    }
}

/// A guest as a task names it: its content hash and what it is granted.
/// Host directories are never part of it: they cannot be honoured on
/// another machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuestRef {
    /// The name used in messages and records.
    pub name: String,
    /// Lowercase hex SHA-256 of the guest's bytes: its key in the guest
    /// object store.
    pub sha256: String,
    /// Environment variables granted.
    pub env: Vec<(String, String)>,
    /// Program arguments granted.
    pub args: Vec<String>,
    /// Whether the host's `digest` capability is granted.
    pub digest: bool,
}

/// One message on `wpool.tasks.<job>`: one or more tasks of the same guest,
/// limits and function (a batch, when the job has many small tasks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskMsg {
    pub(crate) job: String,
    pub(crate) guest: GuestRef,
    pub(crate) limits: Limits,
    pub(crate) call: String,
    pub(crate) tasks: Vec<Entry>,
}

/// One task of a [`TaskMsg`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) index: u64,
    pub(crate) args: Vec<WireValue>,
    /// This task's own wall-clock limit, in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
}

/// One result; a message on `wpool.results.<job>` is a JSON array of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ResultMsg {
    pub(crate) index: u64,
    /// The worker process (its `--name`).
    pub(crate) node: String,
    /// The worker thread inside it, when the task reached one.
    pub(crate) worker: Option<usize>,
    /// How many times JetStream delivered the task (1 unless a worker died).
    pub(crate) deliveries: u64,
    pub(crate) ms: f64,
    pub(crate) outcome: WireOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireOutcome {
    Ok(WireValue),
    Err { kind: String, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_big_bytes_become_blobs() {
        let big = vec![7u8; INLINE_LIMIT + 1];
        let shared_big = wpool::Bytes::from(vec![9u8; INLINE_LIMIT + 1]);
        let value = Value::List(vec![
            Value::Bytes(b"small".to_vec()),
            Value::String("text".into()),
            Value::UInt(u64::MAX),
            Value::Int(-3),
            Value::Map(vec![("big".into(), Value::Bytes(big.clone()))]),
            Value::SharedBytes(wpool::Bytes::from_static(b"shared")),
            Value::SharedBytes(shared_big.clone()),
        ]);
        let mut blobs = BTreeMap::new();
        let wire = encode(value.clone(), &mut blobs);
        assert_eq!(blobs.len(), 2);
        let mut keys = Vec::new();
        blob_keys(&wire, &mut keys);
        assert_eq!(keys, [sha256_hex(&big), sha256_hex(&shared_big)]);
        let WireValue::List(items) = &wire else {
            panic!("{wire:?}")
        };
        assert_eq!(items[5], WireValue::Bytes(hex::encode(b"shared")));
        let json = serde_json::to_vec(&wire).unwrap();
        let back: WireValue = serde_json::from_slice(&json).unwrap();
        assert_eq!(decode(back.clone(), &blobs).unwrap(), value);
        let err = decode(back, &BTreeMap::new()).unwrap_err();
        assert!(matches!(err, WireError::MissingBlob(_)), "{err}");
    }

    /// A big string travels as a blob too (a 2 MiB string result would not
    /// fit a NATS message) and comes back a string, not bytes.
    #[test]
    fn big_strings_become_text_blobs() {
        let text = "é".repeat(INLINE_LIMIT);
        let mut blobs = BTreeMap::new();
        let wire = encode(Value::String(text.clone()), &mut blobs);
        assert!(matches!(wire, WireValue::TextBlob(_)), "{wire:?}");
        let json = serde_json::to_vec(&wire).unwrap();
        assert!(json.len() < 100, "the message carries only the key");
        let back: WireValue = serde_json::from_slice(&json).unwrap();
        assert_eq!(decode(back, &blobs).unwrap(), Value::String(text));
        let small = encode(Value::String("small".into()), &mut BTreeMap::new());
        assert_eq!(small, WireValue::String("small".into()));
    }
}
