use std::path::Path;

use crate::{wpool, write};

/// Every file in `tests/bad_jobs/` fails with exit 2 at the line, column and
/// message given by its first line: `# expect: LINE:COL MESSAGE`.
#[test]
fn malformed_job_files_point_at_the_problem() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_jobs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    paths.sort();
    assert!(paths.len() >= 20, "only {} bad job files", paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .expect("an `# expect:` line");
        let (location, message) = expect.split_once(' ').unwrap_or((expect, ""));
        let run = wpool().arg("run").arg(&path).run().status(2);
        let wanted = format!("error: {}:{location}: ", path.display());
        assert!(
            run.stderr.starts_with(&wanted),
            "{}: expected `{wanted}{message}`, got {}",
            path.display(),
            run.stderr
        );
        assert!(
            run.stderr.contains(message),
            "{}: expected `{message}` in {}",
            path.display(),
            run.stderr
        );
        assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
    }
}

/// Errors that need the guest's signature are found before anything runs too.
#[test]
fn calls_are_checked_against_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[task]]\nguest = \"sha256\"\ncall = \"sha\"\nargs = [\"x\"]\n",
            "3:8: guest `sha256` has no function `sha`; it exports `digest`, `hex`",
        ),
        (
            "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\nargs = [\"fifty\"]\n",
            "4:8: argument `n`: expected u64, found a string",
        ),
        (
            "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = [1, 2, -3]\n",
            "4:8: item 2: argument `n`: -3 is out of range for u64",
        ),
        (
            "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\nargs = [1, 2]\n",
            "4:8: `heavy-calc` takes 1 argument (func(n: u64) -> u64), got 2",
        ),
        (
            "[[task]]\nguest = \"heavy_calc\"\ncall = \"heavy-calc\"\neach = { files = \"*.nothing\" }\n",
            "4:8: with a file's bytes as the first argument: argument `n`: expected u64, found bytes",
        ),
        (
            "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\neach = { files = \"missing/*.txt\" }\n",
            "4:8: `missing/*.txt` matches no files",
        ),
        (
            "[guests]\nmine = \"nope.wasm\"\n\n[[task]]\nguest = \"mine\"\ncall = \"f\"\n",
            "2:8: cannot read guest `",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let job = write(dir.path(), &format!("job{i}.toml"), text);
        let run = wpool().arg("run").arg(&job).run().status(2);
        let wanted = format!("error: {}:{expected}", job.display());
        assert!(
            run.stderr.starts_with(&wanted),
            "case {i}: expected `{wanted}`, got {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
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
