//! A task's `reduce` at run time: its results folded into one with the
//! guest's combining function as they arrive, then optionally rendered by
//! its `report` function and written to a file atomically. The outcome is
//! one more record, after the task's inputs.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wpool::{LoadedGuest, Pool, Value};

use crate::atomic::save_value;
use crate::job::{ReduceSpec, ReportSpec};
use crate::plan::PlannedTask;
use crate::record::{Outcome, Record};
use crate::sink::{Deliveries, Delivery};
use crate::task;

/// Results waiting to be folded in; bounded, so a slow combining function
/// holds back the task's inputs instead of piling results up.
const WAITING: usize = 64;

/// Who the reduce record is about.
pub(crate) struct Labels {
    pub(crate) index: usize,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) guest: Arc<str>,
}

/// A run's folds: each task with `reduce` gets the next record index after
/// every input's, and its fold runs here until [`Folds::join`]. Holds no
/// record sender itself, so the sink can finish before the folds are
/// joined.
pub(crate) struct Folds {
    pool: Pool,
    next: usize,
    running: JoinSet<()>,
}

impl Folds {
    /// Folds whose records are numbered from `first` (the run's input count).
    pub(crate) fn new(pool: Pool, first: usize) -> Folds {
        Folds {
            pool,
            next: first,
            running: JoinSet::new(),
        }
    }

    /// Starts `task`'s fold when it has `reduce`: where its successful
    /// results go (drop it when the task's inputs are done). Its record
    /// goes to `records`.
    pub(crate) fn start(
        &mut self,
        task: &PlannedTask,
        records: &mpsc::Sender<Deliveries>,
    ) -> Option<mpsc::Sender<Value>> {
        let spec = task.spec.reduce.clone()?;
        let labels = Labels {
            index: self.next,
            name: task.spec.name.as_deref().map(Arc::from),
            guest: task.spec.guest.as_str().into(),
        };
        self.next += 1;
        let (results, fold) = start(
            self.pool.clone(),
            task.guest.clone(),
            spec,
            labels,
            records.clone(),
        );
        self.running.spawn(fold);
        Some(results)
    }

    /// Waits for every fold to write its record; an error if one panicked.
    pub(crate) async fn join(mut self) -> Result<(), tokio::task::JoinError> {
        while let Some(done) = self.running.join_next().await {
            done?;
        }
        Ok(())
    }
}

/// Folding, ready to start: send every successful result to the returned
/// sender and drop it when the task's inputs are done; the returned future
/// (for the caller to spawn and own) then sends the record.
fn start(
    pool: Pool,
    guest: LoadedGuest,
    spec: ReduceSpec,
    labels: Labels,
    records: mpsc::Sender<Deliveries>,
) -> (
    mpsc::Sender<Value>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, mut results) = mpsc::channel::<Value>(WAITING);
    let fold = async move {
        let started = Instant::now();
        let mut folded: Option<Value> = None;
        let mut count = 0usize;
        let mut failure: Option<Outcome> = None;
        while let Some(value) = results.recv().await {
            count += 1;
            if failure.is_some() {
                continue; // keep draining: the task's inputs must not wait on us
            }
            folded = match folded.take() {
                None => Some(value),
                Some(acc) => match pool.submit(&guest, &spec.call, vec![acc, value]).await {
                    Ok(out) => Some(out.value),
                    Err(e) => {
                        failure = Some(task::failure(&e));
                        None
                    }
                },
            };
        }
        let outcome = match (failure, folded) {
            (Some(failure), _) => failure,
            (None, None) => Outcome::Err {
                kind: "reduce".to_owned(),
                message: "no results to reduce: every input failed, or there were none".to_owned(),
            },
            (None, Some(value)) => match &spec.report {
                None => Outcome::Ok(value),
                Some(report) => render(&pool, &guest, report, value).await,
            },
        };
        let call = match &spec.report {
            Some(report) => format!("{} > {}", spec.call, report.call),
            None => spec.call.clone(),
        }
        .into();
        let record = Record {
            index: labels.index,
            name: labels.name,
            guest: labels.guest,
            call,
            input: format!("{count} result{}", if count == 1 { "" } else { "s" }),
            outcome,
            ms: task::millis(started.elapsed()),
            worker: None,
            remote: None,
        };
        let _ = records
            .send(
                Delivery {
                    record,
                    permit: None,
                }
                .into(),
            )
            .await;
    };
    (tx, fold)
}

/// Runs the report function; with a path, writes its output there
/// atomically and says where.
async fn render(pool: &Pool, guest: &LoadedGuest, report: &ReportSpec, value: Value) -> Outcome {
    let out = match pool.submit(guest, &report.call, vec![value]).await {
        Ok(out) => out.value,
        Err(e) => return task::failure(&e),
    };
    let Some(path) = report.path.clone() else {
        return Outcome::Ok(out);
    };
    match save_value(path, out).await {
        Ok(written) => Outcome::Ok(written),
        Err(message) => Outcome::Err {
            kind: "write".to_owned(),
            message,
        },
    }
}
