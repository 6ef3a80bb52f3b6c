//! [`Grants`]: what a guest may reach through WASI. Nothing by default.

use std::path::PathBuf;

/// Capabilities granted to a guest. The default grants nothing: no files, no
/// environment variables, no arguments, no host capabilities. Guests never
/// get sockets, whatever the grants: wpool's host does the fetching.
///
/// ```
/// let grants = wpool::Grants::new()
///     .dir("/srv/data", "/data", wpool::Access::ReadOnly)
///     .env("MODE", "fast")
///     .arg("--verbose");
/// assert_eq!(grants.dirs().len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    digest: bool,
}

/// How a granted directory may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Files may be read, not created, written or removed.
    ReadOnly,
    /// Files may be read, created, written and removed.
    ReadWrite,
}

/// A host directory visible to the guest at `guest_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host_path: PathBuf,
    /// Where the guest sees it, e.g. `/data`.
    pub guest_path: String,
    /// Read-only or read-write.
    pub access: Access,
}

impl Grants {
    /// No capabilities.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `host` as `guest` with `access`.
    pub fn dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        access: Access,
    ) -> Self {
        self.dirs.push(DirGrant {
            host_path: host.into(),
            guest_path: guest.into(),
            access,
        });
        self
    }

    /// Sets an environment variable the guest can read.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Appends a command-line argument the guest can read.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Grants (or not) the host's `digest` capability: the guest's calls of
    /// `wpool:host/digest.sha256` are answered by the host, natively (SHA
    /// instructions where the CPU has them) over the guest's own memory.
    /// Without it that import's `enabled` says `false` and `sha256` traps.
    /// The built-in `sha256` guest uses it when granted.
    pub fn digest(mut self, granted: bool) -> Self {
        self.digest = granted;
        self
    }

    /// Whether the `digest` capability is granted.
    pub fn has_digest(&self) -> bool {
        self.digest
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The granted environment variables.
    pub fn envs(&self) -> &[(String, String)] {
        &self.env
    }

    /// The guest's arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.env.is_empty() && self.args.is_empty() && !self.digest
    }
}
