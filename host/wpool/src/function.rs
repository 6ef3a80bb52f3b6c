//! A guest's exported functions ([`Function`]): their signatures, and
//! calls checked against them ([`PreparedCall`]) on the caller's thread.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;
use wasmtime::component::{ComponentExportIndex, Type};

use crate::batch::Pacer;
use crate::convert::{self, describe};
use crate::error::CallError;
use crate::fast::BytesCall;
use crate::scalar::ScalarCall;
use crate::state::CommandIo;
use crate::value::Value;

/// An exported function and its signature.
#[derive(Clone)]
pub struct Function {
    name: Arc<str>,
    pub(crate) sig: Signature,
    /// Set for byte-heavy signatures, called through a typed function.
    pub(crate) fast: Option<BytesCall>,
    /// Set for signatures of at most one scalar in and out, called through a
    /// typed function.
    pub(crate) scalar: Option<ScalarCall>,
    /// What its calls cost, for sizing batches ([`crate::Pool::batch_size`]).
    pub(crate) pacer: Arc<Pacer>,
}

#[derive(Clone)]
pub(crate) enum Signature {
    Component {
        index: ComponentExportIndex,
        params: Vec<(String, Type)>,
        results: Vec<Type>,
    },
    Module {
        params: Vec<wasmtime::ValType>,
        results: Vec<wasmtime::ValType>,
    },
    /// A command's `run`: `_start`, or the `run` of `wasi:cli/run`.
    Command(Option<ComponentExportIndex>),
}

/// The name a command guest's one function goes by.
pub const COMMAND_FUNCTION: &str = "run";

/// A call checked against its function's signature, ready for a worker.
pub(crate) struct PreparedCall {
    pub(crate) function: usize,
    pub(crate) args: PreparedArgs,
}

/// Arguments checked against the signature on the caller's thread; what
/// costs (component values, bytes into the guest) is built on the worker.
pub(crate) enum PreparedArgs {
    /// Inline for up to two: the caller's `Vec` is freed on its own thread.
    Component(SmallVec<[Value; 2]>),
    Module(Vec<wasmtime::Val>),
    /// For a [`BytesCall`]: the bytes (the caller's buffer, owned or
    /// shared), and the parameter after them.
    Bytes(bytes::Bytes, Option<Value>),
    Command(CommandIo),
}

impl Function {
    pub(crate) fn component(
        name: String,
        index: ComponentExportIndex,
        func: &wasmtime::component::types::ComponentFunc,
    ) -> Self {
        let params: Vec<(String, Type)> = func.params().map(|(n, t)| (n.to_owned(), t)).collect();
        let results: Vec<Type> = func.results().collect();
        let fast = BytesCall::detect(&params, &results);
        let scalar = ScalarCall::detect(&params, &results);
        Function {
            name: name.into(),
            sig: Signature::Component {
                index,
                params,
                results,
            },
            fast,
            scalar,
            pacer: Arc::default(),
        }
    }

    pub(crate) fn module(name: String, ty: &wasmtime::FuncType) -> Self {
        Function {
            name: name.into(),
            sig: Signature::Module {
                params: ty.params().collect(),
                results: ty.results().collect(),
            },
            fast: None,
            scalar: None,
            pacer: Arc::default(),
        }
    }

    /// A command's `run`: `start` is `None` for a core module's `_start`,
    /// the export index of `wasi:cli/run#run` for a component.
    pub(crate) fn command(start: Option<ComponentExportIndex>) -> Self {
        Function {
            name: COMMAND_FUNCTION.into(),
            sig: Signature::Command(start),
            fast: None,
            scalar: None,
            pacer: Arc::default(),
        }
    }

    /// The export's name (`heavy-calc`, or `iface#func` for a function of an
    /// exported interface).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared: a task's [`TaskInfo`](crate::worker::TaskInfo)
    /// takes a reference, not a copy.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The parameter names (core-module parameters are named `p0`, `p1`, …).
    pub fn param_names(&self) -> Vec<String> {
        match &self.sig {
            Signature::Component { params, .. } => params.iter().map(|(n, _)| n.clone()).collect(),
            Signature::Module { params, .. } => {
                (0..params.len()).map(|i| format!("p{i}")).collect()
            }
            Signature::Command(_) => vec!["stdin".to_owned(), "args".to_owned()],
        }
    }

    /// The parameters' types as [`signature`](Function::signature) writes
    /// them, e.g. `["list<u8>"]`.
    pub fn param_types(&self) -> Vec<String> {
        match &self.sig {
            Signature::Component { params, .. } => {
                params.iter().map(|(_, t)| describe(t)).collect()
            }
            Signature::Module { params, .. } => params.iter().map(|t| t.to_string()).collect(),
            Signature::Command(_) => vec!["list<u8>".to_owned(), "list<string>".to_owned()],
        }
    }

    /// The results' types as [`signature`](Function::signature) writes them.
    pub fn result_types(&self) -> Vec<String> {
        match &self.sig {
            Signature::Component { results, .. } => results.iter().map(describe).collect(),
            Signature::Module { results, .. } => results.iter().map(|t| t.to_string()).collect(),
            Signature::Command(_) => vec!["string".to_owned()],
        }
    }

    /// The WIT-style signature, e.g. `func(data: list<u8>) -> string`.
    pub fn signature(&self) -> String {
        let (params, results): (Vec<String>, Vec<String>) = match &self.sig {
            Signature::Component {
                params, results, ..
            } => (
                params
                    .iter()
                    .map(|(n, t)| format!("{n}: {}", describe(t)))
                    .collect(),
                results.iter().map(describe).collect(),
            ),
            Signature::Module { params, results } => (
                params
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("p{i}: {t}"))
                    .collect(),
                results.iter().map(|t| t.to_string()).collect(),
            ),
            Signature::Command(_) => {
                return "func(stdin: list<u8>, args?: list<string>) -> string".to_owned();
            }
        };
        let mut sig = format!("func({})", params.join(", "));
        match results.len() {
            0 => {}
            1 => sig.push_str(&format!(" -> {}", results[0])),
            _ => sig.push_str(&format!(" -> ({})", results.join(", "))),
        }
        sig
    }

    /// Whether the function returns `result<_, _>` (an `err` fails the task
    /// with [`ErrorKind::Guest`](crate::ErrorKind::Guest)).
    pub(crate) fn returns_result(&self) -> bool {
        matches!(&self.sig, Signature::Component { results, .. } if matches!(results.as_slice(), [Type::Result(_)]))
    }

    /// Checks a component function's arguments by reference (nothing is
    /// copied); `None` for other kinds of function, whose check is their
    /// preparation.
    pub(crate) fn check_component(&self, args: &[Value]) -> Option<Result<(), CallError>> {
        let Signature::Component { params, .. } = &self.sig else {
            return None;
        };
        Some(self.check_count(args.len(), params.len()).and_then(|()| {
            params.iter().zip(args).try_for_each(|((name, ty), value)| {
                convert::check(value, ty, name)
                    .map_err(|e| CallError::new(format!("argument `{}`: {}", e.path, e.message)))
            })
        }))
    }

    fn check_count(&self, given: usize, expected: usize) -> Result<(), CallError> {
        if given == expected {
            return Ok(());
        }
        Err(CallError::new(format!(
            "`{}` takes {expected} argument{} ({}), got {given}",
            self.name,
            if expected == 1 { "" } else { "s" },
            self.signature(),
        )))
    }

    pub(crate) fn prepare(&self, args: Vec<Value>) -> Result<PreparedArgs, CallError> {
        if let Some(checked) = self.check_component(&args) {
            checked?;
        }
        match &self.sig {
            Signature::Component { .. } => {
                if self.fast.is_some() {
                    let mut args = args.into_iter();
                    let bytes = match args.next().map(Value::into_shared_bytes) {
                        Some(Ok(b)) => b,
                        Some(Err(Value::String(s))) => s.into_bytes().into(),
                        // A list of numbers, each checked to fit a byte.
                        Some(Err(Value::List(items))) => items
                            .iter()
                            .map(|item| item.as_u64().map_or(0, |n| n as u8))
                            .collect(),
                        _ => bytes::Bytes::new(),
                    };
                    return Ok(PreparedArgs::Bytes(bytes, args.next()));
                }
                Ok(PreparedArgs::Component(args.into_iter().collect()))
            }
            Signature::Module { params, .. } => {
                self.check_count(args.len(), params.len())?;
                params
                    .iter()
                    .zip(&args)
                    .enumerate()
                    .map(|(i, (ty, value))| {
                        module_val(value, ty).ok_or_else(|| {
                            CallError::new(format!(
                                "argument `p{i}`: expected {ty}, found {}",
                                value.kind_name()
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()
                    .map(PreparedArgs::Module)
            }
            Signature::Command(_) => prepare_command(args).map(PreparedArgs::Command),
        }
    }
}

/// A command's arguments: its stdin (bytes, a string or null), then
/// optionally a list of strings for its command line.
fn prepare_command(args: Vec<Value>) -> Result<CommandIo, CallError> {
    if args.is_empty() || args.len() > 2 {
        return Err(CallError::new(format!(
            "`{COMMAND_FUNCTION}` takes 1 or 2 arguments (func(stdin: list<u8>, args?: list<string>) -> string), got {}",
            args.len()
        )));
    }
    let mut args = args.into_iter();
    let stdin = match args.next() {
        Some(Value::Bytes(b)) => b,
        Some(Value::SharedBytes(b)) => b.to_vec(),
        Some(Value::String(s)) => s.into_bytes(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(CallError::new(format!(
                "argument `stdin`: expected bytes or a string, found {}",
                other.kind_name()
            )));
        }
    };
    let argv = match args.next() {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_) => {
                    Ok(item.to_json())
                }
                other => Err(CallError::new(format!(
                    "argument `args[{i}]`: expected a string, found {}",
                    other.kind_name()
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(CallError::new(format!(
                "argument `args`: expected a list of strings, found {}",
                other.kind_name()
            )));
        }
    };
    Ok(CommandIo { stdin, args: argv })
}

fn module_val(value: &Value, ty: &wasmtime::ValType) -> Option<wasmtime::Val> {
    use wasmtime::{Val, ValType};
    match ty {
        ValType::I32 => match *value {
            Value::Int(i) => i32::try_from(i).ok().map(Val::I32),
            Value::UInt(u) => u32::try_from(u).ok().map(|u| Val::I32(u as i32)),
            _ => None,
        },
        ValType::I64 => match *value {
            Value::Int(i) => Some(Val::I64(i)),
            Value::UInt(u) => Some(Val::I64(u as i64)),
            _ => None,
        },
        ValType::F32 => value.as_f64().map(|f| Val::F32((f as f32).to_bits())),
        ValType::F64 => value.as_f64().map(|f| Val::F64(f.to_bits())),
        _ => None,
    }
}

pub(crate) fn module_value(val: &wasmtime::Val) -> Value {
    use wasmtime::Val;
    match *val {
        Val::I32(i) => Value::Int(i.into()),
        Val::I64(i) => Value::Int(i),
        Val::F32(bits) => Value::Float(f32::from_bits(bits).into()),
        Val::F64(bits) => Value::Float(f64::from_bits(bits)),
        _ => Value::String("<reference>".to_owned()),
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("signature", &self.signature())
            .finish()
    }
}
