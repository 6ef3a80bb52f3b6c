//! Job files: the TOML documents the `wpool` CLI runs.
//!
//! A job file has an optional `guest_dirs` list, an optional `[pool]` table,
//! optional `[guests]`, zero or more `[[fetch]]` tables, one or more
//! `[[task]]` tables and an optional `[output]` table. [`Job::parse`] checks
//! the whole file and reports the first problem as a [`JobError`] pointing
//! at the offending key or value.
//!
//! The module is split by concept: `types` (what a valid job is), `raw` (the
//! TOML as serde reads it), `validate` (from one to the other), `error`
//! (locations and messages), `units` (durations and sizes) and `save` (the
//! `save` template).

use std::path::{Path, PathBuf};

mod error;
mod raw;
mod save;
#[cfg(test)]
mod tests;
mod types;
mod units;
mod validate;

pub use error::{JobError, Location};
pub use save::SaveSpec;
pub use types::*;
pub use units::{parse_duration, parse_size};

use error::tidy_message;
use raw::RawJob;
use validate::Cx;

/// The value type of task arguments and literal `each` items.
pub type ArgValue = wpool::Value;

impl Job {
    /// Reads and parses a job file; a read error is reported at 1:1.
    pub fn load(path: &Path, builtins: &[&str]) -> Result<Job, JobError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let msg = format!("cannot read job file: {}", tidy_message(&e.to_string()));
            JobError::at_location(path, Location { line: 1, col: 1 }, msg)
        })?;
        Job::parse(path, &text, builtins)
    }

    /// Parses and validates a job file's text.
    ///
    /// `path` is only used in errors and to find [`Job::base_dir`]; `builtins`
    /// are the guest names that need no `[guests]` entry.
    pub fn parse(path: &Path, text: &str, builtins: &[&str]) -> Result<Job, JobError> {
        let cx = Cx { path, text };
        let raw: RawJob = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            cx.err_at(offset, tidy_message(e.message()))
        })?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let pool = cx.pool(raw.pool.unwrap_or_default())?;
        let mut guests = cx.guests(raw.guests.unwrap_or_default(), &base_dir, builtins)?;
        cx.guest_dirs(
            raw.guest_dirs.unwrap_or_default(),
            &base_dir,
            builtins,
            &mut guests,
        )?;
        let fetches = cx.fetches(raw.fetch.unwrap_or_default())?;
        let tasks = cx.tasks(raw.task, builtins, &guests, &fetches, &base_dir)?;
        let output = cx.output(raw.output.unwrap_or_default())?;
        Ok(Job {
            path: path.to_path_buf(),
            base_dir,
            pool,
            guests,
            fetches,
            tasks,
            output,
        })
    }
}
