//! [`Value`]: the dynamic, JSON-shaped value that crosses into and out of guests.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A dynamically typed value passed to or returned from a guest function.
///
/// Arguments are converted to the function's parameter types when a task is
/// submitted, so a `Value` only needs the right *shape*:
///
/// | WIT type | accepted `Value` | returned `Value` |
/// |---|---|---|
/// | `bool` | `Bool` | `Bool` |
/// | `u8` … `u64`, `s8` … `s64` | `Int`, `UInt` (range-checked) | `UInt` / `Int` |
/// | `f32`, `f64` | `Float`, `Int`, `UInt` | `Float` |
/// | `char` | a one-character `String` | `String` |
/// | `string` | `String`, UTF-8 `Bytes` or `SharedBytes` | `String` |
/// | `list<u8>` | `Bytes`, `SharedBytes`, `String` (its UTF-8), `List` of integers | `Bytes` |
/// | `list<T>`, `tuple<..>` | `List` | `List` |
/// | `record` | `Map` by field name (`option` fields may be left out) | `Map` |
/// | `variant` | `String` (case without payload) or one-key `Map` `{case: payload}` | the same |
/// | `enum` | `String` | `String` |
/// | `option<T>` | `Null` or a `T` | `Null` or a `T` |
/// | `result<T, E>` | `{"ok": T}` or `{"err": E}` | the same |
/// | `flags` | `List` of flag names | `List` of `String` |
///
/// In JSON, [`Value::Bytes`] (and [`Value::SharedBytes`]) is written as a
/// lowercase hex string (so a digest reads as it usually does); every other
/// variant maps to its JSON counterpart. Deserializing (from JSON or TOML)
/// never produces `Bytes`.
///
/// Two values are equal when they have the same shape and content: `Bytes`
/// and `SharedBytes` holding the same bytes are equal.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Value {
    /// No value: a unit result, `none`, JSON `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string (also a `char`, an `enum` case, a payload-less `variant` case).
    String(String),
    /// Raw bytes (`list<u8>`).
    Bytes(Vec<u8>),
    /// Raw bytes shared with their owner ([`bytes::Bytes`], re-exported as
    /// [`wpool::Bytes`](crate::Bytes)), accepted wherever `Bytes` is. The
    /// caller keeps its buffer: a `list<u8>` parameter is copied from it
    /// into the guest, and the worker only drops a reference, so nothing
    /// is copied or freed on the host per task. Results are never
    /// `SharedBytes`.
    ///
    /// ```
    /// use wpool::{Bytes, Value};
    ///
    /// let payload = Bytes::from(vec![1u8, 2, 3]);
    /// let arg = Value::from(payload.clone()); // no copy: a reference
    /// assert_eq!(arg.as_bytes(), Some(&payload[..]));
    /// assert_eq!(arg, Value::Bytes(vec![1, 2, 3]));
    /// ```
    SharedBytes(bytes::Bytes),
    /// A list or a tuple.
    List(Vec<Value>),
    /// A record, or a `variant`/`result` case with a payload, in field order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The value as a `u64`, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::UInt(v) => Some(v),
            Value::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v),
            Value::UInt(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an `f64`, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v),
            Value::Int(v) => Some(v as f64),
            Value::UInt(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as bytes, if it is `Bytes` or `SharedBytes`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::SharedBytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value's bytes, owned and shared, if it is `Bytes` (its buffer,
    /// not copied) or `SharedBytes`.
    pub(crate) fn into_shared_bytes(self) -> Result<bytes::Bytes, Value> {
        match self {
            Value::Bytes(b) => Ok(b.into()),
            Value::SharedBytes(b) => Ok(b),
            other => Err(other),
        }
    }

    /// The value as a slice of values, if it is a `List`.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The value of field `key`, if this is a `Map` that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name for the value's shape, used in error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Bytes(_) | Value::SharedBytes(_) => "bytes",
            Value::List(_) => "a list",
            Value::Map(_) => "a table",
        }
    }

    /// Approximate number of bytes the value holds (for the output-size cap).
    pub fn approx_size(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 1,
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => 8,
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::SharedBytes(b) => b.len(),
            Value::List(items) => items.iter().map(Value::approx_size).sum::<usize>() + 1,
            Value::Map(fields) => fields
                .iter()
                .map(|(k, v)| k.len() + v.approx_size())
                .sum::<usize>()
                .saturating_add(1),
        }
    }

    /// Renders the value as compact JSON (bytes as hex).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned())
    }
}

impl fmt::Display for Value {
    /// Strings print bare; everything else prints as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            other => f.write_str(&other.to_json()),
        }
    }
}

macro_rules! from_int {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
    )*};
}
from_int!(UInt: u8, u16, u32, u64);
from_int!(Int: i8, i16, i32, i64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v.into())
    }
}
impl From<char> for Value {
    fn from(v: char) -> Self {
        Value::String(v.to_string())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<bytes::Bytes> for Value {
    fn from(v: bytes::Bytes) -> Self {
        Value::SharedBytes(v)
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::UInt(a), Value::UInt(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (a, b) => a.as_bytes().is_some() && a.as_bytes() == b.as_bytes(),
        }
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Map(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

/// The arguments of one call: anything that converts into a list of [`Value`]s.
///
/// Implemented for `Vec<Value>` (the argument list), for a single [`Value`] or
/// anything that converts into one (a one-argument call), and for tuples of up
/// to four such items.
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Vec<Value>;
}

impl IntoArgs for Vec<Value> {
    fn into_args(self) -> Vec<Value> {
        self
    }
}

impl IntoArgs for () {
    fn into_args(self) -> Vec<Value> {
        Vec::new()
    }
}

macro_rules! into_args_single {
    ($($t:ty),*) => {$(
        impl IntoArgs for $t {
            fn into_args(self) -> Vec<Value> {
                vec![Value::from(self)]
            }
        }
    )*};
}
into_args_single!(
    Value,
    bool,
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    f32,
    f64,
    char,
    &str,
    String,
    Vec<u8>,
    &[u8],
    bytes::Bytes
);

macro_rules! into_args_tuple {
    ($($name:ident),+) => {
        impl<$($name: Into<Value>),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}
into_args_tuple!(A);
into_args_tuple!(A, B);
into_args_tuple!(A, B, C);
into_args_tuple!(A, B, C, D);

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(b) => s.serialize_str(&hex::encode(b)),
            Value::SharedBytes(b) => s.serialize_str(&hex::encode(b)),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value (boolean, number, string, array or table)")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(if v >= 0 {
            Value::UInt(v as u64)
        } else {
            Value::Int(v)
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            fields.push((k, v));
        }
        Ok(Value::Map(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_shape() {
        let v: Value = serde_json::from_str(r#"{"a": [1, -2, 2.5, "x", null, true]}"#).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![(
                "a".into(),
                Value::List(vec![
                    Value::UInt(1),
                    Value::Int(-2),
                    Value::Float(2.5),
                    Value::String("x".into()),
                    Value::Null,
                    Value::Bool(true),
                ])
            )])
        );
        assert_eq!(v.to_json(), r#"{"a":[1,-2,2.5,"x",null,true]}"#);
    }

    #[test]
    fn bytes_serialize_as_hex() {
        assert_eq!(
            Value::Bytes(vec![0xba, 0x78, 0x01]).to_json(),
            r#""ba7801""#
        );
    }

    #[test]
    fn integer_accessors_check_range() {
        assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
        assert_eq!(Value::Int(-1).as_u64(), None);
        assert_eq!(Value::Int(7).as_u64(), Some(7));
    }

    #[test]
    fn into_args_shapes() {
        assert_eq!(5u64.into_args(), vec![Value::UInt(5)]);
        assert_eq!(
            ("a", 1i32).into_args(),
            vec![Value::from("a"), Value::Int(1)]
        );
        assert!(().into_args().is_empty());
    }
}
