//! The shared engine (pooling allocator, copy-on-write memory images, epoch
//! interruption driven by one ticker thread), the WASI linkers, and guest
//! loading: read, compile (or fetch from the cache), link.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::types::ComponentItem;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::{Artifact, CacheStatus, CompileCache};
use crate::error::{BuildError, ErrorSource, LoadError, wasmtime_source};
use crate::function::{Function, Signature};
use crate::guest::{Guest, GuestInner, GuestKind, Import, Inspection, LoadedGuest, Pre, Source};
use crate::state::StoreState;

/// How often the ticker advances the engine's epoch: the resolution of
/// timeouts and of [`Pool::abort`](crate::Pool::abort).
pub(crate) const TICK: Duration = Duration::from_millis(2);

/// Core instances the pooling allocator allows per component instance it
/// reserves room for (`max_instances`): componentize-py components
/// instantiate ~10 core modules each; 32 leaves room for larger ones.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Engine, linkers and cache: everything guests are compiled and linked with.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    component_linker: wasmtime::component::Linker<StoreState>,
    module_linker: wasmtime::Linker<StoreState>,
    /// Every `(module, name)` the module linker defines.
    module_imports: std::collections::HashSet<(String, String)>,
    cache: Option<CompileCache>,
    next_guest: AtomicU64,
}

pub(crate) struct EngineOptions {
    pub(crate) fuel: bool,
    pub(crate) memory: usize,
    pub(crate) pooling: bool,
    pub(crate) instances: u32,
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    pub(crate) cache_size: u64,
}

impl Runtime {
    pub(crate) fn new(options: &EngineOptions) -> Result<Self, BuildError> {
        let engine = if options.pooling {
            match build_engine(options, true) {
                Ok(engine) => engine,
                Err(e) => {
                    tracing::warn!("pooling allocator unavailable ({e}); allocating on demand");
                    build_engine(options, false)?
                }
            }
        } else {
            build_engine(options, false)?
        };
        let mut component_linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut component_linker)
            .map_err(engine_err("linking WASI preview 2"))?;
        crate::capability::add_to_linker(&mut component_linker)
            .map_err(engine_err("linking wpool:host"))?;
        let mut module_linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut module_linker, StoreState::p1)
            .map_err(engine_err("linking WASI preview 1"))?;
        let module_imports = {
            let state = StoreState::new(&Arc::default(), false, 64 << 10, 0, Arc::default(), None)
                .map_err(|e| BuildError::Engine {
                    what: "listing WASI preview 1",
                    source: Box::new(e),
                })?;
            let mut store = wasmtime::Store::new(&engine, state);
            module_linker
                .iter(&mut store)
                .map(|(module, name, _)| (module.to_owned(), name.to_owned()))
                .collect()
        };
        let cache = options
            .cache_dir
            .clone()
            .map(|dir| CompileCache::new(dir, &engine, options.cache_size));
        Ok(Runtime {
            engine,
            component_linker,
            module_linker,
            module_imports,
            cache,
            next_guest: AtomicU64::new(0),
        })
    }

    /// Reads, compiles (or loads from the cache) and links `guest`.
    pub(crate) fn load(&self, guest: &Guest, pool_id: u64) -> Result<LoadedGuest, LoadError> {
        let compiled = self.compile(guest)?;
        let name = compiled.name.clone();
        let link_err = |e: wasmtime::Error| LoadError::Link {
            name: name.clone(),
            source: wasmtime_source(e),
        };
        let pre = match &compiled.artifact {
            Artifact::Component(component) => Pre::Component(
                self.component_linker
                    .instantiate_pre(component)
                    .map_err(link_err)?,
            ),
            Artifact::Module(module) => Pre::Module(
                self.module_linker
                    .instantiate_pre(module)
                    .map_err(link_err)?,
            ),
        };
        Ok(LoadedGuest {
            inner: Arc::new(GuestInner {
                id: self.next_guest.fetch_add(1, Ordering::Relaxed),
                pool_id,
                name: compiled.name.into(),
                kind: compiled.kind,
                pre,
                functions: compiled.functions,
                imports: compiled.imports.into_iter().map(|i| i.name).collect(),
                grants: Arc::new(guest.grants.clone()),
                cache: compiled.cache,
                wit: compiled.wit.map(Into::into),
            }),
        })
    }

    /// What [`load`](Runtime::load) would load, and whether it can run:
    /// compiles `guest` but reports a missing import instead of failing.
    pub(crate) fn inspect(&self, guest: &Guest) -> Result<Inspection, LoadError> {
        let compiled = self.compile(guest)?;
        let linked = match &compiled.artifact {
            Artifact::Component(component) => {
                self.component_linker.instantiate_pre(component).map(drop)
            }
            Artifact::Module(module) => self.module_linker.instantiate_pre(module).map(drop),
        };
        let missing: Vec<&Import> = compiled.imports.iter().filter(|i| !i.provided).collect();
        let problem = match (linked, missing.as_slice()) {
            (Ok(()), _) => None,
            (Err(_), [first, ..]) => Some(format!(
                "it imports {}, which wpool does not provide{}",
                missing
                    .iter()
                    .map(|i| format!("`{}`", i.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                hint(&first.name)
            )),
            (Err(e), []) => Some(format!("{e:#}")),
        };
        Ok(Inspection {
            name: compiled.name,
            kind: compiled.kind,
            functions: compiled.functions,
            imports: compiled.imports,
            cache: compiled.cache,
            problem,
            wit: compiled.wit,
        })
    }

    /// Reads and compiles (or loads from the cache) a guest, and reads its
    /// kind, exports and imports.
    fn compile(&self, guest: &Guest) -> Result<Compiled, LoadError> {
        let name = guest.name();
        for dir in guest.grants.dirs() {
            // The operating system's own error when there is one (missing,
            // no permission), ours when the path is a file.
            let problem = match std::fs::metadata(&dir.host_path) {
                Ok(meta) if meta.is_dir() => None,
                Ok(_) => Some(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "not a directory",
                )),
                Err(e) => Some(e),
            };
            if let Some(problem) = problem {
                return Err(LoadError::Grant {
                    name,
                    host: dir.host_path.clone(),
                    source: Box::new(problem),
                });
            }
        }
        let bytes: std::borrow::Cow<'_, [u8]> =
            match &guest.source {
                Source::Builtin(builtin) => Guest::builtin_bytes(builtin)
                    .map(Into::into)
                    .ok_or_else(|| {
                        if cfg!(feature = "builtins") {
                            LoadError::UnknownBuiltin {
                                name: builtin.clone(),
                                choices: Guest::builtins()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            }
                        } else {
                            LoadError::NoBuiltins {
                                name: builtin.clone(),
                            }
                        }
                    })?,
                Source::File(path) => std::fs::read(path)
                    .map_err(|source| LoadError::Read {
                        path: path.clone(),
                        source,
                    })?
                    .into(),
                Source::Bytes(bytes) => bytes.as_ref().into(),
            };
        let compile_err = |source: ErrorSource| LoadError::Compile {
            name: name.clone(),
            source,
        };
        let component = is_component(&bytes).map_err(|message| compile_err(message.into()))?;
        let engine = &self.engine;
        let compile = || -> wasmtime::Result<Artifact> {
            Ok(if component {
                Artifact::Component(wasmtime::component::Component::new(engine, &bytes)?)
            } else {
                Artifact::Module(wasmtime::Module::new(engine, &bytes)?)
            })
        };
        let (artifact, cache) = match &self.cache {
            Some(cache) => cache.get_or_compile(engine, &bytes, component, compile),
            None => compile().map(|a| (a, CacheStatus::Disabled)),
        }
        .map_err(|e| compile_err(wasmtime_source(e)))?;

        let (kind, functions, imports) = match &artifact {
            Artifact::Component(component) => {
                let mut functions = component_functions(engine, component);
                let mut kind = GuestKind::Component;
                if let Some(run) = functions.iter().find(|f| is_cli_run(f.name())) {
                    let Signature::Component { index, .. } = run.sig else {
                        unreachable!("component functions have component signatures")
                    };
                    functions = vec![Function::command(Some(index))];
                    kind = GuestKind::Command;
                }
                let imports = component
                    .component_type()
                    .imports(engine)
                    .map(|(n, _)| Import {
                        provided: provides_component_import(n),
                        name: n.to_owned(),
                    })
                    .collect();
                (kind, functions, imports)
            }
            Artifact::Module(module) => {
                let is_command = module
                    .get_export("_start")
                    .and_then(|e| e.func().map(|f| f.params().len() + f.results().len() == 0))
                    .unwrap_or(false);
                let (kind, functions) = if is_command {
                    (GuestKind::Command, vec![Function::command(None)])
                } else {
                    let functions = module
                        .exports()
                        .filter_map(|e| {
                            e.ty()
                                .func()
                                .map(|f| Function::module(e.name().to_owned(), f))
                        })
                        .collect();
                    (GuestKind::Module, functions)
                };
                let imports = module
                    .imports()
                    .map(|i| Import {
                        name: format!("{}::{}", i.module(), i.name()),
                        provided: self
                            .module_imports
                            .contains(&(i.module().to_owned(), i.name().to_owned())),
                    })
                    .collect();
                (kind, functions, imports)
            }
        };
        Ok(Compiled {
            wit: (kind == GuestKind::Component)
                .then(|| crate::wit::component_wit(&bytes))
                .flatten(),
            name,
            artifact,
            cache,
            kind,
            functions,
            imports,
        })
    }
}

/// A guest compiled but not linked.
struct Compiled {
    name: String,
    artifact: Artifact,
    cache: CacheStatus,
    kind: GuestKind,
    functions: Vec<Function>,
    imports: Vec<Import>,
    wit: Option<String>,
}

/// The WASI preview 2 interfaces wpool links for components (`wasi:sockets`
/// is linked, but every socket operation is denied).
const PROVIDED_INTERFACES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

fn provides_component_import(name: &str) -> bool {
    (PROVIDED_INTERFACES.iter().any(|p| name.starts_with(p)) && name.contains("@0.2."))
        || crate::capability::INTERFACES.contains(&name)
}

/// Advice for a well-known missing import.
fn hint(import: &str) -> &'static str {
    if import.starts_with("wasi:http/") {
        " (guests get no network: fetch the data in the job with [[fetch]] and pass the bodies in)"
    } else if import.starts_with("wasi:") && import.contains("@0.3") {
        " (WASI 0.3 is not supported yet: build for wasm32-wasip2)"
    } else if import.starts_with("env::") {
        " (an `env` import usually means a module built for the web or emscripten, not WASI)"
    } else {
        ""
    }
}

/// Bytes of each pooled linear memory reset in place rather than unmapped
/// when its instance is freed: covers a Rust guest's 1 MiB stack, its data
/// and a small heap. A freed slot keeps at most this much resident.
const KEEP_RESIDENT: usize = 2 << 20;
/// The same for each pooled table.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

fn build_engine(options: &EngineOptions, pooling: bool) -> Result<Engine, BuildError> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(options.fuel)
        .memory_init_cow(true)
        .concurrency_support(false);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        let max_memory = options.memory.next_multiple_of(64 << 10);
        // A component instance holds several core instances (a
        // componentize-py component ~10: libc, libpython, adapters, ...).
        // Wasmtime only counts these, so the headroom costs nothing.
        let core_instances = options
            .instances
            .saturating_mul(CORE_INSTANCES_PER_COMPONENT);
        pool.max_memory_size(max_memory)
            .total_memories(options.instances)
            .total_tables(options.instances)
            .total_core_instances(core_instances)
            .total_component_instances(options.instances)
            // Stacks are for async calls (fibers), which wpool does not
            // make: calls run on the worker's own stack. Each pooled stack
            // costs an `mprotect` for its guard page when the pool is made
            // (1,000 instances: 1,000 system calls, ~4.6 ms on a 2-vCPU VM).
            .total_stacks(0);
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            // A freed instance's memory is reset where it was written
            // (Linux 6.7+ `PAGEMAP_SCAN`) instead of unmapped, so the next
            // instance in its slot takes no page faults on the stack, data
            // and heap a small guest touches: a fresh instance per task
            // costs ~9 µs less. Without the scan, keeping pages resident
            // would mean rewriting all of them on every free.
            pool.pagemap_scan(wasmtime::Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(TABLE_KEEP_RESIDENT);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(engine_err("configuring the engine"))
}

/// Every exported function: top-level ones by name, functions of exported
/// interfaces as `interface#function`.
fn component_functions(
    engine: &Engine,
    component: &wasmtime::component::Component,
) -> Vec<Function> {
    let ty = component.component_type();
    let mut functions = Vec::new();
    for (name, export) in ty.exports(engine) {
        match export.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some((_, index)) = component.get_export(None, name) {
                    functions.push(Function::component(name.to_owned(), index, &func));
                }
            }
            ComponentItem::ComponentInstance(instance) => {
                let Some((_, instance_index)) = component.get_export(None, name) else {
                    continue;
                };
                for (func_name, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty
                        && let Some((_, index)) =
                            component.get_export(Some(&instance_index), func_name)
                    {
                        functions.push(Function::component(
                            format!("{name}#{func_name}"),
                            index,
                            &func,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    functions
}

/// Whether an export is `wasi:cli/run`'s `run` (any 0.2 version).
fn is_cli_run(name: &str) -> bool {
    name.strip_prefix("wasi:cli/run@")
        .is_some_and(|rest| rest.ends_with("#run"))
}

/// Tells components from core modules, in binary or WAT text.
fn is_component(bytes: &[u8]) -> Result<bool, String> {
    if let Some(header) = bytes.strip_prefix(b"\0asm") {
        return match header.get(..4) {
            Some([1, 0, 0, 0]) => Ok(false),
            Some([_, _, 1, 0]) => Ok(true),
            _ => Err("unsupported WebAssembly binary version".to_owned()),
        };
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "not a WebAssembly binary (no `\\0asm` header) nor WAT text".to_owned())?;
    let mut rest = text.trim_start();
    while let Some(comment) = rest.strip_prefix(";;") {
        rest = comment
            .split_once('\n')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    match rest.strip_prefix('(').map(str::trim_start) {
        Some(r) if r.starts_with("component") => Ok(true),
        Some(r) if r.starts_with("module") => Ok(false),
        _ => Err("not a WebAssembly binary (no `\\0asm` header) nor WAT text".to_owned()),
    }
}

/// The one thread that advances the engine's epoch every [`TICK`]. Stops when dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wpool-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A [`BuildError::Engine`] for a failure while `what`.
fn engine_err(what: &'static str) -> impl Fn(wasmtime::Error) -> BuildError {
    move |e| BuildError::Engine {
        what,
        source: wasmtime_source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::is_component;

    #[test]
    fn tells_components_from_modules() {
        assert_eq!(is_component(b"\0asm\x01\0\0\0"), Ok(false));
        assert_eq!(is_component(b"\0asm\x0d\0\x01\0"), Ok(true));
        assert_eq!(is_component(b";; hi\n (module)"), Ok(false));
        assert_eq!(is_component(b"(component)"), Ok(true));
        assert!(is_component(b"\x7fELF").is_err());
    }
}
