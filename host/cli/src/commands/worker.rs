//! `wpool worker --nats URL`: a long-running cluster worker. It waits for
//! the server if it is not up yet, pulls tasks while it has free slots, and
//! on SIGINT/SIGTERM stops pulling, finishes what it holds and exits 0.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::CacheArgs;

/// Serve tasks of `wpool run --nats` jobs.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The NATS server (with JetStream: `nats-server -js`).
    #[arg(long, value_name = "URL", env = "WPOOL_NATS")]
    nats: String,
    /// Tasks run at once [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// This worker's name, in the records of the tasks it runs
    /// [default: HOST-PID].
    #[arg(long)]
    name: Option<String>,
    /// How long a task may go unacknowledged before JetStream hands it to
    /// another worker (set when this worker creates the consumer; extended
    /// while a task runs).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, hide = true)]
    ack_wait: Duration,
    #[command(flatten)]
    cache: CacheArgs,
}

impl WorkerArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let slots = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let name = self.name.clone().unwrap_or_else(default_name);
        let config = wpool_cluster::WorkerConfig {
            url: self.nats.clone(),
            name: name.clone(),
            slots,
            base: self.cache.apply(wpool::Pool::builder()),
            ack_wait: self.ack_wait,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wpool-worker-io")
            .build()
            .context("cannot start the async runtime")?;
        eprintln!(
            "wpool worker `{name}`: {slots} slot(s), serving tasks from NATS at `{}`",
            self.nats
        );
        let result = runtime.block_on(async {
            let mut signals = crate::interrupt::listen().context("cannot listen for signals")?;
            let shutdown = async move {
                if let Some(signal) = signals.recv().await {
                    eprintln!(
                        "wpool worker `{name}`: {signal}; finishing the tasks it holds \
                         (a second signal stops at once)"
                    );
                    // A task can run for hours: a second signal does not
                    // wait for it. What the worker holds is not acknowledged,
                    // so JetStream delivers it to another worker after the
                    // ack wait, as when a worker dies.
                    tokio::spawn(async move {
                        if let Some(signal) = signals.recv().await {
                            eprintln!(
                                "wpool worker `{name}`: {signal} again; stopping now, the tasks \
                                 it held go to other workers after the ack wait"
                            );
                            std::process::exit(i32::from(crate::interrupt::EXIT_INTERRUPTED));
                        }
                    });
                }
            };
            Ok::<_, anyhow::Error>(wpool_cluster::serve(config, shutdown).await?)
        });
        runtime.shutdown_background();
        match result {
            Ok(stats) => {
                eprintln!("wpool worker: stopped after {} task(s)", stats.done);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(e),
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::job::parse_duration(s)
}

/// `HOST-PID`: unique among the workers of one machine.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}
