//! Typed calls for byte-heavy signatures.
//!
//! Wasmtime's dynamic API has no byte-list value: a `list<u8>` passed as
//! `Val`s is one 32-byte `Val` per byte, both ways. The functions that move
//! bytes — `func(data: list<u8>, …) -> list<u8> | string | result<…>` — are
//! called here through typed functions instead, so their bytes are copied
//! once into the guest and once out, whatever their position among these
//! shapes:
//!
//! - parameters: a `list<u8>` (given as bytes or a string), optionally
//!   followed by one `u8`, `u32`, `u64`, `string`, `list<u8>` or the `etl`
//!   guest's `query` record;
//! - result: `list<u8>`, `string`, `result<list<u8>, string>`,
//!   `result<string, string>`, or one of the built-in guests' records
//!   (`logs`' `stats`, `scrape`'s `page`, `result<info, string>` of
//!   `image`), see `records`.
//!
//! Other signatures go through `Val`s (see `convert`).

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower, Type};

use crate::records::{self, Info, Page, Query, Stats};
use crate::state::StoreState;
use crate::value::Value;

/// The parameter after the bytes, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    None,
    U8,
    U32,
    U64,
    String,
    Bytes,
    /// `etl`'s `query`.
    Query,
}

/// The result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    Bytes,
    String,
    ResultBytes,
    ResultString,
    /// `logs`' `stats`.
    Stats,
    /// `scrape`'s `page`.
    Page,
    /// `result<info, string>` of `image`.
    ResultInfo,
}

/// A signature called through a typed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BytesCall {
    extra: Extra,
    returns: Returns,
}

fn is_bytes(ty: &Type) -> bool {
    matches!(ty, Type::List(list) if matches!(list.ty(), Type::U8))
}

impl BytesCall {
    /// The typed shape of a function with these parameter and result types,
    /// if it has one.
    pub(crate) fn detect(params: &[(String, Type)], results: &[Type]) -> Option<Self> {
        let extra = match params {
            [(_, first)] if is_bytes(first) => Extra::None,
            [(_, first), (_, second)] if is_bytes(first) => match second {
                Type::U8 => Extra::U8,
                Type::U32 => Extra::U32,
                Type::U64 => Extra::U64,
                Type::String => Extra::String,
                t if is_bytes(t) => Extra::Bytes,
                t if records::is(t, records::QUERY) => Extra::Query,
                _ => return None,
            },
            _ => return None,
        };
        let returns = match results {
            [r] if is_bytes(r) => Returns::Bytes,
            [Type::String] => Returns::String,
            [r] if records::is(r, records::STATS) => Returns::Stats,
            [r] if records::is(r, records::PAGE) => Returns::Page,
            [Type::Result(result)] => match (result.ok(), result.err()) {
                (Some(ok), Some(Type::String)) if is_bytes(&ok) => Returns::ResultBytes,
                (Some(Type::String), Some(Type::String)) => Returns::ResultString,
                (Some(ok), Some(Type::String)) if records::is(&ok, records::INFO) => {
                    Returns::ResultInfo
                }
                _ => return None,
            },
            _ => return None,
        };
        Some(BytesCall { extra, returns })
    }

    /// Calls export `index` of `instance` with `bytes` and `extra` (already
    /// checked against the signature), giving the result as a [`Value`]
    /// shaped as the dynamic path shapes it (a `result` as `{ok}`/`{err}`).
    pub(crate) fn call(
        self,
        instance: &Instance,
        store: &mut Store<StoreState>,
        index: &ComponentExportIndex,
        bytes: bytes::Bytes,
        extra: Option<Value>,
    ) -> wasmtime::Result<Value> {
        macro_rules! with_returns {
            ($params:expr) => {
                match self.returns {
                    Returns::Bytes => {
                        typed::<_, Vec<u8>>(instance, store, index, $params).map(Value::Bytes)
                    }
                    Returns::String => {
                        typed::<_, String>(instance, store, index, $params).map(Value::String)
                    }
                    Returns::ResultBytes => {
                        typed::<_, Result<Vec<u8>, String>>(instance, store, index, $params)
                            .map(|r| result_value(r.map(Value::Bytes)))
                    }
                    Returns::ResultString => {
                        typed::<_, Result<String, String>>(instance, store, index, $params)
                            .map(|r| result_value(r.map(Value::String)))
                    }
                    Returns::Stats => {
                        typed::<_, Stats>(instance, store, index, $params).map(Value::from)
                    }
                    Returns::Page => {
                        typed::<_, Page>(instance, store, index, $params).map(Value::from)
                    }
                    Returns::ResultInfo => {
                        typed::<_, Result<Info, String>>(instance, store, index, $params)
                            .map(|r| result_value(r.map(Value::from)))
                    }
                }
            };
        }
        let extra = extra.unwrap_or(Value::Null);
        let int = |extra: &Value| -> wasmtime::Result<u64> {
            match *extra {
                Value::UInt(u) => Ok(u),
                Value::Int(i) if i >= 0 => Ok(i as u64),
                Value::Float(f) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => {
                    Ok(f as u64)
                }
                _ => Err(wasmtime::format_err!("argument is not an unsigned integer")),
            }
        };
        // Lowered from the caller's buffer: no host-side copy first.
        let bytes: &[u8] = &bytes;
        match self.extra {
            Extra::None => with_returns!((bytes,)),
            Extra::U8 => with_returns!((bytes, u8::try_from(int(&extra)?)?)),
            Extra::U32 => with_returns!((bytes, u32::try_from(int(&extra)?)?)),
            Extra::U64 => with_returns!((bytes, int(&extra)?)),
            Extra::String => match &extra {
                Value::String(text) => with_returns!((bytes, text.as_str())),
                other => match other.as_bytes().map(std::str::from_utf8) {
                    Some(text) => with_returns!((bytes, text?)),
                    None => Err(wasmtime::format_err!("argument is not a string")),
                },
            },
            Extra::Bytes => match &extra {
                Value::String(text) => with_returns!((bytes, text.as_bytes())),
                other => match other.as_bytes() {
                    Some(raw) => with_returns!((bytes, raw)),
                    None => Err(wasmtime::format_err!("argument is not bytes")),
                },
            },
            Extra::Query => with_returns!((bytes, Query::from_value(&extra)?)),
        }
    }
}

fn typed<P, R>(
    instance: &Instance,
    store: &mut Store<StoreState>,
    index: &ComponentExportIndex,
    params: P,
) -> wasmtime::Result<R>
where
    P: ComponentNamedList + Lower,
    (R,): ComponentNamedList + Lift,
{
    let f = instance.get_typed_func::<P, (R,)>(&mut *store, index)?;
    Ok(f.call(&mut *store, params)?.0)
}

/// A `result` as the dynamic path gives it: `{"ok": v}` or `{"err": e}`.
fn result_value(result: Result<Value, String>) -> Value {
    match result {
        Ok(value) => Value::Map(vec![("ok".to_owned(), value)]),
        Err(message) => Value::Map(vec![("err".to_owned(), Value::String(message))]),
    }
}
