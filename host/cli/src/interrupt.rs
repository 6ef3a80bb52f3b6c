//! Graceful interruption: the first SIGINT or SIGTERM (Ctrl-C elsewhere)
//! stops dispatching and gives in-flight tasks a grace period, after which
//! they are interrupted through the pool (the engine's epoch); a second
//! signal stops at once.

use std::time::Duration;

use tokio::sync::mpsc;

/// Exit status of an interrupted run (128 + SIGINT).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Forwards every SIGINT and SIGTERM, by name.
#[cfg(unix)]
pub(crate) fn listen() -> std::io::Result<mpsc::UnboundedReceiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                Some(()) = int.recv() => "SIGINT",
                Some(()) = term.recv() => "SIGTERM",
                else => return,
            };
            if tx.send(name).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Forwards every Ctrl-C (the platform's interrupt), named as on Unix.
#[cfg(not(unix))]
pub(crate) fn listen() -> std::io::Result<mpsc::UnboundedReceiver<&'static str>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send("SIGINT").is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// After the first signal: waits out the grace period (or a second signal),
/// then interrupts what still runs.
pub(crate) fn start_grace(
    pool: wpool::Pool,
    grace: Duration,
    mut signals: Option<mpsc::UnboundedReceiver<&'static str>>,
) {
    tokio::spawn(async move {
        let second = async {
            match &mut signals {
                Some(signals) => signals.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(grace) => {
                tracing::warn!("grace period of {grace:?} over; interrupting running tasks");
                pool.abort();
            }
            Some(name) = second => {
                eprintln!("wpool: {name} again; stopping now");
                pool.abort();
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
}
