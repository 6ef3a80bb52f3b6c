//! Content-addressed objects: guests and big values, stored once under the
//! SHA-256 of their bytes and checked against it when read back. A job's
//! big values are stored under its id and their hash ([`job_object`]), so
//! that the job can remove its own when it ends without touching another
//! job's.

use async_nats::jetstream::object_store::ObjectStore;
use tokio::io::AsyncReadExt;

use crate::error::ClusterError;
use crate::wire::sha256_hex;

/// The name of job `job`'s big value of SHA-256 `sha`.
pub(crate) fn job_object(job: &str, sha: &str) -> String {
    format!("{job}.{sha}")
}

/// Stores `bytes` under `key` (ending in their SHA-256) unless it is
/// already there.
/// Returns whether it uploaded.
pub(crate) async fn put_once(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> Result<bool, ClusterError> {
    if store.info(key).await.is_ok() {
        return Ok(false);
    }
    let mut reader = bytes;
    store
        .put(key, &mut reader)
        .await
        .map_err(|e| ClusterError::object("put", bucket, key, e))?;
    Ok(true)
}

/// Reads of an object tried before its failure is final: a server that
/// restarts or a leader that moves fails a read or two.
const READ_ATTEMPTS: u32 = 3;

/// Reads the object `key` and checks that its SHA-256 is `sha`; a failed
/// read is tried again (after 0.2 s, then 0.4 s) before it is an error.
pub(crate) async fn get_checked(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
    sha: &str,
) -> Result<Vec<u8>, ClusterError> {
    let mut attempt = 1;
    let bytes = loop {
        match read(store, key).await {
            Ok(bytes) => break bytes,
            Err(e) if attempt < READ_ATTEMPTS => {
                tracing::debug!(
                    bucket,
                    key,
                    attempt,
                    "object read failed, trying again: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200 << (attempt - 1))).await;
                attempt += 1;
            }
            Err(e) => return Err(ClusterError::object("get", bucket, key, e)),
        }
    };
    let actual = sha256_hex(&bytes);
    if actual != sha {
        let e = format!("its content hashes to {actual}");
        return Err(ClusterError::object("verify", bucket, key, e));
    }
    Ok(bytes)
}

/// One read of the object `key`, whole.
async fn read(store: &ObjectStore, key: &str) -> Result<Vec<u8>, async_nats::Error> {
    let mut object = store.get(key).await?;
    let mut bytes = Vec::new();
    object.read_to_end(&mut bytes).await?;
    Ok(bytes)
}
