//! Output files written atomically: into a temporary file beside the
//! destination, renamed over it once complete. A failed run leaves the
//! destination as it was (absent, or the previous run's), never half written.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being written; [`AtomicFile::commit`] puts it in place, dropping it
/// uncommitted throws it away.
pub(crate) struct AtomicFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing what will become `path`.
    pub(crate) fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create `{}`: {e}", path.display()))
            })?;
        Ok(AtomicFile {
            temp,
            path: path.to_path_buf(),
        })
    }

    /// Writes `contents` to `path` atomically.
    pub(crate) fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
        let mut file = AtomicFile::create(path)?;
        file.write_all(contents)?;
        file.commit()
    }

    /// Flushes the file to disk and renames it over the destination.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        self.temp.flush()?;
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.path).map(drop).map_err(|e| {
            io::Error::new(
                e.error.kind(),
                format!("cannot write `{}`: {}", self.path.display(), e.error),
            )
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Writes a result to `path` atomically (creating its folder): strings as
/// UTF-8, bytes as they are, anything else as JSON. Answers the value a
/// record shows instead, `{ path, bytes }`, or why it could not.
pub(crate) async fn save_value(path: PathBuf, value: wpool::Value) -> Result<wpool::Value, String> {
    let bytes = match value {
        wpool::Value::String(text) => text.into_bytes(),
        wpool::Value::Bytes(bytes) => bytes,
        other => other.to_json().into_bytes(),
    };
    let len = bytes.len();
    let shown = path.display().to_string();
    let written = tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        AtomicFile::write(&path, &bytes)
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(wpool::Value::Map(vec![
            ("path".to_owned(), wpool::Value::String(shown)),
            ("bytes".to_owned(), wpool::Value::UInt(len as u64)),
        ])),
        Ok(Err(e)) => Err(format!("cannot write `{shown}`: {e}")),
        Err(e) => Err(format!("the writer of `{shown}` failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit_and_a_drop_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "previous run\n").unwrap();

        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"half a reco").unwrap();
        drop(file); // a failure
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous run\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );

        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous run\n");
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
