//! Property tests: the job-file parser never panics, whatever it is given,
//! and its errors always point inside the file.

use proptest::prelude::*;
use wpool_cli::job::Job;

const VALID: &str = r#"
[pool]
workers = 2
timeout = "10s"
memory = "64MiB"

[guests]
mine = { path = "m.wasm", dirs = [{ host = "d", guest = "/d" }], env = { K = "v" } }

[[fetch]]
name = "pages"
urls = ["http://127.0.0.1:1/a"]
status = [200]

[[task]]
guest = "sha256"
call = "hex"
each = { fetch = "pages" }

[[task]]
guest = "mine"
call = "f"
args = [1, "two", [3.0], { four = 4 }]

[output]
format = "jsonl"
order = "completed"
"#;

const BUILTINS: &[&str] = &["heavy_calc", "sha256"];

fn check(text: &str) {
    let path = std::path::Path::new("fuzz.toml");
    if let Err(e) = Job::parse(path, text, BUILTINS) {
        let lines = text.split('\n').count().max(1);
        assert!(
            e.line >= 1 && e.line <= lines,
            "line {} of {lines}: {e}",
            e.line
        );
        assert!(e.col >= 1, "{e}");
        assert!(!e.message.is_empty() && !e.message.contains('\n'), "{e:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_valid_jobs_never_panic(cut in 0usize..VALID.len(), len in 0usize..40, insert in "[\\[\\]{}=\",.a-z0-9 \n#-]{0,12}") {
        let mut text = VALID.to_owned();
        let end = (cut + len).min(text.len());
        let (start, end) = (floor(&text, cut), floor(&text, end));
        text.replace_range(start..end, &insert);
        check(&text);
    }

    #[test]
    fn arbitrary_values_in_args_never_panic(args in proptest::collection::vec(".{0,20}", 0..5)) {
        let list = args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
        check(&format!("[[task]]\nguest = \"sha256\"\ncall = \"hex\"\nargs = [{list}]\n"));
    }
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn the_valid_job_parses() {
    Job::parse(std::path::Path::new("fuzz.toml"), VALID, BUILTINS).unwrap();
}
