//! End-to-end tests of the `wpool` binary: real guests, real job files, a
//! real HTTP server on loopback.

mod examples; // the shipped examples run and give the seed's results
mod fetch; // HTTP sources: errors, timeouts, retries, caps, and fetch/compute overlap
mod fuzz; // property tests: the job-file parser never panics
mod hostile; // hostile guests beside good ones, grants, broken modules, lazy range inputs
mod inspect; // `wpool inspect`, `wpool guests`, and the compile cache across processes
mod interrupt; // SIGINT/SIGTERM: stop dispatching, grace period, exit 130; a second signal stops at once
mod job_errors; // malformed job files, in-process one test each; a smoke test of exit 2
mod python_component; // components from Python source (componentize-py): the seed's functions vs CPython
mod python_script; // Python script guests: a .py file's functions in CPython for WASI
mod records; // result records: formats, order, output file, exit status on failures, closed pipes
mod reduce; // `reduce` + `report`, `save`, atomic output files
mod scaffold; // `wpool new`: the generated crate tests, builds and runs in its job
mod scripted; // a loopback HTTP server with scripted replies: stalled bodies, `Retry-After`
mod usecases; // the use-case examples: crypto, ETL, images, scraping

use std::path::{Path, PathBuf};

use wpool_tests::cli::{Cmd, Run};

/// The `wpool` binary, with the tests' shared compile cache and no colour.
pub(crate) fn wpool() -> Cmd {
    Cmd::new(env!("CARGO_BIN_EXE_wpool"))
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .env("NO_COLOR", "1")
}

/// The repository's root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes `text` to `name` in `dir` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Lowercase hex SHA-256, computed natively.
pub(crate) fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A job file in `dir` whose `[guests]` names the hostile test guest, then `body`.
pub(crate) fn hostile_job(dir: &Path, name: &str, body: &str) -> PathBuf {
    let guests = format!(
        "[guests]\nhostile = \"{}\"\n\n",
        wpool_tests::guest_path("hostile").display()
    );
    write(dir, name, &format!("{guests}{body}"))
}

/// Runs `wpool run --format jsonl JOB`.
pub(crate) fn run_job(job: &Path) -> Run {
    wpool().args(["run", "--format", "jsonl"]).arg(job).run()
}

/// Runs `wpool run --format jsonl JOB`, expects `status`, returns the records.
pub(crate) fn run_jsonl(job: &Path, status: i32) -> Vec<serde_json::Value> {
    run_job(job).status(status).json_lines()
}

/// The string `key` of every record.
pub(crate) fn column<'a>(records: &'a [serde_json::Value], key: &str) -> Vec<&'a str> {
    (records.iter())
        .map(|r| {
            r[key]
                .as_str()
                .unwrap_or_else(|| panic!("no string `{key}` in {r}"))
        })
        .collect()
}
