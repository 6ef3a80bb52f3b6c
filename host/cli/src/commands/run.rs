//! `wpool run JOB`: parse and check the job, then stream every input to the
//! pool as soon as it exists (no barrier between fetching and computing) and
//! every result to the sink as soon as it is ready.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use wpool::{LoadedGuest, Pool, TaskOptions, Value};

use super::CacheArgs;
use crate::atomic::save_value;
use crate::fetch::{self, Fetched};
use crate::interrupt;
use crate::job::{Format, Job, Order, SaveSpec};
use crate::plan::{self, Inputs, Overrides, PlanError};
use crate::record::{Outcome, Record, clip};
use crate::reduce;
use crate::sink::{self, Delivery, SinkOptions, Summary};

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
        let plan = match plan::build(&job, &overrides, self.cache.apply(Pool::builder())) {
            Ok(plan) => plan,
            Err(PlanError::Job(e)) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            Err(other) => return Err(other.into()),
        };

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

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wpool-io")
            .build()
            .context("cannot start the async runtime")?;
        let (summary, interrupted) = runtime.block_on(execute(job, plan, sink, self.grace))?;
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

/// What every input of one `[[task]]` shares.
struct TaskCtx {
    pool: Pool,
    guest: LoadedGuest,
    name: Option<String>,
    guest_name: String,
    call: String,
    options: TaskOptions,
    records: mpsc::Sender<Delivery>,
    /// Keep an input's permit until its record is written (input order):
    /// finished records waiting for an earlier one then count against the
    /// in-flight bound, so memory stays bounded whatever the order of
    /// completion. Not for fetches, whose bodies arrive in any order.
    hold_permit: bool,
    /// Where successful results go to be combined (`reduce`).
    reduce: Option<mpsc::Sender<Value>>,
    /// Where each successful result is written (`save`).
    save: Option<SaveSpec>,
}

impl TaskCtx {
    fn record(
        &self,
        index: usize,
        input: String,
        outcome: Outcome,
        ms: f64,
        worker: Option<usize>,
    ) -> Record {
        Record {
            index,
            name: self.name.clone(),
            guest: self.guest_name.clone(),
            call: self.call.clone(),
            input,
            outcome,
            ms,
            worker,
        }
    }

    /// Runs one input and sends its record.
    async fn run(
        self: Arc<Self>,
        index: usize,
        input: String,
        args: Vec<Value>,
        permit: OwnedSemaphorePermit,
    ) {
        self.start(index, input, args, permit).await.await;
    }

    /// Queues one input (inputs started one after another join the pool's
    /// queue in that order, like `executor.submit`), and returns what waits
    /// for its result and sends its record.
    async fn start(
        self: Arc<Self>,
        index: usize,
        input: String,
        args: Vec<Value>,
        permit: OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send + 'static {
        let started = Instant::now();
        let queued = self
            .pool
            .enqueue_with(&self.guest, &self.call, args, self.options.clone())
            .await;
        async move {
            let result = match queued {
                Ok(queued) => queued.await,
                Err(e) => Err(e),
            };
            if let (Ok(out), Some(reduce)) = (&result, &self.reduce) {
                let _ = reduce.send(out.value.clone()).await;
            }
            let record = match result {
                Ok(mut out) => {
                    let outcome = match &self.save {
                        None => Outcome::Ok(std::mem::take(&mut out.value)),
                        Some(save) => {
                            let path = save.path_for(&input, index);
                            match save_value(path, std::mem::take(&mut out.value)).await {
                                Ok(written) => Outcome::Ok(written),
                                Err(message) => Outcome::Err {
                                    kind: "write".to_owned(),
                                    message,
                                },
                            }
                        }
                    };
                    self.record(index, input, outcome, millis(out.elapsed), Some(out.worker))
                }
                Err(e) => self.record(
                    index,
                    input,
                    Outcome::Err {
                        kind: e.kind().as_str().to_owned(),
                        message: e.detail().to_owned(),
                    },
                    millis(started.elapsed()),
                    e.worker(),
                ),
            };
            let permit = self.hold_permit.then_some(permit);
            let _ = self.records.send(Delivery { record, permit }).await;
        }
    }

    /// Sends the record of an input that never reached the pool.
    async fn fail(
        &self,
        index: usize,
        input: String,
        kind: &str,
        message: String,
        elapsed: Duration,
    ) {
        let outcome = Outcome::Err {
            kind: kind.to_owned(),
            message,
        };
        let record = self.record(index, input, outcome, millis(elapsed), None);
        let _ = self
            .records
            .send(Delivery {
                record,
                permit: None,
            })
            .await;
    }
}

fn parse_grace(s: &str) -> Result<Duration, String> {
    crate::job::parse_duration(s)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A label for a call's arguments: a lone value as itself, several as JSON.
fn label(args: &[Value]) -> String {
    match args {
        [one] => clip(&one.to_string(), 120),
        many => clip(&Value::List(many.to_vec()).to_json(), 120),
    }
}

/// Runs the plan; returns the summary and the signal that interrupted it, if any.
async fn execute(
    job: Job,
    plan: plan::Plan,
    sink_options: SinkOptions,
    grace: Duration,
) -> Result<(Summary, Option<&'static str>)> {
    let mut signals = interrupt::listen().context("cannot listen for signals")?;
    let input_order = sink_options.order == Order::Input;
    let (records, received) = mpsc::channel::<Delivery>(1024);
    let sink = tokio::spawn(sink::run(received, sink_options));
    let mut fetch_consumers: Vec<Vec<mpsc::Sender<Fetched>>> = vec![Vec::new(); job.fetches.len()];
    let mut producers = tokio::task::JoinSet::new();

    let mut reduce_index = plan.total;
    for task in plan.tasks {
        let reduce = task.spec.reduce.clone().map(|spec| {
            let labels = reduce::Labels {
                index: reduce_index,
                name: task.spec.name.clone(),
                guest: task.spec.guest.clone(),
            };
            reduce_index += 1;
            reduce::start(
                plan.pool.clone(),
                task.guest.clone(),
                spec,
                labels,
                records.clone(),
            )
        });
        // Bounds this task's inputs in flight (read, queued, running, or
        // finished but not yet written): enough to keep every worker busy,
        // never the whole job in memory.
        let permits = Arc::new(Semaphore::new(plan.pool.workers() * 4));
        let ctx = Arc::new(TaskCtx {
            pool: plan.pool.clone(),
            guest: task.guest,
            name: task.spec.name.clone(),
            guest_name: task.spec.guest.clone(),
            call: task.spec.call.clone(),
            options: task
                .spec
                .timeout
                .map_or_else(TaskOptions::new, |t| TaskOptions::new().timeout(t)),
            records: records.clone(),
            hold_permit: input_order && !matches!(task.inputs, Inputs::Fetch(_)),
            reduce,
            save: task.spec.save.clone(),
        });
        let first = task.first;
        let extra = task.spec.args.clone();
        match task.inputs {
            Inputs::Call(args) => {
                let permit = permits.acquire_owned().await?;
                producers.spawn(ctx.run(first, label(&args), args, permit));
            }
            Inputs::Values(calls) => {
                producers.spawn(async move {
                    for (i, args) in calls.into_iter().enumerate() {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let label = label(&args);
                        tokio::spawn(ctx.clone().start(first + i, label, args, permit).await);
                    }
                });
            }
            Inputs::Range { start, end, step } => {
                producers.spawn(async move {
                    let values = (start..end).step_by(usize::try_from(step).unwrap_or(usize::MAX));
                    for (i, n) in values.enumerate() {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let mut args = vec![Value::Int(n)];
                        args.extend(extra.iter().cloned());
                        let wait = ctx.clone().start(first + i, n.to_string(), args, permit);
                        tokio::spawn(wait.await);
                    }
                });
            }
            Inputs::Files(files) => {
                let base = job.base_dir.clone();
                producers.spawn(async move {
                    for (i, path) in files.into_iter().enumerate() {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let shown = path
                            .strip_prefix(&base)
                            .unwrap_or(&path)
                            .display()
                            .to_string();
                        let ctx = ctx.clone();
                        let extra = extra.clone();
                        tokio::spawn(async move {
                            let started = Instant::now();
                            match tokio::fs::read(&path).await {
                                Ok(bytes) => {
                                    let mut args = vec![Value::Bytes(bytes)];
                                    args.extend(extra);
                                    ctx.run(first + i, shown, args, permit).await;
                                }
                                Err(e) => {
                                    let message = format!("cannot read `{}`: {e}", path.display());
                                    ctx.fail(first + i, shown, "read", message, started.elapsed())
                                        .await;
                                }
                            }
                        });
                    }
                });
            }
            Inputs::Fetch(index) => {
                let (tx, mut bodies) = mpsc::channel::<Fetched>(16);
                fetch_consumers[index].push(tx);
                producers.spawn(async move {
                    while let Some(fetched) = bodies.recv().await {
                        let record_index = first + fetched.position;
                        match fetched.body {
                            Ok(body) => {
                                let Ok(permit) = permits.clone().acquire_owned().await else {
                                    return;
                                };
                                let mut args = vec![Value::Bytes(body)];
                                args.extend(extra.iter().cloned());
                                let wait =
                                    ctx.clone().start(record_index, fetched.url, args, permit);
                                tokio::spawn(wait.await);
                            }
                            Err(message) => {
                                ctx.fail(
                                    record_index,
                                    fetched.url,
                                    "fetch",
                                    message,
                                    fetched.elapsed,
                                )
                                .await
                            }
                        }
                    }
                });
            }
        }
    }
    drop(records);

    if fetch_consumers.iter().any(|c| !c.is_empty()) {
        let client = fetch::client().context("cannot create the HTTP client")?;
        for (spec, consumers) in job.fetches.iter().zip(fetch_consumers) {
            if !consumers.is_empty() {
                producers.spawn(fetch::run(client.clone(), spec.clone(), consumers));
            }
        }
    }
    // Dispatch until every input is out, or a signal stops it: aborting the
    // producers stops reading, fetching and submitting; tasks already
    // submitted carry on, for a grace period.
    let notice = |name: &str| {
        eprintln!("wpool: {name}; letting running tasks finish (send it again to stop now)")
    };
    let mut interrupted = None;
    loop {
        tokio::select! {
            done = producers.join_next() => match done {
                None => break,
                Some(done) => done.context("an input producer failed")?,
            },
            Some(name) = signals.recv() => {
                notice(name);
                producers.abort_all();
                interrupted = Some(name);
                break;
            }
        }
    }
    let pool = plan.pool.clone();
    let mut sink = sink;
    let summary = if interrupted.is_some() {
        interrupt::start_grace(pool, grace, signals);
        sink.await
    } else {
        tokio::select! {
            summary = &mut sink => summary,
            Some(name) = signals.recv() => {
                notice(name);
                interrupted = Some(name);
                interrupt::start_grace(pool, grace, signals);
                sink.await
            }
        }
    };
    let summary = summary
        .context("the result writer failed")?
        .context("cannot write results")?;
    plan.pool.shutdown().await;
    Ok((summary, interrupted))
}
