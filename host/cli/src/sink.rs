//! Where records go: JSON lines, a JSON array or a table, on stdout or in a
//! file; in input order or as completed; with a progress bar on stderr.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

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
    #[expect(
        dead_code,
        reason = "never read: held until the record is written, released on drop"
    )]
    pub(crate) permit: Option<tokio::sync::OwnedSemaphorePermit>,
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

/// Where records are written: stdout, or a file put in place at the end.
enum Out {
    Stdout(io::Stdout),
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

struct Writer {
    out: Out,
    format: Format,
    first: bool,
    bar: ProgressBar,
}

impl Writer {
    fn write(&mut self, record: &Record) -> io::Result<()> {
        // Each record is rendered whole, then written with one call and
        // flushed: a reader never sees half a record.
        let text = match self.format {
            Format::Jsonl => format!("{}\n", record.to_json()),
            Format::Json => format!(
                "{}  {}",
                if self.first { "[\n" } else { ",\n" },
                record.to_json()
            ),
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
        let out = &mut self.out;
        self.bar.suspend(|| {
            out.write_all(text.as_bytes())?;
            out.flush()
        })
    }

    /// Closes the output; a file is renamed into place only now, so a run
    /// that fails before leaves no half-written file.
    fn finish(mut self) -> io::Result<()> {
        if self.format == Format::Json {
            let closing = if self.first { "[]\n" } else { "\n]\n" };
            self.out.write_all(closing.as_bytes())?;
        }
        match self.out {
            Out::Stdout(mut out) => out.flush(),
            Out::File(out) => out.into_inner().map_err(|e| e.into_error())?.commit(),
        }
    }
}

/// Writes every record received until the channel closes.
pub(crate) async fn run(
    mut records: mpsc::Receiver<Delivery>,
    options: SinkOptions,
) -> io::Result<Summary> {
    let started = Instant::now();
    let out = match &options.path {
        Some(path) => Out::File(BufWriter::new(AtomicFile::create(path)?)),
        None => Out::Stdout(io::stdout()),
    };
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
        bar: bar.clone(),
    };
    let mut summary = Summary {
        total: options.total,
        ..Summary::default()
    };
    let mut pending: BTreeMap<usize, Delivery> = BTreeMap::new();
    let mut next = 0usize;

    while let Some(delivery) = records.recv().await {
        bar.inc(1);
        if delivery.record.is_ok() {
            summary.ok += 1;
        } else {
            summary.failed += 1;
            bar.set_message(format!("({} failed)", summary.failed));
        }
        match options.order {
            Order::Completed => {
                writer.write(&delivery.record)?;
                summary.written += 1;
            }
            Order::Input => {
                pending.insert(delivery.record.index, delivery);
                while let Some(delivery) = pending.remove(&next) {
                    writer.write(&delivery.record)?;
                    summary.written += 1;
                    next += 1;
                }
            }
        }
    }
    // Inputs that never produced a record (an interrupted run) leave gaps:
    // write what is left, still in order.
    for delivery in pending.into_values() {
        writer.write(&delivery.record)?;
        summary.written += 1;
    }
    writer.finish()?;
    bar.finish_and_clear();
    summary.wall = started.elapsed();
    Ok(summary)
}
