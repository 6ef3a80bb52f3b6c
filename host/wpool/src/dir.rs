//! [`GuestDir`]: a folder of guests, each `.wasm` a guest named by its file
//! stem, picked up again when its file changes, without restarting the pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{LoadError, error_chain};
use crate::grants::Grants;
use crate::guest::{Guest, LoadedGuest};
use crate::pool::Pool;

/// A folder of guests, loaded on first use and reloaded when their file
/// changes. Cheap to clone; clones share what was loaded.
///
/// [`get`](GuestDir::get) looks at the file each time (one `stat`): a new
/// file is a new guest, a changed one is compiled again and replaces the old
/// version for tasks submitted from then on, while tasks already submitted
/// finish on the version they were submitted with. A file that no longer
/// loads (say, half-copied) leaves the last good version in service; the
/// error is logged and reported by [`problems`](GuestDir::problems). Replace
/// files atomically (write elsewhere, then rename) to never catch one half
/// written.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = wpool::Pool::new()?;
/// let guests = pool.load_dir("guests")?;
/// for name in guests.names()? {
///     println!("{name}");
/// }
/// let resize = guests.get("resize")?; // guests/resize.wasm, as it is now
/// let out = pool.submit(&resize, "thumbnail", vec![0u8; 16]).await?;
/// # let _ = out; Ok(()) }
/// ```
#[derive(Clone)]
pub struct GuestDir {
    inner: Arc<DirInner>,
}

struct DirInner {
    pool: Pool,
    dir: PathBuf,
    grants: Grants,
    entries: Mutex<HashMap<String, Entry>>,
    /// One lock per guest name, held while that guest compiles.
    loading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// What was last seen of one file.
struct Entry {
    /// The file's identity when it was last loaded (or failed to load).
    seen: Stamp,
    /// The last version that loaded.
    guest: Option<LoadedGuest>,
    /// Why the file as it is now does not load (the error and its causes).
    problem: Option<String>,
}

/// Modification time, size and inode: a rename into place changes the inode
/// even within the file system's timestamp granularity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

impl Pool {
    /// Opens a folder of guests: every `NAME.wasm` in `dir` is the guest
    /// `NAME`, loaded on first use. See [`GuestDir`].
    pub fn load_dir(&self, dir: impl Into<PathBuf>) -> Result<GuestDir, LoadError> {
        self.load_dir_with(dir, Grants::default())
    }

    /// [`Pool::load_dir`] with grants given to every guest of the folder.
    pub fn load_dir_with(
        &self,
        dir: impl Into<PathBuf>,
        grants: Grants,
    ) -> Result<GuestDir, LoadError> {
        let dir = dir.into();
        std::fs::read_dir(&dir).map_err(|source| LoadError::Read {
            path: dir.clone(),
            source,
        })?;
        Ok(GuestDir {
            inner: Arc::new(DirInner {
                pool: self.clone(),
                dir,
                grants,
                entries: Mutex::new(HashMap::new()),
                loading: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl GuestDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The guests in the folder now: the stems of its `.wasm` files, sorted.
    pub fn names(&self) -> Result<Vec<String>, LoadError> {
        let read_err = |source| LoadError::Read {
            path: self.inner.dir.clone(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.inner.dir).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().is_some_and(|e| e == "wasm")
                && path.is_file()
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                names.push(stem.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The guest `name` as its file is now: loaded (or reloaded) if the file
    /// is new or changed since the last call, else the version already
    /// loaded.
    ///
    /// Fails when there is no `name.wasm` (a removed file is forgotten), or
    /// when it does not load and no earlier version did.
    pub fn get(&self, name: &str) -> Result<LoadedGuest, LoadError> {
        let path = self.file(name)?;
        if let Some(found) = self.current(name, &path)? {
            return found;
        }
        // Compiling takes seconds for a big guest: never under the folder's
        // lock, so `get`s of other guests (and of this one, once loaded) go
        // on. One load per name at a time: a second caller waits for the
        // first one's result instead of compiling the same file again.
        let loading = {
            let mut loading = self.inner.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(name.to_owned()).or_default().clone()
        };
        let _one_at_a_time = loading.lock().unwrap_or_else(|e| e.into_inner());
        // The file as it is now (it may have changed again while we waited).
        let stamp = match self.current(name, &path)? {
            Some(found) => return found,
            None => Stamp::of(&std::fs::metadata(&path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?),
        };
        let loaded = self.inner.pool.load(
            Guest::file(&path)
                .named(name)
                .grants(self.inner.grants.clone()),
        );
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let previous = entries.remove(name).and_then(|e| e.guest);
        match loaded {
            Ok(guest) => {
                if previous.is_some() {
                    tracing::info!(guest = name, "reloaded `{}`", path.display());
                }
                entries.insert(
                    name.to_owned(),
                    Entry {
                        seen: stamp,
                        guest: Some(guest.clone()),
                        problem: None,
                    },
                );
                Ok(guest)
            }
            Err(err) => {
                let problem = error_chain(&err);
                tracing::warn!(
                    guest = name,
                    "`{}` does not load{}: {problem}",
                    path.display(),
                    if previous.is_some() {
                        " (keeping the previous version)"
                    } else {
                        ""
                    },
                );
                entries.insert(
                    name.to_owned(),
                    Entry {
                        seen: stamp,
                        guest: previous.clone(),
                        problem: Some(problem),
                    },
                );
                previous.ok_or(err)
            }
        }
    }

    /// What the folder already knows of `name` as its file is now: `None`
    /// when it must be loaded (new or changed), else the guest or why it
    /// does not load. Holds the folder's lock only for a `stat`.
    #[allow(clippy::type_complexity)]
    fn current(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<Option<Result<LoadedGuest, LoadError>>, LoadError> {
        let meta = std::fs::metadata(path);
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = match meta {
            Ok(meta) if meta.is_file() => Stamp::of(&meta),
            Ok(_) => return Err(not_found(path.to_owned())),
            Err(source) => {
                entries.remove(name);
                return Err(LoadError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(match entries.get(name) {
            Some(entry) if entry.seen == stamp => Some(match (&entry.guest, &entry.problem) {
                (Some(guest), _) => Ok(guest.clone()),
                (None, problem) => Err(LoadError::Compile {
                    name: name.to_owned(),
                    source: problem.as_deref().unwrap_or("did not load").into(),
                }),
            }),
            _ => None,
        })
    }

    /// Files whose current contents did not load, with why (an earlier
    /// version may still be serving). Checked as of the last
    /// [`get`](GuestDir::get) of each.
    pub fn problems(&self) -> Vec<(String, String)> {
        let entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut problems: Vec<(String, String)> = entries
            .iter()
            .filter_map(|(name, e)| e.problem.clone().map(|p| (name.clone(), p)))
            .collect();
        problems.sort();
        problems
    }

    /// `dir/name.wasm`, for a plain file name only.
    fn file(&self, name: &str) -> Result<PathBuf, LoadError> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\', '\0'])
            && Path::new(name).components().count() == 1;
        let path = self.inner.dir.join(format!("{name}.wasm"));
        if plain {
            Ok(path)
        } else {
            Err(not_found(path))
        }
    }
}

fn not_found(path: PathBuf) -> LoadError {
    LoadError::Read {
        path,
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such guest file"),
    }
}

impl std::fmt::Debug for GuestDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestDir")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}
