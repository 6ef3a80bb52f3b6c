//! `wpool inspect GUEST`: kind, imports, and its interface as WIT (a
//! component's world, with its own type names) or its exports' signatures.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use wpool_cli::script::{self, Script};

use super::{CacheArgs, guest_from_arg};

/// Show a guest's kind, imports and exported functions.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A built-in guest's name, or the path of a `.wasm` (or `.wat`) file,
    /// or of a Python script (`.py`).
    guest: String,
    #[command(flatten)]
    cache: CacheArgs,
}

impl InspectArgs {
    /// Exit status 0 when the guest can run, 1 when it cannot (the reason is
    /// printed), 2 when it cannot be read or compiled.
    pub(crate) fn execute(self) -> Result<ExitCode> {
        if self.guest.ends_with(".py") {
            return inspect_script(&self.guest);
        }
        let pool = self.cache.inspection_pool()?;
        let report = pool
            .inspect(guest_from_arg(&self.guest))
            .with_context(|| format!("cannot load `{}`", self.guest))?;
        // `?` on every write: `wpool inspect … | head` ends quietly.
        let mut out = std::io::stdout().lock();
        writeln!(out, "guest: {}", report.name)?;
        writeln!(
            out,
            "kind: {}{}",
            report.kind,
            match report.kind {
                wpool::GuestKind::Command =>
                    " (`run`: the task input on stdin, its stdout is the result)",
                wpool::GuestKind::Module => " (numeric exports)",
                _ => " (WIT-typed exports)",
            }
        )?;
        writeln!(
            out,
            "compiled: {}",
            match report.cache {
                wpool::CacheStatus::Hit => "cache hit",
                wpool::CacheStatus::Miss => "cache miss (compiled now)",
                _ => "cache disabled",
            }
        )?;
        writeln!(out, "imports:")?;
        if report.imports.is_empty() {
            writeln!(out, "  (none)")?;
        }
        let width = report
            .imports
            .iter()
            .map(|i| i.name.len())
            .max()
            .unwrap_or(0);
        for import in &report.imports {
            let status = if import.provided {
                "provided by wpool"
            } else {
                "NOT PROVIDED"
            };
            writeln!(out, "  {:width$}  {status}", import.name)?;
        }
        match &report.wit {
            // A component's own WIT: its types declared once, by name.
            Some(wit) => {
                writeln!(out, "interface (WIT):")?;
                write!(out, "{}", indent(wit))?;
            }
            None => {
                writeln!(out, "exports:")?;
                if report.functions.is_empty() {
                    writeln!(out, "  (no functions)")?;
                }
                for function in &report.functions {
                    writeln!(out, "  {}: {}", function.name(), function.signature())?;
                }
            }
        }
        match report.problem {
            None => {
                writeln!(out, "status: runnable")?;
                Ok(ExitCode::SUCCESS)
            }
            Some(problem) => {
                writeln!(out, "status: cannot run: {problem}")?;
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// `text` with every non-empty line indented by two spaces, ending in a
/// newline.
pub(crate) fn indent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A Python script guest: its functions, and the interpreter that would run
/// them (exit 1 when there is none).
fn inspect_script(path: &str) -> Result<ExitCode> {
    let script = Script::load(std::path::Path::new(path)).map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "guest: {}", script.file())?;
    writeln!(
        out,
        "kind: python script (its top-level functions, run in CPython for WASI)"
    )?;
    let interpreter = script::interpreter(None);
    match &interpreter {
        Ok(path) => writeln!(out, "interpreter: {}", path.display())?,
        Err(e) => writeln!(out, "interpreter: NOT FOUND: {e}")?,
    }
    writeln!(out, "functions:")?;
    if script.defs().is_empty() {
        writeln!(out, "  (no top-level functions)")?;
    }
    for def in script.defs() {
        writeln!(out, "  {}  (line {})", def.signature(), def.line)?;
    }
    Ok(if interpreter.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::indent;

    #[test]
    fn indent_leaves_blank_lines_blank() {
        assert_eq!(
            indent("a;\n\nworld b {\n  c\n}"),
            "  a;\n\n  world b {\n    c\n  }\n"
        );
        assert_eq!(indent(""), "");
    }
}
