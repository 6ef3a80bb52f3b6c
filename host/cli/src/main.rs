//! `wpool`: run WebAssembly jobs across every core, each worker isolated in
//! its own Wasmtime store.

mod atomic;
mod commands;
mod dispatch;
mod fetch;
mod interrupt;
mod record;
mod reduce;
mod remote;
mod sink;
mod task;

use std::process::ExitCode;

use wpool_cli::{job, plan};

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  wpool run examples/heavy_calc.toml              run a job, table on a terminal, JSON lines otherwise
  wpool run job.toml --format jsonl -o out.jsonl  write one JSON record per task to a file
  wpool inspect sha256                            show a guest's kind, imports and exports
  wpool inspect path/to/guest.wasm
  wpool guests                                    list the built-in guests
  wpool new my-guest                              scaffold a Rust guest crate (see GUESTS.md)
  wpool new --lang python my-guest                scaffold a Python component (componentize-py)
  wpool worker --nats nats://host:4222            serve tasks of cluster runs on this machine
  wpool run --nats nats://host:4222 job.toml      run a job on the cluster's workers
  wpool cluster status --nats nats://host:4222    list workers, free slots and pending tasks

Exit status: 0 when every task succeeded, 1 when any task failed,
2 for usage or job-file errors (nothing ran).";

/// Run WebAssembly jobs across every core, each worker isolated in its own
/// Wasmtime store.
#[derive(Debug, Parser)]
#[command(name = "wpool", version, after_help = EXAMPLES)]
struct Cli {
    /// Log more (-v: info, -vv: debug, -vvv: trace); `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job file: guests, tasks, data sources and limits.
    Run(commands::run::RunArgs),
    /// Show a guest's kind, imports and exported functions with their WIT signatures.
    Inspect(commands::inspect::InspectArgs),
    /// List the built-in guests and their functions.
    Guests(commands::guests::GuestsArgs),
    /// Create a new guest (a Rust crate, or a Python module with --lang python): WIT, exports, a test, a job file.
    New(commands::new::NewArgs),
    /// Run tasks for `wpool run --nats` jobs: a long-running cluster worker.
    Worker(commands::worker::WorkerArgs),
    /// Look at a NATS cluster of workers.
    #[command(subcommand)]
    Cluster(commands::cluster::ClusterCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => args.execute(),
        Command::Inspect(args) => args.execute(),
        Command::Guests(args) => args.execute(),
        Command::New(args) => args.execute(),
        Command::Worker(args) => args.execute(),
        Command::Cluster(command) => command.execute(),
    };
    match result {
        Ok(code) => code,
        // `wpool … | head`: the reader has all it wanted.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(&err);
            ExitCode::from(2)
        }
    }
}

/// Prints an error and its causes on stderr.
pub(crate) fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Reports a failure that is neither a usage nor a job-file error (the
/// machine, the output): exit status 1.
pub(crate) fn runtime_failure(err: &anyhow::Error) -> ExitCode {
    print_error(err);
    ExitCode::from(1)
}

/// Whether `err` comes from writing to a pipe whose reader has gone.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
