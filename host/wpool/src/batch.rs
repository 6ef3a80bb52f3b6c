//! Batches ([`Pool::enqueue_batch`](crate::Pool::enqueue_batch), under
//! [`Pool::map`](crate::Pool::map) and `wpool run`): consecutive calls that
//! each finish in microseconds travel to a worker together, so that one
//! queue hand-off, one wake-up and one reply serve many of them.
//!
//! Each function of a loaded guest has a [`Pacer`]: a moving mean of the
//! time its calls took on the workers. A new batch holds as many calls as
//! fit in [`BATCH_TARGET`], from 1 (a call of about that length or longer
//! travels alone, as `submit` would send it) up to the pool's
//! [`map_batch`](crate::PoolBuilder::map_batch) limit. Every task in a batch
//! keeps its own id, limits, instance policy and result; only the trip to
//! and from the worker is shared.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{ErrorKind, TaskError};
use crate::exec;
use crate::function::PreparedCall;
use crate::task::{Output, StartHook};
use crate::worker::{Job, TaskInfo, Worker};

/// How long a batch should keep a worker busy: long enough that the hand-off
/// (5–20 µs on a VM whose sleeping threads wake slowly, and a wake-up of
/// the caller that may preempt a worker on a machine with few cores) is a
/// small share, short enough that results stream and a batch's split (see
/// `into_job`) evens out the tail. 1,000 sha256 calls of 64 KiB on 2
/// workers: 200 µs batches 29.9–31.9 ms, 1 ms batches 27.2–28.8 ms.
pub(crate) const BATCH_TARGET: Duration = Duration::from_millis(1);

/// The largest batch by default.
pub(crate) const DEFAULT_MAX_BATCH: usize = 128;

/// Sizes the batches of one function of one guest from the time its calls
/// take.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// Mean nanoseconds per call (a moving mean over finished batches);
    /// 0 until the first batch finishes.
    per_task: AtomicU64,
}

impl Pacer {
    /// How many calls the next batch takes, at most `max`: 1 until a call
    /// was measured.
    pub(crate) fn next_size(&self, max: usize) -> usize {
        let per_task = self.per_task.load(Ordering::Relaxed);
        if per_task == 0 || max <= 1 {
            return 1;
        }
        let fits = BATCH_TARGET.as_nanos() as u64 / per_task;
        fits.clamp(1, max as u64) as usize
    }

    /// Records that `tasks` calls took `elapsed` on a worker. A slower batch moves the mean at once (the next batches
    /// shrink before they pile up); a faster one moves it a quarter.
    pub(crate) fn observe(&self, elapsed: Duration, tasks: usize) {
        if tasks == 0 {
            return;
        }
        let measured = (elapsed.as_nanos() / tasks as u128).clamp(1, u64::MAX as u128) as u64;
        let old = self.per_task.load(Ordering::Relaxed);
        let new = if old == 0 || measured > old {
            measured
        } else {
            old - (old - measured) / 4
        };
        self.per_task.store(new.max(1), Ordering::Relaxed);
    }
}

/// One batch of a map: its tasks share a guest and a function, and have
/// consecutive ids from `first.id`.
pub(crate) struct Batch {
    /// The first task; the others differ only by id.
    pub(crate) first: TaskInfo,
    /// Each input's call, or why it cannot be made (checked on the caller's
    /// thread: such an input fails without travelling).
    pub(crate) calls: Vec<Result<PreparedCall, TaskError>>,
    /// The pool's queue, where a batch hands half its rest to an idle worker.
    pub(crate) queue: async_channel::Sender<Job>,
    /// The function's pacer, told how long the calls took.
    pub(crate) pacer: Arc<Pacer>,
    /// Asked before each call starts ([`crate::TaskOptions::on_start`]).
    pub(crate) on_start: Option<StartHook>,
}

/// A batch's results, one per input, in input order.
pub(crate) type Results = Vec<Result<Output, TaskError>>;

/// What a worker sends back for a batch: the results of the tasks it ran,
/// and where the results of the rest come from, when it handed them back.
pub(crate) struct Reply {
    pub(crate) results: Results,
    pub(crate) rest: Option<oneshot::Receiver<Reply>>,
}

impl Batch {
    /// The job that runs the batch on a worker, and the receiver of its
    /// reply.
    ///
    /// The job stops at the first task it finds nobody waiting for any more
    /// (the map was dropped). When another worker waits for work and the
    /// queue is empty, the job hands it the later half of its unstarted
    /// tasks, as a batch of its own (once per job; that batch may split
    /// again): a batch whose tasks turn out long never holds the others
    /// back while a worker idles. On one worker a batch is never cut, so
    /// tasks start in input order.
    pub(crate) fn into_job(self) -> (Job, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |worker: &mut Worker| {
            let started = Instant::now();
            let Batch {
                first,
                calls,
                queue,
                pacer,
                on_start,
            } = self;
            let total = calls.len();
            let mut results = Vec::with_capacity(total);
            let mut ran = 0;
            let mut calls = calls.into_iter();
            let mut rest = None;
            let mut run_here = None;
            let mut task = first.clone();
            while let Some(call) = calls.next() {
                if tx.is_closed() {
                    return;
                }
                if rest.is_none() && calls.len() > 0 && worker.others_idle() && queue.is_empty() {
                    let mut left: Vec<_> = calls.collect();
                    let later = left.split_off(left.len() / 2);
                    calls = left.into_iter();
                    let handed = Batch {
                        first: nth(&first, total - later.len()),
                        calls: later,
                        queue: queue.clone(),
                        pacer: pacer.clone(),
                        on_start: on_start.clone(),
                    };
                    let (job, reply) = handed.into_job();
                    if let Err(refused) = queue.try_send(job) {
                        // Taken or closed meanwhile: run it here, after ours.
                        run_here = Some(refused.into_inner());
                    }
                    rest = Some(reply);
                }
                // One TaskInfo for the batch, renumbered per call: cloning
                // one per call would bump reference counts that every
                // worker shares.
                task.id = first.id + results.len() as u64;
                results.push(call.and_then(|call| {
                    if on_start.as_ref().is_some_and(|start| !start()) {
                        return Err(
                            task.error(ErrorKind::Cancelled, "was cancelled before it started")
                        );
                    }
                    ran += 1;
                    exec::dynamic(worker, &task, call)
                }));
            }
            pacer.observe(started.elapsed(), ran);
            let _ = tx.send(Reply { results, rest });
            if let Some(job) = run_here {
                job(worker);
            }
        });
        (job, rx)
    }
}

/// Gathers a batch's results, following its handed-back rests: `count`
/// results from `first`, a lost part (its worker panicked: a bug in wpool)
/// reported as such.
pub(crate) async fn gather(
    first: TaskInfo,
    count: usize,
    reply: oneshot::Receiver<Reply>,
) -> Results {
    let mut results = Vec::with_capacity(count);
    let mut next = reply;
    loop {
        match next.await {
            Ok(reply) => {
                results.extend(reply.results);
                match reply.rest {
                    Some(rest) => next = rest,
                    None => return results,
                }
            }
            Err(_) => {
                let done = results.len();
                results.extend(fail_all(
                    &nth(&first, done),
                    count - done,
                    ErrorKind::Internal,
                    "was lost: wpool panicked while running it (a bug in wpool; please report it)",
                ));
                return results;
            }
        }
    }
}

/// The task `offset` places after `first`.
pub(crate) fn nth(first: &TaskInfo, offset: usize) -> TaskInfo {
    TaskInfo {
        id: first.id + offset as u64,
        ..first.clone()
    }
}

/// The same failure for `count` tasks from `first` (the pool closed, or a
/// worker panicked and took the batch's results with it).
pub(crate) fn fail_all(first: &TaskInfo, count: usize, kind: ErrorKind, detail: &str) -> Results {
    (0..count)
        .map(|offset| Err(nth(first, offset).error(kind, detail)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_for_tiny_tasks_and_stay_single_for_long_ones() {
        let pacer = Pacer::default();
        assert_eq!(pacer.next_size(128), 1, "nothing measured yet");
        pacer.observe(Duration::from_micros(10), 10); // 1 µs a task
        assert_eq!(pacer.next_size(128), 128, "capped at the pool's limit");
        assert_eq!(pacer.next_size(1), 1, "batching off");
        let pacer = Pacer::default();
        pacer.observe(Duration::from_micros(40), 2); // 20 µs a task
        assert_eq!(pacer.next_size(128), 50, "as many as fill 1 ms");
        pacer.observe(Duration::from_millis(5), 1); // slower: at once
        assert_eq!(pacer.next_size(128), 1);
        pacer.observe(Duration::from_micros(1), 1); // faster: gradually
        assert_eq!(pacer.next_size(128), 1, "one fast task does not undo it");
    }

    #[test]
    fn an_empty_batch_teaches_nothing() {
        let pacer = Pacer::default();
        pacer.observe(Duration::from_secs(1), 0);
        assert_eq!(pacer.next_size(64), 1);
    }
}
