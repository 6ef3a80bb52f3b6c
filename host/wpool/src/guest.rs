//! Guests: where a guest's code comes from ([`Guest`]), and a compiled,
//! linked guest ready to run on every worker ([`LoadedGuest`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{ComponentExportIndex, Type};

use crate::cache::CacheStatus;
use crate::convert::{self, describe};
use crate::error::CallError;
use crate::fast::BytesCall;
use crate::grants::Grants;
use crate::state::{CommandIo, StoreState};
use crate::value::Value;

/// Where a guest's code comes from, and what it is granted.
///
/// ```
/// use wpool::{Access, Grants, Guest};
///
/// let sha = Guest::builtin("sha256");
/// let mine = Guest::file("guests/resize.wasm")
///     .grants(Grants::new().dir("photos", "/photos", Access::ReadOnly));
/// let inline = Guest::bytes("answer", r#"(module (func (export "answer") (result i32) i32.const 42))"#);
/// # let _ = (sha, mine, inline);
/// ```
#[derive(Debug, Clone)]
pub struct Guest {
    pub(crate) source: Source,
    pub(crate) name: Option<String>,
    pub(crate) grants: Grants,
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Builtin(String),
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

impl Guest {
    /// A built-in guest by name: see [`Guest::builtins`].
    pub fn builtin(name: impl Into<String>) -> Self {
        Self::from_source(Source::Builtin(name.into()))
    }

    /// A `.wasm` file (a component or a core module); its name is the file stem.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::from_source(Source::File(path.into()))
    }

    /// A component or module from memory: binary, or WAT text.
    pub fn bytes(name: impl Into<String>, bytes: impl AsRef<[u8]>) -> Self {
        Guest {
            name: Some(name.into()),
            ..Self::from_source(Source::Bytes(bytes.as_ref().into()))
        }
    }

    fn from_source(source: Source) -> Self {
        Guest {
            source,
            name: None,
            grants: Grants::default(),
        }
    }

    /// Names the guest (used in messages and records).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets what the guest may reach through WASI (nothing by default).
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// The names of the built-in guests (none without the `builtins`
    /// feature).
    pub fn builtins() -> impl Iterator<Item = &'static str> {
        #[cfg(feature = "builtins")]
        let names = wpool_builtins::names();
        #[cfg(not(feature = "builtins"))]
        let names = std::iter::empty();
        names
    }

    /// The guest's name: given, the built-in's, or the file stem.
    pub fn name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match &self.source {
            Source::Builtin(name) => name.clone(),
            Source::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            Source::Bytes(_) => "guest".to_owned(),
        }
    }

    pub(crate) fn builtin_bytes(name: &str) -> Option<&'static [u8]> {
        #[cfg(feature = "builtins")]
        return wpool_builtins::get(name).map(|builtin| builtin.bytes);
        #[cfg(not(feature = "builtins"))]
        {
            let _ = name;
            None
        }
    }
}

/// The three kinds of guest, told apart by what they export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuestKind {
    /// A WebAssembly component with WIT-typed exports (WASI preview 2).
    Component,
    /// A core WebAssembly module with numeric exports (WASI preview 1 imports allowed).
    Module,
    /// A WASI command program: a core module exporting `_start`, or a
    /// component exporting `wasi:cli/run`. Its one function, `run`, feeds the
    /// task's input to stdin (with optional arguments) and returns what it
    /// printed to stdout; a non-zero exit status fails the task.
    Command,
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuestKind::Component => "component",
            GuestKind::Module => "core module",
            GuestKind::Command => "WASI command",
        })
    }
}

/// One import of a guest, and whether wpool provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// `wasi:cli/environment@0.2.0` for a component, `module::name` for a
    /// core module.
    pub name: String,
    /// Whether wpool links it (what a guest actually reaches through it still
    /// depends on its grants).
    pub provided: bool,
}

/// What [`Pool::inspect`](crate::Pool::inspect) found out about a guest:
/// its kind, exports and imports, and why it cannot run if it cannot.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inspection {
    /// The guest's name.
    pub name: String,
    /// Component, core module or WASI command.
    pub kind: GuestKind,
    /// The exported functions, with their signatures.
    pub functions: Vec<Function>,
    /// Every import, marked provided or not.
    pub imports: Vec<Import>,
    /// Whether the compiled code came from the on-disk cache.
    pub cache: CacheStatus,
    /// Why the guest cannot run (`None` when it can), e.g. an import of
    /// `wasi:http` that wpool does not provide.
    pub problem: Option<String>,
    /// A component's interface as WIT, printed as `wasm-tools component wit`
    /// prints it: `package root:component;` and a `world root` declaring
    /// each record, variant, enum and flags once by name, then its imports
    /// and exports. `None` for a core module, or a component whose types
    /// WIT cannot describe: [`Function::signature`] still names every type.
    pub wit: Option<String>,
}

/// A compiled guest, linked and ready to instantiate on every worker of the
/// pool that loaded it. Cheap to clone.
#[derive(Clone)]
pub struct LoadedGuest {
    pub(crate) inner: Arc<GuestInner>,
}

pub(crate) struct GuestInner {
    pub(crate) id: u64,
    pub(crate) pool_id: u64,
    pub(crate) name: Arc<str>,
    pub(crate) kind: GuestKind,
    pub(crate) pre: Pre,
    pub(crate) functions: Vec<Function>,
    pub(crate) imports: Vec<String>,
    pub(crate) grants: Grants,
    pub(crate) cache: CacheStatus,
    pub(crate) wit: Option<Arc<str>>,
}

pub(crate) enum Pre {
    Component(wasmtime::component::InstancePre<StoreState>),
    Module(wasmtime::InstancePre<StoreState>),
}

/// An exported function and its signature.
#[derive(Clone)]
pub struct Function {
    name: Arc<str>,
    pub(crate) sig: Signature,
    /// Set for byte-heavy signatures, called through a typed function.
    pub(crate) fast: Option<BytesCall>,
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
    Component(Vec<Value>),
    Module(Vec<wasmtime::Val>),
    /// For a [`BytesCall`]: the bytes, and the parameter after them.
    Bytes(Vec<u8>, Option<Value>),
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
        Function {
            name: name.into(),
            sig: Signature::Component {
                index,
                params,
                results,
            },
            fast,
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
        }
    }

    /// A command's `run`: `start` is `None` for a core module's `_start`,
    /// the export index of `wasi:cli/run#run` for a component.
    pub(crate) fn command(start: Option<ComponentExportIndex>) -> Self {
        Function {
            name: COMMAND_FUNCTION.into(),
            sig: Signature::Command(start),
            fast: None,
        }
    }

    /// The export's name (`heavy-calc`, or `iface#func` for a function of an
    /// exported interface).
    pub fn name(&self) -> &str {
        &self.name
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

    fn prepare(&self, args: Vec<Value>) -> Result<PreparedArgs, CallError> {
        let expected = match &self.sig {
            Signature::Component { params, .. } => params.len(),
            Signature::Module { params, .. } => params.len(),
            Signature::Command(_) => return prepare_command(args).map(PreparedArgs::Command),
        };
        if args.len() != expected {
            return Err(CallError::new(format!(
                "`{}` takes {expected} argument{} ({}), got {}",
                self.name,
                if expected == 1 { "" } else { "s" },
                self.signature(),
                args.len()
            )));
        }
        match &self.sig {
            Signature::Component { params, .. } => {
                for ((name, ty), value) in params.iter().zip(&args) {
                    convert::check(value, ty, name).map_err(|e| {
                        CallError::new(format!("argument `{}`: {}", e.path, e.message))
                    })?;
                }
                if self.fast.is_some() {
                    let mut args = args.into_iter();
                    let bytes = match args.next() {
                        Some(Value::Bytes(b)) => b,
                        Some(Value::String(s)) => s.into_bytes(),
                        // A list of numbers, each checked to fit a byte.
                        Some(Value::List(items)) => items
                            .iter()
                            .map(|item| item.as_u64().map_or(0, |n| n as u8))
                            .collect(),
                        _ => Vec::new(),
                    };
                    return Ok(PreparedArgs::Bytes(bytes, args.next()));
                }
                Ok(PreparedArgs::Component(args))
            }
            Signature::Module { params, .. } => params
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
                .map(PreparedArgs::Module),
            Signature::Command(_) => unreachable!("commands are prepared above"),
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

impl LoadedGuest {
    /// The guest's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Component, core module or WASI command.
    pub fn kind(&self) -> GuestKind {
        self.inner.kind
    }

    /// The guest's interface as WIT (see [`Inspection::wit`]); `None` for a
    /// core module or a component whose types WIT cannot describe.
    pub fn wit(&self) -> Option<&str> {
        self.inner.wit.as_deref()
    }

    /// The exported functions, in export order.
    pub fn functions(&self) -> &[Function] {
        &self.inner.functions
    }

    /// The exported function `name`, if there is one.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.inner.functions.iter().find(|f| f.name() == name)
    }

    /// What the guest imports (all provided by wpool, or it would not have
    /// loaded): WASI interfaces for components, `module::name` for modules.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn cache_status(&self) -> CacheStatus {
        self.inner.cache
    }

    /// What the guest is granted.
    pub fn granted(&self) -> &Grants {
        &self.inner.grants
    }

    /// Checks that `func(args)` is a valid call without running anything:
    /// the function exists and every argument converts to its parameter type.
    pub fn check(&self, func: &str, args: &[Value]) -> Result<(), CallError> {
        self.prepare(func, args.to_vec()).map(drop)
    }

    pub(crate) fn prepare(&self, func: &str, args: Vec<Value>) -> Result<PreparedCall, CallError> {
        let Some(index) = self.inner.functions.iter().position(|f| f.name() == func) else {
            let names: Vec<&str> = self.inner.functions.iter().map(Function::name).collect();
            return Err(CallError::new(format!(
                "guest `{}` has no function `{func}`; it exports {}",
                self.inner.name,
                if names.is_empty() {
                    "no functions".to_owned()
                } else {
                    convert::list_names(&names)
                }
            )));
        };
        let args = self.inner.functions[index].prepare(args)?;
        Ok(PreparedCall {
            function: index,
            args,
        })
    }
}

impl fmt::Debug for LoadedGuest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedGuest")
            .field("name", &self.inner.name)
            .field("kind", &self.kind())
            .field("functions", &self.inner.functions)
            .finish()
    }
}
