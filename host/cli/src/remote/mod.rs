//! `wpool run --nats URL JOB`: the same job, validated the same way, run by
//! the cluster's workers (see the `wpool-cluster` crate). Inputs are read
//! and fetched here; tasks go out as soon as their input exists; results
//! come back to the same sink, progress bar and summary as a local run.

mod prepare;
mod runner;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use wpool_cluster::{Cluster, GuestRef};

use crate::dispatch;
use crate::fetch::{self, Fetched};
use crate::interrupt;
use crate::job::{Job, Order};
use crate::plan::{Inputs, Plan};
use crate::reduce;
use crate::sink::{self, Deliveries, SinkOptions, Summary};
use runner::{PendingMap, RemoteTask, lock};

pub(crate) use prepare::check;

/// Tasks of one `[[task]]` published and not yet answered, at most.
const IN_FLIGHT: usize = 4096;
/// The same for fetched bodies, which wait in memory until published.
const FETCHED_IN_FLIGHT: usize = 64;
/// Files of one `[[task]]` read and not yet published, at most.
const FILES_STAGED: usize = 8;

/// Jobs with fewer tasks than this send one task per message.
const BATCH_FROM: usize = 1_000;
/// The most tasks in one message.
const BATCH_MAX: usize = 100;

/// Tasks per message for a job of `total` tasks: one below
/// [`BATCH_FROM`], then a hundredth of the job up to [`BATCH_MAX`], so
/// that a job is at least a hundred messages for the workers to share.
fn batch_size(total: usize) -> usize {
    if total < BATCH_FROM {
        1
    } else {
        (total / 100).clamp(1, BATCH_MAX)
    }
}

/// Settings of a `--nats` run.
#[derive(Debug, Clone)]
pub(crate) struct RemoteOptions {
    pub(crate) url: String,
    /// How long to wait for the server's first answer.
    pub(crate) connect_timeout: Duration,
    /// Ends the run, with `unfinished` records, when it passes.
    pub(crate) timeout: Option<Duration>,
}

/// Connects and uploads the guests: what must work before the job can be
/// submitted at all (a failure is a usage error, exit 2).
pub(crate) async fn connect(
    options: &RemoteOptions,
    job: &Job,
    plan: &Plan,
) -> Result<(Cluster, BTreeMap<String, GuestRef>)> {
    let cluster = prepare::connect(&options.url, options.connect_timeout).await?;
    let guests = prepare::upload_guests(&cluster, job, plan).await?;
    Ok((cluster, guests))
}

/// Runs the plan on the cluster; returns the summary and the signal that
/// interrupted it, if any.
pub(crate) async fn execute(
    cluster: Cluster,
    guests: BTreeMap<String, GuestRef>,
    job: Job,
    plan: Plan,
    sink_options: SinkOptions,
    options: RemoteOptions,
) -> Result<(Summary, Option<&'static str>)> {
    let mut signals = Some(interrupt::listen().context("cannot listen for signals")?);
    let input_order = sink_options.order == Order::Input;
    let (submission, mut results) = cluster.submit().await.context("cannot submit the job")?;
    submission.batch_up_to(batch_size(plan.total));
    let submission = Arc::new(submission);
    tracing::info!(job = submission.id(), "submitted");
    let (records, received) = mpsc::channel::<Deliveries>(1024);
    let mut sink = sink::spawn(received, sink_options).context("cannot write results")?;
    let pending: PendingMap = Arc::default();
    let mut fetch_consumers: Vec<Vec<mpsc::Sender<Fetched>>> = vec![Vec::new(); job.fetches.len()];
    let mut dispatchers = JoinSet::new();
    let mut fetchers = JoinSet::new();
    let mut folds = reduce::Folds::new(plan.pool.clone(), plan.total);
    let (stop, stopped) = watch::channel(false);
    let limits = prepare::limits(&job);

    let mut tasks_by_index = Vec::new();
    for task in plan.tasks {
        let reduce = folds.start(&task, &records);
        let guest = guests
            .get(&task.spec.guest)
            .cloned()
            .with_context(|| format!("guest `{}` was not uploaded", task.spec.guest))?;
        let ctx = Arc::new(RemoteTask {
            submission: submission.clone(),
            pending: pending.clone(),
            guest,
            limits: limits.clone(),
            name: task.spec.name.as_deref().map(Arc::from),
            guest_name: task.spec.guest.as_str().into(),
            call: task.spec.call.as_str().into(),
            timeout: task.spec.timeout,
            extra: task.spec.args.clone(),
            first: task.first,
            records: records.clone(),
            hold_permit: input_order && !matches!(task.inputs, Inputs::Fetch(_)),
            reduce,
            save: task.spec.save.clone(),
            staging: Arc::new(Semaphore::new(FILES_STAGED)),
        });
        tasks_by_index.push(ctx.clone());
        let in_flight = match task.inputs {
            Inputs::Fetch(_) => FETCHED_IN_FLIGHT,
            _ => IN_FLIGHT,
        };
        let permits = Arc::new(Semaphore::new(in_flight));
        let inputs = dispatch::source(
            task.inputs,
            task.spec.args.clone(),
            &job.base_dir,
            &job.fetches,
            &mut fetch_consumers,
        );
        let dispatch = dispatch::dispatch(inputs, permits, ctx.clone(), stopped.clone());
        dispatchers.spawn(async move {
            Ok::<_, anyhow::Error>(dispatch.await?.map(|unsent| (unsent, ctx)))
        });
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

    let deadline = options.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut presence = tokio::time::interval(Duration::from_secs(2));
    let mut no_workers_said = false;
    let mut interrupted = None;
    let mut written = None;
    let mut dispatching = true;
    loop {
        if !dispatching && lock(&pending).is_empty() {
            break;
        }
        tokio::select! {
            done = dispatchers.join_next(), if dispatching => match done {
                None => dispatching = false,
                Some(done) => {
                    done.context("an input dispatcher panicked")??;
                }
            },
            Some(Err(e)) = fetchers.join_next() => {
                return Err(e).context("a fetch panicked");
            }
            result = results.next() => match result {
                None => anyhow::bail!("the result subscription ended"),
                Some(result) => {
                    let result = result.context("cannot read a result")?;
                    let entry = lock(&pending).remove(&result.index);
                    match entry {
                        Some(entry) => entry.task.clone().finish(entry, result).await,
                        None => tracing::debug!(index = result.index, "result of no pending task"),
                    }
                }
            },
            _ = presence.tick() => {
                let workers = cluster.workers().await.unwrap_or_default();
                if workers.is_empty() && !no_workers_said {
                    eprintln!(
                        "wpool: no worker is connected to NATS at `{}`; tasks wait on the queue \
                         until one starts (`wpool worker --nats {}`){}",
                        options.url,
                        options.url,
                        match options.timeout {
                            Some(t) => format!(", or until --timeout {t:?} passes"),
                            None => String::new(),
                        }
                    );
                    no_workers_said = true;
                } else if !workers.is_empty() && no_workers_said {
                    eprintln!("wpool: {} worker(s) connected", workers.len());
                    no_workers_said = false;
                }
            }
            () = sleep_until(deadline) => {
                let _ = stop.send(true);
                fetchers.abort_all();
                let message = format!(
                    "no result within --timeout {:?}{}",
                    options.timeout.unwrap_or_default(),
                    if no_workers_said { " (no worker connected)" } else { "" }
                );
                eprintln!("wpool: {message}; withdrawing the tasks not started");
                let mut unsent = Vec::new();
                while let Some(done) = dispatchers.join_next().await {
                    if let Ok(Ok(Some(rest))) = done {
                        unsent.push(rest);
                    }
                }
                withdraw(&submission).await;
                let left: Vec<_> = lock(&pending).drain().collect();
                for (index, entry) in left {
                    entry.task.unfinished(index, entry.input, message.clone()).await;
                }
                // Inputs never sent to the cluster have their record too.
                let message = format!("{message}; never sent to a worker");
                for (mut inputs, task) in unsent {
                    while let Some(input) = inputs.next().await {
                        let index = (task.first + input.offset) as u64;
                        task.unfinished(index, input.label, message.clone()).await;
                    }
                }
                break;
            }
            Some(name) = next_signal(&mut signals) => {
                eprintln!("wpool: {name}; withdrawing the job's tasks not started");
                interrupted = Some(name);
                let _ = stop.send(true);
                fetchers.abort_all();
                while dispatchers.join_next().await.is_some() {}
                withdraw(&submission).await;
                lock(&pending).clear();
                break;
            }
            done = &mut sink, if written.is_none() => match done {
                Ok(Err(e)) => return Err(anyhow::Error::new(e).context("cannot write results")),
                done => written = Some(done),
            },
        }
    }
    // Every result this run will use was read: the server need not keep them.
    if let Err(e) = submission.forget_results().await {
        tracing::warn!("cannot remove the job's results from the server: {e}");
    }
    drop(tasks_by_index);
    while let Some(done) = fetchers.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            return Err(e).context("a fetch panicked");
        }
    }
    folds.join().await.context("a `reduce` panicked")?;
    let summary = match written {
        Some(done) => done,
        None => sink.await,
    };
    let summary = summary
        .context("the result writer panicked")?
        .context("cannot write results")?;
    plan.pool.shutdown().await;
    Ok((summary, interrupted))
}

async fn withdraw(submission: &wpool_cluster::Submission) {
    if let Err(e) = submission.cancel().await {
        eprintln!("wpool: cannot withdraw the job's tasks: {e}");
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
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
