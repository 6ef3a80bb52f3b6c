//! Conversion failures: each names where in the value it went wrong and
//! what was expected, and `Val`s no parameter takes still come back.

use wasmtime::component::Val;

use super::type_named;
use crate::convert::{ConvertError, from_val, to_val};
use crate::value::Value;

fn err(value: Value, ty: &str) -> ConvertError {
    to_val(&value, &type_named(ty), "x").expect_err("the conversion fails")
}

fn map(fields: &[(&str, Value)]) -> Value {
    Value::Map(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Failures say where in the value and what was wrong.
#[test]
fn errors_name_the_place_and_the_problem() {
    let cases = [
        (
            err(Value::from("no"), "bool"),
            "x",
            "expected bool, found a string",
        ),
        (
            err(Value::Float(1.5), "u8"),
            "x",
            "expected u8, found a float",
        ),
        (
            err(Value::from("ab"), "char"),
            "x",
            "expected a single character, found a string of 2 characters",
        ),
        (
            err(Value::Bytes(vec![0xff]), "string"),
            "x",
            "expected a string, found bytes that are not UTF-8",
        ),
        (
            err(
                Value::List(vec![Value::Int(1), Value::from("two")]),
                "list-s32",
            ),
            "x[1]",
            "expected s32, found a string",
        ),
        (
            err(Value::List(vec![Value::Int(1)]), "tuple"),
            "x",
            "expected tuple<u8, string, f64> with 3 elements, found 1",
        ),
        (
            err(
                map(&[("name", "a".into()), ("colour", Value::Null)]),
                "record",
            ),
            "x",
            "unknown field `colour`; expected `name`, `count`, `note`",
        ),
        (
            err(map(&[("name", "a".into())]), "record"),
            "x",
            "missing field `count` (u32)",
        ),
        (
            err(
                map(&[("name", "a".into()), ("count", Value::Int(-1))]),
                "record",
            ),
            "x.count",
            "-1 is out of range for u32",
        ),
        (
            err(Value::from("nine"), "variant"),
            "x",
            "unknown case `nine`; expected `none`, `num`, `text`, `pair`",
        ),
        (
            err(Value::from("num"), "variant"),
            "x",
            "case `num` needs a payload (s64): write { num = ... }",
        ),
        (
            err(map(&[("none", Value::Int(1))]), "variant"),
            "x",
            "case `none` takes no payload",
        ),
        (
            err(Value::from("mauve"), "enum"),
            "x",
            "unknown case `mauve`; expected `red`, `green`, `blue`",
        ),
        (
            err(Value::List(vec!["read".into(), "fly".into()]), "flags"),
            "x",
            "unknown flag `fly`; expected `read`, `write`, `exec`",
        ),
        (
            err(map(&[("maybe", Value::Null)]), "result"),
            "x",
            "unknown case `maybe`; expected `ok` or `err`",
        ),
        (
            err(map(&[("ok", Value::Int(1))]), "result-unit"),
            "x",
            "`ok` takes no payload here",
        ),
        (
            err(Value::from("ok"), "result"),
            "x",
            "`ok` needs a payload (u32)",
        ),
        (
            err(
                map(&[(
                    "items",
                    Value::List(vec![map(&[("pair", Value::List(vec![]))])]),
                )]),
                "nested",
            ),
            "x",
            "missing field `tags` (flags { read, write, exec })",
        ),
    ];
    for (e, path, message) in cases {
        assert_eq!((e.path.as_str(), e.message.as_str()), (path, message));
    }
    // Paths go down through lists, fields and cases.
    let deep = err(
        map(&[
            ("tags", Value::List(vec![])),
            (
                "items",
                Value::List(vec![
                    "none".into(),
                    map(&[("pair", Value::List(vec![Value::Int(1), Value::Int(2)]))]),
                ]),
            ),
        ]),
        "nested",
    );
    assert_eq!(deep.path, "x.items[1].pair[1]");
    assert_eq!(deep.message, "expected bool, found an integer");
}

/// Values of kinds no parameter can take still come back as something.
#[test]
fn vals_without_a_parameter_form_come_back() {
    assert_eq!(
        from_val(Val::Map(vec![(Val::String("a".into()), Val::U32(1))])),
        Value::List(vec![Value::List(vec!["a".into(), Value::UInt(1)])])
    );
    assert_eq!(
        from_val(Val::FixedLengthList(vec![Val::S8(-1), Val::S8(2)])),
        Value::List(vec![Value::Int(-1), Value::Int(2)])
    );
    assert_eq!(
        from_val(Val::Result(Err(None))),
        map(&[("err", Value::Null)])
    );
}
