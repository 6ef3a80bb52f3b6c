//! `wpool cluster status --nats URL`: the workers connected to a NATS
//! server, their free slots, and the tasks waiting and running.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use wpool_cluster::{Cluster, ConnectConfig};

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// List live workers (slots, busy) and the task messages pending and running.
    Status(StatusArgs),
}

/// `wpool cluster status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The NATS server.
    #[arg(long, value_name = "URL", env = "WPOOL_NATS")]
    nats: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl ClusterCommand {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let ClusterCommand::Status(args) = self;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let status = runtime.block_on(async {
            let cluster = Cluster::connect(&ConnectConfig {
                url: args.nats.clone(),
                timeout: Some(Duration::from_secs(5)),
                name: "wpool cluster status".into(),
            })
            .await?;
            cluster
                .status()
                .await
                .context("cannot read the cluster's state")
        })?;
        let mut out = std::io::stdout().lock();
        if args.json {
            let workers: Vec<_> = (status.workers.iter())
                .map(|w| {
                    serde_json::json!({
                        "name": w.name, "slots": w.slots, "busy": w.busy,
                        "free": w.slots.saturating_sub(w.busy), "draining": w.draining,
                    })
                })
                .collect();
            let json = serde_json::json!({
                "workers": workers, "pending": status.pending, "running": status.running,
            });
            writeln!(out, "{json}")?;
        } else {
            writeln!(
                out,
                "{:<32}  {:>5}  {:>5}  {:>5}",
                "worker", "slots", "busy", "free"
            )?;
            for w in &status.workers {
                writeln!(
                    out,
                    "{:<32}  {:>5}  {:>5}  {:>5}{}",
                    w.name,
                    w.slots,
                    w.busy,
                    w.slots.saturating_sub(w.busy),
                    if w.draining { "  (draining)" } else { "" }
                )?;
            }
            writeln!(
                out,
                "{} worker(s); task messages (1 to 100 tasks each): {} pending, {} running",
                status.workers.len(),
                status.pending,
                status.running
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
