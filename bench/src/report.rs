//! Results: one [`Row`] per workload, printed as a markdown table and written
//! as JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// What a figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds per run (lower is better).
    Ms,
    /// Microseconds per call (lower is better).
    Us,
    /// Operations per second (higher is better).
    OpsPerSec,
    /// MiB hashed per second (higher is better).
    MibPerSec,
    /// MiB of memory (lower is better).
    Mib,
}

/// A median over the rounds, with what produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Who ran it: `wpool`, `native`, `1 worker`, …
    pub name: String,
    /// The median.
    pub median: f64,
    /// Its unit.
    pub unit: Unit,
    /// Every round's figure, in order.
    pub rounds: Vec<f64>,
}

impl Figure {
    /// Summarises one side's per-round figures.
    pub fn new(name: impl Into<String>, unit: Unit, rounds: Vec<f64>) -> Self {
        Figure {
            name: name.into(),
            median: median(&rounds),
            unit,
            rounds,
        }
    }
}

/// The bar a workload is held to.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "op", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// The checked figure must be at most this.
    AtMost(f64),
    /// The checked figure must be at least this.
    AtLeast(f64),
    /// Reported for information only.
    Info,
}

impl Target {
    fn met(self, value: f64) -> Option<bool> {
        match self {
            Target::AtMost(limit) => Some(value <= limit),
            Target::AtLeast(limit) => Some(value >= limit),
            Target::Info => None,
        }
    }
}

/// Which figure the target applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checked {
    /// The ratio column, a ratio or a speedup.
    Ratio,
    /// The ratio column, holding a difference (in the figures' unit).
    Difference,
    /// wpool's own median.
    Wpool,
}

/// One workload's outcome: wpool against its baseline, measured in the same
/// run, and whether it met its target.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What ran, e.g. `heavy_calc(50M), 1 worker`.
    pub workload: String,
    /// wpool's figure.
    pub wpool: Figure,
    /// The baseline's figure.
    pub baseline: Figure,
    /// The compared quantity: see `ratio_kind`.
    pub ratio: f64,
    /// What `ratio` is: `wasm/native`, `speedup`, `fresh - reuse (us)`, …
    pub ratio_kind: String,
    /// The bar.
    pub target: Target,
    /// Which figure the bar applies to.
    pub checked: Checked,
    /// How the target reads in the table, e.g. `≤ 1.10×`.
    pub target_text: String,
    /// Whether it was met (`None` for information-only and skipped rows).
    pub met: Option<bool>,
    /// Why the baseline could not be measured here (the row is then
    /// information only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Row {
    /// A row whose target applies to `ratio`.
    pub fn ratio(
        workload: impl Into<String>,
        wpool: Figure,
        baseline: Figure,
        ratio: f64,
        ratio_kind: &str,
        target: Target,
        target_text: impl Into<String>,
    ) -> Self {
        Row {
            workload: workload.into(),
            wpool,
            baseline,
            ratio,
            ratio_kind: ratio_kind.into(),
            met: target.met(ratio),
            target,
            checked: Checked::Ratio,
            target_text: target_text.into(),
            skipped: None,
        }
    }

    /// [`Row::ratio`] of the two medians, wpool's over the baseline's (for
    /// figures where lower is better: times, CPU time).
    pub fn over(
        workload: impl Into<String>,
        wpool: &Figure,
        baseline: &Figure,
        ratio_kind: &str,
        target: Target,
        target_text: impl Into<String>,
    ) -> Self {
        Row::ratio(
            workload,
            wpool.clone(),
            baseline.clone(),
            wpool.median / baseline.median,
            ratio_kind,
            target,
            target_text,
        )
    }

    /// A row whose baseline could not run here: shown, never checked.
    pub fn skipped(
        workload: impl Into<String>,
        wpool: Figure,
        baseline: &str,
        reason: impl Into<String>,
        target_text: impl Into<String>,
    ) -> Self {
        let unit = wpool.unit;
        Row {
            workload: workload.into(),
            wpool,
            baseline: Figure::new(baseline, unit, Vec::new()),
            ratio: f64::NAN,
            ratio_kind: String::new(),
            target: Target::Info,
            checked: Checked::Ratio,
            target_text: target_text.into(),
            met: None,
            skipped: Some(reason.into()),
        }
    }

    /// A row whose target applies to `difference`, in microseconds (shown in
    /// the ratio column).
    pub fn difference(
        workload: impl Into<String>,
        wpool: Figure,
        baseline: Figure,
        difference: f64,
        kind: &str,
        target: Target,
        target_text: impl Into<String>,
    ) -> Self {
        Row {
            checked: Checked::Difference,
            ..Row::ratio(
                workload,
                wpool,
                baseline,
                difference,
                kind,
                target,
                target_text,
            )
        }
    }

    /// A row whose target applies to wpool's own median; `ratio` is
    /// wpool / baseline for context.
    pub fn absolute(
        workload: impl Into<String>,
        wpool: Figure,
        baseline: Figure,
        target: Target,
        target_text: impl Into<String>,
    ) -> Self {
        let ratio = wpool.median / baseline.median;
        Row {
            workload: workload.into(),
            met: target.met(wpool.median),
            ratio,
            ratio_kind: format!("wpool/{}", baseline.name),
            wpool,
            baseline,
            target,
            checked: Checked::Wpool,
            target_text: target_text.into(),
            skipped: None,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A figure with its unit, e.g. `93.4 ms`, `1.23 M/s`.
pub fn show(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if value >= 10_000.0 => format!("{:.2} s", value / 1e3),
        Unit::Ms => format!("{value:.1} ms"),
        Unit::Us => format!("{value:.2} µs"),
        Unit::OpsPerSec if value >= 1e6 => format!("{:.2} M/s", value / 1e6),
        Unit::OpsPerSec if value >= 1e3 => format!("{:.0} k/s", value / 1e3),
        Unit::OpsPerSec => format!("{value:.0}/s"),
        Unit::MibPerSec => format!("{value:.0} MiB/s"),
        Unit::Mib => format!("{value:.1} MiB"),
    }
}

fn show_ratio(row: &Row) -> String {
    if row.checked == Checked::Difference {
        match row.wpool.unit {
            Unit::Ms => format!("{:+.1} ms ({})", row.ratio, row.ratio_kind),
            _ => format!("{:+.2} µs ({})", row.ratio, row.ratio_kind),
        }
    } else {
        format!("{:.3}× ({})", row.ratio, row.ratio_kind)
    }
}

/// The markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| workload | wpool (median) | baseline (median) | ratio | target | verdict |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for row in rows {
        let verdict = match (row.met, &row.skipped) {
            (_, Some(_)) => "⏭ skipped",
            (Some(true), _) => "✅ met",
            (Some(false), _) => "❌ MISS",
            (None, _) => "ℹ️ info",
        };
        if let Some(reason) = &row.skipped {
            let _ = writeln!(
                out,
                "| {} | {} | {}: {} | — | {} | {} |",
                row.workload,
                show(row.wpool.median, row.wpool.unit),
                row.baseline.name,
                reason.replace('|', "/").replace('\n', " "),
                row.target_text,
                verdict,
            );
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} ({}) | {} | {} | {} |",
            row.workload,
            show(row.wpool.median, row.wpool.unit),
            show(row.baseline.median, row.baseline.unit),
            row.baseline.name,
            show_ratio(row),
            row.target_text,
            verdict,
        );
    }
    out
}

/// How wpool's medians moved since an earlier `results.json`, workload by
/// workload (those in both runs), as a markdown table.
pub fn compare(earlier: &serde_json::Value, rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| workload | earlier | now | change |\n|---|---|---|---|\n");
    let earlier_rows = earlier["results"].as_array().cloned().unwrap_or_default();
    for row in rows {
        let Some(before) = earlier_rows
            .iter()
            .find(|r| r["workload"].as_str() == Some(row.workload.as_str()))
            .and_then(|r| r["wpool"]["median"].as_f64())
        else {
            continue;
        };
        let now = row.wpool.median;
        let change = (now / before - 1.0) * 100.0;
        let better = match row.wpool.unit {
            Unit::OpsPerSec | Unit::MibPerSec => change > 0.0,
            _ => change < 0.0,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change:+.1}% ({}) |",
            row.workload,
            show(before, row.wpool.unit),
            show(now, row.wpool.unit),
            if change.abs() < 0.05 {
                "same"
            } else if better {
                "better"
            } else {
                "worse"
            },
        );
    }
    out
}

/// What `results.json` holds.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Rounds per workload.
    pub rounds: usize,
    /// Whether `--quick` sizes were used.
    pub quick: bool,
    /// Worker threads in the multi-worker pool (available parallelism).
    pub workers: usize,
    /// Wall-clock time of the whole run, in seconds.
    pub seconds: f64,
    /// One entry per workload.
    pub results: &'a [Row],
}

/// Writes the report as pretty JSON, creating the directory.
pub fn write_json(path: &Path, report: &Report<'_>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, json + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reads_an_earlier_report() {
        let row = Row::ratio(
            "x",
            Figure::new("wpool", Unit::Ms, vec![90.0]),
            Figure::new("native", Unit::Ms, vec![80.0]),
            1.125,
            "wasm/native",
            Target::Info,
            "info",
        );
        let earlier = serde_json::json!({
            "results": [{ "workload": "x", "wpool": { "median": 100.0 } }]
        });
        let table = compare(&earlier, &[row]);
        assert!(
            table.contains("| x | 100.0 ms | 90.0 ms | -10.0% (better) |"),
            "{table}"
        );
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn targets_are_inclusive() {
        assert_eq!(Target::AtMost(1.1).met(1.1), Some(true));
        assert_eq!(Target::AtLeast(1.85).met(1.84), Some(false));
        assert_eq!(Target::Info.met(0.0), None);
    }
}
