//! An isolated worker pool: async I/O on tokio, CPU work on worker threads,
//! and every worker owns its own [Wasmtime] store running WebAssembly guests.
//!
//! It is the Rust counterpart of Python 3.14's `InterpreterPoolExecutor`, with
//! real isolation: a guest cannot touch host memory, files or the network
//! unless granted, and every task runs under a time, memory and (optionally)
//! fuel limit. Built-in guests (`heavy_calc`, `sha256`, …) come with the
//! default `builtins` feature (the `wpool-builtins` crate); any other
//! component or core module loads from a file or from memory.
//!
//! The library writes nothing to disk unless asked: the compile cache is
//! opt-in ([`PoolBuilder::cache_dir`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt;
//! use std::time::Duration;
//!
//! // The seed's program: heavy_calc over four inputs, across every core.
//! let pool = wpool::Pool::builder().timeout(Duration::from_secs(60)).build()?;
//! let calc = pool.load(wpool::Guest::builtin("heavy_calc"))?;
//! let inputs = [50_000u64, 60_000, 70_000, 80_000]; // the seed uses 50M..80M
//! let results: Vec<u64> = pool
//!     .map(&calc, "heavy-calc", inputs)
//!     .map(|r| r.expect("task failed").value.as_u64().unwrap())
//!     .collect()
//!     .await;
//! assert_eq!(results, [100_001, 119_999, 140_000, 159_999]);
//!
//! // A typed call: no dynamic conversion.
//! let sha = pool.load(wpool::Guest::builtin("sha256"))?;
//! let hex: String = pool.call(&sha, "hex", (b"abc".to_vec(),)).await?;
//! assert!(hex.starts_with("ba7816bf"));
//!
//! pool.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Isolation
//!
//! Every worker thread owns its stores; a guest sees only its own linear
//! memory and what its [`Grants`] allow through WASI: by default no files, no
//! environment, no arguments, and never sockets. Its stdout and stderr are
//! captured (up to [`PoolBuilder::stdio_limit`]), never inherited.
//!
//! # Limits
//!
//! A trap, a timeout ([`PoolBuilder::timeout`]), a memory-limit breach
//! ([`PoolBuilder::memory_limit`]), fuel exhaustion ([`PoolBuilder::fuel`]) or
//! an oversized result ([`PoolBuilder::output_limit`]) fails that task alone
//! with a [`TaskError`] whose [`ErrorKind`] says which; the worker throws the
//! instance away and the next task gets a clean one.
//!
//! # Cancellation and shutdown
//!
//! Dropping a task's future before a worker picks it up cancels the task.
//! To decide race-free between "started" and "cancelled" (an executor's
//! futures), give it a [`TaskOptions::on_start`] hook. [`Pool::shutdown`]
//! drains queued work; [`Pool::abort`] interrupts it.
//!
//! [Wasmtime]: https://wasmtime.dev

#![deny(missing_docs)]

mod batch;
mod builder;
mod cache;
mod capability;
mod convert;
mod dir;
mod engine;
mod error;
mod exec;
mod fast;
mod function;
mod grants;
mod guest;
mod limits;
mod map;
mod pipe;
mod pool;
mod records;
mod scalar;
mod state;
mod task;
mod value;
mod wit;
mod worker;

pub use builder::PoolBuilder;
/// Shared bytes for [`Value::SharedBytes`] (the `bytes` crate's).
pub use bytes::Bytes;
pub use cache::CacheStatus;
pub use dir::GuestDir;
pub use error::{BuildError, CallError, ErrorKind, ErrorSource, LoadError, TaskError, error_chain};
pub use function::Function;
pub use grants::{Access, DirGrant, Grants};
pub use guest::{Guest, GuestKind, Import, Inspection, LoadedGuest};
pub use limits::{DEFAULT_MEMORY_LIMIT, DEFAULT_OUTPUT_LIMIT, DEFAULT_STDIO_LIMIT};
pub use map::BatchResults;
pub use pool::Pool;
pub use task::{Output, Queued, TaskOptions};
pub use value::{IntoArgs, Value};
pub use worker::InstanceMode;

/// The Wasmtime this crate is built on (the 48 line), for the types that
/// typed calls name (`wasmtime::component::{Lift, Lower, ComponentType}`
/// and their derives): use it instead of depending on a second copy.
pub use wasmtime;

/// Wasmtime's component-model traits for typed calls ([`Pool::call`]).
pub mod typed {
    pub use wasmtime::component::{ComponentNamedList, ComponentType, Lift, Lower};
}
