//! `wpool run JOB`: parse and check the job, then stream every input to the
//! pool as soon as it exists (no barrier between fetching and computing) and
//! every result to the sink as soon as it is ready.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use wpool::{Pool, TaskOptions};

use super::CacheArgs;
use crate::dispatch;
use crate::fetch::{self, Fetched};
use crate::interrupt;
use crate::job::{Format, Job, Order};
use crate::plan::{self, Inputs, Overrides, PlanError};
use crate::reduce;
use crate::remote::{self, RemoteOptions};
use crate::sink::{self, Deliveries, SinkOptions, Summary};
use crate::task::TaskCtx;

/// Run a job file.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The job file (TOML).
    job: PathBuf,
    /// Result format [default: the job's, else `table` on a terminal, `jsonl` otherwise].
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Write results to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Result order [default: the job's, else `input`].
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// Number of workers [default: the job's, else one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// Do not draw the progress bar.
    #[arg(long)]
    no_progress: bool,
    /// After SIGINT/SIGTERM, how long running tasks may finish before they
    /// are interrupted (a second signal stops at once).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_grace)]
    grace: Duration,
    #[command(flatten)]
    cache: CacheArgs,
    /// Run the tasks on the workers of this NATS JetStream server
    /// (`wpool worker --nats URL`) instead of on this machine.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// With `--nats`: end the run after this long, recording what did not
    /// finish as `unfinished` (exit status 1).
    #[arg(long, value_name = "DURATION", requires = "nats", value_parser = parse_grace)]
    timeout: Option<Duration>,
    /// With `--nats`: how long to wait for the server before giving up.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_grace, hide = true)]
    connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Jsonl,
    Json,
    Table,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderArg {
    Input,
    Completed,
}

impl RunArgs {
    pub(crate) fn execute(self) -> Result<ExitCode> {
        let builtins: Vec<&str> = wpool::Guest::builtins().collect();
        let job = match Job::load(&self.job, &builtins) {
            Ok(job) => job,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let overrides = Overrides {
            workers: self.workers,
        };
        let plan = match plan::build(&job, &overrides, self.cache.apply(batch_pool())) {
            Ok(plan) => plan,
            Err(PlanError::Job(e)) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            Err(other) => return Ok(crate::runtime_failure(&other.into())),
        };

        if self.nats.is_some()
            && let Err(e) = crate::remote::check(&job, &plan)
        {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }

        let path = self.output.clone().or_else(|| job.output.path.clone());
        let format =
            match self.format {
                Some(FormatArg::Jsonl) => Format::Jsonl,
                Some(FormatArg::Json) => Format::Json,
                Some(FormatArg::Table) => Format::Table,
                None => job.output.format.unwrap_or(
                    if path.is_none() && std::io::stdout().is_terminal() {
                        Format::Table
                    } else {
                        Format::Jsonl
                    },
                ),
            };
        let order = match self.order {
            Some(OrderArg::Input) => Order::Input,
            Some(OrderArg::Completed) => Order::Completed,
            None => job.output.order,
        };
        let sink = SinkOptions {
            format,
            order,
            path,
            progress: !self.no_progress && std::io::stderr().is_terminal(),
            total: plan.total
                + plan
                    .tasks
                    .iter()
                    .filter(|t| t.spec.reduce.is_some())
                    .count(),
        };

        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wpool-io")
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let e = anyhow::Error::new(e).context("cannot start the async runtime");
                return Ok(crate::runtime_failure(&e));
            }
        };
        let result = match &self.nats {
            None => runtime.block_on(execute(job, plan, sink, self.grace)),
            Some(url) => {
                let options = RemoteOptions {
                    url: url.clone(),
                    connect_timeout: self.connect_timeout,
                    timeout: self.timeout,
                };
                // Nothing is published yet: failing here is a usage error.
                let (cluster, guests) =
                    match runtime.block_on(remote::connect(&options, &job, &plan)) {
                        Ok(connected) => connected,
                        Err(e) => {
                            crate::print_error(&e);
                            runtime.shutdown_background();
                            return Ok(ExitCode::from(2));
                        }
                    };
                runtime.block_on(remote::execute(cluster, guests, job, plan, sink, options))
            }
        };
        // Whatever still runs (after a failure) is not waited for.
        runtime.shutdown_background();
        let (summary, interrupted) = match result {
            Ok(done) => done,
            // Tasks ran, then writing their results failed: not a usage
            // error. A reader that went away (`| head`) is no error at all.
            Err(e) if crate::is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
            Err(e) => return Ok(crate::runtime_failure(&e)),
        };
        if let Some(signal) = interrupted {
            eprintln!("{}; interrupted by {signal}", summary.line());
            return Ok(ExitCode::from(interrupt::EXIT_INTERRUPTED));
        }
        eprintln!("{}", summary.line());
        Ok(if summary.failed == 0 && summary.written == summary.total {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}

fn parse_grace(s: &str) -> Result<Duration, String> {
    crate::job::parse_duration(s)
}

/// Runs the plan; returns the summary and the signal that interrupted it, if any.
async fn execute(
    job: Job,
    plan: plan::Plan,
    sink_options: SinkOptions,
    grace: Duration,
) -> Result<(Summary, Option<&'static str>)> {
    let mut signals = Some(interrupt::listen().context("cannot listen for signals")?);
    let input_order = sink_options.order == Order::Input;
    let (records, received) = mpsc::channel::<Deliveries>(1024);
    let mut sink = sink::spawn(received, sink_options).context("cannot write results")?;
    let mut fetch_consumers: Vec<Vec<mpsc::Sender<Fetched>>> = vec![Vec::new(); job.fetches.len()];
    // Every task this run starts is owned here: a panic in any fails the run.
    let mut dispatchers = JoinSet::new();
    let mut fetchers = JoinSet::new();
    let mut folds = reduce::Folds::new(plan.pool.clone(), plan.total);
    let (stop, stopped) = watch::channel(false);
    // Set with `stop`: from then on no queued task starts (each is asked
    // as a worker picks it up); those never run and get no record.
    let halted = Arc::new(AtomicBool::new(false));

    for task in plan.tasks {
        let reduce = folds.start(&task, &records);
        // Bounds this task's inputs in flight (read, queued, running, or
        // finished but not yet written): enough to keep every worker busy,
        // never the whole job in memory. Values from the job file are small
        // and already in memory: enough of them for batches of tiny calls
        // (`Pool::batch_size`) to keep every worker busy; files and bodies
        // are read whole: a few per worker.
        let per_worker = match task.inputs {
            Inputs::Call(_) | Inputs::Values(_) | Inputs::Range { .. } => 512,
            Inputs::Files(_) | Inputs::Fetch(_) => 4,
        };
        let permits = Arc::new(Semaphore::new(plan.pool.workers() * per_worker));
        let ctx = Arc::new(TaskCtx {
            pool: plan.pool.clone(),
            guest: task.guest,
            name: task.spec.name.as_deref().map(Arc::from),
            guest_name: task.spec.guest.as_str().into(),
            call: task.spec.call.as_str().into(),
            script: task.script,
            options: task
                .spec
                .timeout
                .map_or_else(TaskOptions::new, |t| TaskOptions::new().timeout(t))
                .on_start({
                    let halted = halted.clone();
                    move || !halted.load(Ordering::Relaxed)
                }),
            halted: halted.clone(),
            extra: task.spec.args.clone(),
            first: task.first,
            records: records.clone(),
            hold_permit: input_order && !matches!(task.inputs, Inputs::Fetch(_)),
            reduce,
            save: task.spec.save.clone(),
        });
        let extra = task.spec.args.clone();
        let inputs = dispatch::source(
            task.inputs,
            extra,
            &job.base_dir,
            &job.fetches,
            &mut fetch_consumers,
        );
        // Stopped by a signal, the inputs not started get no record.
        let dispatch = dispatch::dispatch(inputs, permits, ctx, stopped.clone());
        dispatchers.spawn(async move { dispatch.await.map(drop) });
    }
    drop(records);

    if fetch_consumers.iter().any(|c| !c.is_empty()) {
        let client = fetch::client().context("cannot create the HTTP client")?;
        for (spec, consumers) in job.fetches.iter().zip(fetch_consumers) {
            if !consumers.is_empty() {
                fetchers.spawn(fetch::run(client.clone(), spec.clone(), consumers));
            }
        }
    }
    // Dispatch until every input is out and done, or a signal stops it:
    // then no input is read, fetched, queued or started any more; running
    // tasks carry on for the grace period.
    let mut interrupted = None;
    let mut written = None;
    loop {
        tokio::select! {
            done = dispatchers.join_next() => match done {
                None => break,
                Some(done) => done.context("an input dispatcher panicked")??,
            },
            Some(Err(e)) = fetchers.join_next(), if interrupted.is_none() => {
                return Err(e).context("a fetch panicked");
            }
            Some(name) = next_signal(&mut signals) => {
                eprintln!("wpool: {name}; letting running tasks finish (send it again to stop now)");
                interrupted = Some(name);
                halted.store(true, Ordering::Relaxed);
                let _ = stop.send(true);
                fetchers.abort_all();
                interrupt::start_grace(plan.pool.clone(), grace, signals.take());
            }
            // The sink ends early only when it cannot write: nothing more
            // to do.
            done = &mut sink, if written.is_none() => match done {
                Ok(Err(e)) => return Err(anyhow::Error::new(e).context("cannot write results")),
                done => written = Some(done),
            },
        }
    }
    while let Some(done) = fetchers.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            return Err(e).context("a fetch panicked");
        }
    }
    let summary = match written {
        Some(done) => done,
        None => sink.await,
    };
    let summary = summary
        .context("the result writer panicked")?
        .context("cannot write results")?;
    folds.join().await.context("a `reduce` panicked")?;
    plan.pool.shutdown().await;
    Ok((summary, interrupted))
}

/// The next SIGINT or SIGTERM, while this function still watches for them.
async fn next_signal(
    signals: &mut Option<mpsc::UnboundedReceiver<&'static str>>,
) -> Option<&'static str> {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

/// The pool a local run starts from. A run feeds its workers from its own
/// threads (inputs, fetches, records), which need every core between tasks:
/// its workers sleep as soon as the queue is empty rather than checking it
/// for a while (`PoolBuilder::spin`, which helps callers that await one call
/// at a time: `wpool run` of 200,000 tiny tasks went 10% faster without it).
fn batch_pool() -> wpool::PoolBuilder {
    Pool::builder().spin(Duration::ZERO)
}
