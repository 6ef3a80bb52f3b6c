//! Where records go: JSON lines, a JSON array or a table, on stdout or in a
//! file; in input order or as completed; with a progress bar on stderr.
//!
//! The sink runs on a thread of its own, never on the async runtime's: it
//! takes whatever records are waiting, writes them whole into a buffer, and
//! flushes once the channel is empty. A busy run pays one write per batch; a
//! lone record still reaches the reader at once; a record is never split
//! across flushes.

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::{mpsc, oneshot};

use crate::atomic::AtomicFile;
use crate::job::{Format, Order};
use crate::record::Record;

pub(crate) struct SinkOptions {
    pub(crate) format: Format,
    pub(crate) order: Order,
    pub(crate) path: Option<PathBuf>,
    pub(crate) progress: bool,
    pub(crate) total: usize,
}

/// A record on its way to the sink, with the in-flight permit it releases
/// once written (see `TaskCtx::hold_permit`).
pub(crate) struct Delivery {
    pub(crate) record: Record,
    /// Never read: held until the record is written, released on drop.
    pub(crate) permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What travels to the sink in one message: one record, or a batch's
/// (one trip through the channel for many tiny tasks' records).
pub(crate) enum Deliveries {
    One(Delivery),
    Many(Vec<Delivery>),
}

impl From<Delivery> for Deliveries {
    fn from(delivery: Delivery) -> Self {
        Deliveries::One(delivery)
    }
}

impl IntoIterator for Deliveries {
    type Item = Delivery;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Delivery>, std::vec::IntoIter<Delivery>>;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            Deliveries::One(one) => Some(one).into_iter().chain(Vec::new()),
            Deliveries::Many(many) => None.into_iter().chain(many),
        }
    }
}

/// Counts for the closing summary.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    pub(crate) total: usize,
    pub(crate) written: usize,
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) wall: Duration,
}

impl Summary {
    pub(crate) fn line(&self) -> String {
        let secs = self.wall.as_secs_f64();
        let rate = if secs > 0.0 {
            self.written as f64 / secs
        } else {
            0.0
        };
        let mut line = format!(
            "{} task{}: {} ok, {} failed in {:.2}s ({:.1} tasks/s)",
            self.written,
            if self.written == 1 { "" } else { "s" },
            self.ok,
            self.failed,
            secs,
            rate
        );
        if let Some(kib) = peak_rss_kib() {
            line.push_str(&format!(", peak RSS {:.1} MiB", kib as f64 / 1024.0));
        }
        if self.written < self.total {
            line.push_str(&format!("; {} not run", self.total - self.written));
        }
        line
    }
}

/// The process's peak resident set size (`VmHWM`), where the OS tells it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Most records written between two flushes.
const MAX_BATCH: usize = 1024;

/// Where records are written: stdout, or a file put in place at the end.
enum Out {
    Stdout(BufWriter<io::Stdout>),
    File(BufWriter<AtomicFile>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Stdout(out) => out.write(buf),
            Out::File(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Stdout(out) => out.flush(),
            Out::File(out) => out.flush(),
        }
    }
}

impl Out {
    /// Closes the output; a file is renamed into place only now, so a run
    /// that fails before leaves no half-written file.
    fn finish(self) -> io::Result<()> {
        match self {
            Out::Stdout(mut out) => out.flush(),
            Out::File(out) => out.into_inner().map_err(|e| e.into_error())?.commit(),
        }
    }
}

struct Writer<W> {
    out: W,
    format: Format,
    first: bool,
}

impl<W: Write> Writer<W> {
    /// Renders one record whole and adds it to the buffer.
    fn write(&mut self, record: &Record) -> io::Result<()> {
        let text = match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, record)?;
                self.first = false;
                return self.out.write_all(b"\n");
            }
            Format::Json => {
                let open: &[u8] = if self.first { b"[\n  " } else { b",\n  " };
                self.out.write_all(open)?;
                self.first = false;
                return Ok(serde_json::to_writer(&mut self.out, record)?);
            }
            Format::Table => {
                let header = if self.first {
                    format!("{}\n", Record::table_header())
                } else {
                    String::new()
                };
                format!("{header}{}\n", record.table_row())
            }
        };
        self.first = false;
        self.out.write_all(text.as_bytes())
    }

    /// Writes what closes the document (a JSON array's bracket) and flushes.
    fn close(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            let closing = if self.first { "[]\n" } else { "\n]\n" };
            self.out.write_all(closing.as_bytes())?;
        }
        self.out.flush()
    }
}

/// Records that came before their turn (input order), by index from the
/// next one to write. Their number is bounded by the inputs in flight (an
/// input's permit is released once its record is written), so a ring of
/// slots beats a sorted map: no rebalancing, no moving records around.
#[derive(Default)]
struct Reorder {
    /// The index of `slots[0]`.
    next: usize,
    slots: VecDeque<Option<Delivery>>,
}

impl Reorder {
    fn insert(&mut self, delivery: Delivery) {
        let Some(gap) = delivery.record.index.checked_sub(self.next) else {
            return; // already written: cannot happen, one record per index
        };
        if gap >= self.slots.len() {
            self.slots.resize_with(gap + 1, || None);
        }
        self.slots[gap] = Some(delivery);
    }

    /// The record whose turn it is, if it came.
    fn pop_next(&mut self) -> Option<Delivery> {
        match self.slots.front() {
            Some(Some(_)) => {
                self.next += 1;
                self.slots.pop_front().flatten()
            }
            _ => None,
        }
    }

    /// What is left, in input order, past the gaps of inputs that never
    /// produced a record.
    fn into_rest(self) -> impl Iterator<Item = Delivery> {
        self.slots.into_iter().flatten()
    }
}

/// Opens the output and starts writing every record received, on a thread
/// of its own, until the channel closes; the summary comes back on the
/// returned channel (closed without one if the thread panicked).
pub(crate) fn spawn(
    records: mpsc::Receiver<Deliveries>,
    options: SinkOptions,
) -> io::Result<oneshot::Receiver<io::Result<Summary>>> {
    let out = match &options.path {
        Some(path) => Out::File(BufWriter::new(AtomicFile::create(path)?)),
        None => Out::Stdout(BufWriter::with_capacity(64 << 10, io::stdout())),
    };
    start(records, options, out, Out::finish)
}

/// [`spawn`] for any output; `finish` closes it after the last record.
fn start<W: Write + Send + 'static>(
    records: mpsc::Receiver<Deliveries>,
    options: SinkOptions,
    out: W,
    finish: fn(W) -> io::Result<()>,
) -> io::Result<oneshot::Receiver<io::Result<Summary>>> {
    let (done, summary) = oneshot::channel();
    thread::Builder::new()
        .name("wpool-sink".into())
        .spawn(move || {
            let result = write_all(records, &options, out)
                .and_then(|(summary, out)| finish(out).map(|()| summary));
            let _ = done.send(result);
        })?;
    Ok(summary)
}

/// Writes every record received until the channel closes, a batch at a time.
fn write_all<W: Write>(
    mut records: mpsc::Receiver<Deliveries>,
    options: &SinkOptions,
    out: W,
) -> io::Result<(Summary, W)> {
    let started = Instant::now();
    let bar = if options.progress {
        let bar =
            ProgressBar::with_draw_target(Some(options.total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:32.cyan/blue}] {pos}/{len} tasks, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut writer = Writer {
        out,
        format: options.format,
        first: true,
    };
    let mut summary = Summary {
        total: options.total,
        ..Summary::default()
    };
    let mut pending = Reorder::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);

    while let Some(deliveries) = records.blocking_recv() {
        batch.extend(deliveries);
        while batch.len() < MAX_BATCH {
            match records.try_recv() {
                Ok(deliveries) => batch.extend(deliveries),
                Err(_) => break,
            }
        }
        for delivery in &batch {
            bar.inc(1);
            if delivery.record.is_ok() {
                summary.ok += 1;
            } else {
                summary.failed += 1;
                bar.set_message(format!("({} failed)", summary.failed));
            }
        }
        // The channel is empty (or the batch full): write the batch, flush once.
        bar.suspend(|| -> io::Result<()> {
            for delivery in batch.drain(..) {
                match options.order {
                    Order::Completed => {
                        writer.write(&delivery.record)?;
                        summary.written += 1;
                    }
                    Order::Input => {
                        pending.insert(delivery);
                        while let Some(delivery) = pending.pop_next() {
                            writer.write(&delivery.record)?;
                            summary.written += 1;
                        }
                    }
                }
            }
            writer.out.flush()
        })?;
    }
    // Inputs that never produced a record (an interrupted run) leave gaps:
    // write what is left, still in order.
    for delivery in pending.into_rest() {
        writer.write(&delivery.record)?;
        summary.written += 1;
    }
    bar.suspend(|| writer.close())?;
    bar.finish_and_clear();
    summary.wall = started.elapsed();
    Ok((summary, writer.out))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::record::Outcome;

    /// An output that keeps what is written and reports each flush, with
    /// what had been written by then.
    #[derive(Clone)]
    struct Probe {
        written: Arc<Mutex<Vec<u8>>>,
        flushes: std::sync::mpsc::Sender<String>,
        on_runtime: Arc<Mutex<bool>>,
    }

    impl Write for Probe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if tokio::runtime::Handle::try_current().is_ok() {
                *self.on_runtime.lock().unwrap() = true;
            }
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            let text = String::from_utf8(self.written.lock().unwrap().clone()).unwrap();
            let _ = self.flushes.send(text);
            Ok(())
        }
    }

    fn probe() -> (Probe, std::sync::mpsc::Receiver<String>) {
        let (flushes, flushed) = std::sync::mpsc::channel();
        let probe = Probe {
            written: Arc::default(),
            flushes,
            on_runtime: Arc::default(),
        };
        (probe, flushed)
    }

    fn delivery(index: usize) -> Delivery {
        let record = Record {
            index,
            name: None,
            guest: "sha256".into(),
            call: "hex".into(),
            input: format!("input {index}"),
            outcome: Outcome::Ok(wpool::Value::UInt(index as u64)),
            ms: 1.0,
            worker: Some(0),
            remote: None,
        };
        Delivery {
            record,
            permit: None,
        }
    }

    fn options(order: Order) -> SinkOptions {
        SinkOptions {
            format: Format::Jsonl,
            order,
            path: None,
            progress: false,
            total: 0,
        }
    }

    /// Whole lines, in order, with the task indices given.
    fn assert_lines(text: &str, indices: impl IntoIterator<Item = usize>) {
        let tasks: Vec<u64> = (text.lines())
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).unwrap()["task"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let indices: Vec<u64> = indices.into_iter().map(|i| i as u64).collect();
        assert_eq!(tasks, indices, "{text}");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "a torn line: {text:?}"
        );
    }

    /// Records already waiting are written as one batch with one flush, not
    /// one flush each; in input order whatever order they came in.
    #[test]
    fn waiting_records_are_flushed_as_one_batch() {
        let (tx, rx) = mpsc::channel(1024);
        for index in (0..300).rev() {
            tx.try_send(delivery(index).into()).ok().unwrap();
        }
        drop(tx);
        let (out, flushed) = probe();
        let (summary, _) = write_all(rx, &options(Order::Input), out).unwrap();
        assert_eq!((summary.written, summary.ok), (300, 300));
        let flushes: Vec<String> = flushed.try_iter().collect();
        assert_eq!(flushes.len(), 2, "one for the batch, one at the close");
        assert_lines(&flushes[0], 0..300);
    }

    /// Batches of records (one message each) that come in any order, with
    /// gaps, are written in input order; a batch's permit is released once
    /// its last record is written.
    #[test]
    fn batches_come_out_in_input_order() {
        let permits = Arc::new(tokio::sync::Semaphore::new(30));
        let batch = |range: std::ops::Range<usize>| {
            let mut deliveries: Vec<Delivery> = range.map(delivery).collect();
            let permit = permits.clone().try_acquire_many_owned(10).unwrap();
            deliveries.last_mut().unwrap().permit = Some(permit);
            Deliveries::Many(deliveries)
        };
        let (tx, rx) = mpsc::channel(1024);
        tx.try_send(batch(20..30)).ok().unwrap();
        tx.try_send(batch(10..20)).ok().unwrap();
        tx.try_send(delivery(30).into()).ok().unwrap();
        assert_eq!(permits.available_permits(), 10);
        let held = permits.clone();
        let (out, flushed) = probe();
        let sink = std::thread::spawn(move || write_all(rx, &options(Order::Input), out));
        // Nothing is written while record 0 is missing: every permit held.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(held.available_permits(), 10);
        tx.try_send(batch(0..10)).ok().unwrap();
        drop(tx);
        let (summary, _) = sink.join().unwrap().unwrap();
        assert_eq!(summary.written, 31);
        assert_eq!(held.available_permits(), 30);
        let flushes: Vec<String> = flushed.try_iter().collect();
        assert_lines(flushes.last().unwrap(), 0..31);
    }

    /// A record alone is flushed before the next one exists, from the sink's
    /// own thread, not the runtime's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_record_is_written_promptly_off_the_runtime() {
        let (tx, rx) = mpsc::channel(16);
        let (out, flushed) = probe();
        let on_runtime = out.on_runtime.clone();
        let summary = start(rx, options(Order::Completed), out, |_| Ok(())).unwrap();
        let wait = |n| {
            let flushed = flushed.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_lines(&flushed, 0..n);
        };
        for index in 0..3 {
            tx.send(delivery(index).into()).await.unwrap();
            tokio::task::block_in_place(|| wait(index + 1));
        }
        drop(tx);
        assert_eq!(summary.await.unwrap().unwrap().written, 3);
        assert!(
            !*on_runtime.lock().unwrap(),
            "the sink wrote on the runtime"
        );
    }
}
