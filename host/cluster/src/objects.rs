//! Content-addressed objects: guests and big values, stored once under the
//! SHA-256 of their bytes and checked against it when read back.

use async_nats::jetstream::object_store::ObjectStore;
use tokio::io::AsyncReadExt;

use crate::error::ClusterError;
use crate::wire::sha256_hex;

/// Stores `bytes` under `key` (their SHA-256) unless it is already there.
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

/// Reads the object `key` and checks that its SHA-256 is `key`.
pub(crate) async fn get_checked(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, ClusterError> {
    let mut object = store
        .get(key)
        .await
        .map_err(|e| ClusterError::object("get", bucket, key, e))?;
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| ClusterError::object("get", bucket, key, e))?;
    let actual = sha256_hex(&bytes);
    if actual != key {
        let e = format!("its content hashes to {actual}");
        return Err(ClusterError::object("verify", bucket, key, e));
    }
    Ok(bytes)
}
