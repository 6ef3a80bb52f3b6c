//! (F) Byte-heavy calls, dynamic against typed: `crypto/gzip` of 1 MiB made
//! through `Pool::submit` (dynamic `Value`s) and through a job file run by
//! the release `wpool`, against the same call made typed (`Pool::call`), all
//! three interleaved in the same run; and `etl/transform` (dynamic and
//! through a job file against typed), whose `query`
//! record beside the bytes is one of the built-in records the dynamic call
//! makes typed (before, such a call went through `Val`s: 2.8× typed).
//!
//! The job-file side is a whole process (start-up with a warm compile cache,
//! reading the input files, writing JSON lines), as a user runs it; the
//! typed side is the same calls in an already started pool with the same
//! number of workers.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures::{StreamExt, TryStreamExt};
use wpool::wasmtime::component::{ComponentType, Lower};
use wpool::{Guest, LoadedGuest, Pool, Value};

use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side};
use crate::versus::hex;
use crate::workloads::{Bench, millis};

/// Bytes of each input.
const INPUT: usize = 1 << 20;
/// The gzip level, as `args = [6]` in the job file.
const LEVEL: u8 = 6;

/// The `etl` guest's `query` record, for the typed call.
#[derive(ComponentType, Lower)]
#[component(record)]
#[component(wasmtime_crate = wpool::wasmtime)]
struct Query {
    filter: Vec<String>,
    columns: Vec<String>,
    #[component(name = "group-by")]
    group_by: Option<String>,
    measure: Option<String>,
    format: String,
}

/// Up to `len` bytes of sales CSV (the `etl` example's columns) in whole
/// lines: repetitive enough for gzip to shrink it several times over, varied
/// enough not to be trivial.
fn sales_csv(len: usize) -> Vec<u8> {
    const REGIONS: [&str; 4] = ["North", "East", "South", "West"];
    const PRODUCTS: [&str; 6] = [
        "\"Cable, 2 m\"",
        "\"Gizmo, deluxe\"",
        "Widget",
        "Sprocket",
        "\"Adapter, USB-C\"",
        "Desk lamp",
    ];
    let mut out = String::from("date,region,product,units,price\n");
    let mut state: u64 = 0x5eed;
    let mut line = String::new();
    loop {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = state >> 16;
        line.clear();
        let _ = writeln!(
            line,
            "2024-{:02}-{:02},{},{},{},{}.{:02}",
            r % 12 + 1,
            (r >> 4) % 28 + 1,
            REGIONS[((r >> 9) % 4) as usize],
            PRODUCTS[((r >> 11) % 6) as usize],
            (r >> 14) % 20 + 1,
            (r >> 19) % 200 + 1,
            (r >> 27) % 100,
        );
        if out.len() + line.len() > len {
            return out.into_bytes();
        }
        out.push_str(&line);
    }
}

/// A job file gzipping every `in/*.csv` at [`LEVEL`] on `workers` workers,
/// writing JSON lines to `out`.
/// A job calling `guest`'s `call` on every input file, `args` after it.
fn job_text(workers: usize, out: &Path, guest: &str, call: &str, args: &str) -> String {
    format!(
        "[pool]\nworkers = {workers}\ntimeout = \"120s\"\n\n\
         [[task]]\nguest = \"{guest}\"\ncall = \"{call}\"\n\
         each = {{ files = \"in/*.csv\" }}\nargs = {args}\n\n\
         [output]\nformat = \"jsonl\"\norder = \"input\"\npath = \"{}\"\n",
        out.display()
    )
}

/// Runs `job` as a whole `wpool run` (compile cache `cache`): its
/// milliseconds, once `out` holds `count` records of `expected`.
fn run_job(
    wpool_bin: &Path,
    job: &Path,
    cache: &Path,
    out: &Path,
    count: usize,
    expected: &str,
) -> Result<f64> {
    let start = Instant::now();
    let status = Command::new(wpool_bin)
        .arg("run")
        .arg(job)
        .env("WPOOL_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run `{}`", wpool_bin.display()))?;
    let ms = millis(start.elapsed());
    ensure!(status.success(), "`wpool run` failed: {status}");
    check_records(&std::fs::read_to_string(out)?, count, expected)?;
    Ok(ms)
}

/// Checks a job's JSON lines: `count` records, each ok with the string
/// `expected` (gzip's bytes as hex, or etl's text).
fn check_records(text: &str, count: usize, expected: &str) -> Result<()> {
    let mut seen = 0;
    for line in text.lines() {
        let record: serde_json::Value =
            serde_json::from_str(line).context("`wpool run` wrote a line that is not JSON")?;
        ensure!(
            record["ok"] == true,
            "a `wpool run` task failed: {}",
            record["error"]
        );
        ensure!(
            record["value"].as_str() == Some(expected),
            "`wpool run` task {} gave another value than the typed call",
            record["task"]
        );
        seen += 1;
    }
    ensure!(seen == count, "`wpool run` wrote {seen} of {count} records");
    Ok(())
}

impl Bench {
    /// Calls kept in flight by the library sides: enough that no worker
    /// waits for its next task.
    fn byte_calls_in_flight(&self) -> usize {
        2 * self.settings.workers
    }

    /// Runs `count` calls made by `call`, [`Bench::byte_calls_in_flight`] at
    /// a time, checking each result; returns the milliseconds they took.
    fn batch<F, Fut, T>(
        &self,
        count: usize,
        call: F,
        check: impl Fn(T) -> Result<()>,
    ) -> Result<f64>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T, wpool::TaskError>>,
    {
        let start = Instant::now();
        let results: Vec<T> = self.single.block_on(
            futures::stream::iter(0..count)
                .map(call)
                .buffered(self.byte_calls_in_flight())
                .try_collect(),
        )?;
        let ms = millis(start.elapsed());
        ensure!(results.len() == count, "{} of {count} calls", results.len());
        results.into_iter().try_for_each(check)?;
        Ok(ms)
    }

    /// (F) gzip of 1 MiB, dynamic and through a job file, against typed;
    /// `etl/transform` of 1 MiB, dynamic against typed, for contrast.
    pub fn byte_calls(&self, wpool_bin: &Path) -> Result<Vec<Row>> {
        let count = if self.settings.quick { 8 } else { 20 };
        let workers = self.settings.workers;
        let load = |pool: &Pool, name: &str| -> Result<LoadedGuest> {
            pool.load(Guest::builtin(name))
                .with_context(|| format!("cannot load `{name}`"))
        };
        let (crypto, etl) = (load(&self.many, "crypto")?, load(&self.many, "etl")?);
        let data = sales_csv(INPUT);

        // The expected output, from one typed call.
        let gzipped = self
            .single
            .block_on(self.many.call::<(Vec<u8>, u8), Vec<u8>>(
                &crypto,
                "gzip",
                (data.clone(), LEVEL),
            ))?;
        ensure!(
            gzipped.starts_with(&[0x1f, 0x8b]),
            "`crypto/gzip` returned no gzip stream"
        );
        let gzipped_hex = hex(&gzipped);

        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        std::fs::create_dir(dir.path().join("in"))?;
        for i in 0..count {
            std::fs::write(dir.path().join(format!("in/{i:03}.csv")), &data)?;
        }
        let out = dir.path().join("out.jsonl");
        let job = dir.path().join("gzip.toml");
        std::fs::write(
            &job,
            job_text(workers, &out, "crypto", "gzip", &format!("[{LEVEL}]")),
        )?;
        let cache = dir.path().join("cache");

        let typed = || {
            self.batch(
                count,
                |_| {
                    self.many
                        .call::<(Vec<u8>, u8), Vec<u8>>(&crypto, "gzip", (data.clone(), LEVEL))
                },
                |got| {
                    ensure!(got == gzipped, "a typed gzip differs");
                    Ok(())
                },
            )
        };
        let dynamic = || {
            self.batch(
                count,
                |_| self.many.submit(&crypto, "gzip", (data.clone(), LEVEL)),
                |out| {
                    ensure!(
                        out.value.as_bytes() == Some(&gzipped[..]),
                        "a dynamic gzip differs from the typed one"
                    );
                    Ok(())
                },
            )
        };
        let job_file = || run_job(wpool_bin, &job, &cache, &out, count, &gzipped_hex);
        let measured = sides::run(
            self.settings.rounds,
            vec![Side::new(typed), Side::new(dynamic), Side::new(job_file)],
        )?;
        let mut measured = measured.into_iter();
        let mut next = |name: &str| match measured.next().context("a side")? {
            Measured::Rounds(r) => Ok(Figure::new(name, Unit::Ms, r)),
            Measured::Skipped(reason) => Err(anyhow::anyhow!("{name} skipped: {reason}")),
        };
        let typed = next("typed call")?;
        let dynamic = next("dynamic submit")?;
        let job_file = next("`wpool run`")?;
        let (dynamic_ratio, job_ratio) = (
            dynamic.median / typed.median,
            job_file.median / typed.median,
        );
        let gzip = format!(
            "F. crypto/gzip of 1 MiB of CSV, level {LEVEL}, {count} tasks, {workers} workers"
        );
        let mut rows = vec![
            Row::ratio(
                format!("{gzip}, dynamic submit vs typed call"),
                dynamic.clone(),
                typed.clone(),
                dynamic_ratio,
                "dynamic/typed",
                Target::AtMost(1.20),
                "≤ 1.20×",
            ),
            Row::ratio(
                format!("{gzip}, job file (`wpool run`, warm cache) vs typed call"),
                job_file.clone(),
                typed,
                job_ratio,
                "job file/typed",
                Target::AtMost(1.20),
                "≤ 1.20×",
            ),
        ];

        // Bytes and a record: a built-in record signature, made typed.
        let query = || Query {
            filter: vec!["units >= 3".to_owned()],
            columns: Vec::new(),
            group_by: Some("region".to_owned()),
            measure: Some("price".to_owned()),
            format: "json".to_owned(),
        };
        let query_value = Value::Map(vec![
            (
                "filter".to_owned(),
                Value::List(vec![Value::from("units >= 3")]),
            ),
            ("columns".to_owned(), Value::List(Vec::new())),
            ("group-by".to_owned(), Value::from("region")),
            ("measure".to_owned(), Value::from("price")),
            ("format".to_owned(), Value::from("json")),
        ]);
        let expected = self
            .single
            .block_on(self.many.call::<(Vec<u8>, Query), Result<String, String>>(
                &etl,
                "transform",
                (data.clone(), query()),
            ))?
            .map_err(|e| anyhow::anyhow!("`etl/transform` failed: {e}"))?;
        let typed = || {
            self.batch(
                count,
                |_| {
                    self.many.call::<(Vec<u8>, Query), Result<String, String>>(
                        &etl,
                        "transform",
                        (data.clone(), query()),
                    )
                },
                |got| {
                    ensure!(got.as_ref() == Ok(&expected), "a typed transform differs");
                    Ok(())
                },
            )
        };
        let dynamic = || {
            self.batch(
                count,
                |_| {
                    self.many.submit(
                        &etl,
                        "transform",
                        vec![Value::Bytes(data.clone()), query_value.clone()],
                    )
                },
                |out| {
                    ensure!(
                        out.value.as_str() == Some(expected.as_str()),
                        "a dynamic transform differs from the typed one"
                    );
                    Ok(())
                },
            )
        };
        // The same calls from a job file, as a user runs them.
        let etl_out = dir.path().join("etl.jsonl");
        let etl_job = dir.path().join("etl.toml");
        std::fs::write(
            &etl_job,
            job_text(
                workers,
                &etl_out,
                "etl",
                "transform",
                "[{ filter = [\"units >= 3\"], columns = [], group-by = \"region\", \
                 measure = \"price\", format = \"json\" }]",
            ),
        )?;
        let etl_job_file = || run_job(wpool_bin, &etl_job, &cache, &etl_out, count, &expected);
        let [
            Measured::Rounds(typed),
            Measured::Rounds(dynamic),
            Measured::Rounds(job_file),
        ] = <[Measured; 3]>::try_from(sides::run(
            self.settings.rounds,
            vec![
                Side::new(typed),
                Side::new(dynamic),
                Side::new(etl_job_file),
            ],
        )?)
        .map_err(|_| anyhow::anyhow!("three sides"))?
        else {
            anyhow::bail!("a side was skipped");
        };
        let typed = Figure::new("typed call", Unit::Ms, typed);
        let dynamic = Figure::new("dynamic submit", Unit::Ms, dynamic);
        let job_file = Figure::new("`wpool run`", Unit::Ms, job_file);
        rows.push(Row::ratio(
            format!(
                "F. etl/transform of 1 MiB of CSV and a `query` record, \
                 {count} tasks, {workers} workers, dynamic submit vs typed call"
            ),
            dynamic.clone(),
            typed.clone(),
            dynamic.median / typed.median,
            "dynamic/typed",
            Target::AtMost(1.20),
            "≤ 1.20×",
        ));
        rows.push(Row::over(
            format!(
                "F. etl/transform of 1 MiB of CSV and a `query` record, \
                 {count} tasks, {workers} workers, job file (`wpool run`, warm cache) \
                 vs typed call"
            ),
            &job_file,
            &typed,
            "job file/typed",
            // A whole process for ~200 ms of compute: start-up (~11 ms, E)
            // and each worker's first, cold task weigh here as they do not
            // beside gzip's ~600 ms.
            Target::Info,
            "info",
        ));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_csv_is_whole_lines_within_the_size() {
        let csv = sales_csv(INPUT);
        assert!(
            csv.len() <= INPUT && csv.len() > INPUT - 64,
            "{}",
            csv.len()
        );
        assert!(csv.ends_with(b"\n"));
        let text = String::from_utf8(csv).unwrap();
        assert!(text.lines().skip(1).all(|l| l.starts_with("2024-")));
    }
}
