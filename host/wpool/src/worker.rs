//! A worker: one OS thread owning its stores. It takes jobs from the pool's
//! bounded queue, runs them against a per-guest instance (reused, or fresh
//! per task), and classifies every failure into a [`TaskError`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::ComponentExportIndex;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::engine::Ticker;
use crate::error::{ErrorKind, TaskError};
use crate::guest::{GuestInner, LoadedGuest, Pre};
use crate::limits::{Limiter, Limits};
use crate::state::{CommandIo, Interrupt, StoreState};

/// A unit of work: runs on a worker and reports through its own channel.
pub(crate) type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Instance reuse policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceMode {
    /// Each worker keeps one instance per guest and reuses it across tasks,
    /// like an interpreter per worker. A task that fails throws its instance
    /// away; the next task gets a new one.
    #[default]
    Reuse,
    /// Every task gets a new instance: no state carries over between tasks.
    Fresh,
}

pub(crate) enum Instance {
    Component(wasmtime::component::Instance),
    Module(wasmtime::Instance),
}

pub(crate) struct Slot {
    pub(crate) store: Store<StoreState>,
    pub(crate) instance: Instance,
    /// The guest it runs: once every handle to it is gone (say, replaced
    /// by a newer version in a `GuestDir`), the slot is swept.
    guest: Weak<GuestInner>,
    /// A component instance's exports looked up so far, by function
    /// position in the guest (a lookup costs more than a tiny call).
    funcs: Vec<Option<wasmtime::component::Func>>,
}

impl Slot {
    /// The component export at `position` among the guest's functions
    /// (`index` in the component), looked up once per instance.
    pub(crate) fn component_func(
        &mut self,
        position: usize,
        index: &ComponentExportIndex,
    ) -> Option<wasmtime::component::Func> {
        if let Some(Some(func)) = self.funcs.get(position) {
            return Some(*func);
        }
        let Instance::Component(instance) = &self.instance else {
            return None;
        };
        let func = instance.get_func(&mut self.store, index)?;
        if self.funcs.len() <= position {
            self.funcs.resize(position + 1, None);
        }
        self.funcs[position] = Some(func);
        Some(func)
    }
}

/// A task's identity, for messages.
#[derive(Clone)]
pub(crate) struct TaskInfo {
    pub(crate) id: u64,
    pub(crate) guest: LoadedGuest,
    pub(crate) func: Arc<str>,
    /// Where `func` is among the guest's functions (`None`: it has no such
    /// export), looked up once per call.
    pub(crate) position: Option<usize>,
    /// Overrides the pool's timeout.
    pub(crate) timeout: Option<Duration>,
}

impl TaskInfo {
    pub(crate) fn error(&self, kind: ErrorKind, detail: impl Into<String>) -> TaskError {
        TaskError::new(
            kind,
            self.id,
            self.guest.inner.name.clone(),
            self.func.clone(),
            detail,
        )
    }
}

/// What a finished task reports beside its value.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunInfo {
    pub(crate) worker: usize,
    pub(crate) started: Option<Instant>,
    pub(crate) elapsed: Duration,
    pub(crate) stdout: Vec<u8>,
    /// Bytes of stdout dropped past its cap.
    pub(crate) stdout_dropped: u64,
    pub(crate) stderr: Vec<u8>,
}

/// How long a worker that goes idle last checks the queue before it sleeps
/// ([`crate::PoolBuilder::spin`]).
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// The pool's idle workers, and when one checks the queue before
/// sleeping: only when it is the last of the pool's `workers` to go idle,
/// for at most `spin`.
#[derive(Debug, Clone)]
pub(crate) struct Idle {
    /// How many of the pool's workers wait for a job.
    pub(crate) count: Arc<AtomicUsize>,
    pub(crate) workers: usize,
    pub(crate) spin: Duration,
}

impl Idle {
    /// A job taken from `queue` within the spin limit, or `None` (empty, or
    /// closed) when the worker should block on it instead. `waiting` counts
    /// the pool's idle workers, this one included.
    fn take(&self, queue: &async_channel::Receiver<Job>, waiting: usize) -> Option<Job> {
        if self.spin.is_zero() || waiting < self.workers {
            return None;
        }
        let start = Instant::now();
        loop {
            match queue.try_recv() {
                Ok(job) => return Some(job),
                Err(async_channel::TryRecvError::Closed) => return None,
                Err(async_channel::TryRecvError::Empty) => {}
            }
            if start.elapsed() >= self.spin {
                return None;
            }
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    }
}

pub(crate) struct Worker {
    pub(crate) index: usize,
    engine: wasmtime::Engine,
    limits: Arc<Limits>,
    mode: InstanceMode,
    abort: Arc<AtomicBool>,
    /// Reused instances by guest id: a few per worker, so a list scanned
    /// from the most recently used end beats hashing.
    slots: Vec<(u64, Slot)>,
    idle: Idle,
    /// When the last task of the current job ended: the next task of the
    /// same job (a batch) starts then, without reading the clock again.
    /// Cleared between jobs.
    last_end: Option<Instant>,
    /// The instance of the last task that does not keep one (a fresh
    /// instance, a command, a failure): freed once the job's reply is sent,
    /// or before the next instance is made, so the caller does not wait
    /// for the memory reset.
    spent: Option<Slot>,
    _ticker: Arc<Ticker>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        engine: wasmtime::Engine,
        limits: Arc<Limits>,
        mode: InstanceMode,
        abort: Arc<AtomicBool>,
        idle: Idle,
        ticker: Arc<Ticker>,
    ) -> Self {
        Worker {
            index,
            engine,
            limits,
            mode,
            abort,
            slots: Vec::new(),
            idle,
            last_end: None,
            spent: None,
            _ticker: ticker,
        }
    }

    /// The worker thread's loop: runs jobs until the queue is closed and empty.
    pub(crate) fn run(mut self, queue: async_channel::Receiver<Job>) {
        loop {
            let waiting = self.idle.count.fetch_add(1, Ordering::Relaxed) + 1;
            let next = match self.idle.take(&queue, waiting) {
                Some(job) => Ok(job),
                None => queue.recv_blocking(),
            };
            self.idle.count.fetch_sub(1, Ordering::Relaxed);
            let Ok(job) = next else { break };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut self)));
            self.last_end = None;
            self.spent = None;
            if outcome.is_err() {
                // A host-side bug: the job's reply channel is gone (its caller
                // sees the task fail); start over with clean instances.
                tracing::error!(
                    worker = self.index,
                    "a task panicked inside wpool; dropping this worker's instances"
                );
                self.slots.clear();
            }
        }
        tracing::debug!(worker = self.index, "worker stopped");
    }

    /// Whether another worker waits for a job (so the queue is empty).
    pub(crate) fn others_idle(&self) -> bool {
        self.idle.count.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the pool was aborted: queued tasks are then cancelled unrun.
    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// Runs `call` on an instance of the task's guest under the pool's
    /// limits. On failure the instance is thrown away. A command (`command`
    /// set) always runs in a new instance whose stdin and arguments are its
    /// own, thrown away afterwards.
    pub(crate) fn execute<R>(
        &mut self,
        task: &TaskInfo,
        command: Option<CommandIo>,
        call: impl FnOnce(&mut Slot) -> wasmtime::Result<R>,
    ) -> (Result<R, TaskError>, RunInfo) {
        let started = self.last_end.take().unwrap_or_else(Instant::now);
        let mut info = RunInfo {
            worker: self.index,
            started: Some(started),
            ..RunInfo::default()
        };
        if self.aborted() {
            return (
                Err(task.error(ErrorKind::Cancelled, "cancelled: the pool was aborted")),
                info,
            );
        }
        let guest = &task.guest;
        let timeout = task.timeout.or(self.limits.timeout);
        let reusable = command.is_none() && self.mode == InstanceMode::Reuse;
        let existing = match command {
            Some(_) => None,
            None => self
                .slots
                .iter()
                .rposition(|(id, _)| *id == guest.inner.id)
                .map(|at| self.slots.swap_remove(at).1),
        };
        let mut slot = match existing {
            Some(slot) => slot,
            None => match self.instantiate(guest, command, started, timeout) {
                Ok(slot) => {
                    // A new instance: a good moment to drop the ones of
                    // guests nobody holds any more (and their pool slots).
                    self.slots.retain(|(_, s)| s.guest.strong_count() > 0);
                    slot
                }
                Err(e) => {
                    info.elapsed = started.elapsed();
                    return (Err(e.into_task_error(task).on_worker(self.index)), info);
                }
            },
        };

        let limits = &self.limits;
        let state = slot.store.data_mut();
        state.limiter.hit = false;
        state.deadline = timeout.map(|t| started + t);
        slot.store.set_epoch_deadline(1);
        if let Some(fuel) = limits.fuel
            && let Err(e) = slot.store.set_fuel(fuel)
        {
            return (
                Err(task.error(ErrorKind::Trap, format!("cannot set fuel: {e}"))),
                info,
            );
        }

        let result = call(&mut slot);
        let end = Instant::now();
        info.elapsed = end - started;
        self.last_end = Some(end);
        let (stdout, dropped) = slot.store.data().stdout.take();
        let (stderr, _) = slot.store.data().stderr.take();
        info.stdout = stdout;
        info.stdout_dropped = dropped;
        info.stderr = stderr;

        match result {
            Ok(value) => {
                if reusable {
                    self.slots.push((guest.inner.id, slot));
                } else {
                    self.spent = Some(slot);
                }
                (Ok(value), info)
            }
            Err(e) => {
                let (kind, detail) = classify(
                    &e,
                    &slot.store.data().limiter,
                    limits,
                    timeout,
                    &info.stderr,
                );
                self.spent = Some(slot);
                (Err(task.error(kind, detail).on_worker(self.index)), info)
            }
        }
    }

    /// A new instance of `guest`, once the last spent one is freed (its
    /// pool slot may be the only one this worker has). Its start function
    /// (and a component's initialisation) runs under the task's own
    /// deadline.
    fn instantiate(
        &mut self,
        guest: &LoadedGuest,
        command: Option<CommandIo>,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Result<Slot, SlotError> {
        self.spent = None;
        let component = matches!(guest.inner.pre, Pre::Component(_));
        let state = StoreState::new(
            &guest.inner.grants,
            component,
            self.limits.memory,
            self.limits.stdio,
            self.abort.clone(),
            command.map(|io| (&*guest.inner.name, io, self.limits.output)),
        )
        .map_err(|e| SlotError(ErrorKind::Trap, crate::error::error_chain(&e)))?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Bounds what lifting a result may allocate on the host: a dynamic
        // `Val` costs up to this many bytes per element.
        store.set_hostcall_fuel(
            self.limits
                .output
                .saturating_mul(std::mem::size_of::<wasmtime::component::Val>()),
        );
        store.epoch_deadline_callback(|ctx| match ctx.data().check_interrupt() {
            Some(interrupt) => Err(interrupt.into()),
            None => Ok(UpdateDeadline::Continue(1)),
        });
        store.set_epoch_deadline(1);
        store.data_mut().deadline = timeout.map(|t| started + t);
        if let Some(fuel) = self.limits.fuel {
            let _ = store.set_fuel(fuel);
        }
        let instance = match &guest.inner.pre {
            Pre::Component(pre) => pre.instantiate(&mut store).map(Instance::Component),
            Pre::Module(pre) => pre.instantiate(&mut store).map(Instance::Module),
        };
        match instance {
            Ok(instance) => Ok(Slot {
                store,
                instance,
                guest: Arc::downgrade(&guest.inner),
                funcs: Vec::new(),
            }),
            Err(e) => {
                let stderr = store.data().stderr.take().0;
                let (kind, detail) =
                    classify(&e, &store.data().limiter, &self.limits, timeout, &stderr);
                Err(SlotError(
                    kind,
                    format!("could not be instantiated: {detail}"),
                ))
            }
        }
    }
}

struct SlotError(ErrorKind, String);

impl SlotError {
    fn into_task_error(self, task: &TaskInfo) -> TaskError {
        task.error(self.0, self.1)
    }
}

/// Turns a failed call into an error kind and a message a user understands.
///
/// An oversized result is recognised by what it must have taken, not by
/// Wasmtime's wording: lifting a result is capped by the store's hostcall
/// fuel (the output limit's worth of values), and a result can only be over
/// the output limit if the guest's memory is. So a failure that is no trap,
/// interrupt, exit or refused growth, from an instance whose memory grew
/// past the output limit, is an output-limit breach; below it, the guest
/// passed a malformed value.
pub(crate) fn classify(
    e: &wasmtime::Error,
    limiter: &Limiter,
    limits: &Limits,
    timeout: Option<Duration>,
    stderr: &[u8],
) -> (ErrorKind, String) {
    if let Some(interrupt) = e.downcast_ref::<Interrupt>() {
        return match interrupt {
            Interrupt::Timeout => (
                ErrorKind::Timeout,
                format!(
                    "timed out after {}",
                    fmt_duration(timeout.unwrap_or_default())
                ),
            ),
            Interrupt::Aborted => (
                ErrorKind::Cancelled,
                "interrupted: the pool was aborted".to_owned(),
            ),
        };
    }
    let memory_hit = limiter.hit;
    let memory = || {
        (
            ErrorKind::MemoryLimit,
            format!("exceeded the memory limit of {}", fmt_size(limits.memory)),
        )
    };
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => (
                ErrorKind::OutOfFuel,
                format!(
                    "ran out of fuel (budget {})",
                    limits.fuel.unwrap_or_default()
                ),
            ),
            Trap::Interrupt => (ErrorKind::Timeout, "interrupted".to_owned()),
            Trap::StackOverflow => (
                ErrorKind::Trap,
                with_stderr("trapped: stack overflow".to_owned(), stderr),
            ),
            _ if memory_hit => memory(),
            other => {
                let text = other.to_string();
                let text = text.strip_prefix("wasm trap: ").unwrap_or(&text);
                (
                    ErrorKind::Trap,
                    with_stderr(format!("trapped: {text}"), stderr),
                )
            }
        };
    }
    // A capability the guest was not granted: wpool's own refusal, whatever
    // the guest's size.
    if let Some(refused) = e.downcast_ref::<crate::capability::NotGranted>() {
        return (
            ErrorKind::Trap,
            with_stderr(format!("failed: {refused}"), stderr),
        );
    }
    let exited = e.downcast_ref::<wasmtime_wasi::I32Exit>().is_some();
    if !exited && !memory_hit && limiter.largest > limits.output {
        return (
            ErrorKind::OutputLimit,
            format!(
                "returned more than the output limit of {}",
                fmt_size(limits.output)
            ),
        );
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (
            ErrorKind::Trap,
            with_stderr(format!("exited with status {}", exit.0), stderr),
        );
    }
    if memory_hit {
        return memory();
    }
    (
        ErrorKind::Trap,
        with_stderr(format!("failed: {}", e.root_cause()), stderr),
    )
}

/// Appends the end of the guest's stderr (a Rust panic message lands there).
pub(crate) fn with_stderr(mut message: String, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if !text.is_empty() {
        let tail: String = {
            let chars: Vec<char> = text.chars().collect();
            let start = chars.len().saturating_sub(400);
            chars[start..].iter().collect()
        };
        message.push_str("; guest stderr: ");
        message.push_str(&tail.replace('\n', " | "));
    }
    message
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

pub(crate) fn fmt_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
