//! Python objects ↔ [`wpool::Value`].
//!
//! Arguments are converted by shape (an `int` becomes an integer, a `dict`
//! a record, …); the guest's signature then checks every value against its
//! WIT type before anything runs, so a wrong argument fails with the
//! argument's name and the expected type.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};
use wpool::Value;

/// How deep nested lists and dicts may go before conversion gives up (a
/// self-referencing list would otherwise recurse forever).
const MAX_DEPTH: usize = 64;

/// `bytes` from this size on reach the guest without a copy on the host:
/// the task holds a reference to the Python object (released on a worker,
/// through pyo3's pool of pending reference drops) and the guest's memory
/// is filled from its buffer. Smaller ones are copied: cheaper than the
/// deferred release.
const SHARE_FROM: usize = 4 << 10;

/// Converts one call argument; `name` is the parameter it is meant for.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>, name: &str, wit: &str) -> PyResult<Value> {
    let error =
        |found| PyTypeError::new_err(format!("argument `{name}`: expected {wit}, found {found}"));
    if let Some(found) = text_for_bytes(obj, wit) {
        return Err(error(found.to_owned()));
    }
    convert(obj, 0).map_err(error)
}

/// Python keeps text and bytes apart, and so do arguments: a `str` for a
/// `list<u8>` parameter or bytes for a `string` one is a `TypeError`, as
/// `hashlib.sha256("abc")` is (the library itself takes either, for job
/// files, whose JSON has no bytes). Checked where the parameter's type says
/// it, directly or in an `option`.
fn text_for_bytes(obj: &Bound<'_, PyAny>, wit: &str) -> Option<&'static str> {
    let wit = wit
        .trim()
        .strip_prefix("option<")
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(wit)
        .trim();
    match wit {
        "list<u8>" if obj.is_instance_of::<PyString>() => Some("a str (encode it to bytes)"),
        "string"
            if obj.is_instance_of::<PyBytes>()
                || obj.is_instance_of::<PyByteArray>()
                || obj.is_instance_of::<pyo3::types::PyMemoryView>() =>
        {
            Some("bytes (decode them to a str)")
        }
        _ => None,
    }
}

/// `Err` holds a description of what could not be converted.
fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a value nested more than {MAX_DEPTH} levels deep"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // `bool` before `int`: a Python bool is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Value::Int(v));
        }
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(Value::UInt(v));
        }
        return Err(format!(
            "the integer {obj}, which no WIT integer type holds"
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::String(s.to_owned()))
            .map_err(|_| "a str that is not valid UTF-8".to_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        if b.as_bytes().len() < SHARE_FROM {
            return Ok(Value::Bytes(b.as_bytes().to_vec()));
        }
        // Immutable, so sharing its buffer is safe.
        let shared = pyo3::pybacked::PyBackedBytes::from(b.clone());
        return Ok(Value::SharedBytes(wpool::Bytes::from_owner(shared)));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| convert(&item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| convert(&item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut fields = Vec::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            let Ok(key) = key.extract::<String>() else {
                return Err(format!("a dict with the non-string key {key}"));
            };
            // WIT names are kebab-case; Python spells them with underscores.
            fields.push((key.replace('_', "-"), convert(&value, depth + 1)?));
        }
        return Ok(Value::Map(fields));
    }
    // memoryview and any other object exporting a byte buffer.
    if let Ok(buffer) = PyBuffer::<u8>::get(obj) {
        return buffer
            .to_vec(obj.py())
            .map(Value::Bytes)
            .map_err(|e| format!("an unreadable buffer ({e})"));
    }
    Err(format!("an object of type `{}`", type_name(obj)))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Where a result's WIT type has tuples (`tuple<u8, string>`,
/// `list<tuple<..>>`, `option<tuple<..>>`): a [`Value::List`] there becomes a
/// Python `tuple`.
#[derive(Debug)]
pub(crate) enum Shape {
    Tuple(Vec<Option<Shape>>),
    List(Box<Shape>),
    Option(Box<Shape>),
}

impl Shape {
    /// The shape of a WIT type as `Function::result_types` writes it;
    /// `None` when no tuple is reachable through tuples, lists, options and
    /// `result`'s ok type (records keep lists).
    pub(crate) fn parse(wit: &str) -> Option<Shape> {
        let wit = wit.trim();
        let inner = |prefix: &str| {
            wit.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix('>'))
                .map(split_top)
        };
        if let Some(items) = inner("tuple<") {
            return Some(Shape::Tuple(
                items.iter().map(|t| Shape::parse(t)).collect(),
            ));
        }
        if let Some(items) = inner("list<") {
            return Shape::parse(items.first()?).map(|s| Shape::List(Box::new(s)));
        }
        if let Some(items) = inner("option<") {
            return Shape::parse(items.first()?).map(|s| Shape::Option(Box::new(s)));
        }
        if let Some(items) = inner("result<") {
            return Shape::parse(items.first()?);
        }
        None
    }
}

/// `a, list<b, c>, d` split on the commas outside brackets.
fn split_top(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '<' | '(' | '{' => depth += 1,
            '>' | ')' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Converts a result back: bytes as `bytes`, records as `dict` with
/// underscored keys, lists as `list` (as `tuple` where `shape` says so),
/// `none` as `None`.
pub(crate) fn to_py<'py>(
    py: Python<'py>,
    value: &Value,
    shape: Option<&Shape>,
) -> PyResult<Bound<'py, PyAny>> {
    match (shape, value) {
        (Some(Shape::Tuple(shapes)), Value::List(items)) => {
            let converted = items
                .iter()
                .enumerate()
                .map(|(i, item)| to_py(py, item, shapes.get(i).and_then(Option::as_ref)))
                .collect::<PyResult<Vec<_>>>()?;
            return Ok(PyTuple::new(py, converted)?.into_any());
        }
        (Some(Shape::List(shape)), Value::List(items)) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item, Some(shape))?)?;
            }
            return Ok(list.into_any());
        }
        (Some(Shape::Option(shape)), value) if *value != Value::Null => {
            return to_py(py, value, Some(shape));
        }
        _ => {}
    }
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(v) => v.into_pyobject(py)?.into_any(),
        Value::UInt(v) => v.into_pyobject(py)?.into_any(),
        Value::Float(v) => PyFloat::new(py, *v).into_any(),
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item, None)?)?;
            }
            list.into_any()
        }
        Value::Map(fields) => {
            let dict = PyDict::new(py);
            for (key, item) in fields {
                dict.set_item(key.replace('-', "_"), to_py(py, item, None)?)?;
            }
            dict.into_any()
        }
        // `Value` is non-exhaustive: a future shape arrives as its JSON text.
        other => PyString::new(py, &other.to_json()).into_any(),
    })
}
