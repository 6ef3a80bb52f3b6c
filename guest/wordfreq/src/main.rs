//! `wordfreq [K]`: reads text on stdin and prints its K most frequent words
//! (default 10) as `count word` lines, most frequent first, ties by word.
//!
//! A plain command-line program: built for wasm32-wasip2 it is a component
//! exporting `wasi:cli/run`, which wpool runs as a command guest (the task's
//! input on stdin, its stdout as the result). `guest/c/wordfreq.c` is the same
//! program in C, and the tests check that both print the same.
//!
//! Words are runs of ASCII letters and digits, lowercased; every other byte
//! separates words.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let top = match std::env::args().nth(1) {
        None => 10,
        Some(arg) => match arg.parse::<usize>() {
            Ok(k) if k > 0 => k,
            _ => {
                eprintln!("wordfreq: K must be a positive number, got `{arg}`");
                return ExitCode::from(2);
            }
        },
    };
    let mut text = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut text) {
        eprintln!("wordfreq: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }

    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for word in text.split(|b| !b.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            *counts.entry(word.to_ascii_lowercase()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(Vec<u8>, u64)> = counts.into_iter().collect();
    ranked.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));

    let mut out = std::io::stdout().lock();
    for (word, count) in ranked.into_iter().take(top) {
        let word = String::from_utf8_lossy(&word);
        if writeln!(out, "{count} {word}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
