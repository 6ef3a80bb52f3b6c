//! Validation: the raw serde structures to the public types, each problem
//! reported at its line and column. One file per part of the job: the pool,
//! guests and output here; `fetch` and `task` beside it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::tidy_message;
use super::raw::{DurationStr, RawGuest, RawOutput, RawPool, RawSize};
use super::units::backticked;
use super::{
    DirGrant, Format, GuestSource, GuestSpec, InstanceMode, JobError, Location, Order,
    OutputSection, PoolSection, parse_duration, parse_size,
};
use crate::suggest;

mod fetch;
mod task;

/// What every check needs: the file, to point into it.
pub(super) struct Cx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Cx<'_> {
    pub(super) fn loc(&self, span: Range<usize>) -> Location {
        Location::from_offset(self.text, span.start)
    }

    pub(super) fn err_at(&self, offset: usize, message: impl Into<String>) -> JobError {
        JobError::at(self.path, self.text, offset, message)
    }

    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>) -> JobError {
        self.err_at(span.start, message)
    }

    pub(super) fn duration(
        &self,
        v: Option<Spanned<DurationStr>>,
    ) -> Result<Option<Duration>, JobError> {
        v.map(|v| parse_duration(&v.get_ref().0).map_err(|e| self.err(v.span(), e)))
            .transpose()
    }

    pub(super) fn size(&self, v: Option<Spanned<RawSize>>) -> Result<Option<u64>, JobError> {
        v.map(|v| match v.get_ref() {
            RawSize::Int(n) => u64::try_from(*n).map_err(|_| {
                self.err(
                    v.span(),
                    format!("invalid size `{n}`: must not be negative"),
                )
            }),
            RawSize::Str(s) => parse_size(s).map_err(|e| self.err(v.span(), e)),
        })
        .transpose()
    }

    pub(super) fn at_least_one<T: Copy + PartialOrd + From<u8>>(
        &self,
        key: &str,
        v: Option<Spanned<T>>,
    ) -> Result<Option<T>, JobError> {
        match v {
            Some(v) if *v.get_ref() < T::from(1) => {
                Err(self.err(v.span(), format!("`{key}` must be at least 1")))
            }
            v => Ok(v.map(Spanned::into_inner)),
        }
    }

    pub(super) fn not_empty(&self, key: &str, v: Spanned<String>) -> Result<String, JobError> {
        if v.get_ref().trim().is_empty() {
            return Err(self.err(v.span(), format!("`{key}` must not be empty")));
        }
        Ok(v.into_inner())
    }

    pub(super) fn choice<T: Copy>(
        &self,
        what: &str,
        v: Option<Spanned<String>>,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, JobError> {
        let Some(v) = v else { return Ok(None) };
        match choices.iter().find(|(name, _)| name == v.get_ref()) {
            Some(&(_, value)) => Ok(Some(value)),
            None => Err(self.err(
                v.span(),
                format!(
                    "unknown {what} `{}`; expected one of {}{}",
                    v.get_ref(),
                    backticked(choices.iter().map(|c| c.0)),
                    suggest::hint(v.get_ref(), choices.iter().map(|c| c.0))
                ),
            )),
        }
    }

    pub(super) fn pool(&self, raw: RawPool) -> Result<PoolSection, JobError> {
        let instance = [
            ("reuse", InstanceMode::Reuse),
            ("fresh", InstanceMode::Fresh),
        ];
        Ok(PoolSection {
            workers: self.at_least_one("workers", raw.workers)?,
            timeout: self.duration(raw.timeout)?,
            memory: self.size(raw.memory)?,
            fuel: self.at_least_one("fuel", raw.fuel)?,
            instance: self
                .choice("instance mode", raw.instance, &instance)?
                .unwrap_or_default(),
            output_limit: self.size(raw.output_limit)?,
        })
    }

    pub(super) fn guests(
        &self,
        raw: BTreeMap<Spanned<String>, Spanned<RawGuest>>,
        base_dir: &Path,
        builtins: &[&str],
    ) -> Result<BTreeMap<String, GuestSpec>, JobError> {
        let mut guests = BTreeMap::new();
        for (name, guest) in raw {
            if name.get_ref().is_empty() {
                return Err(self.err(name.span(), "guest name must not be empty"));
            }
            if builtins.contains(&name.get_ref().as_str()) {
                let msg = format!("guest `{}` has the name of a builtin guest", name.get_ref());
                return Err(self.err(name.span(), msg));
            }
            let range = guest.span();
            let span = self.loc(range.clone());
            let spec = match guest.into_inner() {
                RawGuest::Path(p) if p.trim().is_empty() => {
                    return Err(self.err(range, "guest path must not be empty"));
                }
                RawGuest::Path(p) => GuestSpec {
                    source: file_source(base_dir.join(p), None),
                    digest: false,
                    dirs: Vec::new(),
                    env: Vec::new(),
                    args: Vec::new(),
                    span,
                },
                RawGuest::Table(t) => GuestSpec {
                    source: match (t.path, t.builtin) {
                        (Some(path), None) => {
                            let path = base_dir.join(self.not_empty("path", path)?);
                            let python = match t.python {
                                Some(python) if !is_script(&path) => {
                                    let msg = "`python` names the interpreter of a Python \
                                               script guest, and `path` is not a `.py` file";
                                    return Err(self.err(python.span(), msg));
                                }
                                Some(python) => {
                                    Some(base_dir.join(self.not_empty("python", python)?))
                                }
                                None => None,
                            };
                            file_source(path, python)
                        }
                        (None, Some(_)) if t.python.is_some() => {
                            let at = t.python.map_or(range.clone(), |p| p.span());
                            return Err(self.err(at, "`python` needs a `.py` `path`"));
                        }
                        (None, Some(builtin)) => {
                            let at = builtin.span();
                            let builtin = self.not_empty("builtin", builtin)?;
                            if !builtins.contains(&builtin.as_str()) {
                                let msg = format!(
                                    "unknown built-in guest `{builtin}`; expected one of {}{}",
                                    backticked(builtins.iter().copied()),
                                    suggest::hint(&builtin, builtins.iter().copied())
                                );
                                return Err(self.err(at, msg));
                            }
                            GuestSource::Builtin(builtin)
                        }
                        (Some(_), Some(builtin)) => {
                            return Err(self
                                .err(builtin.span(), "give either `path` or `builtin`, not both"));
                        }
                        (None, None) => {
                            return Err(self.err(range, "missing `path` (or `builtin`)"));
                        }
                    },
                    digest: t.digest.unwrap_or(false),
                    dirs: (t.dirs.unwrap_or_default().into_iter())
                        .map(|d| {
                            Ok(DirGrant {
                                host: base_dir.join(self.not_empty("host", d.host)?),
                                guest: self.not_empty("guest", d.guest)?,
                                write: d.write.unwrap_or(false),
                            })
                        })
                        .collect::<Result<_, JobError>>()?,
                    env: t.env.unwrap_or_default().into_iter().collect(),
                    args: t.args.unwrap_or_default(),
                    span,
                },
            };
            guests.insert(name.into_inner(), spec);
        }
        Ok(guests)
    }

    /// `guest_dirs`: every `NAME.wasm` in each folder is the guest `NAME`,
    /// unless `[guests]` names it already (the explicit entry wins).
    pub(super) fn guest_dirs(
        &self,
        raw: Vec<Spanned<String>>,
        base_dir: &Path,
        builtins: &[&str],
        guests: &mut BTreeMap<String, GuestSpec>,
    ) -> Result<(), JobError> {
        for dir in raw {
            let range = dir.span();
            let path = base_dir.join(self.not_empty("guest_dirs", dir)?);
            let entries = std::fs::read_dir(&path).map_err(|e| {
                let msg = format!(
                    "cannot read guest folder `{}`: {}",
                    path.display(),
                    tidy_message(&e.to_string())
                );
                self.err(range.clone(), msg)
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
                .collect();
            files.sort();
            for file in files {
                let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if builtins.contains(&name) {
                    let msg = format!(
                        "`{}` has the name of a builtin guest; rename the file",
                        file.display()
                    );
                    return Err(self.err(range.clone(), msg));
                }
                guests.entry(name.to_owned()).or_insert_with(|| GuestSpec {
                    source: GuestSource::File(file.clone()),
                    digest: false,
                    dirs: Vec::new(),
                    env: Vec::new(),
                    args: Vec::new(),
                    span: self.loc(range.clone()),
                });
            }
        }
        Ok(())
    }

    pub(super) fn output(&self, raw: RawOutput) -> Result<OutputSection, JobError> {
        let formats = [
            ("jsonl", Format::Jsonl),
            ("json", Format::Json),
            ("table", Format::Table),
        ];
        let orders = [("input", Order::Input), ("completed", Order::Completed)];
        Ok(OutputSection {
            format: self.choice("output format", raw.format, &formats)?,
            path: raw
                .path
                .map(|p| self.not_empty("path", p))
                .transpose()?
                .map(PathBuf::from),
            order: self
                .choice("output order", raw.order, &orders)?
                .unwrap_or_default(),
        })
    }
}

/// Whether a guest path is a Python script (`.py`) rather than a `.wasm`.
fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

/// A guest file: a Python script with its interpreter, or a `.wasm`/`.wat`.
fn file_source(path: PathBuf, interpreter: Option<PathBuf>) -> GuestSource {
    if is_script(&path) {
        GuestSource::PythonScript {
            script: path,
            interpreter,
        }
    } else {
        GuestSource::File(path)
    }
}
