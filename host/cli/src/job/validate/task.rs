//! `[[task]]` tables: the guest and function named, the arguments, what the
//! task maps over (`each`), and its `reduce`, `report` and `save`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::Cx;
use crate::job::raw::{RawEach, RawReport, RawTask};
use crate::job::units::backticked;
use crate::job::{Each, FetchSpec, GuestSpec, JobError, ReduceSpec, ReportSpec, TaskSpec};
use crate::suggest;

const NO_TASKS: &str = "no tasks; add at least one `[[task]]` table";

impl Cx<'_> {
    pub(in crate::job) fn tasks(
        &self,
        raw: Option<Spanned<Vec<Spanned<RawTask>>>>,
        builtins: &[&str],
        guests: &BTreeMap<String, GuestSpec>,
        fetches: &[FetchSpec],
        base_dir: &Path,
    ) -> Result<Vec<TaskSpec>, JobError> {
        let raw = match raw {
            None => return Err(self.err_at(0, NO_TASKS)),
            Some(t) if t.get_ref().is_empty() => return Err(self.err(t.span(), NO_TASKS)),
            Some(t) => t.into_inner(),
        };
        let mut tasks = Vec::with_capacity(raw.len());
        for (index, task) in raw.into_iter().enumerate() {
            let range = task.span();
            let t = task.into_inner();
            let missing = |key| {
                let msg = format!("task is missing required key `{key}`");
                self.err(range.clone(), msg)
            };
            let guest = t.guest.ok_or_else(|| missing("guest"))?;
            let call = t.call.ok_or_else(|| missing("call"))?;
            self.known_guest(&guest, builtins, guests)?;
            let args_span = match (&t.args, &t.each) {
                (Some(a), _) => a.span(),
                (None, Some(e)) => e.span(),
                (None, None) => range.clone(),
            };
            let each = match t.each.map(Spanned::into_inner) {
                Some(RawEach::Values(_)) if t.args.is_some() => {
                    let msg = "`args` cannot be combined with a literal `each` list; \
                               put every argument in the `each` items";
                    return Err(self.err(args_span, msg));
                }
                Some(each) => Some(self.each(each, fetches)?),
                None => None,
            };
            tasks.push(TaskSpec {
                reduce: self.reduce(t.reduce, t.report, base_dir)?,
                save: self.save(t.save, base_dir)?,
                index,
                name: t.name,
                guest: guest.get_ref().clone(),
                guest_span: self.loc(guest.span()),
                call_span: self.loc(call.span()),
                call: self.not_empty("call", call)?,
                args: t.args.map(Spanned::into_inner).unwrap_or_default(),
                each,
                timeout: self.duration(t.timeout)?,
                span: self.loc(range),
                args_span: self.loc(args_span),
            });
        }
        Ok(tasks)
    }

    /// A task's guest is a built-in or a key of `[guests]`.
    fn known_guest(
        &self,
        guest: &Spanned<String>,
        builtins: &[&str],
        guests: &BTreeMap<String, GuestSpec>,
    ) -> Result<(), JobError> {
        let name = guest.get_ref().as_str();
        if builtins.contains(&name) || guests.contains_key(name) {
            return Ok(());
        }
        let mut known: Vec<&str> = builtins.to_vec();
        known.sort_unstable();
        known.dedup();
        known.extend(guests.keys().map(String::as_str));
        let msg = if known.is_empty() {
            format!(
                "unknown guest `{name}`; no guests are available (declare one under `[guests]`)"
            )
        } else {
            format!(
                "unknown guest `{name}`; expected one of {}{}",
                backticked(known.iter().copied()),
                suggest::hint(name, known.iter().copied())
            )
        };
        Err(self.err(guest.span(), msg))
    }

    /// What a task maps over.
    fn each(&self, each: RawEach, fetches: &[FetchSpec]) -> Result<Each, JobError> {
        Ok(match each {
            RawEach::Values(values) => Each::Values(values),
            RawEach::Files(glob) => Each::Files(self.not_empty("files", glob)?),
            RawEach::Range(range) => {
                let span = range.span();
                let (start, end, step) = self.range(range.into_inner(), span)?;
                Each::Range { start, end, step }
            }
            RawEach::Fetch(fetch) => {
                let wanted = fetch.get_ref();
                if !fetches.iter().any(|f| f.name == *wanted) {
                    let names = || fetches.iter().map(|f| f.name.as_str());
                    let msg = if fetches.is_empty() {
                        format!("unknown fetch `{wanted}`; no `[[fetch]]` is defined")
                    } else {
                        format!(
                            "unknown fetch `{wanted}`; expected one of {}{}",
                            backticked(names()),
                            suggest::hint(wanted, names())
                        )
                    };
                    return Err(self.err(fetch.span(), msg));
                }
                Each::Fetch(fetch.into_inner())
            }
        })
    }

    /// `range = [start, end]` or `[start, end, step]`.
    fn range(&self, range: Vec<i64>, span: Range<usize>) -> Result<(i64, i64, i64), JobError> {
        let (start, end, step) = match *range.as_slice() {
            [start, end] => (start, end, 1),
            [start, end, step] => (start, end, step),
            _ => {
                let msg = "`range` takes [start, end] or [start, end, step]";
                return Err(self.err(span, msg));
            }
        };
        if step < 1 || end < start {
            let msg = "`range` needs start <= end and a step of at least 1";
            return Err(self.err(span, msg));
        }
        Ok((start, end, step))
    }

    /// `reduce = "FUNC"` and its optional `report`.
    fn reduce(
        &self,
        reduce: Option<Spanned<String>>,
        report: Option<Spanned<RawReport>>,
        base_dir: &Path,
    ) -> Result<Option<ReduceSpec>, JobError> {
        let Some(reduce) = reduce else {
            return match report {
                Some(report) => Err(self.err(
                    report.span(),
                    "`report` renders the combined result: add `reduce = \"FUNC\"` to this task",
                )),
                None => Ok(None),
            };
        };
        let span = self.loc(reduce.span());
        let call = self.not_empty("reduce", reduce)?;
        let report = match report {
            None => None,
            Some(report) => {
                let span = self.loc(report.span());
                let report = report.into_inner();
                Some(ReportSpec {
                    call: self.not_empty("call", report.call)?,
                    path: (report.path)
                        .map(|p| self.not_empty("path", p).map(|p| base_dir.join(p)))
                        .transpose()?,
                    span,
                })
            }
        };
        Ok(Some(ReduceSpec { call, span, report }))
    }
}
