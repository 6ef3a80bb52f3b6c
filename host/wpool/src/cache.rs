//! The on-disk compile cache: compiled guests keyed by the guest's content
//! hash and the engine's compatibility hash, so a new process does not pay
//! Cranelift again for an unchanged guest.
//!
//! Each entry is the serialized artifact followed by its SHA-256; an entry
//! whose checksum does not match is recompiled and replaced. Entries are
//! written to a temporary file and renamed into place, so a reader never sees
//! half an entry.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

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
}

/// What a cache lookup needs to compile on a miss and to key the entry.
pub(crate) enum Artifact {
    Component(wasmtime::component::Component),
    Module(wasmtime::Module),
}

impl CompileCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        CompileCache { dir, engine_key }
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
            Ok(()) => tracing::debug!(path = %path.display(), "compile cache stored"),
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
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(artifact)?;
    file.write_all(&Sha256::digest(artifact))?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}
