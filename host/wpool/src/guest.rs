//! Guests: where a guest's code comes from ([`Guest`]), and a compiled,
//! linked guest ready to run on every worker ([`LoadedGuest`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::CacheStatus;
use crate::convert;
use crate::error::CallError;
use crate::function::{Function, PreparedCall};
use crate::grants::Grants;
use crate::state::StoreState;
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
    pub(crate) grants: Arc<Grants>,
    pub(crate) cache: CacheStatus,
    pub(crate) wit: Option<Arc<str>>,
}

#[derive(Clone)]
pub(crate) enum Pre {
    Component(wasmtime::component::InstancePre<StoreState>),
    Module(wasmtime::InstancePre<StoreState>),
}

#[cfg(test)]
impl LoadedGuest {
    /// The same guest with its typed calls turned off: every call goes
    /// through `Val`s, as the tests that compare the two paths need.
    pub(crate) fn through_vals(&self) -> LoadedGuest {
        let inner = &self.inner;
        let functions = inner
            .functions
            .iter()
            .cloned()
            .map(|mut f| {
                f.fast = None;
                f.scalar = None;
                f
            })
            .collect();
        LoadedGuest {
            inner: Arc::new(GuestInner {
                id: u64::MAX - inner.id,
                pool_id: inner.pool_id,
                name: inner.name.clone(),
                kind: inner.kind,
                pre: inner.pre.clone(),
                functions,
                imports: inner.imports.clone(),
                grants: inner.grants.clone(),
                cache: inner.cache,
                wit: inner.wit.clone(),
            }),
        }
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
        // A component's arguments are checked in place; a core module's or
        // a command's check is their (cheap) preparation.
        match self.function(func).and_then(|f| f.check_component(args)) {
            Some(checked) => checked,
            None => self.prepare(func, args.to_vec()).map(drop),
        }
    }

    /// Where export `func` is among [`LoadedGuest::functions`].
    pub(crate) fn position(&self, func: &str) -> Option<usize> {
        self.inner.functions.iter().position(|f| f.name() == func)
    }

    pub(crate) fn prepare(&self, func: &str, args: Vec<Value>) -> Result<PreparedCall, CallError> {
        self.prepare_at(self.position(func), func, args)
    }

    /// [`LoadedGuest::prepare`] with `func`'s position already looked up.
    pub(crate) fn prepare_at(
        &self,
        position: Option<usize>,
        func: &str,
        args: Vec<Value>,
    ) -> Result<PreparedCall, CallError> {
        let Some(index) = position else {
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
