//! (i) The use-case guests on their example data: tasks per second on every
//! worker against one worker.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use futures::TryStreamExt;
use wpool::{Guest, Pool, Value};

use crate::report::{Figure, Row, Target, Unit};
use crate::sides::{self, Measured, Side};
use crate::workloads::Bench;

/// One use case: a built-in guest's function over the same input, `count`
/// times.
struct Case {
    guest: &'static str,
    call: &'static str,
    what: String,
    args: Vec<Value>,
    count: usize,
}

fn example(path: &str) -> Result<Vec<u8>> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(path);
    std::fs::read(&full).with_context(|| format!("cannot read `{}`", full.display()))
}

fn cases(quick: bool) -> Result<Vec<Case>> {
    let scale = |n: usize| if quick { n.div_ceil(5) } else { n };
    let mib = wpool_tests::http::bytes_for(7, 1 << 20);
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let query = Value::Map(vec![
        (
            "filter".to_owned(),
            Value::List(vec![Value::from("units >= 3")]),
        ),
        ("columns".to_owned(), Value::List(Vec::new())),
        ("group-by".to_owned(), Value::from("region")),
        ("measure".to_owned(), Value::from("price")),
        ("format".to_owned(), Value::from("json")),
    ]);
    Ok(vec![
        Case {
            guest: "logs",
            call: "parse",
            what: "a 400-line access log".to_owned(),
            args: vec![Value::Bytes(example("data/logs/web-1.log")?)],
            count: scale(500),
        },
        Case {
            guest: "crypto",
            call: "gzip",
            what: "1 MiB, level 6".to_owned(),
            args: vec![Value::Bytes(mib.clone()), Value::UInt(6)],
            count: scale(20),
        },
        Case {
            guest: "crypto",
            call: "lz4",
            what: "1 MiB".to_owned(),
            args: vec![Value::Bytes(mib.clone())],
            count: scale(100),
        },
        Case {
            guest: "crypto",
            call: "blake3",
            what: "1 MiB".to_owned(),
            args: vec![Value::Bytes(mib.clone())],
            count: scale(100),
        },
        Case {
            guest: "crypto",
            call: "seal",
            what: "1 MiB, ChaCha20-Poly1305".to_owned(),
            args: vec![Value::Bytes(mib), Value::from(key)],
            count: scale(50),
        },
        Case {
            guest: "etl",
            call: "transform",
            what: "sales.csv, filter + group + mean".to_owned(),
            args: vec![Value::Bytes(example("data/sales.csv")?), query],
            count: scale(1000),
        },
        Case {
            guest: "scrape",
            call: "analyze",
            what: "an HTML page".to_owned(),
            args: vec![Value::Bytes(example("data/pages/wasm.html")?)],
            count: scale(500),
        },
        Case {
            guest: "image",
            call: "thumbnail",
            what: "a JPEG to 128 px".to_owned(),
            args: vec![
                Value::Bytes(example("data/images/sunset.jpg")?),
                Value::UInt(128),
            ],
            count: scale(20),
        },
    ])
}

impl Bench {
    /// (i) Every use-case guest, `count` tasks on every worker and on one.
    pub fn use_cases(&self) -> Result<Vec<Row>> {
        let workers = self.settings.workers;
        let mut rows = Vec::new();
        for case in cases(self.settings.quick)? {
            let load = |pool: &Pool| {
                pool.load(Guest::builtin(case.guest))
                    .with_context(|| format!("cannot load `{}`", case.guest))
            };
            let (many, one) = (load(&self.many)?, load(&self.one)?);
            let run = |pool: &Pool, guest: &wpool::LoadedGuest| -> Result<f64> {
                let start = Instant::now();
                let done: Vec<wpool::Output> = self.single.block_on(
                    pool.map(
                        guest,
                        case.call,
                        std::iter::repeat_n(case.args.clone(), case.count),
                    )
                    .try_collect(),
                )?;
                let secs = start.elapsed().as_secs_f64();
                ensure!(
                    done.len() == case.count,
                    "{} of {} tasks",
                    done.len(),
                    case.count
                );
                Ok(case.count as f64 / secs)
            };
            let measured = sides::run(
                self.settings.rounds,
                vec![
                    Side::new(|| run(&self.many, &many)),
                    Side::new(|| run(&self.one, &one)),
                ],
            )?;
            let [Measured::Rounds(all), Measured::Rounds(single)] =
                <[Measured; 2]>::try_from(measured).map_err(|_| anyhow::anyhow!("two sides"))?
            else {
                anyhow::bail!("a side was skipped");
            };
            let all = Figure::new(format!("{workers} workers"), Unit::OpsPerSec, all);
            let single = Figure::new("1 worker", Unit::OpsPerSec, single);
            rows.push(Row::ratio(
                format!(
                    "i. {}/{} on {}, {} tasks",
                    case.guest, case.call, case.what, case.count
                ),
                all.clone(),
                single.clone(),
                all.median / single.median,
                "speedup",
                Target::Info,
                "info",
            ));
        }
        Ok(rows)
    }
}
