//! Happy-path and location tests; malformed files live in `bad_jobs/`.

use std::time::Duration;

use super::*;

const BUILTINS: &[&str] = &["sha256", "heavy_calc"];

const FULL: &str = r#"
[pool]
workers = 2
timeout = "10s"
memory = "256MiB"
fuel = 1000000000
instance = "fresh"
output_limit = 16777216

[guests]
mine = "guests/mine.wasm"
other = { path = "x.wasm", dirs = [{ host = "data", guest = "/data", write = true }, { host = "/abs", guest = "/ro" }], env = { KEY = "v", A = "b" }, args = ["a"] }

[[fetch]]
name = "pages"
urls = ["http://127.0.0.1:8000/a.json", "HTTPS://example.com/b"]
concurrency = 4
timeout = "1.5s"
retries = 5
backoff = "250ms"
status = [200, 204]
max_body = "8MiB"
headers = { "User-Agent" = "wpool" }

[[fetch]]
name = "defaults"
urls = ["https://example.com/"]

[[task]]
name = "literal"
guest = "sha256"
call = "hex"
args = ["abc", 1, 2.5, true, [1, 2], { k = "v" }]
timeout = "2s"

[[task]]
guest = "mine"
call = "run"
each = [1, 2, 3]

[[task]]
guest = "other"
call = "run"
each = { values = ["x"] }

[[task]]
guest = "heavy_calc"
call = "sum"
each = { files = "data/*.txt" }
args = [7]

[[task]]
guest = "mine"
call = "parse"
each = { fetch = "pages" }

[output]
format = "jsonl"
path = "results.jsonl"
order = "completed"
"#;

#[test]
fn full_example() {
    let job = Job::parse(Path::new("jobs/full.toml"), FULL, BUILTINS).unwrap();
    assert_eq!(job.base_dir, Path::new("jobs"));

    let p = &job.pool;
    assert_eq!(p.workers, Some(2));
    assert_eq!(p.timeout, Some(Duration::from_secs(10)));
    assert_eq!(p.memory, Some(256 << 20));
    assert_eq!(p.fuel, Some(1_000_000_000));
    assert_eq!(p.instance, InstanceMode::Fresh);
    assert_eq!(p.output_limit, Some(16 << 20));

    let mine = &job.guests["mine"];
    assert_eq!(
        mine.source,
        GuestSource::File("jobs/guests/mine.wasm".into())
    );
    assert!(!mine.digest);
    assert_eq!(mine.span, Location { line: 11, col: 8 });
    let other = &job.guests["other"];
    assert_eq!(other.source, GuestSource::File("jobs/x.wasm".into()));
    assert_eq!(other.dirs.len(), 2);
    assert_eq!(other.dirs[0].host, Path::new("jobs/data"));
    assert_eq!(
        (other.dirs[0].guest.as_str(), other.dirs[0].write),
        ("/data", true)
    );
    assert_eq!(other.dirs[1].host, Path::new("/abs"));
    assert!(!other.dirs[1].write);
    let env: Vec<(&str, &str)> = other
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("A", "b"), ("KEY", "v")]);
    assert_eq!(other.args, ["a"]);

    let [pages, defaults] = &job.fetches[..] else {
        panic!("two fetches")
    };
    assert_eq!(pages.name, "pages");
    assert_eq!(pages.urls.len(), 2);
    assert_eq!(pages.concurrency, 4);
    assert_eq!(pages.timeout, Duration::from_millis(1500));
    assert_eq!(pages.retries, 5);
    assert_eq!(pages.backoff, Duration::from_millis(250));
    assert_eq!(pages.status, Some(vec![200, 204]));
    assert_eq!(pages.max_body, 8 << 20);
    assert_eq!(
        pages.headers,
        [("User-Agent".to_string(), "wpool".to_string())]
    );
    assert_eq!(pages.span, Location { line: 14, col: 1 });
    assert_eq!(defaults.concurrency, 16);
    assert_eq!(defaults.timeout, Duration::from_secs(30));
    assert_eq!(defaults.retries, 2);
    assert_eq!(defaults.backoff, Duration::from_millis(100));
    assert_eq!(defaults.status, None);
    assert_eq!(defaults.max_body, 64 << 20);
    assert!(defaults.headers.is_empty());

    let t = &job.tasks;
    assert_eq!(t.len(), 5);
    assert_eq!(
        t.iter().map(|t| t.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(t[0].name.as_deref(), Some("literal"));
    assert_eq!((t[0].guest.as_str(), t[0].call.as_str()), ("sha256", "hex"));
    assert_eq!(
        wpool::Value::List(t[0].args.clone()),
        wpool::Value::from(serde_json::json!(["abc", 1, 2.5, true, [1, 2], { "k": "v" }]))
    );
    assert!(t[0].each.is_none());
    assert_eq!(t[0].timeout, Some(Duration::from_secs(2)));
    assert_eq!(t[0].span, Location { line: 29, col: 1 });
    assert_eq!(t[0].guest_span, Location { line: 31, col: 9 });
    assert_eq!(t[0].call_span, Location { line: 32, col: 8 });
    assert_eq!(t[0].args_span, Location { line: 33, col: 8 });
    assert!(matches!(&t[1].each, Some(Each::Values(v)) if v.len() == 3));
    assert_eq!(t[1].args_span, Location { line: 39, col: 8 });
    assert!(matches!(&t[2].each, Some(Each::Values(v)) if v == &[wpool::Value::from("x")]));
    assert!(matches!(&t[3].each, Some(Each::Files(g)) if g == "data/*.txt"));
    assert_eq!(t[3].args, [wpool::Value::from(7u64)]);
    assert_eq!(t[3].args_span, Location { line: 50, col: 8 });
    assert!(matches!(&t[4].each, Some(Each::Fetch(f)) if f == "pages"));
    assert_eq!(t[4].timeout, None);

    assert_eq!(job.output.format, Some(Format::Jsonl));
    assert_eq!(job.output.path.as_deref(), Some(Path::new("results.jsonl")));
    assert_eq!(job.output.order, Order::Completed);
}

#[test]
fn minimal_defaults() {
    let text = "[[task]]\nguest = \"sha256\"\ncall = \"hex\"\n";
    let job = Job::parse(Path::new("job.toml"), text, BUILTINS).unwrap();
    assert_eq!(job.base_dir, Path::new("."));
    assert_eq!(job.pool.workers, None);
    assert_eq!(job.pool.instance, InstanceMode::Reuse);
    assert!(job.guests.is_empty() && job.fetches.is_empty());
    assert_eq!(job.output.format, None);
    assert_eq!(job.output.order, Order::Input);
    assert_eq!(job.tasks[0].args_span, job.tasks[0].span);
    // Sizes may also be plain TOML integers; inline task arrays work too.
    let text = "pool = { memory = 1024 }\ntask = [{ guest = \"sha256\", call = \"hex\" }]\n";
    let job = Job::parse(Path::new("job.toml"), text, BUILTINS).unwrap();
    assert_eq!(job.pool.memory, Some(1024));
    assert_eq!(job.tasks[0].span, Location { line: 2, col: 9 });
}

#[test]
fn locations_count_chars() {
    let text = "a\né = \"ü\"\r\nxyz";
    assert_eq!(Location::from_offset(text, 0), Location { line: 1, col: 1 });
    assert_eq!(Location::from_offset(text, 2), Location { line: 2, col: 1 });
    assert_eq!(
        Location::from_offset(text, text.find('"').unwrap()),
        Location { line: 2, col: 5 }
    );
    assert_eq!(
        Location::from_offset(text, text.find('ü').unwrap() + 1),
        Location { line: 2, col: 6 }
    );
    assert_eq!(
        Location::from_offset(text, text.len()),
        Location { line: 3, col: 4 }
    );
    assert_eq!(
        Location::from_offset(text, 999),
        Location { line: 3, col: 4 }
    );
}

#[test]
fn error_display_and_helpers() {
    let text = "[[task]]\nguest = \"sha265\"\ncall = \"hex\"\n";
    let err = Job::parse(Path::new("dir/j.toml"), text, BUILTINS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dir/j.toml:2:9: unknown guest `sha265`; expected one of `heavy_calc`, `sha256`; did you mean `sha256`?"
    );
    let err = Job::parse(Path::new("j.toml"), text, &[]).unwrap_err();
    assert!(err.message.contains("no guests are available"), "{err}");
    let err = JobError::at(Path::new("j.toml"), text, 10, "bad");
    assert_eq!((err.line, err.col), (2, 2));
    let err = Job::load(Path::new("/nonexistent/job.toml"), BUILTINS).unwrap_err();
    assert_eq!((err.line, err.col), (1, 1));
    assert!(
        err.message
            .starts_with("cannot read job file: no such file"),
        "{err}"
    );
}

#[test]
fn a_builtin_under_another_name_with_the_digest_grant() {
    let text = r#"
[guests]
fast = { builtin = "sha256", digest = true }

[[task]]
guest = "fast"
call = "hex"
args = ["abc"]
"#;
    let job = Job::parse(Path::new("j.toml"), text, BUILTINS).unwrap();
    let fast = &job.guests["fast"];
    assert_eq!(fast.source, GuestSource::Builtin("sha256".into()));
    assert!(fast.digest);
}
