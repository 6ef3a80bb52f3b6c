//! `wpool guests`: the built-in guests and their interfaces.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::CacheArgs;
use super::inspect::indent;

/// List the built-in guests and their interfaces (a component's WIT world,
/// or its functions' signatures).
#[derive(Debug, Args)]
pub(crate) struct GuestsArgs {
    #[command(flatten)]
    cache: CacheArgs,
}

impl GuestsArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let pool = self.cache.inspection_pool()?;
        // Written with `?`, not `println!`: `wpool guests | head` ends
        // quietly when the reader leaves (main treats a broken pipe as done).
        let mut out = std::io::stdout().lock();
        for name in wpool::Guest::builtins() {
            let guest = pool
                .load(wpool::Guest::builtin(name))
                .with_context(|| format!("cannot load `{name}`"))?;
            writeln!(out, "{name} ({})", guest.kind())?;
            match guest.wit() {
                // A component's own WIT: its types declared once, by name.
                Some(wit) => write!(out, "{}", indent(wit))?,
                None => {
                    for function in guest.functions() {
                        writeln!(out, "  {}: {}", function.name(), function.signature())?;
                    }
                }
            }
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    }
}
