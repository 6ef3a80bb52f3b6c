//! Where a job file is wrong, and how that is said: [`Location`],
//! [`JobError`], and the tidying of messages from the TOML parser.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::suggest;

/// A position in a job file: 1-based line and 1-based column in characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column in characters (not bytes), starting at 1.
    pub col: usize,
}

impl Location {
    /// The location of a byte offset in `text` (clamped to the text, rounded down to a char).
    pub fn from_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A problem in a job file, displayed as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", path.display())]
pub struct JobError {
    /// The job file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Lowercase message without a trailing period; names are in backticks.
    pub message: String,
}

impl JobError {
    /// An error at a byte offset of the job file's text.
    pub fn at(path: &Path, text: &str, byte_offset: usize, message: impl Into<String>) -> JobError {
        JobError::at_location(path, Location::from_offset(text, byte_offset), message)
    }

    /// An error at a known location, such as [`TaskSpec::args_span`].
    pub fn at_location(path: &Path, loc: Location, message: impl Into<String>) -> JobError {
        JobError {
            path: path.to_path_buf(),
            line: loc.line,
            col: loc.col,
            message: message.into(),
        }
    }
}

/// Makes a foreign message fit our style: one line, lowercase start, no final
/// period; an unknown key gets the nearest valid one suggested.
pub(super) fn tidy_message(msg: &str) -> String {
    let msg = msg.trim().trim_end_matches('.');
    let msg = msg.lines().map(str::trim).filter(|l| !l.is_empty());
    let msg = msg.collect::<Vec<_>>().join("; ");
    let msg = match msg.strip_prefix("missing field ") {
        Some(key) => format!("missing required key {key}"),
        None => msg,
    };
    let msg = match msg.strip_prefix("unknown field ") {
        Some(rest) => unknown_key(rest),
        None => msg,
    };
    let mut chars = msg.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "invalid job file".into(),
    }
}

/// serde's "`pol`, expected one of `a`, `b`" (or "expected `a`"), as
/// "unknown key `pol`; expected one of `a`, `b`; did you mean `a`?".
fn unknown_key(rest: &str) -> String {
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((key, valid)) = names.split_first() else {
        return format!("unknown key {rest}");
    };
    let tail = rest.split_once(", ").map_or("", |(_, tail)| tail);
    let mut msg = format!("unknown key `{key}`");
    if !tail.is_empty() {
        msg.push_str("; ");
        msg.push_str(tail);
    }
    msg.push_str(&suggest::hint(key, valid.iter().copied()));
    msg
}
