//! Result records: one per task input, as JSON (DESIGN.md "Result records")
//! or as a table row.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
#[cfg(test)]
use serde_json::Value as Json;

/// One finished task input.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Position in input order across the whole job (0-based).
    pub(crate) index: usize,
    /// The `[[task]]`'s `name`, if it has one.
    pub(crate) name: Option<Arc<str>>,
    pub(crate) guest: Arc<str>,
    pub(crate) call: Arc<str>,
    /// What the input was: a value, a file path or a URL.
    pub(crate) input: String,
    pub(crate) outcome: Outcome,
    /// Milliseconds the task ran on its worker (or the fetch/read took).
    pub(crate) ms: f64,
    pub(crate) worker: Option<usize>,
    /// Where it ran, when it ran on a cluster worker (`run --nats`).
    pub(crate) remote: Option<Remote>,
}

/// Where a task ran in the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    /// The worker process's name (`wpool worker --name`).
    pub(crate) node: String,
    /// How many times JetStream delivered the task (more than 1 after a
    /// worker died holding it).
    pub(crate) deliveries: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Ok(wpool::Value),
    Err { kind: String, message: String },
}

impl Record {
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok(_))
    }

    /// The record as a JSON object, keys in a fixed order.
    #[cfg(test)]
    pub(crate) fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// One line of the human-readable table.
    pub(crate) fn table_row(&self) -> String {
        let (status, shown) = match &self.outcome {
            Outcome::Ok(value) => ("ok".to_owned(), value.to_string()),
            Outcome::Err { kind, message } => (format!("FAIL {kind}"), message.clone()),
        };
        format!(
            "{:>5}  {:<24}  {:<32}  {:<18}  {:>10.1}  {}",
            self.index,
            clip(&format!("{}/{}", self.guest, self.call), 24),
            clip(&self.input, 32),
            status,
            self.ms,
            clip(&shown, 72)
        )
    }

    pub(crate) fn table_header() -> String {
        format!(
            "{:>5}  {:<24}  {:<32}  {:<18}  {:>10}  {}",
            "task", "guest/call", "input", "status", "ms", "result"
        )
    }
}

/// A record as JSON, written straight out (no intermediate value): keys in
/// a fixed order, `ms` to the microsecond.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("task", &self.index)?;
        if let Some(name) = &self.name {
            map.serialize_entry("name", &**name)?;
        }
        map.serialize_entry("guest", &*self.guest)?;
        map.serialize_entry("call", &*self.call)?;
        map.serialize_entry("input", &self.input)?;
        match &self.outcome {
            Outcome::Ok(value) => {
                map.serialize_entry("ok", &true)?;
                map.serialize_entry("value", value)?;
            }
            Outcome::Err { kind, message } => {
                map.serialize_entry("ok", &false)?;
                map.serialize_entry("error", &ErrorJson { kind, message })?;
            }
        }
        map.serialize_entry("ms", &((self.ms * 1000.0).round() / 1000.0))?;
        map.serialize_entry("worker", &self.worker)?;
        if let Some(remote) = &self.remote {
            map.serialize_entry("node", &remote.node)?;
            map.serialize_entry("deliveries", &remote.deliveries)?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct ErrorJson<'a> {
    kind: &'a str,
    message: &'a str,
}

/// Shortens `s` to `width` characters, marking the cut with `…`.
pub(crate) fn clip(s: &str, width: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= width {
        s
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> Record {
        Record {
            index: 3,
            name: None,
            guest: "heavy_calc".into(),
            call: "heavy-calc".into(),
            input: "50000000".into(),
            outcome,
            ms: 101.23456,
            worker: Some(1),
            remote: None,
        }
    }

    #[test]
    fn ok_record_json() {
        let r = record(Outcome::Ok(wpool::Value::UInt(99_999_998)));
        assert_eq!(
            r.to_json().to_string(),
            r#"{"task":3,"guest":"heavy_calc","call":"heavy-calc","input":"50000000","ok":true,"value":99999998,"ms":101.235,"worker":1}"#
        );
    }

    #[test]
    fn error_record_json() {
        let r = record(Outcome::Err {
            kind: "timeout".into(),
            message: "timed out after 2s".into(),
        });
        let json = r.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["error"]["kind"], "timeout");
        assert_eq!(json["error"]["message"], "timed out after 2s");
        assert!(json.get("value").is_none());
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("a\nb", 4), "a b");
    }
}
