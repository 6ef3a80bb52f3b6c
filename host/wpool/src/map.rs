//! Many calls of one function: [`Pool::map`], [`Pool::map_unordered`], and
//! the batches under them ([`Pool::enqueue_batch`], [`Pool::batch_size`]).

use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};

use crate::batch::{self, Batch};
use crate::error::{ErrorKind, TaskError};
use crate::guest::LoadedGuest;
use crate::pool::Pool;
use crate::task::{Output, TaskOptions};
use crate::value::IntoArgs;

/// The results of a batch, one per input, in input order.
pub type BatchResults = Vec<Result<Output, TaskError>>;

impl Pool {
    /// Calls `func` once per input, at most [`map_in_flight`](crate::PoolBuilder::map_in_flight)
    /// calls at a time, and yields the results in input order.
    ///
    /// Inputs are pulled lazily: a million inputs are never all held at once.
    /// Each input is one call's arguments ([`IntoArgs`]: a single value for a
    /// one-parameter function).
    ///
    /// **Batches.** Calls that finish in microseconds travel to a worker in
    /// batches ([`Pool::enqueue_batch`]), so that one hand-off serves many:
    /// each batch holds as many inputs as this function's calls have been
    /// taking to fill about 1 ms ([`Pool::batch_size`]), up to
    /// [`map_batch`](crate::PoolBuilder::map_batch) (128 by default); a call
    /// that takes that long or longer travels alone. Every task still has
    /// its own id, limits, instance and result. Dropping the stream cancels
    /// every task not yet started.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = wpool::Pool::builder().workers(2).build()?;
    /// let calc = pool.load(wpool::Guest::builtin("heavy_calc"))?;
    /// let sums: Vec<u64> = pool
    ///     .map(&calc, "heavy-calc", 1..=2_000u64)
    ///     .map_ok(|out| out.value.as_u64().unwrap_or_default())
    ///     .try_collect()
    ///     .await?;
    /// // In input order: heavy_calc(n) is the sum of i² mod 7 for i < n.
    /// for (n, sum) in (1..=2_000u64).zip(sums) {
    ///     assert_eq!(sum, (0..n).map(|i| i * i % 7).sum::<u64>());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn map<I>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: I,
    ) -> impl Stream<Item = Result<Output, TaskError>> + Send + 'static + use<I>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: IntoArgs,
    {
        self.batches(guest, func, inputs)
            .buffered(self.inner.in_flight)
            .flat_map(futures::stream::iter)
    }

    /// Like [`Pool::map`], but yields results as they complete (a batch's
    /// results together, in their input order).
    pub fn map_unordered<I>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: I,
    ) -> impl Stream<Item = Result<Output, TaskError>> + Send + 'static + use<I>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: IntoArgs,
    {
        self.batches(guest, func, inputs)
            .buffer_unordered(self.inner.in_flight)
            .flat_map(futures::stream::iter)
    }

    /// How many calls of `func` one batch ([`Pool::enqueue_batch`]) should
    /// carry: as many as fill about 1 ms of a worker's time, judged from
    /// what this guest's calls of `func` have taken so far; 1 before any was
    /// measured or for calls that take that long, at most
    /// [`map_batch`](crate::PoolBuilder::map_batch).
    pub fn batch_size(&self, guest: &LoadedGuest, func: &str) -> usize {
        guest
            .function(func)
            .map_or(1, |f| f.pacer.next_size(self.inner.max_batch))
    }

    /// Queues calls of `func`, one per input, as one job for one worker,
    /// and resolves once it is in the queue (waiting while the queue is
    /// full), giving a future of every input's result in input order.
    ///
    /// What [`Pool::map`] is built on, for callers that gather their own
    /// inputs (size batches with [`Pool::batch_size`]). Each call is checked
    /// here (a bad one fails alone, without travelling) and runs as its own
    /// task: its own id, `options`' limits, instance policy and result; an
    /// `on_start` hook is asked before each. The calls start in input order;
    /// while another worker waits for work, a batch hands it the later half
    /// of its unstarted calls. Dropping the future cancels the calls
    /// not yet started.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = wpool::Pool::builder().workers(1).build()?;
    /// let calc = pool.load(wpool::Guest::builtin("heavy_calc"))?;
    /// let inputs = vec![wpool::Value::from(3u64), "three".into(), 4u64.into()];
    /// let batch = pool.enqueue_batch(&calc, "heavy-calc", inputs, Default::default());
    /// let results = batch.await?.await;
    /// assert_eq!(results[0].as_ref().unwrap().value.as_u64(), Some(5)); // 0 + 1 + 4
    /// assert_eq!(results[1].as_ref().unwrap_err().kind(), wpool::ErrorKind::InvalidCall);
    /// assert_eq!(results[2].as_ref().unwrap().value.as_u64(), Some(7)); // + 9 % 7
    /// # Ok(())
    /// # }
    /// ```
    pub fn enqueue_batch<A: IntoArgs>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: Vec<A>,
        options: TaskOptions,
    ) -> impl Future<Output = Result<BoxFuture<'static, BatchResults>, TaskError>>
    + Send
    + 'static
    + use<A> {
        let count = inputs.len();
        let mut first = self.task_info(guest, func);
        first.id = (self.inner.next_task).fetch_add(count as u64, Ordering::Relaxed);
        first.timeout = options.timeout;
        let foreign = self.check_guest(&first).is_err();
        let calls: Vec<_> = inputs
            .into_iter()
            .enumerate()
            .map(|(offset, args)| {
                let invalid = |detail: String| {
                    batch::nth(&first, offset).error(ErrorKind::InvalidCall, detail)
                };
                if foreign {
                    return Err(invalid("was loaded by another pool".to_owned()));
                }
                guest
                    .prepare_at(first.position, func, args.into_args())
                    .map_err(|e| invalid(e.message))
            })
            .collect();
        let pacer = first.position.map(|at| guest.functions()[at].pacer.clone());
        let queue = self.inner.queue.clone();
        async move {
            let Some(pacer) = pacer.filter(|_| calls.iter().any(Result::is_ok)) else {
                let failed: BatchResults =
                    calls.into_iter().filter_map(Result::err).map(Err).collect();
                return Ok(futures::future::ready(failed).boxed());
            };
            let batch = Batch {
                first: first.clone(),
                calls,
                queue: queue.clone(),
                pacer,
                on_start: options.on_start,
            };
            let (job, reply) = batch.into_job();
            if queue.send(job).await.is_err() {
                return Err(
                    first.error(ErrorKind::PoolClosed, "was not run: the pool is shut down")
                );
            }
            Ok(batch::gather(first, count, reply).boxed())
        }
    }

    /// The inputs of a map cut into batches sized by their function's cost,
    /// each a future of its results.
    fn batches<I>(
        &self,
        guest: &LoadedGuest,
        func: &str,
        inputs: I,
    ) -> impl Stream<Item = BoxFuture<'static, BatchResults>> + Send + 'static + use<I>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: IntoArgs,
    {
        let pool = self.clone();
        let sizes = (self.clone(), guest.clone(), func.to_owned());
        let mut inputs = inputs.into_iter();
        let chunks = std::iter::from_fn(move || {
            let (pool, guest, func) = &sizes;
            let chunk: Vec<I::Item> = inputs.by_ref().take(pool.batch_size(guest, func)).collect();
            (!chunk.is_empty()).then_some(chunk)
        });
        let guest = guest.clone();
        let func = func.to_owned();
        futures::stream::iter(chunks).map(move |chunk| {
            let count = chunk.len();
            let queued = pool.enqueue_batch(&guest, &func, chunk, TaskOptions::default());
            async move {
                match queued.await {
                    Ok(results) => results.await,
                    Err(closed) => (0..count as u64)
                        .map(|offset| Err(closed.for_task(closed.task() + offset)))
                        .collect(),
                }
            }
            .boxed()
        })
    }
}
