//! A task's `reduce` and `report`: its results combined into one as they
//! arrive, then optionally rendered into a file.
//!
//! ```toml
//! [[task]]
//! guest = "logs"
//! call = "parse"                # one result per input
//! each = { files = "logs/*.log" }
//! reduce = "merge"              # merge(a, b) -> same type: folds the results as they arrive
//! report = { call = "render", path = "report.md" }  # render(merged) -> text, written atomically
//! ```

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::RawReport;
use super::{Cx, JobError, Location};

/// `reduce = "FUNC"`: a function of the task's guest taking two results and
/// returning their combination (associative: results arrive in any order).
#[derive(Debug, Clone)]
pub struct ReduceSpec {
    /// The combining function.
    pub call: String,
    /// Location of the `reduce` value.
    pub span: Location,
    /// What to do with the combined value.
    pub report: Option<ReportSpec>,
}

/// `report = { call = "FUNC", path = "FILE" }`: a function of the task's
/// guest turning the combined value into the report, and where it goes.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    /// The rendering function.
    pub call: String,
    /// The file written (atomically), resolved against the job's folder;
    /// without one, the report is the reduce record's value.
    pub path: Option<PathBuf>,
    /// Location of the `report` value.
    pub span: Location,
}

impl Cx<'_> {
    pub(super) fn reduce(
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
                    path: report
                        .path
                        .map(|p| self.not_empty("path", p).map(|p| base_dir.join(p)))
                        .transpose()?,
                    span,
                })
            }
        };
        Ok(Some(ReduceSpec { call, span, report }))
    }
}
