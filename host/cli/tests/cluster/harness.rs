//! A real `nats-server` with JetStream on loopback, and real `wpool worker`
//! processes, each killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wpool_tests::cli::Cmd;

/// How long a test waits for something it expects before failing (not a
/// timing assertion: a bound on a hang).
const PATIENCE: Duration = Duration::from_secs(60);

/// The `wpool` binary, with the tests' compile cache.
pub(crate) fn wpool() -> Cmd {
    Cmd::new(env!("CARGO_BIN_EXE_wpool"))
        .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
        .env("NO_COLOR", "1")
}

/// The repository's root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A free loopback port (free when asked; the server binds it soon after).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A `nats-server -js` with its store in a temporary folder.
pub(crate) struct Nats {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// Starts a server on a port of its choosing.
    pub(crate) fn start() -> Nats {
        Nats::start_on(None)
    }

    /// Starts a server on `port` (or any free port), once it listens.
    pub(crate) fn start_on(port: Option<u16>) -> Nats {
        let dir = tempfile::tempdir().expect("temporary folder");
        let port_arg = port.map_or("-1".to_owned(), |p| p.to_string());
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
            .arg(dir.path())
            .arg("--ports_file_dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (Debian: apt-get install nats-server)");
        let ports = dir.path().join(format!("nats-server_{}.ports", child.id()));
        let started = Instant::now();
        // The server writes its ports file once it accepts connections.
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(url) = json["nats"][0].as_str()
            {
                break url.to_owned();
            }
            assert!(started.elapsed() < PATIENCE, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Nats {
            child,
            url,
            _dir: dir,
        }
    }

    /// A JetStream client of this server, on a fresh runtime.
    pub(crate) fn inspect<T>(&self, f: impl AsyncFnOnce(async_nats::jetstream::Context) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let client = async_nats::connect(&self.url).await.expect("connect");
            f(async_nats::jetstream::new(client)).await
        })
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `wpool worker` process; its stderr lines are read as they come.
pub(crate) struct Worker {
    child: Child,
    pub(crate) name: String,
    lines: mpsc::Receiver<String>,
    pub(crate) log: Vec<String>,
}

impl Worker {
    /// Starts `wpool worker --nats URL --workers SLOTS --name NAME` with a
    /// 2 s ack wait; does not wait for it to be ready.
    pub(crate) fn spawn(url: &str, name: &str, slots: usize) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wpool"))
            .args([
                "-v",
                "worker",
                "--nats",
                url,
                "--name",
                name,
                "--ack-wait",
                "2s",
            ])
            .args(["--workers", &slots.to_string()])
            .env("WPOOL_CACHE_DIR", wpool_tests::cache_dir())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wpool worker starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Worker {
            child,
            name: name.to_owned(),
            lines,
            log: Vec::new(),
        }
    }

    /// Starts a worker and waits until it pulls.
    pub(crate) fn start(url: &str, name: &str, slots: usize) -> Worker {
        let mut worker = Worker::spawn(url, name, slots);
        worker.wait_for("worker ready");
        worker
    }

    /// Reads its stderr until a line contains `text`; panics if it exits
    /// first or nothing comes for a minute.
    pub(crate) fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "worker `{}` never said `{text}` ({e}); it said:\n{}",
                    self.name,
                    self.log.join("\n")
                ),
            }
        }
    }

    /// `kill -9`.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("kill the worker");
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for it to exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        self.signal_term();
        let status = self.child.wait().expect("the worker exits");
        self.drain_log();
        status
    }

    /// Sends SIGTERM and waits up to `patience` for it to exit: `None` if it
    /// is still running then (it is killed when dropped).
    pub(crate) fn terminate_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        self.signal_term();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the worker's status") {
                self.drain_log();
                return Some(status);
            }
            if started.elapsed() > patience {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and returns.
    pub(crate) fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    }

    /// Collects what it said on the way out.
    fn drain_log(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a job file into `dir`.
pub(crate) fn job(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the job");
    path
}

/// Runs `wpool run --nats URL --format jsonl JOB` with extra `args`.
pub(crate) fn run_nats(url: &str, job: &Path, args: &[&str]) -> wpool_tests::cli::Run {
    wpool()
        .args(["run", "--nats", url, "--format", "jsonl", "--no-progress"])
        .args(args)
        .arg(job)
        .run()
}

/// Records sorted by task index, checking each index appears exactly once
/// and that there are `count`.
pub(crate) fn by_index(records: Vec<serde_json::Value>, count: usize) -> Vec<serde_json::Value> {
    let mut records = records;
    records.sort_by_key(|r| r["task"].as_u64().expect("a task index"));
    let indices: Vec<u64> = records
        .iter()
        .map(|r| r["task"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..count as u64).collect();
    if indices != expected {
        // Thousands of indices in an assertion would bury the difference.
        let seen: std::collections::BTreeSet<u64> = indices.iter().copied().collect();
        let missing: Vec<u64> = expected
            .iter()
            .filter(|i| !seen.contains(i))
            .copied()
            .collect();
        let extra: Vec<u64> = indices
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        let beyond: Vec<u64> = seen.range(count as u64..).copied().collect();
        panic!(
            "every task exactly once: {} records for {count} tasks; missing {} (first {:?}), \
             twice {:?}, beyond {:?}",
            indices.len(),
            missing.len(),
            &missing[..missing.len().min(10)],
            &extra[..extra.len().min(10)],
            &beyond[..beyond.len().min(10)],
        );
    }
    records
}
