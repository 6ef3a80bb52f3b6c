//! The baselines wpool is measured against: the same work in native Rust, and
//! the bare dispatch wpool is built on (a bounded `async-channel` into OS
//! threads, a tokio oneshot back) with no WebAssembly in it.

use std::hint::black_box;

use tokio::sync::oneshot;

/// `heavy_calc` natively: the guest's loop, with the same wrapping arithmetic.
/// `black_box` on the input keeps the compiler from folding the call away.
pub fn heavy_calc(n: u64) -> u64 {
    let n = black_box(n);
    (0..n)
        .map(|i| i.wrapping_mul(i) % 7)
        .fold(0u64, u64::wrapping_add)
}

/// SHA-256 in pure Rust: RustCrypto `sha2` 0.9 built with `force-soft`, so no
/// SHA-NI. (0.9 rather than 0.10: turning `force-soft` on for 0.10 would
/// switch it on for the whole workspace's `sha2`, Cranelift's included, and
/// rebuild Wasmtime whenever this package is part of a build.)
pub fn sha256_soft(data: &[u8]) -> [u8; 32] {
    use sha2_soft::Digest;
    sha2_soft::Sha256::digest(data).into()
}

/// SHA-256 with the default `sha2` 0.10: SHA-NI when the CPU has it.
pub fn sha256_native(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

type Job = Box<dyn FnOnce() + Send>;

/// A bare thread pool with wpool's dispatch and nothing else: the ceiling for
/// tiny tasks. The threads exit once every clone is dropped.
#[derive(Debug, Clone)]
pub struct RawPool {
    queue: async_channel::Sender<Job>,
}

impl RawPool {
    /// Starts `workers` threads behind a queue of 64 per worker (wpool's
    /// default).
    pub fn new(workers: usize) -> std::io::Result<Self> {
        let (tx, rx) = async_channel::bounded::<Job>(64 * workers);
        for index in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("raw-worker-{index}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv_blocking() {
                        job();
                    }
                })?;
        }
        Ok(RawPool { queue: tx })
    }

    /// Runs `heavy_calc(n)` natively on a worker and waits for the answer.
    pub async fn heavy_calc(&self, n: u64) -> u64 {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(heavy_calc(n));
        });
        self.queue.send(job).await.expect("raw pool queue closed");
        rx.await.expect("raw pool worker dropped a task")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_calc_matches_the_seed() {
        assert_eq!(heavy_calc(7), 14);
        assert_eq!(heavy_calc(50_000), 100_001);
        assert_eq!(heavy_calc(1), 0);
    }

    #[test]
    fn both_sha256_builds_agree() {
        let data = b"abc";
        assert_eq!(sha256_soft(data), sha256_native(data));
        assert_eq!(sha256_soft(data)[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
