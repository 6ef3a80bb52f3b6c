//! `crypto`: compression, digests and authenticated encryption as a component.
//!
//! - `gzip` / `gunzip`: gzip (RFC 1952) with `flate2`'s pure-Rust backend
//!   (`miniz_oxide`); the level is clamped to 0 (store) ..= 9 (smallest), and
//!   `gunzip` reads every member of a multi-member file, like the `gunzip` tool.
//! - `lz4` / `unlz4`: the LZ4 frame format (`lz4_flex`), readable by the `lz4` tool.
//! - `sha256` / `blake3`: digests as 64 lowercase hex digits.
//! - `seal` / `unseal`: ChaCha20-Poly1305 (RFC 8439) with a 32-byte key given as
//!   64 hex digits. `seal` returns a random 12-byte nonce (from WASI random),
//!   then the ciphertext and its 16-byte tag; `unseal` takes exactly that back.
//!
//! Decompression stops with an error once the output would exceed
//! [`MAX_OUTPUT`] (256 MiB), so a small decompression bomb cannot exhaust the
//! guest's memory. Every error is a message for the job's user, never a trap.

// Natively nothing is exported (the tests call the functions directly).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::io::{Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};

wit_bindgen::generate!({ world: "crypto", path: "../wit" });

/// The most bytes `gunzip` and `unlz4` produce before giving up.
pub const MAX_OUTPUT: u64 = 256 << 20;
/// Bytes of nonce at the start of sealed data.
const NONCE_LEN: usize = 12;
/// Bytes of Poly1305 tag at the end of sealed data.
const TAG_LEN: usize = 16;

struct Crypto;

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

/// Outputs up to this size are decoded in a single pass.
const ONE_PASS: u64 = 32 << 20;

/// Decompresses what `decoder()` yields, refusing more than `limit` bytes.
///
/// Up to `one_pass` bytes are read into a buffer that doubles as it fills.
/// Past that, doubling would strand ever larger freed blocks (a 256 MiB
/// result could take 512 MiB, wpool's default memory limit, and trap instead
/// of failing cleanly), so the data is decoded twice more: once to count its
/// bytes (a bomb stops there, having allocated nothing), then into a buffer
/// of exactly that size.
fn inflate<R: Read>(
    decoder: impl Fn() -> R,
    format: &str,
    one_pass: u64,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let invalid = |e: std::io::Error| format!("invalid {format} data: {e}");
    let one_pass = one_pass.min(limit);
    let mut out = Vec::new();
    decoder()
        .take(one_pass + 1)
        .read_to_end(&mut out)
        .map_err(invalid)?;
    if out.len() as u64 <= one_pass {
        return Ok(out);
    }
    drop(out);
    let len =
        std::io::copy(&mut decoder().take(limit + 1), &mut std::io::sink()).map_err(invalid)?;
    if len > limit {
        let limit = if limit.is_multiple_of(1 << 20) {
            format!("{} MiB", limit >> 20)
        } else {
            format!("{limit} bytes")
        };
        return Err(format!(
            "{format} data inflates to more than {limit}; stopped (a decompression bomb?)"
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(len).map_err(|e| e.to_string())?);
    decoder().take(len).read_to_end(&mut out).map_err(invalid)?;
    Ok(out)
}

fn gzip_compress(data: &[u8], level: u8) -> Vec<u8> {
    let level = flate2::Compression::new(u32::from(level.min(9)));
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    // Writing to a `Vec` cannot fail.
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn gzip_decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Err("not gzip data: it does not start with the bytes 1f 8b".into());
    }
    let decoder = || flate2::read::MultiGzDecoder::new(data);
    inflate(decoder, "gzip", ONE_PASS, MAX_OUTPUT)
}

fn lz4_compress(data: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    encoder.write_all(data).expect("lz4 into memory");
    encoder.finish().expect("lz4 into memory")
}

fn lz4_decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.is_empty() {
        return Err("not lz4 data: the input is empty".into());
    }
    let decoder = || lz4_flex::frame::FrameDecoder::new(data);
    inflate(decoder, "lz4", ONE_PASS, MAX_OUTPUT)
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn blake3_hex(data: &[u8]) -> String {
    hex(blake3::hash(data).as_bytes())
}

/// The 32-byte key written as 64 hex digits (either case; surrounding
/// whitespace, such as a key file's final newline, is ignored).
fn parse_key(key: &str) -> Result<[u8; 32], String> {
    let key = key.trim();
    let len = key.chars().count();
    if len != 64 {
        return Err(format!(
            "key must be 64 hex digits (32 bytes), got {len} characters"
        ));
    }
    if let Some((at, c)) = key
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(format!("key is not hex: `{c}` at position {}", at + 1));
    }
    // 64 ASCII hex digits from here on.
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(key.as_bytes().chunks_exact(2)) {
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(out)
}

fn seal_bytes(data: &[u8], key: &str) -> Result<Vec<u8>, String> {
    let cipher = ChaCha20Poly1305::new(&parse_key(key)?.into());
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for the nonce: {e}"))?;
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), data)
        .map_err(|_| "encryption failed: the data is too long".to_string())?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

fn open_bytes(sealed: &[u8], key: &str) -> Result<Vec<u8>, String> {
    let cipher = ChaCha20Poly1305::new(&parse_key(key)?.into());
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(format!(
            "sealed data is too short: {} bytes, need at least {} (a {NONCE_LEN}-byte nonce and a {TAG_LEN}-byte tag)",
            sealed.len(),
            NONCE_LEN + TAG_LEN
        ));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| "authentication failed: wrong key or altered data".to_string())
}

impl Guest for Crypto {
    fn gzip(data: Vec<u8>, level: u8) -> Vec<u8> {
        gzip_compress(&data, level)
    }

    fn gunzip(data: Vec<u8>) -> Result<Vec<u8>, String> {
        gzip_decompress(&data)
    }

    fn lz4(data: Vec<u8>) -> Vec<u8> {
        lz4_compress(&data)
    }

    fn unlz4(data: Vec<u8>) -> Result<Vec<u8>, String> {
        lz4_decompress(&data)
    }

    fn sha256(data: Vec<u8>) -> String {
        sha256_hex(&data)
    }

    fn blake3(data: Vec<u8>) -> String {
        blake3_hex(&data)
    }

    fn seal(data: Vec<u8>, key: String) -> Result<Vec<u8>, String> {
        seal_bytes(&data, &key)
    }

    fn unseal(sealed: Vec<u8>, key: String) -> Result<Vec<u8>, String> {
        open_bytes(&sealed, &key)
    }
}

#[cfg(target_arch = "wasm32")]
export!(Crypto);

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER_KEY: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sample() -> Vec<u8> {
        b"the quick brown fox jumps over the lazy dog\n".repeat(100)
    }

    #[test]
    fn gzip_round_trips_at_every_level() {
        let data = sample();
        for level in [0, 1, 6, 9, 200] {
            let packed = gzip_compress(&data, level);
            assert_eq!(&packed[..2], &[0x1f, 0x8b]);
            assert_eq!(gzip_decompress(&packed).unwrap(), data, "level {level}");
        }
        assert!(gzip_compress(&data, 9).len() < data.len() / 10);
        assert_eq!(gzip_decompress(&gzip_compress(b"", 6)).unwrap(), b"");
    }

    #[test]
    fn gunzip_reads_concatenated_members() {
        let mut both = gzip_compress(b"hello, ", 6);
        both.extend(gzip_compress(b"world", 1));
        assert_eq!(gzip_decompress(&both).unwrap(), b"hello, world");
    }

    #[test]
    fn gunzip_rejects_garbage() {
        let err = gzip_decompress(b"definitely not gzip").unwrap_err();
        assert!(err.starts_with("not gzip data"), "{err}");
        assert!(gzip_decompress(b"").is_err());
        let mut truncated = gzip_compress(&sample(), 6);
        truncated.truncate(truncated.len() / 2);
        let err = gzip_decompress(&truncated).unwrap_err();
        assert!(err.starts_with("invalid gzip data"), "{err}");
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        assert_eq!(MAX_OUTPUT, 256 * 1024 * 1024);
        let zeros = vec![0u8; 4096];
        let gz = gzip_compress(&zeros, 9);
        let lz = lz4_compress(&zeros);
        let gunzip = |one_pass, limit| {
            inflate(
                || flate2::read::MultiGzDecoder::new(&gz[..]),
                "gzip",
                one_pass,
                limit,
            )
        };
        let unlz4 = |one_pass, limit| {
            inflate(
                || lz4_flex::frame::FrameDecoder::new(&lz[..]),
                "lz4",
                one_pass,
                limit,
            )
        };
        // In one pass, and counted first when bigger than `one_pass`.
        for one_pass in [4096, 1000] {
            assert_eq!(gunzip(one_pass, 4096).unwrap(), zeros);
            assert_eq!(unlz4(one_pass, 4096).unwrap(), zeros);
            assert_eq!(
                gunzip(one_pass, 4095).unwrap_err(),
                "gzip data inflates to more than 4095 bytes; stopped (a decompression bomb?)"
            );
            let err = unlz4(one_pass, 4095).unwrap_err();
            assert!(
                err.starts_with("lz4 data inflates to more than 4095 bytes"),
                "{err}"
            );
        }
        let mib = |n: u64| n << 20;
        let err = inflate(|| &[0u8; (1 << 20) + 1][..], "gzip", 10, mib(1)).unwrap_err();
        assert!(err.contains("more than 1 MiB;"), "{err}");
    }

    #[test]
    fn lz4_round_trips() {
        let data = sample();
        let packed = lz4_compress(&data);
        assert_eq!(&packed[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert!(packed.len() < data.len());
        assert_eq!(lz4_decompress(&packed).unwrap(), data);
        assert_eq!(lz4_decompress(&lz4_compress(b"")).unwrap(), b"");
        assert!(lz4_decompress(b"").is_err());
        assert!(lz4_decompress(b"not an lz4 frame").is_err());
    }

    #[test]
    fn digests_match_known_answers() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            blake3_hex(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn seal_then_open_round_trips() {
        let data = sample();
        let sealed = seal_bytes(&data, KEY).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + data.len() + TAG_LEN);
        assert_eq!(open_bytes(&sealed, KEY).unwrap(), data);
        // Upper case and a trailing newline are the same key.
        assert_eq!(
            open_bytes(&sealed, &format!("{}\n", KEY.to_uppercase())).unwrap(),
            data
        );
        // A fresh nonce every time.
        assert_ne!(seal_bytes(&data, KEY).unwrap(), sealed);
        let empty = seal_bytes(b"", KEY).unwrap();
        assert_eq!(open_bytes(&empty, KEY).unwrap(), b"");
    }

    #[test]
    fn open_detects_a_wrong_key_and_altered_data() {
        const FAILED: &str = "authentication failed: wrong key or altered data";
        let sealed = seal_bytes(b"attack at dawn", KEY).unwrap();
        assert_eq!(open_bytes(&sealed, OTHER_KEY).unwrap_err(), FAILED);
        for at in [0, NONCE_LEN, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[at] ^= 0x01;
            assert_eq!(open_bytes(&altered, KEY).unwrap_err(), FAILED, "byte {at}");
        }
        let err = open_bytes(&sealed[..NONCE_LEN + TAG_LEN - 1], KEY).unwrap_err();
        assert!(
            err.starts_with("sealed data is too short: 27 bytes"),
            "{err}"
        );
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert_eq!(
            seal_bytes(b"x", "0123456789").unwrap_err(),
            "key must be 64 hex digits (32 bytes), got 10 characters"
        );
        let not_hex = format!("{}g", &KEY[..63]);
        assert_eq!(
            open_bytes(&[0; 40], &not_hex).unwrap_err(),
            "key is not hex: `g` at position 64"
        );
        let multibyte = format!("{}é", &KEY[..63]);
        assert_eq!(
            seal_bytes(b"x", &multibyte).unwrap_err(),
            "key is not hex: `é` at position 64"
        );
        assert!(parse_key("").is_err());
    }
}
