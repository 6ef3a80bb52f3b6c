//! Conversion between [`Value`] and component values, guided by WIT types, and
//! rendering of WIT signatures.

use std::fmt::Write as _;

use wasmtime::component::{Type, Val};

use crate::value::Value;

/// Why an argument could not be converted: a path into the value and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertError {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl ConvertError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        ConvertError {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    fn mismatch(path: &str, ty: &Type, found: &Value) -> Self {
        Self::new(
            path,
            format!("expected {}, found {}", describe(ty), found.kind_name()),
        )
    }
}

/// `Value` → `Val` for a parameter of type `ty`; `path` names the place for errors.
pub(crate) fn to_val(value: &Value, ty: &Type, path: &str) -> Result<Val, ConvertError> {
    convert(value, ty, path, Mode::Build)
}

/// Checks that `value` converts to `ty`, as [`to_val`] would, without
/// building the costly parts: no `Val` per byte of a `list<u8>`, no copy of a
/// string. Runs on the caller's thread; the conversion itself runs on the
/// worker.
pub(crate) fn check(value: &Value, ty: &Type, path: &str) -> Result<(), ConvertError> {
    convert(value, ty, path, Mode::Check).map(drop)
}

/// Whether [`convert`] builds the value or only checks it (placeholders
/// stand in for byte lists and strings).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Build,
    Check,
}

fn convert(value: &Value, ty: &Type, path: &str, mode: Mode) -> Result<Val, ConvertError> {
    let to_val = |value: &Value, ty: &Type, path: &str| convert(value, ty, path, mode);
    macro_rules! int {
        ($variant:ident, $t:ty) => {{
            let n: Option<$t> = match *value {
                Value::Int(i) => <$t>::try_from(i).ok(),
                Value::UInt(u) => <$t>::try_from(u).ok(),
                Value::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                    let i = f as i128;
                    <$t>::try_from(i).ok()
                }
                _ => return Err(ConvertError::mismatch(path, ty, value)),
            };
            match n {
                Some(n) => Ok(Val::$variant(n)),
                None => Err(ConvertError::new(
                    path,
                    format!("{} is out of range for {}", value.to_json(), describe(ty)),
                )),
            }
        }};
    }
    match ty {
        Type::Bool => match value {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            _ => Err(ConvertError::mismatch(path, ty, value)),
        },
        Type::S8 => int!(S8, i8),
        Type::U8 => int!(U8, u8),
        Type::S16 => int!(S16, i16),
        Type::U16 => int!(U16, u16),
        Type::S32 => int!(S32, i32),
        Type::U32 => int!(U32, u32),
        Type::S64 => int!(S64, i64),
        Type::U64 => int!(U64, u64),
        Type::Float32 => value
            .as_f64()
            .map(|f| Val::Float32(f as f32))
            .ok_or_else(|| ConvertError::mismatch(path, ty, value)),
        Type::Float64 => value
            .as_f64()
            .map(Val::Float64)
            .ok_or_else(|| ConvertError::mismatch(path, ty, value)),
        Type::Char => {
            let s = value
                .as_str()
                .ok_or_else(|| ConvertError::mismatch(path, ty, value))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Val::Char(c)),
                _ => Err(ConvertError::new(
                    path,
                    format!(
                        "expected a single character, found a string of {} characters",
                        s.chars().count()
                    ),
                )),
            }
        }
        Type::String => match value {
            Value::String(_) if mode == Mode::Check => Ok(Val::String(String::new())),
            Value::String(s) => Ok(Val::String(s.clone())),
            Value::Bytes(_) | Value::SharedBytes(_) => {
                match std::str::from_utf8(value.as_bytes().unwrap_or_default()) {
                    Ok(_) if mode == Mode::Check => Ok(Val::String(String::new())),
                    Ok(text) => Ok(Val::String(text.to_owned())),
                    Err(_) => Err(ConvertError::new(
                        path,
                        "expected a string, found bytes that are not UTF-8",
                    )),
                }
            }
            _ => Err(ConvertError::mismatch(path, ty, value)),
        },
        Type::List(list) => {
            let elem = list.ty();
            match (value, &elem) {
                (Value::Bytes(_) | Value::SharedBytes(_) | Value::String(_), Type::U8)
                    if mode == Mode::Check =>
                {
                    Ok(Val::List(Vec::new()))
                }
                (Value::Bytes(_) | Value::SharedBytes(_), Type::U8) => Ok(Val::List(
                    value
                        .as_bytes()
                        .unwrap_or_default()
                        .iter()
                        .map(|&b| Val::U8(b))
                        .collect(),
                )),
                (Value::String(s), Type::U8) => Ok(Val::List(
                    s.as_bytes().iter().map(|&b| Val::U8(b)).collect(),
                )),
                (Value::List(items), _) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| to_val(item, &elem, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()
                    .map(Val::List),
                _ => Err(ConvertError::mismatch(path, ty, value)),
            }
        }
        Type::FixedLengthList(list) => {
            // Bytes for a `list<u8, N>`, as `from_val` gives them back.
            let bytes: Vec<Value>;
            let items = match (value, list.ty()) {
                (Value::List(items), _) => items,
                (Value::Bytes(_) | Value::SharedBytes(_), Type::U8) => {
                    let b = value.as_bytes().unwrap_or_default();
                    bytes = b.iter().map(|&b| Value::UInt(b.into())).collect();
                    &bytes
                }
                _ => return Err(ConvertError::mismatch(path, ty, value)),
            };
            if items.len() != list.len() as usize {
                return Err(ConvertError::new(
                    path,
                    format!("expected {} elements, found {}", list.len(), items.len()),
                ));
            }
            let elem = list.ty();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_val(item, &elem, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Val::FixedLengthList)
        }
        Type::Record(record) => {
            let Value::Map(fields) = value else {
                return Err(ConvertError::mismatch(path, ty, value));
            };
            let names: Vec<&str> = record.fields().map(|f| f.name).collect();
            if let Some((unknown, _)) = fields.iter().find(|(k, _)| !names.contains(&k.as_str())) {
                return Err(ConvertError::new(
                    path,
                    format!("unknown field `{unknown}`; expected {}", list_names(&names)),
                ));
            }
            let mut out = Vec::with_capacity(names.len());
            for field in record.fields() {
                let field_path = format!("{path}.{}", field.name);
                let val = match fields.iter().find(|(k, _)| k == field.name) {
                    Some((_, v)) => to_val(v, &field.ty, &field_path)?,
                    None if matches!(field.ty, Type::Option(_)) => Val::Option(None),
                    None => {
                        return Err(ConvertError::new(
                            path,
                            format!("missing field `{}` ({})", field.name, describe(&field.ty)),
                        ));
                    }
                };
                out.push((field.name.to_owned(), val));
            }
            Ok(Val::Record(out))
        }
        Type::Tuple(tuple) => {
            let Value::List(items) = value else {
                return Err(ConvertError::mismatch(path, ty, value));
            };
            if items.len() != tuple.types().len() {
                return Err(ConvertError::new(
                    path,
                    format!(
                        "expected {} with {} elements, found {}",
                        describe(ty),
                        tuple.types().len(),
                        items.len()
                    ),
                ));
            }
            tuple
                .types()
                .zip(items)
                .enumerate()
                .map(|(i, (t, item))| to_val(item, &t, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Val::Tuple)
        }
        Type::Variant(variant) => {
            let (case, payload) = case_of(value, path, ty)?;
            let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
            let Some(c) = variant.cases().find(|c| c.name == case) else {
                return Err(ConvertError::new(
                    path,
                    format!("unknown case `{case}`; expected {}", list_names(&names)),
                ));
            };
            let payload = match (c.ty, payload) {
                (None, None | Some(Value::Null)) => None,
                (None, Some(_)) => {
                    return Err(ConvertError::new(
                        path,
                        format!("case `{case}` takes no payload"),
                    ));
                }
                (Some(t), Some(p)) => Some(Box::new(to_val(p, &t, &format!("{path}.{case}"))?)),
                (Some(t), None) => {
                    return Err(ConvertError::new(
                        path,
                        format!(
                            "case `{case}` needs a payload ({}): write {{ {case} = ... }}",
                            describe(&t)
                        ),
                    ));
                }
            };
            Ok(Val::Variant(case.to_owned(), payload))
        }
        Type::Enum(e) => {
            let s = value
                .as_str()
                .ok_or_else(|| ConvertError::mismatch(path, ty, value))?;
            let names: Vec<&str> = e.names().collect();
            if names.contains(&s) {
                Ok(Val::Enum(s.to_owned()))
            } else {
                Err(ConvertError::new(
                    path,
                    format!("unknown case `{s}`; expected {}", list_names(&names)),
                ))
            }
        }
        Type::Option(option) => match value {
            Value::Null => Ok(Val::Option(None)),
            other => Ok(Val::Option(Some(Box::new(to_val(
                other,
                &option.ty(),
                path,
            )?)))),
        },
        Type::Result(result) => {
            let (case, payload) = case_of(value, path, ty)?;
            let side = match case {
                "ok" => result.ok(),
                "err" => result.err(),
                other => {
                    return Err(ConvertError::new(
                        path,
                        format!("unknown case `{other}`; expected `ok` or `err`"),
                    ));
                }
            };
            let payload = match (side, payload) {
                (None, None | Some(Value::Null)) => None,
                (None, Some(_)) => {
                    return Err(ConvertError::new(
                        path,
                        format!("`{case}` takes no payload here"),
                    ));
                }
                (Some(t), Some(p)) => Some(Box::new(to_val(p, &t, &format!("{path}.{case}"))?)),
                (Some(t), None) => {
                    return Err(ConvertError::new(
                        path,
                        format!("`{case}` needs a payload ({})", describe(&t)),
                    ));
                }
            };
            Ok(Val::Result(if case == "ok" {
                Ok(payload)
            } else {
                Err(payload)
            }))
        }
        Type::Flags(flags) => {
            let Value::List(items) = value else {
                return Err(ConvertError::mismatch(path, ty, value));
            };
            let names: Vec<&str> = flags.names().collect();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if names.contains(&s) => out.push(s.to_owned()),
                    Some(s) => {
                        return Err(ConvertError::new(
                            path,
                            format!("unknown flag `{s}`; expected {}", list_names(&names)),
                        ));
                    }
                    None => {
                        return Err(ConvertError::new(
                            path,
                            format!("expected flag names, found {}", item.kind_name()),
                        ));
                    }
                }
            }
            Ok(Val::Flags(out))
        }
        Type::Map(_)
        | Type::Own(_)
        | Type::Borrow(_)
        | Type::Future(_)
        | Type::Stream(_)
        | Type::ErrorContext => Err(ConvertError::new(
            path,
            format!("{} parameters cannot be given dynamically", describe(ty)),
        )),
    }
}

/// A variant-like value: `"case"` or `{ case = payload }`.
fn case_of<'v>(
    value: &'v Value,
    path: &str,
    ty: &Type,
) -> Result<(&'v str, Option<&'v Value>), ConvertError> {
    match value {
        Value::String(s) => Ok((s, None)),
        Value::Map(fields) if fields.len() == 1 => Ok((&fields[0].0, Some(&fields[0].1))),
        _ => Err(ConvertError::mismatch(path, ty, value)),
    }
}

/// `Val` → `Value`, with `list<u8>` as [`Value::Bytes`].
pub(crate) fn from_val(val: Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(b),
        Val::S8(v) => Value::Int(v.into()),
        Val::S16(v) => Value::Int(v.into()),
        Val::S32(v) => Value::Int(v.into()),
        Val::S64(v) => Value::Int(v),
        Val::U8(v) => Value::UInt(v.into()),
        Val::U16(v) => Value::UInt(v.into()),
        Val::U32(v) => Value::UInt(v.into()),
        Val::U64(v) => Value::UInt(v),
        Val::Float32(v) => Value::Float(v.into()),
        Val::Float64(v) => Value::Float(v),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s),
        Val::List(items) | Val::FixedLengthList(items) => {
            if !items.is_empty() && items.iter().all(|v| matches!(v, Val::U8(_))) {
                Value::Bytes(
                    items
                        .into_iter()
                        .map(|v| if let Val::U8(b) = v { b } else { 0 })
                        .collect(),
                )
            } else {
                Value::List(items.into_iter().map(from_val).collect())
            }
        }
        Val::Map(entries) => Value::List(
            entries
                .into_iter()
                .map(|(k, v)| Value::List(vec![from_val(k), from_val(v)]))
                .collect(),
        ),
        Val::Record(fields) => {
            Value::Map(fields.into_iter().map(|(k, v)| (k, from_val(v))).collect())
        }
        Val::Tuple(items) => Value::List(items.into_iter().map(from_val).collect()),
        Val::Variant(case, None) => Value::String(case),
        Val::Variant(case, Some(payload)) => Value::Map(vec![(case, from_val(*payload))]),
        Val::Enum(case) => Value::String(case),
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => from_val(*v),
        Val::Result(Ok(v)) => Value::Map(vec![(
            "ok".to_owned(),
            v.map_or(Value::Null, |v| from_val(*v)),
        )]),
        Val::Result(Err(v)) => Value::Map(vec![(
            "err".to_owned(),
            v.map_or(Value::Null, |v| from_val(*v)),
        )]),
        Val::Flags(names) => Value::List(names.into_iter().map(Value::String).collect()),
        Val::Resource(_) => Value::String("<resource>".to_owned()),
        Val::Future(_) => Value::String("<future>".to_owned()),
        Val::Stream(_) => Value::String("<stream>".to_owned()),
        Val::ErrorContext(_) => Value::String("<error-context>".to_owned()),
    }
}

/// The WIT spelling of a type, structural for named types
/// (`record { x: s32 }`, `enum { red, green }`).
pub(crate) fn describe(ty: &Type) -> String {
    let mut out = String::new();
    write_type(&mut out, ty);
    out
}

fn write_type(out: &mut String, ty: &Type) {
    let simple = match ty {
        Type::Bool => "bool",
        Type::S8 => "s8",
        Type::U8 => "u8",
        Type::S16 => "s16",
        Type::U16 => "u16",
        Type::S32 => "s32",
        Type::U32 => "u32",
        Type::S64 => "s64",
        Type::U64 => "u64",
        Type::Float32 => "f32",
        Type::Float64 => "f64",
        Type::Char => "char",
        Type::String => "string",
        Type::ErrorContext => "error-context",
        _ => "",
    };
    if !simple.is_empty() {
        out.push_str(simple);
        return;
    }
    match ty {
        Type::List(l) => {
            out.push_str("list<");
            write_type(out, &l.ty());
            out.push('>');
        }
        Type::FixedLengthList(l) => {
            out.push_str("list<");
            write_type(out, &l.ty());
            let _ = write!(out, ", {}>", l.len());
        }
        Type::Map(m) => {
            out.push_str("map<");
            write_type(out, &m.key());
            out.push_str(", ");
            write_type(out, &m.value());
            out.push('>');
        }
        Type::Record(r) => {
            out.push_str("record { ");
            for (i, f) in r.fields().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", f.name);
                write_type(out, &f.ty);
            }
            out.push_str(" }");
        }
        Type::Tuple(t) => {
            out.push_str("tuple<");
            for (i, t) in t.types().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_type(out, &t);
            }
            out.push('>');
        }
        Type::Variant(v) => {
            out.push_str("variant { ");
            for (i, c) in v.cases().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(c.name);
                if let Some(t) = c.ty {
                    out.push('(');
                    write_type(out, &t);
                    out.push(')');
                }
            }
            out.push_str(" }");
        }
        Type::Enum(e) => {
            let _ = write!(
                out,
                "enum {{ {} }}",
                e.names().collect::<Vec<_>>().join(", ")
            );
        }
        Type::Flags(f) => {
            let _ = write!(
                out,
                "flags {{ {} }}",
                f.names().collect::<Vec<_>>().join(", ")
            );
        }
        Type::Option(o) => {
            out.push_str("option<");
            write_type(out, &o.ty());
            out.push('>');
        }
        Type::Result(r) => {
            out.push_str("result");
            match (r.ok(), r.err()) {
                (None, None) => {}
                (Some(ok), None) => {
                    out.push('<');
                    write_type(out, &ok);
                    out.push('>');
                }
                (ok, err) => {
                    out.push('<');
                    match ok {
                        Some(ok) => write_type(out, &ok),
                        None => out.push('_'),
                    }
                    out.push_str(", ");
                    if let Some(err) = err {
                        write_type(out, &err);
                    }
                    out.push('>');
                }
            }
        }
        Type::Own(_) => out.push_str("own<resource>"),
        Type::Borrow(_) => out.push_str("borrow<resource>"),
        Type::Future(f) => {
            out.push_str("future");
            if let Some(t) = f.ty() {
                out.push('<');
                write_type(out, &t);
                out.push('>');
            }
        }
        Type::Stream(s) => {
            out.push_str("stream");
            if let Some(t) = s.ty() {
                out.push('<');
                write_type(out, &t);
                out.push('>');
            }
        }
        _ => {}
    }
}

/// `` `a`, `b`, `c` `` for error messages.
pub(crate) fn list_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
