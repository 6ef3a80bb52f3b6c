//! The on-disk compile cache: compiled guests keyed by the guest's content
//! hash and the engine's compatibility hash, so a new process does not pay
//! Cranelift again for an unchanged guest.
//!
//! Each entry is the serialized artifact followed by its SHA-256; an entry
//! whose checksum does not match is recompiled and replaced. Entries are
//! written to a temporary file of a name no other writer uses (process,
//! counter, time) and renamed into place, so a reader never sees half an
//! entry and concurrent writers, in one process or many, never share a file.
//!
//! The cache is bounded: after storing an entry, the least recently used
//! entries (by modification time, refreshed on every hit) are removed until
//! the folder is within its size limit.
//!
//! Why not Wasmtime's own cache (its `cache` feature)? It would bring zstd's
//! C library into every embedder's build, a TOML configuration file and a
//! background worker thread per engine, to save a few hundred lines whose
//! behaviour (atomic writes, checksums, bounds) is tested here.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;

/// Whether a guest's compiled code came from the on-disk cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheStatus {
    /// Loaded from the cache: no compilation in this process.
    Hit,
    /// Compiled in this process (and stored, if the cache is writable).
    Miss,
    /// The cache is turned off.
    Disabled,
}

/// The cache directory for one engine configuration.
#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    max_size: u64,
}

/// The default bound on a cache folder's size.
pub(crate) const DEFAULT_CACHE_SIZE: u64 = 1 << 30;

/// What a cache lookup needs to compile on a miss and to key the entry.
pub(crate) enum Artifact {
    Component(wasmtime::component::Component),
    Module(wasmtime::Module),
}

impl CompileCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine, max_size: u64) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        CompileCache {
            dir,
            engine_key,
            max_size,
        }
    }

    /// The default directory: `$WPOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/wpool`,
    /// else `~/.cache/wpool`.
    pub(crate) fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("WPOOL_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("wpool"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("wpool"))
    }

    fn entry(&self, wasm: &[u8], component: bool) -> PathBuf {
        let digest = hex::encode(Sha256::digest(wasm));
        let kind = if component { "component" } else { "module" };
        self.dir
            .join(format!("{digest}-{}-{kind}.cwasm", self.engine_key))
    }

    /// Loads the compiled form of `wasm` from the cache, or compiles it with
    /// `compile` and stores it.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        component: bool,
        compile: impl FnOnce() -> wasmtime::Result<Artifact>,
    ) -> wasmtime::Result<(Artifact, CacheStatus)> {
        let path = self.entry(wasm, component);
        if let Some(artifact) = read_entry(engine, &path, component) {
            tracing::debug!(path = %path.display(), "compile cache hit");
            // Recently used: the last to go when the cache is trimmed.
            let _ = fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return Ok((artifact, CacheStatus::Hit));
        }
        let artifact = compile()?;
        let bytes = match &artifact {
            Artifact::Component(c) => c.serialize(),
            Artifact::Module(m) => m.serialize(),
        };
        match bytes
            .map_err(|e| e.to_string())
            .and_then(|b| write_entry(&path, &b).map_err(|e| e.to_string()))
        {
            Ok(()) => {
                tracing::debug!(path = %path.display(), "compile cache stored");
                trim(&self.dir, self.max_size, &path);
            }
            Err(e) => tracing::warn!(path = %path.display(), "cannot write the compile cache: {e}"),
        }
        Ok((artifact, CacheStatus::Miss))
    }
}

fn read_entry(engine: &Engine, path: &Path, component: bool) -> Option<Artifact> {
    let bytes = fs::read(path).ok()?;
    let (artifact, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(artifact).as_slice() != checksum {
        tracing::warn!(path = %path.display(), "compile cache entry is corrupt; recompiling");
        return None;
    }
    // SAFETY: the bytes are an artifact this crate serialized with an engine of
    // the same compatibility hash (part of the file name), and the checksum
    // shows they are unchanged since. Wasmtime also checks the header's engine
    // compatibility and rejects a mismatch with an error. The cache directory
    // must be writable only by the user running wpool (see SECURITY.md).
    #[allow(unsafe_code)]
    let loaded = unsafe {
        if component {
            wasmtime::component::Component::deserialize(engine, artifact).map(Artifact::Component)
        } else {
            wasmtime::Module::deserialize(engine, artifact).map(Artifact::Module)
        }
    };
    match loaded {
        Ok(artifact) => Some(artifact),
        Err(e) => {
            tracing::warn!(path = %path.display(), "compile cache entry unusable ({e}); recompiling");
            None
        }
    }
}

fn write_entry(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(temp_name(path));
    let written = (|| {
        // `create_new`: never truncate a file another writer owns.
        let mut file = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(artifact)?;
        file.write_all(&Sha256::digest(artifact))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A temporary file name for `path` that no other writer uses: the process,
/// a per-process counter and the time.
fn temp_name(path: &Path) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        ".{}.{}-{}-{nanos}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
    )
}

/// Removes the least recently used entries of `dir` until its entries take
/// at most `max_size` bytes, keeping `keep` (the entry just stored).
pub(crate) fn trim(dir: &Path, max_size: u64, keep: &Path) {
    let Ok(read) = fs::read_dir(dir) else { return };
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = read
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    if total <= max_size {
        return;
    }
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_size {
            break;
        }
        if path == keep {
            continue;
        }
        // Another process may have removed it already: either way it is gone.
        let _ = fs::remove_file(&path);
        total = total.saturating_sub(len);
        tracing::debug!(path = %path.display(), "compile cache entry evicted");
    }
}
