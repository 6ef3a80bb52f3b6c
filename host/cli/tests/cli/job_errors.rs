//! Malformed job files, checked in-process against the parser, the
//! validator and the plan (one test per case, so one failure hides none of
//! the rest), plus one smoke test that the binary exits 2 on one of them.

use std::path::{Path, PathBuf};

use wpool_cli::job::{Job, JobError};
use wpool_cli::plan::{self, PlanError};

use crate::wpool;

/// The first problem `wpool run` would report for the job at `path` (with
/// `text`, if given, instead of the file's contents).
fn first_error(path: &Path, text: Option<&str>) -> JobError {
    let builtins: Vec<&str> = wpool::Guest::builtins().collect();
    let job = match text {
        Some(text) => Job::parse(path, text, &builtins),
        None => Job::load(path, &builtins),
    };
    let job = match job {
        Ok(job) => job,
        Err(e) => return e,
    };
    let builder = wpool::Pool::builder()
        .workers(1)
        .cache_dir(wpool_tests::cache_dir());
    match plan::build(&job, &plan::Overrides::default(), builder) {
        Ok(_) => panic!("{}: the job is valid", path.display()),
        Err(PlanError::Job(e)) => e,
        Err(other) => panic!("{}: not a job error: {other:?}", path.display()),
    }
}

/// Asserts that `error` is at `location` (`LINE:COL`) and says `message`.
fn assert_error(error: &JobError, path: &Path, location: &str, message: &str) {
    let shown = error.to_string();
    let wanted = format!("{}:{location}: ", path.display());
    assert!(
        shown.starts_with(&wanted) && shown.contains(message),
        "expected `{wanted}…{message}…`, got `{shown}`"
    );
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_jobs")
}

/// A file in `tests/bad_jobs/` fails at the line, column and message given
/// by its first line: `# expect: LINE:COL MESSAGE`.
fn check_bad_job(name: &str) {
    let path = corpus().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let expect = (text.lines().next())
        .and_then(|l| l.strip_prefix("# expect: "))
        .expect("an `# expect:` line");
    let (location, message) = expect.split_once(' ').unwrap_or((expect, ""));
    assert_error(&first_error(&path, None), &path, location, message);
}

macro_rules! bad_jobs {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_bad_job($file);
            }
        )*

        /// Every file of the corpus has its test above.
        #[test]
        fn every_bad_job_file_has_a_test() {
            let mut files: Vec<String> = std::fs::read_dir(corpus())
                .unwrap()
                .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".toml").map(str::to_owned))
                .collect();
            files.sort();
            let mut listed = vec![$($file),*];
            listed.sort();
            assert_eq!(files, listed);
        }
    };
}

bad_jobs! {
    bad_01_syntax_unclosed_string => "01-syntax-unclosed-string",
    bad_02_syntax_missing_equals => "02-syntax-missing-equals",
    bad_03_unknown_top_level_key => "03-unknown-top-level-key",
    bad_04_unknown_pool_key => "04-unknown-pool-key",
    bad_05_unknown_task_key => "05-unknown-task-key",
    bad_06_unknown_fetch_key => "06-unknown-fetch-key",
    bad_07_unknown_output_key => "07-unknown-output-key",
    bad_08_unknown_guest_table_key => "08-unknown-guest-table-key",
    bad_09_workers_string => "09-workers-string",
    bad_10_duration_parsecs => "10-duration-parsecs",
    bad_11_duration_negative => "11-duration-negative",
    bad_12_size_zettabytes => "12-size-zettabytes",
    bad_13_workers_zero => "13-workers-zero",
    bad_14_instance_unknown => "14-instance-unknown",
    bad_15_task_missing_guest => "15-task-missing-guest",
    bad_16_task_missing_call => "16-task-missing-call",
    bad_17_task_args_and_each => "17-task-args-and-each",
    bad_18_each_unknown_source => "18-each-unknown-source",
    bad_19_each_undefined_fetch => "19-each-undefined-fetch",
    bad_20_duplicate_fetch_name => "20-duplicate-fetch-name",
    bad_21_fetch_empty_urls => "21-fetch-empty-urls",
    bad_22_fetch_url_not_http => "22-fetch-url-not-http",
    bad_23_fetch_concurrency_zero => "23-fetch-concurrency-zero",
    bad_24_output_format_unknown => "24-output-format-unknown",
    bad_25_output_order_unknown => "25-output-order-unknown",
    bad_26_status_out_of_range => "26-status-out-of-range",
    bad_27_guest_path_empty => "27-guest-path-empty",
    bad_28_unknown_guest => "28-unknown-guest",
    bad_29_no_tasks => "29-no-tasks",
    bad_30_size_negative_integer => "30-size-negative-integer",
    bad_31_duration_not_a_string => "31-duration-not-a-string",
    bad_32_each_two_sources => "32-each-two-sources",
    bad_33_unknown_dir_grant_key => "33-unknown-dir-grant-key",
    bad_34_columns_count_chars => "34-columns-count-chars",
    bad_35_guest_shadows_builtin => "35-guest-shadows-builtin",
    bad_36_fetch_missing_urls => "36-fetch-missing-urls",
    bad_37_syntax_duplicate_key => "37-syntax-duplicate-key",
    bad_38_size_decimal => "38-size-decimal",
    bad_39_task_not_array => "39-task-not-array",
    bad_40_empty_call => "40-empty-call",
    bad_41_guest_dir_missing => "41-guest-dir-missing",
    bad_42_guest_dir_unknown_guest => "42-guest-dir-unknown-guest",
    bad_43_guest_unknown_builtin => "43-guest-unknown-builtin",
    bad_44_guest_path_and_builtin => "44-guest-path-and-builtin",
    bad_45_guest_no_path => "45-guest-no-path",
    bad_46_report_without_reduce => "46-report-without-reduce",
    bad_47_reduce_wrong_signature => "47-reduce-wrong-signature",
    bad_48_reduce_unknown_function => "48-reduce-unknown-function",
    bad_49_report_wrong_signature => "49-report-wrong-signature",
    bad_50_fetch_header_name_invalid => "50-fetch-header-name-invalid",
    bad_51_fetch_header_value_invalid => "51-fetch-header-value-invalid",
    bad_52_fetch_url_invalid => "52-fetch-url-invalid",
    bad_53_unknown_function_suggestion => "53-unknown-function-suggestion",
}

/// Jobs whose problems need the guest's signature or the file system, as
/// (test, job text, `LINE:COL` and message).
macro_rules! bad_plans {
    ($($test:ident => ($text:expr, $location:literal, $message:expr),)*) => {
        $(
            #[test]
            fn $test() {
                let path = Path::new("job.toml");
                let text: String = $text.into();
                assert_error(&first_error(path, Some(&text)), path, $location, &$message);
            }
        )*
    };
}

/// A job calling the `echo` test guest's `checked-div(a: s64, b: s64)`.
fn echo_job(body: &str) -> String {
    let guest = wpool_tests::guest_path("echo");
    format!("[guests]\necho = \"{}\"\n\n{body}", guest.display())
}

bad_plans! {
    unknown_function => (
        "[[task]]\nguest = \"sha256\"\ncall = \"sha\"\nargs = [\"x\"]\n",
        "3:8",
        "guest `sha256` has no function `sha`; it exports `digest`, `hex`"
    ),
    argument_of_the_wrong_type => (
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\nargs = [\"fifty\"]\n",
        "4:8",
        "argument `n`: expected u64, found a string"
    ),
    item_out_of_range => (
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [1, 2, -3]\n",
        "4:8",
        "item 2: argument `n`: -3 is out of range for u64"
    ),
    too_many_arguments => (
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\nargs = [1, 2]\n",
        "4:8",
        "`heavy-calc` takes 1 argument (func(n: u64) -> u64), got 2"
    ),
    file_bytes_for_an_integer => (
        "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { files = \"*.nothing\" }\n",
        "4:8",
        "with a file's bytes as the first argument: argument `n`: expected u64, found bytes"
    ),
    glob_matching_nothing => (
        "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = { files = \"missing/*.txt\" }\n",
        "4:8",
        "`missing/*.txt` matches no files"
    ),
    guest_file_missing => (
        "[guests]\nmine = \"nope.wasm\"\n\n[[task]]\nguest = \"mine\"\ncall = \"f\"\n",
        "2:8",
        "cannot read guest `"
    ),
    // `end - start` overflows an i64: the count is computed in 128 bits, and
    // 2^64 - 1 inputs plus a reduce record's index do not fit a usize.
    range_of_every_i64 => (
        echo_job("[[task]]\nguest = \"echo\"\ncall = \"checked-div\"\neach = { range = [-9223372036854775808, 9223372036854775807] }\nargs = [1]\n"),
        "8:8",
        "this task's inputs, with the tasks before it, are too many to count"
    ),
    // The first value fits `s32`, the last does not: caught before anything
    // runs, not as failed tasks.
    range_past_the_parameter_type => (
        echo_job("[[task]]\nguest = \"echo\"\ncall = \"add\"\neach = { range = [2147483640, 2147483650] }\nargs = [1]\n"),
        "8:8",
        "with the range's last integer (2147483649) as the first argument: argument `a`: 2147483649 is out of range for s32"
    ),
    range_counts_add_up => (
        echo_job("[[task]]\nguest = \"echo\"\ncall = \"checked-div\"\neach = { range = [0, 9223372036854775807] }\nargs = [1]\n\n[[task]]\nguest = \"echo\"\ncall = \"checked-div\"\neach = { range = [0, 9223372036854775807] }\nargs = [2]\n"),
        "14:8",
        "are too many to count"
    ),
}

/// The binary says where the problem is, exits 2, and runs nothing.
#[test]
fn a_bad_job_file_is_exit_2() {
    let path = corpus().join("28-unknown-guest.toml");
    let run = wpool().arg("run").arg(&path).run().status(2);
    let wanted = format!("error: {}:10:9: unknown guest `sha265`", path.display());
    assert!(run.stderr.starts_with(&wanted), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
}

#[test]
fn missing_job_file_is_exit_2() {
    wpool()
        .args(["run", "/no/such/job.toml"])
        .run()
        .status(2)
        .stderr_contains("/no/such/job.toml:1:1: cannot read job file");
}

#[test]
fn usage_errors_are_exit_2() {
    wpool()
        .args(["run"])
        .run()
        .status(2)
        .stderr_contains("Usage");
    wpool().args(["frobnicate"]).run().status(2);
}
