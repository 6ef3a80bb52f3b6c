//! The data every worker [`Store`](wasmtime::Store) holds: WASI context, captured
//! stdio, the resource limiter and the task's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::error::LoadError;
use crate::grants::{Access, Grants};
use crate::limits::Limiter;
use crate::pipe::CappedPipe;

/// The WASI flavour a store carries: preview 2 for components, preview 1 for
/// core modules.
pub(crate) enum Wasi {
    /// Not built yet: built on the guest's first WASI call, so that a task
    /// in a fresh instance that never calls WASI (most calls: a pure
    /// function of its arguments) skips seeding its random generators and
    /// copying its grants. Only grants that cannot fail to apply (no
    /// folders) wait.
    Pending {
        grants: Arc<Grants>,
        component: bool,
    },
    P2 {
        ctx: WasiCtx,
        table: ResourceTable,
    },
    P1(WasiP1Ctx),
}

/// A command guest's per-task input: its stdin and the arguments after the
/// program name.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommandIo {
    pub(crate) stdin: Vec<u8>,
    pub(crate) args: Vec<String>,
}

/// Why a running task was interrupted from the epoch callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    Timeout,
    Aborted,
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupt::Timeout => "deadline reached",
            Interrupt::Aborted => "pool aborted",
        })
    }
}

impl std::error::Error for Interrupt {}

pub(crate) struct StoreState {
    pub(crate) wasi: Wasi,
    pub(crate) limiter: Limiter,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
    /// When the running task must stop.
    pub(crate) deadline: Option<Instant>,
    /// Set by [`Pool::abort`](crate::Pool::abort): interrupt whatever runs.
    pub(crate) abort: Arc<AtomicBool>,
    /// Whether the guest was granted the host's `digest` capability.
    pub(crate) digest: bool,
}

impl StoreState {
    pub(crate) fn new(
        grants: &Arc<Grants>,
        component: bool,
        memory: usize,
        stdio: usize,
        abort: Arc<AtomicBool>,
        command: Option<(&str, CommandIo, usize)>,
    ) -> Result<Self, LoadError> {
        // A command's stdout is its result: capped by the output limit instead.
        let stdout_cap = command.as_ref().map_or(stdio, |(_, _, output)| *output);
        let stdout = CappedPipe::new(stdout_cap);
        let stderr = CappedPipe::new(stdio);
        let wasi = if command.is_none() && grants.dirs().is_empty() {
            Wasi::Pending {
                grants: grants.clone(),
                component,
            }
        } else {
            let mut builder = wasi_builder(grants, &stdout, &stderr, command);
            preopen(&mut builder, grants)?;
            build(builder, component)
        };
        Ok(StoreState {
            wasi,
            limiter: Limiter::new(memory),
            stdout,
            stderr,
            deadline: None,
            abort,
            digest: grants.has_digest(),
        })
    }

    /// The WASI context, built now if it was waiting for its first use
    /// (only grants without folders wait: nothing else can fail).
    fn wasi(&mut self) -> &mut Wasi {
        if let Wasi::Pending { grants, component } = &self.wasi {
            let builder = wasi_builder(grants, &self.stdout, &self.stderr, None);
            self.wasi = build(builder, *component);
        }
        &mut self.wasi
    }

    /// The epoch callback's verdict: stop now, or check again next tick.
    pub(crate) fn check_interrupt(&self) -> Option<Interrupt> {
        if self.abort.load(Ordering::Relaxed) {
            Some(Interrupt::Aborted)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Interrupt::Timeout)
        } else {
            None
        }
    }

    pub(crate) fn p1(&mut self) -> &mut WasiP1Ctx {
        match self.wasi() {
            Wasi::P1(ctx) => ctx,
            Wasi::P2 { .. } | Wasi::Pending { .. } => {
                unreachable!("core-module stores are built with a preview 1 context")
            }
        }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        match self.wasi() {
            Wasi::P2 { ctx, table } => WasiCtxView { ctx, table },
            Wasi::P1(_) | Wasi::Pending { .. } => {
                unreachable!("component stores are built with a preview 2 context")
            }
        }
    }
}

/// A WASI context builder for `grants` (all but their folders), with the
/// captured stdio and, for a command, its stdin and arguments.
fn wasi_builder(
    grants: &Grants,
    stdout: &CappedPipe,
    stderr: &CappedPipe,
    command: Option<(&str, CommandIo, usize)>,
) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .envs(grants.envs());
    match command {
        Some((program, io, _)) => {
            builder
                .stdin(MemoryInputPipe::new(io.stdin))
                .arg(program)
                .args(grants.args())
                .args(&io.args);
        }
        None => {
            builder.args(grants.args());
        }
    }
    builder
}

/// Opens `grants`' folders in `builder`.
fn preopen(builder: &mut WasiCtxBuilder, grants: &Grants) -> Result<(), LoadError> {
    for dir in grants.dirs() {
        let perms = match dir.access {
            Access::ReadOnly => FsPerms::ReadOnly,
            Access::ReadWrite => FsPerms::ReadWrite,
        };
        builder
            .preopened_dir(&dir.host_path, &dir.guest_path, perms)
            .map_err(|e| LoadError::Grant {
                name: String::new(),
                host: dir.host_path.clone(),
                source: crate::error::wasmtime_source(e),
            })?;
    }
    Ok(())
}

/// The context `builder` builds, of a component's flavour or a module's.
fn build(mut builder: WasiCtxBuilder, component: bool) -> Wasi {
    if component {
        Wasi::P2 {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    } else {
        Wasi::P1(builder.build_p1())
    }
}
