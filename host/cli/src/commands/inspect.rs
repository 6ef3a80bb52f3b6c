//! `wpool inspect GUEST`: kind, imports, exports with WIT signatures.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::{CacheArgs, guest_from_arg};

/// Show a guest's kind, imports and exported functions.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A built-in guest's name, or the path of a `.wasm` (or `.wat`) file.
    guest: String,
    #[command(flatten)]
    cache: CacheArgs,
}

impl InspectArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let pool = self.cache.inspection_pool()?;
        let guest = pool
            .load(guest_from_arg(&self.guest))
            .with_context(|| format!("cannot load `{}`", self.guest))?;
        println!("guest: {}", guest.name());
        println!("kind: {}", guest.kind());
        println!(
            "compiled: {}",
            match guest.cache_status() {
                wpool::CacheStatus::Hit => "cache hit",
                wpool::CacheStatus::Miss => "cache miss (compiled now)",
                _ => "cache disabled",
            }
        );
        println!("imports:");
        if guest.imports().is_empty() {
            println!("  (none)");
        }
        for import in guest.imports() {
            println!("  {import} (provided by wpool)");
        }
        println!("exports:");
        if guest.functions().is_empty() {
            println!("  (no functions)");
        }
        for function in guest.functions() {
            println!("  {}: {}", function.name(), function.signature());
        }
        Ok(ExitCode::SUCCESS)
    }
}
