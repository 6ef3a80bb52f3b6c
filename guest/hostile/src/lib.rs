//! `hostile`: a guest that misbehaves on request, to prove wpool's isolation.

use std::hint::black_box;
use std::io::Write;

wit_bindgen::generate!({ world: "hostile", path: "../wit", generate_all });

struct Hostile;

impl Guest for Hostile {
    fn ok(x: u64) -> u64 {
        x + 1
    }

    fn spin() -> u64 {
        let mut i = 0u64;
        loop {
            i = black_box(i.wrapping_add(1));
            if black_box(i) == u64::MAX {
                return i;
            }
        }
    }

    fn trap() {
        core::arch::wasm32::unreachable()
    }

    fn recurse(depth: u64) -> u64 {
        let frame = black_box([depth; 16]);
        if depth == 0 {
            return frame[3];
        }
        black_box(Self::recurse(depth - 1)).wrapping_add(frame[7])
    }

    fn grow(mib: u32) -> u32 {
        let mut held: Vec<Vec<u8>> = Vec::new();
        for _ in 0..mib {
            let mut block = vec![0u8; 1 << 20];
            block[black_box(4096)] = 1;
            held.push(black_box(block));
        }
        held.len() as u32
    }

    fn panic(message: String) {
        panic!("{message}")
    }

    fn big_output(len: u64) -> Vec<u8> {
        vec![b'x'; len as usize]
    }

    fn flood_stdout(len: u64) -> u64 {
        let chunk = [b'y'; 4096];
        let mut left = len as usize;
        while left > 0 {
            let n = left.min(chunk.len());
            let _ = std::io::stdout().write_all(&chunk[..n]);
            let _ = std::io::stderr().write_all(&chunk[..n]);
            left -= n;
        }
        let _ = std::io::stdout().flush();
        len
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
    }

    fn write_file(path: String, contents: String) -> Result<(), String> {
        std::fs::write(&path, contents).map_err(|e| format!("{path}: {e}"))
    }

    fn env_var(name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    fn args() -> Vec<String> {
        std::env::args().collect()
    }

    fn host_sha256(data: Vec<u8>) -> Vec<u8> {
        wpool::host::digest::sha256(&data)
    }
}

export!(Hostile);
