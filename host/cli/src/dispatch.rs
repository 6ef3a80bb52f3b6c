//! One path for every input source. Each `[[task]]`'s inputs (a literal
//! call, literal values, a `range`, files, fetched bodies) become one stream
//! of [`Input`]s; [`dispatch`] feeds that stream to the pool, bounded by the
//! task's permits, and owns every input's task in a [`JoinSet`]: a panic in
//! one fails the run instead of silently losing its record.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinError, JoinSet};
use wpool::Value;

use crate::fetch::Fetched;
use crate::job::FetchSpec;
use crate::plan::Inputs;
use crate::record::clip;

/// One input of a task, as its source produced it.
pub(crate) struct Input {
    /// Position among the task's inputs.
    pub(crate) offset: usize,
    /// What the record shows as the input: a value, a path or a URL.
    pub(crate) label: String,
    pub(crate) data: Data,
}

fn input(offset: usize, label: String, data: Data) -> Input {
    Input {
        offset,
        label,
        data,
    }
}

/// What an input holds.
pub(crate) enum Data {
    /// The call's arguments, complete.
    Args(Vec<Value>),
    /// A file whose bytes are the first argument, read when its turn comes.
    File(PathBuf),
    /// A fetched body (the first argument), or why it could not be fetched,
    /// and how long that took.
    Body(Result<Vec<u8>, String>, Duration),
}

/// What runs the inputs of one task.
pub(crate) trait Runner: Send + Sync + 'static {
    /// Starts one input: what must happen in input order (joining the pool's
    /// queue) is done when this returns; the future returned finishes the
    /// input, down to sending its record.
    fn start(
        self: Arc<Self>,
        input: Input,
        permit: OwnedSemaphorePermit,
    ) -> impl Future<Output = BoxFuture<'static, ()>> + Send;

    /// How many inputs, ready at once, [`Runner::start_batch`] would like
    /// together.
    fn batch_size(&self) -> usize {
        1
    }

    /// Starts consecutive inputs together, as [`Runner::start`] does one;
    /// by default one after another, finished together.
    #[allow(clippy::async_yields_async)] // the finishing future is returned, as `start`'s
    fn start_batch(
        self: Arc<Self>,
        batch: Vec<(Input, OwnedSemaphorePermit)>,
    ) -> impl Future<Output = BoxFuture<'static, ()>> + Send {
        async move {
            let mut finishes = Vec::with_capacity(batch.len());
            for (input, permit) in batch {
                finishes.push(self.clone().start(input, permit).await);
            }
            futures::future::join_all(finishes).map(drop).boxed()
        }
    }
}

/// The inputs of one task as a stream. A fetch's bodies come from the
/// channel registered in `fetches` (one per consuming task), its URLs are
/// `fetch_specs`' ; `extra` are the task's `args`, which follow a range's
/// integer (files and bodies get them from the runner).
pub(crate) fn source(
    inputs: Inputs,
    extra: Vec<Value>,
    base_dir: &Path,
    fetch_specs: &[FetchSpec],
    fetches: &mut [Vec<mpsc::Sender<Fetched>>],
) -> BoxStream<'static, Input> {
    match inputs {
        Inputs::Call(args) => {
            stream::once(async move { input(0, label(&args), Data::Args(args)) }).boxed()
        }
        Inputs::Values(calls) => stream::iter(calls.into_iter().enumerate())
            .map(move |(i, args)| input(i, label(&args), Data::Args(args)))
            .boxed(),
        Inputs::Range { start, end, step } => {
            let step = usize::try_from(step).unwrap_or(usize::MAX);
            stream::iter((start..end).step_by(step).enumerate())
                .map(move |(i, n)| {
                    let mut args = vec![Value::Int(n)];
                    args.extend(extra.iter().cloned());
                    input(i, n.to_string(), Data::Args(args))
                })
                .boxed()
        }
        Inputs::Files(files) => {
            let base = base_dir.to_path_buf();
            stream::iter(files.into_iter().enumerate())
                .map(move |(i, path)| {
                    let shown = path
                        .strip_prefix(&base)
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    input(i, shown, Data::File(path))
                })
                .boxed()
        }
        Inputs::Fetch(index) => {
            let (tx, bodies) = mpsc::channel::<Fetched>(16);
            fetches[index].push(tx);
            let urls = fetch_specs[index].urls.clone();
            let state = FetchInputs {
                bodies: Some(bodies),
                seen: vec![false; urls.len()],
                urls,
                next: 0,
            };
            stream::unfold(state, |mut state| async move {
                let next = state.next().await?;
                Some((next, state))
            })
            .boxed()
        }
    }
}

/// A fetch's bodies as they arrive, then every URL the fetch ended without
/// (it was stopped), so that each still has an input to account for.
struct FetchInputs {
    bodies: Option<mpsc::Receiver<Fetched>>,
    urls: Vec<String>,
    seen: Vec<bool>,
    /// The next URL to check for, once the bodies have ended.
    next: usize,
}

impl FetchInputs {
    async fn next(&mut self) -> Option<Input> {
        if let Some(bodies) = &mut self.bodies {
            if let Some(f) = bodies.recv().await {
                if let Some(seen) = self.seen.get_mut(f.position) {
                    *seen = true;
                }
                return Some(input(f.position, f.url, Data::Body(f.body, f.elapsed)));
            }
            self.bodies = None;
        }
        while self.next < self.urls.len() {
            let position = self.next;
            self.next += 1;
            if !self.seen[position] {
                let url = std::mem::take(&mut self.urls[position]);
                let error = format!("GET {url}: not fetched (the run stopped first)");
                return Some(input(position, url, Data::Body(Err(error), Duration::ZERO)));
            }
        }
        None
    }
}

/// A label for a call's arguments: a lone value as itself, several as JSON.
fn label(args: &[Value]) -> String {
    match args {
        [one] => clip(&one.to_string(), 120),
        many => clip(&Value::List(many.to_vec()).to_json(), 120),
    }
}

/// Feeds `inputs` to `runner`, each once a permit is free, until the stream
/// ends or `stop` turns true; then waits for every input started. Fails if
/// any input's task panicked. Stopped, it returns the inputs it did not
/// start (a run that must still account for them drains the stream).
pub(crate) async fn dispatch<R: Runner>(
    mut inputs: BoxStream<'static, Input>,
    permits: Arc<Semaphore>,
    runner: Arc<R>,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<BoxStream<'static, Input>>> {
    let mut running = JoinSet::new();
    let mut unsent = None;
    loop {
        let input = tokio::select! {
            biased;
            Ok(_) = stop.wait_for(|stop| *stop) => {
                unsent = Some(inputs);
                break;
            }
            input = inputs.next() => match input {
                Some(input) => input,
                None => break,
            },
        };
        let permit = tokio::select! {
            biased;
            Ok(_) = stop.wait_for(|stop| *stop) => {
                unsent = Some(stream::once(std::future::ready(input)).chain(inputs).boxed());
                break;
            }
            permit = permits.clone().acquire_owned() => permit?,
        };
        // Inputs ready now, with permits free now, go together (tiny calls
        // then share one trip to a worker).
        let mut batch = vec![(input, permit)];
        let wanted = runner.batch_size();
        let mut ended = false;
        while batch.len() < wanted {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            match inputs.next().now_or_never() {
                Some(Some(input)) => batch.push((input, permit)),
                Some(None) => {
                    ended = true;
                    break;
                }
                None => break,
            }
        }
        let finish = runner.clone().start_batch(batch).await;
        running.spawn(finish);
        // Reap as we go: a finished task's panic surfaces now, and the set
        // holds only what still runs.
        while let Some(done) = running.try_join_next() {
            check(done)?;
        }
        if ended {
            break;
        }
    }
    while let Some(done) = running.join_next().await {
        check(done)?;
    }
    Ok(unsent)
}

fn check(done: Result<(), JoinError>) -> Result<()> {
    match done {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = (payload.downcast_ref::<&str>().copied())
                .or(payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic");
            Err(anyhow!("an input's task panicked: {message}"))
        }
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Collects the inputs it is given; panics on the offset it is told to.
    struct Collect {
        seen: Mutex<Vec<(usize, String)>>,
        panic_on: Option<usize>,
    }

    impl Runner for Collect {
        async fn start(
            self: Arc<Self>,
            input: Input,
            _permit: OwnedSemaphorePermit,
        ) -> BoxFuture<'static, ()> {
            Box::pin(async move {
                assert_ne!(
                    Some(input.offset),
                    self.panic_on,
                    "input {} broke",
                    input.offset
                );
                self.seen.lock().unwrap().push((input.offset, input.label));
            })
        }
    }

    async fn run(inputs: Inputs, panic_on: Option<usize>) -> (Result<()>, Vec<(usize, String)>) {
        let runner = Arc::new(Collect {
            seen: Mutex::new(Vec::new()),
            panic_on,
        });
        let inputs = source(
            inputs,
            vec![Value::Bool(true)],
            Path::new("."),
            &[],
            &mut [],
        );
        let (_stop, stopped) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(2));
        let result = dispatch(inputs, permits, runner.clone(), stopped)
            .await
            .map(|unsent| assert!(unsent.is_none(), "not stopped"));
        let mut seen = runner.seen.lock().unwrap().clone();
        seen.sort();
        (result, seen)
    }

    #[tokio::test]
    async fn every_source_reaches_the_runner_once() {
        let (result, seen) = run(
            Inputs::Range {
                start: -2,
                end: 5,
                step: 3,
            },
            None,
        )
        .await;
        result.unwrap();
        assert_eq!(seen, [(0, "-2".into()), (1, "1".into()), (2, "4".into())]);
        let values = vec![vec![Value::Int(7)], vec![Value::Int(8), Value::Int(9)]];
        let (result, seen) = run(Inputs::Values(values), None).await;
        result.unwrap();
        assert_eq!(seen, [(0, "7".into()), (1, "[8,9]".into())]);
        let files = vec![PathBuf::from("./a.txt"), PathBuf::from("b/c.txt")];
        let (result, seen) = run(Inputs::Files(files), None).await;
        result.unwrap();
        assert_eq!(seen, [(0, "a.txt".into()), (1, "b/c.txt".into())]);
    }

    #[tokio::test]
    async fn a_panicking_input_fails_the_dispatch() {
        let (result, seen) = run(
            Inputs::Range {
                start: 0,
                end: 50,
                step: 1,
            },
            Some(17),
        )
        .await;
        let err = result.unwrap_err().to_string();
        assert!(err.contains("input 17 broke"), "{err}");
        assert!(!seen.iter().any(|(offset, _)| *offset == 17));
    }

    /// A fetch stopped before it sent every body: the URLs it did not send
    /// follow the bodies, each as a failed fetch.
    #[tokio::test]
    async fn a_stopped_fetch_still_yields_every_url() {
        let (tx, bodies) = mpsc::channel(4);
        let urls: Vec<String> = (0..4).map(|i| format!("http://127.0.0.1:9/{i}")).collect();
        let mut inputs = FetchInputs {
            bodies: Some(bodies),
            seen: vec![false; urls.len()],
            urls: urls.clone(),
            next: 0,
        };
        for position in [2, 0] {
            let fetched = Fetched {
                position,
                url: urls[position].clone(),
                body: Ok(vec![position as u8]),
                elapsed: Duration::ZERO,
            };
            tx.send(fetched).await.unwrap();
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(input) = inputs.next().await {
            let Data::Body(body, _) = input.data else {
                panic!("not a body")
            };
            got.push((input.offset, input.label, body));
        }
        let not_fetched = |i: usize| {
            Err(format!(
                "GET {}: not fetched (the run stopped first)",
                urls[i]
            ))
        };
        assert_eq!(
            got,
            [
                (2, urls[2].clone(), Ok(vec![2])),
                (0, urls[0].clone(), Ok(vec![0])),
                (1, urls[1].clone(), not_fetched(1)),
                (3, urls[3].clone(), not_fetched(3)),
            ]
        );
    }

    #[tokio::test]
    async fn stop_ends_the_dispatch_early() {
        let runner = Arc::new(Collect {
            seen: Mutex::new(Vec::new()),
            panic_on: None,
        });
        let (stop, stopped) = watch::channel(true);
        let inputs = source(
            Inputs::Range {
                start: 0,
                end: i64::MAX,
                step: 1,
            },
            vec![],
            Path::new("."),
            &[],
            &mut [],
        );
        let unsent = dispatch(inputs, Arc::new(Semaphore::new(1)), runner.clone(), stopped)
            .await
            .unwrap();
        drop(stop);
        assert!(runner.seen.lock().unwrap().is_empty());
        let first: Vec<usize> = unsent
            .expect("the inputs not started")
            .take(3)
            .map(|input| input.offset)
            .collect()
            .await;
        assert_eq!(first, [0, 1, 2]);
    }
}
