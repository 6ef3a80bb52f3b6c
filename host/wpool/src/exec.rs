//! What a worker does with a task: the dynamic call (with its typed fast
//! paths) and the typed call.

use smallvec::SmallVec;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Lift, Lower, Val};

use crate::convert::from_val;
use crate::convert::to_val;
use crate::error::{ErrorKind, TaskError};
use crate::function::{Function, PreparedArgs, PreparedCall, Signature, module_value};
use crate::task::Output;
use crate::value::Value;
use crate::worker::{Instance, RunInfo, Slot, TaskInfo, Worker, fmt_size, with_stderr};

/// Runs a dynamic call and shapes its result.
pub(crate) fn dynamic(
    worker: &mut Worker,
    task: &TaskInfo,
    call: PreparedCall,
) -> Result<Output, TaskError> {
    let func = &task.guest.inner.functions[call.function];
    let (result, info) = match (call.args, &func.sig) {
        (PreparedArgs::Command(io), &Signature::Command(start)) => {
            let (status, info) = worker.execute(task, Some(io), |slot| run_command(slot, start));
            return command_output(worker, task, status, info);
        }
        (args, _) => worker.execute(task, None, |slot| {
            invoke(slot, task, call.function, func, args)
        }),
    };
    let worker_index = info.worker;
    let value = result?;
    let value = if func.returns_result() {
        unwrap_result(task, value, worker_index)?
    } else {
        value
    };
    let size = value.approx_size();
    let limit = worker.limits().output;
    if size > limit {
        return Err(task
            .error(
                ErrorKind::OutputLimit,
                format!(
                    "returned about {}, over the output limit of {}",
                    fmt_size(size),
                    fmt_size(limit)
                ),
            )
            .on_worker(worker_index));
    }
    Ok(output(task, value, info))
}

fn invoke(
    slot: &mut Slot,
    task: &TaskInfo,
    position: usize,
    func: &Function,
    args: PreparedArgs,
) -> wasmtime::Result<Value> {
    let store = &mut slot.store;
    match (&slot.instance, &func.sig, args) {
        (
            Instance::Component(instance),
            Signature::Component { index, .. },
            PreparedArgs::Bytes(bytes, extra),
        ) => match func.fast {
            Some(call) => call.call(instance, store, index, bytes, extra),
            None => Err(wasmtime::format_err!(
                "internal error: bytes prepared for a function without a typed shape"
            )),
        },
        (
            Instance::Component(_),
            Signature::Component {
                index,
                params,
                results,
            },
            PreparedArgs::Component(values),
        ) => {
            let missing =
                || wasmtime::format_err!("export `{}` is missing from the instance", task.func);
            if let Some(scalar) = func.scalar {
                let f = slot.component_func(position, index).ok_or_else(missing)?;
                return scalar.call(&f, &mut slot.store, params, &values);
            }
            // Checked on the caller's thread; built here, on the worker.
            let args = params
                .iter()
                .zip(&values)
                .map(|((name, ty), value)| to_val(value, ty, name))
                .collect::<Result<SmallVec<[Val; 4]>, _>>()
                .map_err(|e| wasmtime::format_err!("argument `{}`: {}", e.path, e.message))?;
            drop(values);
            let f = slot.component_func(position, index).ok_or_else(missing)?;
            let mut out: SmallVec<[Val; 2]> = smallvec::smallvec![Val::Bool(false); results.len()];
            f.call(&mut slot.store, &args, &mut out)?;
            Ok(match out.len() {
                0 => Value::Null,
                1 => from_val(out.pop().unwrap_or(Val::Bool(false))),
                _ => Value::List(out.into_iter().map(from_val).collect()),
            })
        }
        (
            Instance::Module(instance),
            Signature::Module { results, .. },
            PreparedArgs::Module(args),
        ) => {
            let f = instance.get_func(&mut *store, &task.func).ok_or_else(|| {
                wasmtime::format_err!("export `{}` is missing from the instance", task.func)
            })?;
            let mut out: Vec<wasmtime::Val> = results
                .iter()
                .map(|t| wasmtime::Val::default_for_ty(t).unwrap_or(wasmtime::Val::I32(0)))
                .collect();
            f.call(&mut *store, &args, &mut out)?;
            Ok(match out.len() {
                0 => Value::Null,
                1 => module_value(&out[0]),
                _ => Value::List(out.iter().map(module_value).collect()),
            })
        }
        _ => Err(wasmtime::format_err!(
            "internal error: call prepared for another kind of guest"
        )),
    }
}

/// Runs a command to its end: its exit status (`0` when `_start` or `run`
/// returns normally).
fn run_command(slot: &mut Slot, start: Option<ComponentExportIndex>) -> wasmtime::Result<i32> {
    let store = &mut slot.store;
    let outcome = match (&slot.instance, start) {
        (Instance::Module(instance), None) => instance
            .get_typed_func::<(), ()>(&mut *store, "_start")?
            .call(&mut *store, ())
            .map(|()| 0),
        (Instance::Component(instance), Some(index)) => instance
            .get_typed_func::<(), (Result<(), ()>,)>(&mut *store, index)?
            .call(&mut *store, ())
            .map(|(status,)| i32::from(status.is_err())),
        _ => {
            return Err(wasmtime::format_err!(
                "internal error: command prepared for another kind of guest"
            ));
        }
    };
    match outcome {
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(e),
        },
        ok => ok,
    }
}

/// A finished command's result: its stdout (a string when it is UTF-8).
fn command_output(
    worker: &Worker,
    task: &TaskInfo,
    status: Result<i32, TaskError>,
    mut info: RunInfo,
) -> Result<Output, TaskError> {
    let status = status?;
    if status != 0 {
        return Err(task
            .error(
                ErrorKind::Guest,
                with_stderr(format!("exited with status {status}"), &info.stderr),
            )
            .on_worker(info.worker));
    }
    if info.stdout_dropped > 0 {
        return Err(task
            .error(
                ErrorKind::OutputLimit,
                format!(
                    "printed more than the output limit of {} to stdout",
                    fmt_size(worker.limits().output)
                ),
            )
            .on_worker(info.worker));
    }
    let value = match String::from_utf8(std::mem::take(&mut info.stdout)) {
        Ok(text) => Value::String(text),
        Err(e) => Value::Bytes(e.into_bytes()),
    };
    Ok(output(task, value, info))
}

/// A `result` return: the `ok` payload is the value; an `err` fails the task.
fn unwrap_result(task: &TaskInfo, value: Value, worker: usize) -> Result<Value, TaskError> {
    match value {
        Value::Map(mut fields) if fields.len() == 1 => {
            let (case, payload) = fields.pop().unwrap_or_default();
            if case == "err" {
                let shown = match &payload {
                    Value::String(s) => s.clone(),
                    other => other.to_json(),
                };
                Err(task
                    .error(ErrorKind::Guest, format!("returned an error: {shown}"))
                    .on_worker(worker))
            } else {
                Ok(payload)
            }
        }
        other => Ok(other),
    }
}

fn output(task: &TaskInfo, value: Value, info: RunInfo) -> Output {
    Output {
        value,
        task: task.id,
        worker: info.worker,
        started: info.started.unwrap_or_else(std::time::Instant::now),
        elapsed: info.elapsed,
        stdout: info.stdout,
        stderr: info.stderr,
    }
}

/// Where a typed call's function is: its position among the guest's
/// functions and its index in the component.
#[derive(Clone, Copy)]
pub(crate) struct Export {
    position: usize,
    index: ComponentExportIndex,
}

/// The export for a typed call, checked before queueing.
pub(crate) fn typed_index(task: &TaskInfo) -> Result<Export, TaskError> {
    let guest = &task.guest;
    let Some(position) = task.position else {
        let err = guest
            .prepare(&task.func, Vec::new())
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        return Err(task.error(ErrorKind::InvalidCall, err));
    };
    match &guest.inner.functions[position].sig {
        Signature::Component { index, .. } => Ok(Export {
            position,
            index: *index,
        }),
        Signature::Module { .. } => Err(task.error(
            ErrorKind::InvalidCall,
            "is a core-module function: typed calls need a component (use `submit`)",
        )),
        Signature::Command(_) => Err(task.error(
            ErrorKind::InvalidCall,
            "is a WASI command: typed calls need a component export (use `submit`)",
        )),
    }
}

/// Runs a typed call.
pub(crate) fn typed<P, R>(
    worker: &mut Worker,
    task: &TaskInfo,
    export: Export,
    params: P,
) -> Result<R, TaskError>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: Send + Sync + 'static,
    (R,): ComponentNamedList + Lift + Send + Sync + 'static,
{
    let mut mismatch = None;
    let (result, _) = worker.execute(task, None, |slot| {
        let Some(func) = slot.component_func(export.position, &export.index) else {
            return Err(wasmtime::format_err!("not a component"));
        };
        let f = match func.typed::<P, (R,)>(&slot.store) {
            Ok(f) => f,
            Err(e) => {
                mismatch = Some(format!("{e:#}"));
                return Err(e);
            }
        };
        Ok(f.call(&mut slot.store, params)?.0)
    });
    match (result, mismatch) {
        (Err(_), Some(message)) => Err(task.error(
            ErrorKind::InvalidCall,
            format!(
                "typed call does not match `{}`: {message}",
                task.guest
                    .function(&task.func)
                    .map(|f| f.signature())
                    .unwrap_or_default()
            ),
        )),
        (result, _) => result,
    }
}
