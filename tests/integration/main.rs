//! wpool's end-to-end tests. Every module runs real WebAssembly guests.

mod batches; // map batches tiny tasks: outcomes per task, long ones spread, drop cancels
mod builtins; // heavy_calc and sha256: the seed's results, FIPS vectors, native parity
mod cache; // the on-disk compile cache is hit by a second pool
mod calls; // dynamic calls: every WIT type, core modules, bad calls rejected up front
mod capabilities; // the host digest capability: off unless granted, used when granted
mod commands; // WASI command guests (Rust component, C module): stdin in, stdout out
mod concurrency; // workers really run at once; map order; cancellation; shutdown
mod conversion; // property tests: arbitrary values against every signature never panic
mod errors; // a bug inside wpool is `internal`; load errors keep their sources
mod hot_reload; // a folder of guests: changes picked up live, old versions freed
mod isolation; // traps, timeouts, memory bombs, grants and output caps fail one task only
mod load; // 10,000 tasks with 10% hostile: nothing lost, nothing hangs
mod wit; // a guest's interface as WIT: its own types declared once, by name
