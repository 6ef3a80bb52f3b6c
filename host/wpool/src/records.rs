//! The built-in guests' records, for their typed calls (see `fast`).
//!
//! `logs/parse`, `etl/transform`, `scrape/analyze` and `image/info` take a
//! file's bytes beside, or give back, a record. Through `Val`s the bytes
//! alone cost a 32-byte `Val` each (a 1 MiB CSV: 32 MiB allocated, lowered
//! element by element, freed); these types let `fast` make those calls
//! through typed functions, whose bytes are copied once. A signature is
//! recognised by its WIT spelling, so any guest exporting the same one is
//! called the same way. The results are shaped as the dynamic path shapes
//! them (`convert::from_val`): a record as a map of its fields in order,
//! `none` as null.

use wasmtime::component::{ComponentType, Lift, Lower, Type};

use crate::convert::describe;
use crate::value::Value;

/// `etl`'s `query`.
#[derive(ComponentType, Lower, Debug)]
#[component(record)]
pub(crate) struct Query {
    filter: Vec<String>,
    columns: Vec<String>,
    #[component(name = "group-by")]
    group_by: Option<String>,
    measure: Option<String>,
    format: String,
}

/// The WIT spelling of [`Query`], as `describe` writes it.
pub(crate) const QUERY: &str = "record { filter: list<string>, columns: list<string>, \
     group-by: option<string>, measure: option<string>, format: string }";

impl Query {
    /// The query a checked argument gives (`convert::check` accepted it
    /// against [`QUERY`]): a map of the fields, an optional field missing
    /// or null, a string given as UTF-8 bytes.
    pub(crate) fn from_value(value: &Value) -> wasmtime::Result<Query> {
        let Value::Map(fields) = value else {
            return Err(wasmtime::format_err!("argument `query`: expected a record"));
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let text = |name: &str, value: &Value| -> wasmtime::Result<String> {
            match value {
                Value::String(s) => Ok(s.clone()),
                other => other
                    .as_bytes()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::to_owned)
                    .ok_or_else(|| wasmtime::format_err!("argument `query.{name}`: not a string")),
            }
        };
        let texts = |name: &str| -> wasmtime::Result<Vec<String>> {
            match field(name) {
                Some(Value::List(items)) => items.iter().map(|v| text(name, v)).collect(),
                _ => Err(wasmtime::format_err!("argument `query.{name}`: not a list")),
            }
        };
        let optional = |name: &str| -> wasmtime::Result<Option<String>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => text(name, v).map(Some),
            }
        };
        Ok(Query {
            filter: texts("filter")?,
            columns: texts("columns")?,
            group_by: optional("group-by")?,
            measure: optional("measure")?,
            format: text(
                "format",
                field("format").ok_or_else(|| wasmtime::format_err!("missing `query.format`"))?,
            )?,
        })
    }
}

/// `logs`' `status-count`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct StatusCount {
    status: u16,
    count: u64,
}

/// `logs`' `path-count`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct PathCount {
    path: String,
    count: u64,
}

/// `logs`' `stats`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct Stats {
    files: u64,
    requests: u64,
    malformed: u64,
    bytes: u64,
    statuses: Vec<StatusCount>,
    paths: Vec<PathCount>,
    hours: Vec<u64>,
}

/// The WIT spelling of [`Stats`].
pub(crate) const STATS: &str = "record { files: u64, requests: u64, malformed: u64, \
     bytes: u64, statuses: list<record { status: u16, count: u64 }>, \
     paths: list<record { path: string, count: u64 }>, hours: list<u64> }";

/// `scrape`'s `link`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct Link {
    href: String,
    text: String,
}

/// `scrape`'s `word-count`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct WordCount {
    word: String,
    count: u64,
}

/// `scrape`'s `page`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct Page {
    title: Option<String>,
    links: Vec<Link>,
    words: u64,
    #[component(name = "top-words")]
    top_words: Vec<WordCount>,
}

/// The WIT spelling of [`Page`].
pub(crate) const PAGE: &str = "record { title: option<string>, \
     links: list<record { href: string, text: string }>, words: u64, \
     top-words: list<record { word: string, count: u64 }> }";

/// `image`'s `info`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct Info {
    width: u32,
    height: u32,
    format: String,
}

/// The WIT spelling of [`Info`].
pub(crate) const INFO: &str = "record { width: u32, height: u32, format: string }";

/// Whether `ty` is spelt `spelling`.
pub(crate) fn is(ty: &Type, spelling: &str) -> bool {
    // Records only: cheap to rule out before spelling the type.
    matches!(ty, Type::Record(_)) && describe(ty) == spelling
}

fn map<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Map(fields.map(|(k, v)| (k.to_owned(), v)).into())
}

impl From<Stats> for Value {
    fn from(s: Stats) -> Value {
        let statuses = s.statuses.into_iter().map(|c| {
            map([
                ("status", Value::UInt(c.status.into())),
                ("count", Value::UInt(c.count)),
            ])
        });
        let paths = s.paths.into_iter().map(|c| {
            map([
                ("path", Value::String(c.path)),
                ("count", Value::UInt(c.count)),
            ])
        });
        map([
            ("files", Value::UInt(s.files)),
            ("requests", Value::UInt(s.requests)),
            ("malformed", Value::UInt(s.malformed)),
            ("bytes", Value::UInt(s.bytes)),
            ("statuses", Value::List(statuses.collect())),
            ("paths", Value::List(paths.collect())),
            (
                "hours",
                Value::List(s.hours.into_iter().map(Value::UInt).collect()),
            ),
        ])
    }
}

impl From<Page> for Value {
    fn from(p: Page) -> Value {
        let links = p.links.into_iter().map(|l| {
            map([
                ("href", Value::String(l.href)),
                ("text", Value::String(l.text)),
            ])
        });
        let words = p.top_words.into_iter().map(|w| {
            map([
                ("word", Value::String(w.word)),
                ("count", Value::UInt(w.count)),
            ])
        });
        map([
            ("title", p.title.map_or(Value::Null, Value::String)),
            ("links", Value::List(links.collect())),
            ("words", Value::UInt(p.words)),
            ("top-words", Value::List(words.collect())),
        ])
    }
}

impl From<Info> for Value {
    fn from(i: Info) -> Value {
        map([
            ("width", Value::UInt(i.width.into())),
            ("height", Value::UInt(i.height.into())),
            ("format", Value::String(i.format)),
        ])
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
