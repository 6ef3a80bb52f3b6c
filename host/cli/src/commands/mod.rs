//! One module per subcommand, each with an `execute(self)`.

pub(crate) mod cluster;
pub(crate) mod guests;
pub(crate) mod inspect;
pub(crate) mod new;
pub(crate) mod run;
pub(crate) mod worker;

use std::path::PathBuf;

use clap::Args;

/// Pool options shared by the subcommands that load guests.
#[derive(Debug, Clone, Args)]
pub(crate) struct CacheArgs {
    /// Directory of the compile cache [default: $XDG_CACHE_HOME/wpool or ~/.cache/wpool].
    #[arg(long, env = "WPOOL_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Compile guests without the on-disk cache.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

impl CacheArgs {
    /// A one-worker pool for loading and inspecting guests.
    pub(crate) fn inspection_pool(&self) -> anyhow::Result<wpool::Pool> {
        use anyhow::Context;
        self.apply(wpool::Pool::builder().workers(1))
            .build()
            .context("cannot start the pool")
    }

    pub(crate) fn apply(&self, builder: wpool::PoolBuilder) -> wpool::PoolBuilder {
        match (&self.cache_dir, self.no_cache) {
            (_, true) => builder.no_cache(),
            (Some(dir), false) => builder.cache_dir(dir),
            // On by default in the CLI (the library writes nothing unasked).
            (None, false) => match wpool::PoolBuilder::user_cache_dir() {
                Some(dir) => builder.cache_dir(dir),
                None => builder,
            },
        }
    }
}

/// A guest named on the command line: a built-in name, or a path to a `.wasm`.
pub(crate) fn guest_from_arg(arg: &str) -> wpool::Guest {
    if wpool::Guest::builtins().any(|b| b == arg) {
        wpool::Guest::builtin(arg)
    } else if std::path::Path::new(arg).exists() || arg.ends_with(".wasm") || arg.ends_with(".wat")
    {
        wpool::Guest::file(arg)
    } else {
        wpool::Guest::builtin(arg)
    }
}
