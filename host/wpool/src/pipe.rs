//! [`CappedPipe`]: a guest's stdout or stderr, kept in memory up to a cap.
//!
//! Past the cap, writes still succeed but the bytes are dropped (and counted):
//! a guest that floods its output neither fails nor grows the host's memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

#[derive(Debug, Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: u64,
}

#[derive(Debug, Default)]
struct Shared {
    /// Whether `buffer` holds anything: most tasks write nothing, and
    /// reading this costs less than locking the buffer after every task.
    written: AtomicBool,
    buffer: Mutex<Buffer>,
}

/// A shared, capped in-memory output stream.
#[derive(Debug, Clone)]
pub(crate) struct CappedPipe {
    cap: usize,
    shared: Arc<Shared>,
}

impl CappedPipe {
    pub(crate) fn new(cap: usize) -> Self {
        CappedPipe {
            cap,
            shared: Arc::default(),
        }
    }

    /// Takes what was written since the last call, and how many bytes were dropped.
    pub(crate) fn take(&self) -> (Vec<u8>, u64) {
        if !self.shared.written.load(Ordering::Acquire) {
            return (Vec::new(), 0);
        }
        let mut buffer = self.shared.buffer.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.written.store(false, Ordering::Relaxed);
        let kept = std::mem::take(&mut buffer.kept);
        let dropped = std::mem::take(&mut buffer.dropped);
        (kept, dropped)
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.shared.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.cap.saturating_sub(buffer.kept.len());
        let n = room.min(bytes.len());
        buffer.kept.extend_from_slice(&bytes[..n]);
        buffer.dropped += (bytes.len() - n) as u64;
        self.shared.written.store(true, Ordering::Release);
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(1 << 20)
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
