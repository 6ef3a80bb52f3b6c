//! The built-in guests' record signatures are called through typed
//! functions, and give exactly what the `Val` path gives: same values,
//! same shapes, same errors. Real calls of the built-in guests on the
//! examples' data.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Guest, LoadedGuest, Pool, Value};

fn pool() -> Pool {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(60))
        .cache_dir(root.join("target/test-cache"))
        .build()
        .expect("pool builds")
}

fn data(path: &str) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data");
    Value::Bytes(std::fs::read(root.join(path)).expect("example data"))
}

fn json(text: &str) -> Value {
    serde_json::from_str::<serde_json::Value>(text)
        .unwrap()
        .into()
}

/// Loads built-in `name`, checks that `func` has a typed shape, and calls
/// it with each of `calls` through the typed function and through `Val`s.
async fn typed_and_vals(name: &str, func: &str, calls: Vec<Vec<Value>>) -> Vec<String> {
    let pool = pool();
    let typed: LoadedGuest = pool.load(Guest::builtin(name)).unwrap();
    let function = typed.inner.functions.iter().find(|f| f.name() == func);
    assert!(
        function.is_some_and(|f| f.fast.is_some()),
        "`{name}/{func}` has no typed shape"
    );
    let vals = typed.through_vals();
    let mut seen = Vec::new();
    for args in calls {
        let one = |g: &LoadedGuest| {
            let (pool, args) = (&pool, args.clone());
            let g = g.clone();
            async move {
                match pool.submit(&g, func, args).await {
                    Ok(out) => Ok(out.value),
                    Err(e) => Err(format!("{}: {}", e.kind(), e.detail())),
                }
            }
        };
        let (a, b) = (one(&typed).await, one(&vals).await);
        assert_eq!(a, b, "`{name}/{func}`: typed and `Val` calls differ");
        seen.push(match a {
            Ok(v) => v.to_json(),
            Err(e) => format!("error {e}"),
        });
    }
    pool.shutdown().await;
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_parse_gives_what_vals_give() {
    let seen = typed_and_vals(
        "logs",
        "parse",
        vec![
            vec![data("logs/web-1.log")],
            vec![Value::from("")],
            vec![Value::from("not a log line\n")],
        ],
    )
    .await;
    assert!(
        seen[0].contains(r#""statuses":[{"status":200,"count":"#),
        "{}",
        seen[0]
    );
    assert!(seen[1].contains(r#""requests":0"#), "{}", seen[1]);
    assert!(seen[2].contains(r#""malformed":1"#), "{}", seen[2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn etl_transform_gives_what_vals_give() {
    let query = |q: &str| json(q);
    let seen = typed_and_vals(
        "etl",
        "transform",
        vec![
            vec![
                data("sales.csv"),
                query(
                    r#"{"filter": ["units >= 3"], "columns": [], "group-by": "region",
                        "measure": "price", "format": "json"}"#,
                ),
            ],
            // Optional fields left out, and null.
            vec![
                data("sales.csv"),
                query(r#"{"filter": [], "columns": ["date", "units"], "format": "csv"}"#),
            ],
            vec![
                data("sales.csv"),
                query(
                    r#"{"filter": [], "columns": [], "group-by": null, "measure": null,
                        "format": "csv"}"#,
                ),
            ],
            // The guest's own error, through `result<string, string>`.
            vec![
                data("sales.csv"),
                query(r#"{"filter": ["nope > 1"], "columns": [], "format": "csv"}"#),
            ],
        ],
    )
    .await;
    assert!(seen[0].contains("mean_price"), "{}", seen[0]);
    assert!(seen[1].starts_with(r#""date,units\n"#), "{}", seen[1]);
    assert!(seen[3].starts_with("error "), "{}", seen[3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn scrape_analyze_gives_what_vals_give() {
    let seen = typed_and_vals(
        "scrape",
        "analyze",
        vec![
            vec![data("pages/index.html")],
            vec![Value::from("<p>no title here</p>")],
        ],
    )
    .await;
    assert!(seen[0].contains(r#""links":[{"href":"#), "{}", seen[0]);
    assert!(seen[1].contains(r#""title":null"#), "{}", seen[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_info_gives_what_vals_give() {
    let seen = typed_and_vals(
        "image",
        "info",
        vec![
            vec![data("images/sunset.jpg")],
            vec![data("images/discs.png")],
            vec![Value::from("not an image")],
        ],
    )
    .await;
    assert!(seen[0].contains(r#""format":"jpeg""#), "{}", seen[0]);
    assert!(seen[1].contains(r#""format":"png""#), "{}", seen[1]);
    assert!(seen[2].starts_with("error "), "{}", seen[2]);
}
