//! `wpool guests`: the built-in guests.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::CacheArgs;

/// List the built-in guests and their functions.
#[derive(Debug, Args)]
pub(crate) struct GuestsArgs {
    #[command(flatten)]
    cache: CacheArgs,
}

impl GuestsArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let pool = self.cache.inspection_pool()?;
        for name in wpool::Guest::builtins() {
            let guest = pool
                .load(wpool::Guest::builtin(name))
                .with_context(|| format!("cannot load `{name}`"))?;
            println!("{name} ({})", guest.kind());
            for function in guest.functions() {
                println!("  {}: {}", function.name(), function.signature());
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
