//! `Value` ⇄ `Val` for every WIT type, with the types taken from a real
//! component (Wasmtime's `Type` cannot be built by hand).
//!
//! For each type a strategy draws a *case*: a `Value` spelled any way the
//! conversion accepts, the `Val` it must become, and the `Value` that `Val`
//! must come back as. Arbitrary values then check that [`check`] agrees
//! with [`to_val`] on every input, valid or not.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Type, Val};

use super::{check, describe, from_val, to_val};
use crate::value::Value;

/// One import per type under test: `f-NAME` takes one parameter of the type.
/// Named types (record, variant, enum, flags) must be imported by name to
/// appear in a signature.
const TYPES: &str = r#"(component
  (type $rec-def (record (field "name" string) (field "count" u32) (field "note" (option string))))
  (import "rec" (type $rec (eq $rec-def)))
  (type $var-def (variant (case "none") (case "num" s64) (case "text" string) (case "pair" (tuple u8 bool))))
  (import "var" (type $var (eq $var-def)))
  (type $en-def (enum "red" "green" "blue"))
  (import "en" (type $en (eq $en-def)))
  (type $fl-def (flags "read" "write" "exec"))
  (import "fl" (type $fl (eq $fl-def)))
  (type $nest-def (record (field "tags" $fl) (field "colour" (option $en)) (field "items" (list $var))))
  (import "nest" (type $nest (eq $nest-def)))

  (import "f-bool" (func (param "x" bool)))
  (import "f-s8" (func (param "x" s8)))
  (import "f-u8" (func (param "x" u8)))
  (import "f-s16" (func (param "x" s16)))
  (import "f-u16" (func (param "x" u16)))
  (import "f-s32" (func (param "x" s32)))
  (import "f-u32" (func (param "x" u32)))
  (import "f-s64" (func (param "x" s64)))
  (import "f-u64" (func (param "x" u64)))
  (import "f-f32" (func (param "x" f32)))
  (import "f-f64" (func (param "x" f64)))
  (import "f-char" (func (param "x" char)))
  (import "f-string" (func (param "x" string)))
  (import "f-bytes" (func (param "x" (list u8))))
  (import "f-list-s32" (func (param "x" (list s32))))
  (import "f-list-bytes" (func (param "x" (list (list u8)))))
  (import "f-list-string" (func (param "x" (list string))))
  (import "f-tuple" (func (param "x" (tuple u8 string f64))))
  (import "f-tuple-bytes" (func (param "x" (tuple u8 u8))))
  (import "f-record" (func (param "x" $rec)))
  (import "f-list-record" (func (param "x" (list $rec))))
  (import "f-variant" (func (param "x" $var)))
  (import "f-enum" (func (param "x" $en)))
  (import "f-flags" (func (param "x" $fl)))
  (import "f-nested" (func (param "x" $nest)))
  (import "f-option" (func (param "x" (option u32))))
  (import "f-option-option" (func (param "x" (option (option u32)))))
  (import "f-option-bytes" (func (param "x" (option (list u8)))))
  (import "f-result" (func (param "x" (result u32 (error string)))))
  (import "f-result-ok" (func (param "x" (result string))))
  (import "f-result-err" (func (param "x" (result (error u8)))))
  (import "f-result-unit" (func (param "x" (result))))
  (import "f-result-option" (func (param "x" (result (option u32) (error (option string))))))
)"#;

/// Every `f-NAME` import's parameter type, by `NAME`.
fn types_of(engine: &Engine, wat: &str) -> Vec<(String, Type)> {
    let component = Component::new(engine, wat).expect("the test component compiles");
    let ty = component.component_type();
    let mut types = Vec::new();
    for (name, import) in ty.imports(engine) {
        if let (Some(name), ComponentItem::ComponentFunc(func)) =
            (name.strip_prefix("f-"), import.ty)
        {
            let params: Vec<Type> = func.params().map(|(_, t)| t).collect();
            assert_eq!(params.len(), 1, "`f-{name}` takes one parameter");
            types.push((name.to_owned(), params[0].clone()));
        }
    }
    types
}

fn all_types() -> Vec<(String, Type)> {
    let types = types_of(&Engine::default(), TYPES);
    assert_eq!(types.len(), 33, "every import was read");
    types
}

fn type_named(name: &str) -> Type {
    all_types()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no type `{name}`"))
        .1
}

/// A value of one type: how it may be written, what it converts to, and
/// how that comes back.
#[derive(Debug, Clone)]
struct Case {
    input: Value,
    val: Val,
    output: Value,
}

impl Case {
    fn same(value: Value, val: Val) -> Case {
        Case {
            input: value.clone(),
            val,
            output: value,
        }
    }
}

fn boxed<S: Strategy<Value = Case> + 'static>(s: S) -> BoxedStrategy<Case> {
    s.boxed()
}

/// Every spelling of an integer `i` the conversion accepts: a signed or
/// unsigned integer, or a float with no fraction.
fn int_spellings(i: i128) -> BoxedStrategy<Value> {
    let mut spellings = Vec::new();
    if let Ok(v) = i64::try_from(i) {
        spellings.push(Value::Int(v));
    }
    if let Ok(v) = u64::try_from(i) {
        spellings.push(Value::UInt(v));
    }
    // Exactly representable floats only: `f as i128` must give `i` back.
    if (i as f64) as i128 == i && i.unsigned_abs() < 1 << 53 {
        spellings.push(Value::Float(i as f64));
    }
    proptest::sample::select(spellings).boxed()
}

macro_rules! int_case {
    ($t:ty, $variant:ident, $out:ident) => {
        boxed(any::<$t>().prop_flat_map(|n| {
            int_spellings(n.into()).prop_map(move |input| Case {
                input,
                val: Val::$variant(n),
                output: Value::$out(n.into()),
            })
        }))
    };
}

/// Cases of type `ty`.
fn typed(ty: &Type) -> BoxedStrategy<Case> {
    match ty {
        Type::Bool => boxed(any::<bool>().prop_map(|b| Case::same(Value::Bool(b), Val::Bool(b)))),
        Type::S8 => int_case!(i8, S8, Int),
        Type::U8 => int_case!(u8, U8, UInt),
        Type::S16 => int_case!(i16, S16, Int),
        Type::U16 => int_case!(u16, U16, UInt),
        Type::S32 => int_case!(i32, S32, Int),
        Type::U32 => int_case!(u32, U32, UInt),
        Type::S64 => int_case!(i64, S64, Int),
        Type::U64 => int_case!(u64, U64, UInt),
        Type::Float32 => boxed(
            (proptest::num::f32::NORMAL | proptest::num::f32::ZERO | proptest::num::f32::SUBNORMAL)
                .prop_map(|f| Case {
                    input: Value::Float(f.into()),
                    val: Val::Float32(f),
                    output: Value::Float(f.into()),
                }),
        ),
        Type::Float64 => boxed(prop_oneof![
            (proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL)
                .prop_map(|f| Case::same(Value::Float(f), Val::Float64(f))),
            // Integers are numbers too.
            (-(1i64 << 53)..(1i64 << 53)).prop_map(|i| Case {
                input: Value::Int(i),
                val: Val::Float64(i as f64),
                output: Value::Float(i as f64),
            }),
        ]),
        Type::Char => boxed(any::<char>().prop_map(|c| Case {
            input: Value::String(c.to_string()),
            val: Val::Char(c),
            output: Value::String(c.to_string()),
        })),
        Type::String => boxed((".{0,12}", any::<bool>()).prop_map(|(s, as_bytes)| Case {
            input: if as_bytes {
                Value::Bytes(s.clone().into_bytes())
            } else {
                Value::String(s.clone())
            },
            val: Val::String(s.clone()),
            output: Value::String(s),
        })),
        Type::List(list) => match list.ty() {
            Type::U8 => boxed(
                (proptest::collection::vec(any::<u8>(), 0..12), 0..3u8).prop_flat_map(
                    |(bytes, spelling)| {
                        let val = Val::List(bytes.iter().map(|&b| Val::U8(b)).collect());
                        // `from_val` cannot tell an empty `list<u8>` from
                        // any other empty list.
                        let output = if bytes.is_empty() {
                            Value::List(Vec::new())
                        } else {
                            Value::Bytes(bytes.clone())
                        };
                        let input = match spelling {
                            0 => Just(Value::Bytes(bytes.clone())).boxed(),
                            1 => Just(Value::List(
                                bytes.iter().map(|&b| Value::UInt(b.into())).collect(),
                            ))
                            .boxed(),
                            // A string stands for its UTF-8 bytes.
                            _ => ".{0,6}".prop_map(|s: String| Value::String(s)).boxed(),
                        };
                        input.prop_map(move |input| match &input {
                            Value::String(s) => Case {
                                val: Val::List(s.bytes().map(Val::U8).collect()),
                                output: if s.is_empty() {
                                    Value::List(Vec::new())
                                } else {
                                    Value::Bytes(s.as_bytes().to_vec())
                                },
                                input,
                            },
                            _ => Case {
                                input,
                                val: val.clone(),
                                output: output.clone(),
                            },
                        })
                    },
                ),
            ),
            elem => boxed(proptest::collection::vec(typed(&elem), 0..4).prop_map(list_case)),
        },
        Type::Tuple(tuple) => {
            let parts: Vec<_> = tuple.types().map(|t| typed(&t)).collect();
            boxed(parts.prop_map(|cases| {
                let c = list_case(cases);
                let Val::List(items) = c.val else {
                    unreachable!()
                };
                Case {
                    val: Val::Tuple(items),
                    ..c
                }
            }))
        }
        Type::Record(record) => {
            let fields: Vec<_> = record
                .fields()
                .map(|f| {
                    let optional = matches!(f.ty, Type::Option(_));
                    (Just(f.name.to_owned()), typed(&f.ty), any::<bool>())
                        .prop_map(move |(name, case, omit)| (name, case, omit && optional))
                })
                .collect();
            boxed(fields.prop_map(|fields| {
                let mut input = Vec::new();
                let mut val = Vec::new();
                let mut output = Vec::new();
                for (name, case, omit) in fields {
                    if omit {
                        // An `option` field may be left out: it is `none`.
                        val.push((name.clone(), Val::Option(None)));
                        output.push((name, Value::Null));
                    } else {
                        input.push((name.clone(), case.input));
                        val.push((name.clone(), case.val));
                        output.push((name, case.output));
                    }
                }
                Case {
                    input: Value::Map(input),
                    val: Val::Record(val),
                    output: Value::Map(output),
                }
            }))
        }
        Type::Variant(variant) => {
            let cases: Vec<BoxedStrategy<Case>> = variant
                .cases()
                .map(|c| {
                    let name = c.name.to_owned();
                    match c.ty {
                        None => boxed(any::<bool>().prop_map(move |as_map| Case {
                            input: if as_map {
                                Value::Map(vec![(name.clone(), Value::Null)])
                            } else {
                                Value::String(name.clone())
                            },
                            val: Val::Variant(name.clone(), None),
                            output: Value::String(name.clone()),
                        })),
                        Some(t) => boxed(typed(&t).prop_map(move |p| Case {
                            input: Value::Map(vec![(name.clone(), p.input)]),
                            val: Val::Variant(name.clone(), Some(Box::new(p.val))),
                            output: Value::Map(vec![(name.clone(), p.output)]),
                        })),
                    }
                })
                .collect();
            boxed(proptest::strategy::Union::new(cases))
        }
        Type::Enum(e) => {
            let names: Vec<String> = e.names().map(str::to_owned).collect();
            boxed(proptest::sample::select(names).prop_map(|n| Case {
                input: Value::String(n.clone()),
                val: Val::Enum(n.clone()),
                output: Value::String(n),
            }))
        }
        Type::Flags(flags) => {
            let names: Vec<String> = flags.names().map(str::to_owned).collect();
            boxed(
                proptest::sample::subsequence(names.clone(), 0..=names.len()).prop_map(|set| {
                    Case {
                        input: Value::List(set.iter().cloned().map(Value::String).collect()),
                        val: Val::Flags(set.clone()),
                        output: Value::List(set.into_iter().map(Value::String).collect()),
                    }
                }),
            )
        }
        Type::Option(option) => boxed(prop_oneof![
            1 => Just(Case::same(Value::Null, Val::Option(None))),
            3 => typed(&option.ty()).prop_map(|inner| {
                if inner.input == Value::Null {
                    // `option<option<T>>`: `some(none)` has no spelling of
                    // its own; `null` is the outer `none`.
                    Case::same(Value::Null, Val::Option(None))
                } else {
                    Case {
                        input: inner.input,
                        val: Val::Option(Some(Box::new(inner.val))),
                        output: inner.output,
                    }
                }
            }),
        ]),
        Type::Result(result) => {
            let side = |case: &'static str, ty: Option<Type>| -> BoxedStrategy<Case> {
                let wrap = move |v: Option<Box<Val>>| {
                    Val::Result(if case == "ok" { Ok(v) } else { Err(v) })
                };
                match ty {
                    None => boxed(any::<bool>().prop_map(move |as_map| Case {
                        input: if as_map {
                            Value::Map(vec![(case.to_owned(), Value::Null)])
                        } else {
                            Value::String(case.to_owned())
                        },
                        val: wrap(None),
                        output: Value::Map(vec![(case.to_owned(), Value::Null)]),
                    })),
                    Some(t) => boxed(typed(&t).prop_map(move |p| Case {
                        input: Value::Map(vec![(case.to_owned(), p.input)]),
                        val: wrap(Some(Box::new(p.val))),
                        output: Value::Map(vec![(case.to_owned(), p.output)]),
                    })),
                }
            };
            boxed(prop_oneof![
                side("ok", result.ok()),
                side("err", result.err())
            ])
        }
        other => panic!("no cases for {}", describe(other)),
    }
}

fn list_case(cases: Vec<Case>) -> Case {
    let mut input = Vec::new();
    let mut val = Vec::new();
    let mut output = Vec::new();
    for c in cases {
        input.push(c.input);
        val.push(c.val);
        output.push(c.output);
    }
    Case {
        input: Value::List(input),
        val: Val::List(val),
        output: Value::List(output),
    }
}

/// Any value at all, with the names the test types use, so that many come
/// close to fitting.
fn any_value() -> impl Strategy<Value = Value> {
    let names = proptest::sample::select(vec![
        "name", "count", "note", "none", "num", "text", "pair", "red", "green", "blue", "read",
        "write", "exec", "ok", "err", "tags", "colour", "items", "x", "", "ab",
    ])
    .prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![any::<i64>(), -300i64..300].prop_map(Value::Int),
        prop_oneof![any::<u64>(), 0u64..300].prop_map(Value::UInt),
        prop_oneof![any::<f64>(), (-300i32..300).prop_map(f64::from), Just(0.5)]
            .prop_map(Value::Float),
        prop_oneof![names.clone(), ".{0,3}"].prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        Just(Value::Bytes(vec![0xff, 0xfe])),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec((names.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn every_type_converts_both_ways() {
    for (name, ty) in all_types() {
        let result = runner().run(&typed(&ty), |case| {
            let val = to_val(&case.input, &ty, "x");
            prop_assert_eq!(val.as_ref(), Ok(&case.val), "Value → Val");
            prop_assert_eq!(check(&case.input, &ty, "x"), Ok(()), "check");
            prop_assert_eq!(&from_val(case.val.clone()), &case.output, "Val → Value");
            // What a guest returns can be passed back in as it is.
            prop_assert_eq!(to_val(&case.output, &ty, "x"), Ok(case.val), "round trip");
            Ok(())
        });
        if let Err(e) = result {
            panic!("`{name}` ({}): {e}", describe(&ty));
        }
    }
}

#[test]
fn check_agrees_with_to_val_on_any_value() {
    for (name, ty) in all_types() {
        let values = prop_oneof![typed(&ty).prop_map(|c| c.input), any_value()];
        let result = runner().run(&values, |value| {
            let built = to_val(&value, &ty, "x");
            let checked = check(&value, &ty, "x");
            prop_assert_eq!(checked, built.map(drop), "{:?}", value);
            Ok(())
        });
        if let Err(e) = result {
            panic!("`{name}` ({}): {e}", describe(&ty));
        }
    }
}

/// An integer converts exactly when it is in range, whatever its spelling.
#[test]
fn integers_convert_exactly_when_in_range() {
    let ranges: [(&str, i128, i128); 8] = [
        ("s8", i8::MIN.into(), i8::MAX.into()),
        ("u8", 0, u8::MAX.into()),
        ("s16", i16::MIN.into(), i16::MAX.into()),
        ("u16", 0, u16::MAX.into()),
        ("s32", i32::MIN.into(), i32::MAX.into()),
        ("u32", 0, u32::MAX.into()),
        ("s64", i64::MIN.into(), i64::MAX.into()),
        ("u64", 0, u64::MAX.into()),
    ];
    let types = all_types();
    for (name, lo, hi) in ranges {
        let ty = &types.iter().find(|(n, _)| n == name).unwrap().1;
        let edges = prop_oneof![
            Just(lo - 1),
            Just(lo),
            Just(hi),
            Just(hi + 1),
            (lo - 1000)..(lo + 1000),
            (hi - 1000)..(hi + 1000),
            i128::from(i64::MIN)..=i128::from(u64::MAX),
        ];
        let result = runner().run(&edges, |n| {
            let spellings: Vec<Value> = [
                i64::try_from(n).ok().map(Value::Int),
                u64::try_from(n).ok().map(Value::UInt),
            ]
            .into_iter()
            .flatten()
            .collect();
            for value in spellings {
                let out = to_val(&value, ty, "n");
                let fits = (lo..=hi).contains(&n);
                prop_assert_eq!(out.is_ok(), fits, "{} as {}: {:?}", n, name, out);
                match out {
                    Ok(val) => prop_assert_eq!(from_val(val).to_json(), value.to_json()),
                    Err(e) => prop_assert_eq!(
                        e.message,
                        format!("{} is out of range for {name}", value.to_json())
                    ),
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
    }
}

#[path = "convert_error_tests.rs"]
mod errors;
